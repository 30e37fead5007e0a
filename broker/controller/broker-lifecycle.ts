/**
 * This broker's side of its registration with the controller (Kafka's BrokerLifecycleManager):
 * register, heartbeat every `broker.heartbeat.interval.ms`, register again when the controller says
 * the epoch is stale, and controlled shutdown.
 *
 * Controlled shutdown (KRaft's, `controlled.shutdown.enable`, on by default): `controlledShutdown()`
 * makes every later heartbeat carry `wantShutDown` and sends one at once; the controller fences the
 * broker, moves its leaderships to other ISR members and removes it from every ISR it is not the last
 * member of, and answers `shouldShutDown` once the broker leads nothing and every live broker has
 * seen that metadata. While waiting, heartbeats go every `min(interval, 100 ms)` so the answer is
 * noticed quickly, and the broker keeps serving (it is still a follower of what it replicates). The
 * wait is bounded by `controlled.shutdown.timeout.ms` (ours: Kafka's KRaft broker waits up to 5
 * minutes, without a setting): when it passes, or no controller answers, the broker stops anyway
 * (its partitions then fail over when its session times out, as after a crash).
 */
import { realTimers } from '../runtime/real.ts';
import type { TimerHandle, Timers } from '../runtime/runtime.ts';
import type { MetadataImage } from './image.ts';

export interface LifecycleLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

export interface BrokerLifecycleOptions {
  brokerId: number;
  incarnationId: string;
  advertise: { host: string; port: number };
  heartbeatIntervalMs: number;
  /** Calls the active controller, retrying until `timeoutMs`. */
  call: (method: 'registerBroker' | 'heartbeat', params: unknown, timeoutMs: number) => Promise<any>;
  /** This node's committed metadata image (its offset is what heartbeats report). */
  image: () => MetadataImage;
  /** the metadata offset heartbeats report (default the image's): -1 until this node's metadata has caught up, so the
   * controller does not count it caught up (and unfence it) on entries it has applied but not yet published */
  metadataOffset?: () => number;
  logger: LifecycleLogger;
  /** default: Node's timers */
  timers?: Timers;
}

export interface HeartbeatAnswer {
  errorCode: string;
  isFenced: boolean;
  shouldShutDown: boolean;
}

export class BrokerLifecycle {
  readonly #opts: BrokerLifecycleOptions;
  brokerEpoch = -1;
  #registering = false;
  #stopped = false;
  #timer: TimerHandle | null = null;
  readonly #timers: Timers;
  #wantShutDown = false;
  #shutdownDone: ((approved: boolean) => void) | null = null;

  constructor(opts: BrokerLifecycleOptions) {
    this.#opts = opts;
    this.#timers = opts.timers ?? realTimers;
  }

  start(): void {
    this.#register();
  }

  stop(): void {
    this.#stopped = true;
    this.#timers.clearTimeout(this.#timer);
    this.#shutdownDone?.(false);
  }

  /**
   * Asks the controller to move this broker's leaderships away; resolves true once it answers
   * shouldShutDown, false when `timeoutMs` passes first (or the broker never registered).
   */
  controlledShutdown(timeoutMs: number): Promise<boolean> {
    if (this.brokerEpoch < 0 || this.#stopped) return Promise.resolve(false);
    this.#wantShutDown = true;
    return new Promise<boolean>((resolve) => {
      const timer = this.#timers.setTimeout(() => {
        this.#opts.logger.warn(`controlled shutdown not approved within ${timeoutMs} ms; stopping anyway`);
        this.#shutdownDone?.(false);
      }, timeoutMs);
      this.#shutdownDone = (approved) => {
        this.#timers.clearTimeout(timer);
        this.#shutdownDone = null;
        resolve(approved);
      };
      this.#schedule(0);
    });
  }

  #register(): void {
    if (this.#stopped || this.#registering) return;
    this.#registering = true;
    const { host, port } = this.#opts.advertise;
    this.#opts.call('registerBroker', { brokerId: this.#opts.brokerId, incarnationId: this.#opts.incarnationId, host, port }, 10_000).then(
      (reply: { brokerEpoch: number }) => {
        this.#registering = false;
        this.brokerEpoch = reply.brokerEpoch;
        this.#opts.logger.info(`registered with broker epoch ${this.brokerEpoch}`);
        this.#schedule(0);
      },
      (err: unknown) => {
        this.#registering = false;
        this.#opts.logger.debug(`registration failed, retrying: ${(err as Error).message}`);
        if (!this.#stopped) this.#timer = this.#timers.setTimeout(() => this.#register(), 200);
      },
    );
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#timers.setTimeout(() => this.#heartbeat(), delayMs);
  }

  #heartbeat(): void {
    const interval = this.#opts.heartbeatIntervalMs;
    const next = this.#wantShutDown ? Math.min(interval, 100) : interval;
    const req = { brokerId: this.#opts.brokerId, brokerEpoch: this.brokerEpoch, currentMetadataOffset: this.#opts.metadataOffset?.() ?? this.#opts.image().lastOffset, wantShutDown: this.#wantShutDown };
    this.#opts.call('heartbeat', req, Math.max(interval, 500)).then(
      (reply: HeartbeatAnswer) => {
        if (reply.errorCode === 'STALE_BROKER_EPOCH' && this.#wantShutDown) {
          // Never register a new incarnation while shutting down.
          this.#opts.logger.warn('controller says our broker epoch is stale during controlled shutdown; stopping');
          this.#shutdownDone?.(false);
          return;
        }
        if (reply.errorCode === 'STALE_BROKER_EPOCH') {
          this.#opts.logger.warn('controller says our broker epoch is stale; registering again');
          this.#register();
          return;
        }
        if (this.#wantShutDown && reply.shouldShutDown) {
          this.#opts.logger.info('controller approved controlled shutdown');
          this.#shutdownDone?.(true);
          return;
        }
        this.#schedule(next);
      },
      (err: unknown) => {
        this.#opts.logger.debug(`heartbeat failed: ${(err as Error).message}`);
        this.#schedule(Math.min(next, 200));
      },
    );
  }
}
