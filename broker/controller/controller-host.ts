/**
 * Hosts the active controller on the Raft leader: activation behind a barrier, decisions against
 * the controller's uncommitted view, proposals to the metadata log, and renouncing when a write
 * fails (Kafka's QuorumController: the timeline of uncommitted state, `renounce()`).
 *
 *   const host = new ControllerHost({ config, log, committed: () => image, newTopicId, nowMs, logger });
 *   host.activate(term, silentSinceMs);   // on becoming Raft leader
 *   await host.run('heartbeat', params);  // the reply, once the decision's batch has committed
 *   host.tick();                          // every 100 ms
 *   host.deactivate();                    // on losing leadership
 *
 * Rules:
 * - Activation: propose an empty barrier entry of the new term; once it commits, the committed
 *   image holds every entry any leader ever appended that can still commit (Raft's leader
 *   completeness), so a Controller built from it starts with view = committed image.
 * - A decision runs synchronously against the view and its batch is proposed at once, at the index
 *   `log.lastIndex + 1`, which the view already gave its records (`batchOffset`); the caller's reply
 *   waits for the commit. Decisions are pipelined: none waits for an earlier batch, and all of them
 *   see every earlier batch (the view), committed or not.
 * - Outcomes: a commit at the expected index needs nothing (the view already holds the batch). A
 *   propose timeout (TIMEOUT) leaves the outcome unknown: the batch stays in the view (it may still
 *   commit) and the caller gets the error, which it may retry. Any other failure (NOT_LEADER,
 *   OVERLOADED: nothing appended; LEADERSHIP_LOST, STOPPED: the term is over), a commit at another
 *   index, or a decision that throws, means the view is no longer the committed image plus a
 *   possible future: the host renounces, dropping the Controller, and, if the log still says this
 *   node leads, activates again behind a fresh barrier (which commits only after every batch that
 *   was appended, so nothing it wrote is forgotten).
 * - Before deciding, the host refuses (CONTROLLER_BUSY, retriable, nothing staged) when
 *   `maxInflightBatches` batches are uncommitted, so the log's own bound is never hit.
 */
import { Controller } from './controller.ts';
import type { ControllerConfig, Decision } from './controller.ts';
import type { MetadataImage } from './image.ts';
import type { MetadataRecord } from './records.ts';

/** What the host needs of the metadata log (RaftNode offers it). */
export interface ControllerLog {
  /** The index of the last entry in the local log: the next proposal gets lastIndex + 1. */
  readonly lastIndex: number;
  readonly isLeader: boolean;
  readonly term: number;
  /** Resolves once committed and applied to the committed image; see raft/node.ts for the errors. */
  propose(payloads: readonly string[]): Promise<{ index: number }>;
}

export interface HostLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

export interface ControllerHostOptions {
  config: ControllerConfig;
  log: ControllerLog;
  /** The committed image (applied from the log by its owner; never mutated here). */
  committed: () => MetadataImage;
  newTopicId: () => string;
  nowMs: () => number;
  logger: HostLogger;
  /** Uncommitted batches allowed at once; default 1000. */
  maxInflightBatches?: number;
}

/** Controller operations reachable by RPC: name -> (controller, params, now) => decision. */
export const controllerOperations = {
  registerBroker: (c: Controller, p: any, now: number) => c.registerBroker(p, now),
  heartbeat: (c: Controller, p: any, now: number) => c.heartbeat(p, now),
  alterPartition: (c: Controller, p: any) => c.alterPartition(p),
  createTopics: (c: Controller, p: any) => c.createTopics(p),
  deleteTopics: (c: Controller, p: any) => c.deleteTopics(p),
  reassignPartitions: (c: Controller, p: any) => c.reassignPartitions(p),
  listReassignments: (c: Controller) => ({ records: [] as MetadataRecord[], reply: c.ongoingReassignments() }),
  electLeaders: (c: Controller, p: any) => c.electLeaders(p),
  allocateProducerIds: (c: Controller, p: any) => c.allocateProducerIds(p.brokerId, p.brokerEpoch),
  unregisterBroker: (c: Controller, p: any) => c.unregisterBroker(p.brokerId),
} as const;
export type ControllerMethod = keyof typeof controllerOperations;

export class NotActiveControllerError extends Error {
  readonly code = 'NOT_CONTROLLER';
  constructor() {
    super('not the active controller');
  }
}

export class ControllerBusyError extends Error {
  readonly code = 'CONTROLLER_BUSY';
  constructor(limit: number) {
    super(`controller has ${limit} uncommitted batches; retry`);
  }
}

