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
 *
 * The coordinator lease (`leaseHeld`; the group coordinator serves only while it holds, node.ts).
 * Invariant: while `leaseHeld(o)` is true, with o the offset of the metadata image this broker has
 * applied, no controller has committed, or can commit, a fence of this broker that the image at o
 * does not already hold. So an offsets partition this broker leads in that image is led by no one
 * else through a fence (a reassignment or an election an operator asks for moves a leader without
 * one; those are not covered). How each heartbeat answer grants it: an answer `NONE`, not fenced,
 * to a heartbeat sent at s (this broker's monotonic clock) grants the lease until
 * s + (1 - LEASE_CLOCK_MARGIN) * min(broker session, the answer's `leaseMs`), usable once the image
 * reaches the answer's `metadataOffset`. Why each bound:
 * - The controller that answered fences this broker only after a session without a heartbeat,
 *   counted from when it processed this one, which is after s.
 * - A later controller starts every session at its activation, or (for the previous controller's
 *   own broker) at the time it last heard from it, which may be long before; either way it cannot
 *   fence before it is elected. `leaseMs` is what remains of the answering controller's Raft leader
 *   lease when it answered (raft/core.ts): no other controller can be elected before that ends.
 *   Without it, a deposed controller that does not know it yet answers heartbeats, its own broker's
 *   included, while its successor fences them.
 * - `metadataOffset` is the answering controller's view (committed and pending records) when it
 *   answered: a fence and unfence between two answers (a heartbeat that comes back after the
 *   session expired is answered "unfenced", unfencing it in that decision) is at or below it, so an
 *   image that reaches it holds the fence's leader moves.
 * - LEASE_CLOCK_MARGIN: clocks run at different rates. The simulation drifts each node's clock by
 *   up to 1 % (sim/world.ts `maxDrift`), so two clocks' rates differ by at most about 2 %; the
 *   margin is 5 %. Real oscillators drift by about 0.01 %; a VM paused and resumed does not drift
 *   but stops, which the monotonic clock's advance covers (the lease is checked when answering).
 * Any answer that says fenced or a stale epoch, a registration, and controlled shutdown end the
 * lease at once. Kafka's broker has no such lease: its coordinator stops serving an offsets
 * partition only when its metadata says another broker leads it, so a broker cut off from the
 * controller, or paused, keeps answering from offsets loaded before the new coordinator took over.
 * Heartbeats go at least three times per lease (`MIN_HEARTBEAT_MS` at the least), so with Kafka's
 * defaults (2 s interval, a 2 s Raft fetch timeout) they go about every 600 ms.
 */
import { realClock, realTimers } from '../runtime/real.ts';
import type { TimerHandle, Timers } from '../runtime/runtime.ts';
import type { MetadataImage } from './image.ts';

/** The share of a lease given up to clock-rate differences (module doc). */
export const LEASE_CLOCK_MARGIN = 0.05;
/** Heartbeats never go more often than this to keep a lease (module doc). */
export const MIN_HEARTBEAT_MS = 50;
/** Grants kept while waiting for the image to reach their offset (older ones expire first). */
const MAX_GRANTS = 16;

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
  /** broker.session.timeout.ms: the controller fences a broker it has not heard from for this long. */
  sessionTimeoutMs: number;
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
  /** This node's monotonic clock (default: the real one). */
  monotonicMs?: () => number;
}

export interface HeartbeatAnswer {
  errorCode: string;
  isFenced: boolean;
  shouldShutDown: boolean;
  /** What remained of the answering controller's Raft leader lease, less its clock margin (ms; module doc). */
  leaseMs?: number;
  /** The answering controller's view offset when it answered (module doc). */
  metadataOffset?: number;
}

/** One answered heartbeat's grant of the coordinator lease (module doc). */
interface LeaseGrant {
  untilMs: number;
  metadataOffset: number;
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
  readonly #monotonicMs: () => number;
  /** Grants of the coordinator lease, oldest first (module doc). */
  #grants: LeaseGrant[] = [];

  constructor(opts: BrokerLifecycleOptions) {
    this.#opts = opts;
    this.#timers = opts.timers ?? realTimers;
    this.#monotonicMs = opts.monotonicMs ?? (() => realClock.monotonicMs());
  }

  /**
   * Whether this broker holds the coordinator lease now, given the offset of the metadata image it
   * has applied: some grant has not expired and the image has reached its offset (module doc).
   */
  leaseHeld(appliedOffset: number): boolean {
    const now = this.#monotonicMs();
    this.#grants = this.#grants.filter((g) => g.untilMs > now);
    return this.#grants.some((g) => g.metadataOffset <= appliedOffset);
  }

  /** Ends the coordinator lease at once (a fence, a stale epoch, a registration, shutdown). */
  #endLease(): void {
    this.#grants = [];
  }

  /** Records an answered heartbeat's grant; returns the lease it grants (ms from the send), 0 for none. */
  #grant(sentMs: number, epochSent: number, reply: HeartbeatAnswer): number {
    if (reply.errorCode !== 'NONE' || reply.isFenced || this.#wantShutDown || epochSent !== this.brokerEpoch) return 0;
    if (typeof reply.leaseMs !== 'number' || typeof reply.metadataOffset !== 'number') return 0;
    const leaseMs = (1 - LEASE_CLOCK_MARGIN) * Math.min(this.#opts.sessionTimeoutMs, reply.leaseMs);
    if (!(leaseMs > 0)) return 0;
    this.#grants.push({ untilMs: sentMs + leaseMs, metadataOffset: reply.metadataOffset });
    if (this.#grants.length > MAX_GRANTS) this.#grants.shift();
    return leaseMs;
  }

  start(): void {
    this.#register();
  }

  stop(): void {
    this.#stopped = true;
    this.#endLease();
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
    // The controller fences this broker on the first heartbeat that asks.
    this.#endLease();
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
        // Registering fences the previous epoch (the controller moves what it led).
        this.#endLease();
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
    const sentMs = this.#monotonicMs();
    const epochSent = this.brokerEpoch;
    this.#opts.call('heartbeat', req, Math.max(interval, 500)).then(
      (reply: HeartbeatAnswer) => {
        if (reply.errorCode !== 'NONE' || reply.isFenced) this.#endLease();
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
        const leaseMs = this.#grant(sentMs, epochSent, reply);
        // At least three heartbeats per lease, so one lost answer does not end it.
        this.#schedule(leaseMs > 0 ? Math.min(next, Math.max(MIN_HEARTBEAT_MS, Math.floor(leaseMs / 3))) : next);
      },
      (err: unknown) => {
        this.#opts.logger.debug(`heartbeat failed: ${(err as Error).message}`);
        this.#schedule(Math.min(next, 200));
      },
    );
  }
}