/** Propose failures after which the batch may still commit (the view keeps it). */
const OUTCOME_UNKNOWN_CODES: readonly string[] = ['TIMEOUT'];

export class ControllerHost {
  readonly #opts: ControllerHostOptions;
  #controller: Controller | null = null;
  /** Bumped on every activation, deactivation and renounce: stale callbacks compare it. */
  #generation = 0;
  #inflight = 0;
  #silentSinceMs: ReadonlyMap<number, number> = new Map();
  /** How many times this host renounced (observable by tests and logs). */
  renounces = 0;

  constructor(opts: ControllerHostOptions) {
    this.#opts = opts;
  }

  get active(): boolean {
    return this.#controller !== null;
  }

  /** The active controller, for tests and diagnostics; null when not active. */
  get controller(): Controller | null {
    return this.#controller;
  }

  /** Becomes active once a barrier of the current term commits (module doc). */
  activate(silentSinceMs: ReadonlyMap<number, number> = new Map()): void {
    this.#silentSinceMs = silentSinceMs;
    const generation = ++this.#generation;
    this.#controller = null;
    const log = this.#opts.log;
    const term = log.term;
    log.propose(['[]']).then(
      () => {
        if (this.#generation !== generation || !log.isLeader || log.term !== term) return;
        const controller = new Controller({
          config: this.#opts.config,
          image: this.#opts.committed(),
          newTopicId: this.#opts.newTopicId,
          batchOffset: () => log.lastIndex + 1,
        });
        controller.activate(this.#opts.nowMs(), this.#silentSinceMs);
        this.#inflight = 0;
        this.#controller = controller;
        this.#opts.logger.info(`active controller for term ${term}`);
      },
      (err: unknown) => {
        if (this.#generation !== generation) return;
        this.#opts.logger.warn(`controller barrier failed in term ${term}: ${(err as Error).message}`);
        if (log.isLeader && log.term === term) this.activate(this.#silentSinceMs);
      },
    );
  }

  deactivate(): void {
    this.#generation++;
    this.#controller = null;
  }

  /**
   * The view no longer describes the committed image plus a possible future: drop it and, if this
   * node still leads, rebuild from the committed image behind a new barrier.
   */
  renounce(why: string): void {
    if (this.#controller === null) return;
    this.renounces++;
    this.#opts.logger.warn(`controller renounces: ${why}`);
    this.deactivate();
    if (this.#opts.log.isLeader) this.activate(this.#silentSinceMs);
  }

  /** Runs one controller operation; resolves with its reply once its batch has committed. */
  run(method: ControllerMethod, params: unknown): Promise<unknown> {
    const controller = this.#controller;
    if (controller === null) return Promise.reject(new NotActiveControllerError());
    const limit = this.#opts.maxInflightBatches ?? 1000;
    if (this.#inflight >= limit) return Promise.reject(new ControllerBusyError(limit));
    let decision: Decision<unknown>;
    try {
      decision = controllerOperations[method](controller, params as never, this.#opts.nowMs()) as Decision<unknown>;
    } catch (err) {
      this.renounce(`${method} threw: ${(err as Error).message}`);
      return Promise.reject(err);
    }
    return this.#propose(controller, method, decision.records).then(() => decision.reply);
  }

  /** Session expiry, leaderless recovery, reassignment completion, rebalancing. */
  tick(): void {
    const controller = this.#controller;
    if (controller === null || this.#inflight >= (this.#opts.maxInflightBatches ?? 1000)) return;
    let decision: Decision<null>;
    try {
      decision = controller.tick(this.#opts.nowMs());
    } catch (err) {
      this.renounce(`tick threw: ${(err as Error).message}`);
      return;
    }
    this.#propose(controller, 'tick', decision.records).catch((err: unknown) => this.#opts.logger.debug(`controller tick: ${(err as Error).message}`));
  }

  #propose(controller: Controller, what: string, records: MetadataRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const log = this.#opts.log;
    const expected = log.lastIndex + 1;
    const generation = this.#generation;
    this.#inflight++;
    const settle = (): boolean => {
      if (this.#generation !== generation || this.#controller !== controller) return false;
      this.#inflight--;
      return true;
    };
    return log.propose([JSON.stringify(records)]).then(
      ({ index }) => {
        if (settle() && index !== expected) this.renounce(`${what} committed at ${index}, staged at ${expected}`);
      },
      (err: unknown) => {
        const code = (err as { code?: string }).code ?? '';
        if (settle() && !OUTCOME_UNKNOWN_CODES.includes(code)) this.renounce(`${what} failed: ${(err as Error).message}`);
        throw err;
      },
    );
  }
}
