/**
 * RaftNode: the Raft core wired to durable storage, the TCP transport and real timers.
 *
 * Ready handling (the core's contract): hard state and log writes are fsynced (storage.ts) before
 * any message of the same Ready is sent; then committed entries are applied. Readys are handled
 * strictly one after another, also when an `onApply` callback proposes re-entrantly.
 *
 * Timing, from Kafka-named settings:
 * - `fetchTimeoutMs` (controller.quorum.fetch.timeout.ms, default 2000): how long a follower goes
 *   without hearing from a leader before it may campaign. It is the minimum election timeout, the
 *   length of a follower's leader lease (it refuses to help depose a leader it heard from more
 *   recently) and the check-quorum window (a leader that has not heard from a majority within it
 *   steps down).
 * - `electionTimeoutMs` (controller.quorum.election.timeout.ms, default 1000): the width of the
 *   random jitter: each election timer is drawn uniformly from
 *   [fetchTimeoutMs, fetchTimeoutMs + electionTimeoutMs), both for the first campaign after the
 *   leader goes silent and for retries after a split or failed vote.
 * - `heartbeatIntervalMs` (default fetchTimeoutMs / 10): leader AppendEntries period.
 * - `tickIntervalMs` (default 10): the timer driving `tick`.
 * So with the defaults a crashed leader is replaced after 2-3 s, an isolated one steps down
 * within ~2 s.
 *
 * `propose(payloads)` resolves with the index of the last entry once the entries are committed
 * AND applied locally (all `onApply` callbacks for them have run). It rejects with NotLeaderError
 * (code NOT_LEADER, carrying the known leader) if this node is not leader, with ProposeTimeoutError
 * (code TIMEOUT) after `proposeTimeoutMs`, with LeadershipLostError (code LEADERSHIP_LOST) when this
 * node stops being leader of the proposal's term before the entries are applied, and with
 * RaftStoppedError (code STOPPED) on stop. Only the first is definite (nothing was appended): after
 * the others the entries may still commit under a later leader.
 *
 * `onApply(cb)`: called for every committed entry, in index order, exactly once per RaftNode
 * (a RaftNode cannot be started twice; a restarted process builds a new one). Leader no-ops come
 * through with `payload: null`. `onRestore(cb)`: the state machine must reset to a snapshot; called
 * once at start when a snapshot is on disk (before any onApply) and whenever the leader installs a
 * newer one. After a restart the node re-applies the committed entries after its newest snapshot,
 * as it learns the commit index from the current leader (or commits its own no-op as leader).
 *
 * `snapshot(index, data)`: the layer above hands in its image at an applied index; the node makes it
 * the newest snapshot and compacts the log (core.ts). `highWatermark` (and `onHighWatermark(cb)`,
 * called when it changes): the commit index once it covers everything committed before this node
 * started, null until then; the metadata loader publishes only from there on.
 * `readCommitted(fromIndex, max)`: committed entries from `fromIndex` for observers, or the newest
 * snapshot when `fromIndex` lies before the log start.
 *
 * `onLeaderChange(cb)`: called with (leaderId | null, term) whenever either changes.
 */
import { RaftConfigError, RaftCore, validateRaftConfig, type RaftConfig } from './core.ts';
import type { Ready, Role } from './core.ts';
import type { Entry, Snapshot } from './messages.ts';
import { RaftStorage } from './storage.ts';
import { RaftTransport } from './transport.ts';
import { realRuntime } from '../../runtime/real.ts';
import type { Runtime, TimerHandle } from '../../runtime/runtime.ts';
import type { HostPort, RpcHandler } from './transport.ts';

/** What a checker may read of a Raft core (RaftCore has it all); entries are 1-based. */
export interface RaftStateView {
  readonly role: Role;
  readonly term: number;
  readonly commitIndex: number;
  readonly lastIndex: number;
  readonly logStartIndex: number;
  entryAt(index: number): Entry | undefined;
}

export type Voter = { id: number; host: string; port: number };

export type RaftLogger = { debug(msg: string): void; info(msg: string): void; warn(msg: string): void; error(msg: string): void };

/** Parses `1@host:port,2@host:port,...` (controller.quorum.voters). Throws RaftConfigError. */
export function parseVoters(s: string): Voter[] {
  const text = s.trim();
  if (text === '') throw new RaftConfigError('voters must not be empty; expected id@host:port[,id@host:port...]');
  const voters: Voter[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)@(\[[^\]]+\]|[^:@\s]+):(\d+)$/.exec(part);
    if (!m) throw new RaftConfigError(`bad voter "${part}": expected id@host:port, for example 1@127.0.0.1:9093`);
    const id = Number(m[1]);
    const host = m[2]!.replace(/^\[(.*)\]$/, '$1');
    const port = Number(m[3]);
    if (!Number.isSafeInteger(id)) throw new RaftConfigError(`bad voter "${part}": id is too large`);
    if (port < 1 || port > 65535) throw new RaftConfigError(`bad voter "${part}": port must be 1-65535`);
    if (voters.some((v) => v.id === id)) throw new RaftConfigError(`voter id ${id} appears twice in "${s}"`);
    voters.push({ id, host, port });
  }
  return voters;
}

export class NotLeaderError extends Error {
  readonly code = 'NOT_LEADER';
  readonly leaderId: number | null;
  constructor(leaderId: number | null) {
    super(`not the raft leader; leader is ${leaderId ?? 'unknown'}`);
    this.name = 'NotLeaderError';
    this.leaderId = leaderId;
  }
}

export class ProposeTimeoutError extends Error {
  readonly code = 'TIMEOUT';
  constructor(index: number, timeoutMs: number) {
    super(`proposal at index ${index} not applied within ${timeoutMs} ms`);
    this.name = 'ProposeTimeoutError';
  }
}

export class LeadershipLostError extends Error {
  readonly code = 'LEADERSHIP_LOST';
  constructor(index: number, term: number) {
    super(`leadership of term ${term} lost before index ${index} was applied; the entry may or may not commit`);
    this.name = 'LeadershipLostError';
  }
}

export class RaftStoppedError extends Error {
  readonly code = 'STOPPED';
  constructor() {
    super('raft node stopped');
    this.name = 'RaftStoppedError';
  }
}

export class RaftOverloadedError extends Error {
  readonly code = 'OVERLOADED';
  constructor(limit: number) {
    super(`more than ${limit} proposals pending`);
    this.name = 'RaftOverloadedError';
  }
}

export type RaftNodeOptions = {
  id: number;
  /** `1@host:port,...` or parsed voters. */
  voters: string | readonly Voter[];
  /** Where to listen; default (also for null): this node's voter address. */
  listen?: HostPort | null;
  dataDir: string;
  electionTimeoutMs?: number;
  fetchTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** controller.quorum.request.timeout.ms: default for proposeTimeoutMs. */
  requestTimeoutMs?: number;
  proposeTimeoutMs?: number;
  tickIntervalMs?: number;
  maxEntriesPerAppend?: number;
  maxPendingProposals?: number;
  logger?: RaftLogger;
  random?: () => number;
  /** Clock, timers, network, disk and randomness (default: the real ones); `random` wins over its `random`. */
  runtime?: Runtime;
};

type PendingProposal = { index: number; term: number; resolve: (v: { index: number }) => void; reject: (e: Error) => void; timer: TimerHandle };


const silent: RaftLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export class RaftNode {
  readonly id: number;
  readonly voters: readonly Voter[];
  private readonly storage: RaftStorage;
  private readonly transport: RaftTransport;
  private readonly log: RaftLogger;
  private readonly electionTimeoutMinMs: number;
  private readonly electionTimeoutMaxMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly proposeTimeoutMs: number;
  private readonly tickIntervalMs: number;
  private readonly maxEntriesPerAppend: number;
  /** The core's configuration, validated once at construction and used at start. */
  private readonly coreConfig: RaftConfig;
  private readonly maxPendingProposals: number;
  private readonly random: () => number;

  private core: RaftCore | null = null;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private ticker: TimerHandle | null = null;
  private readonly rt: Runtime;
  private readonly readyQueue: Ready[] = [];
  private processing = false;
  private readonly pending = new Map<number, PendingProposal>();
  private readonly applyCbs: Array<(entry: Entry) => void> = [];
  private readonly restoreCbs: Array<(snapshot: Snapshot) => void> = [];
  private readonly hwCbs: Array<(highWatermark: number) => void> = [];
  private lastHighWatermark: number | null = null;
  private readonly leaderCbs: Array<(leaderId: number | null, term: number) => void> = [];
  private readonly fatalCbs: Array<(err: Error) => void> = [];
  private lastLeader: number | null = null;
  private lastTerm = -1;
  private applied = 0;

  constructor(opts: RaftNodeOptions) {
    this.id = opts.id;
    this.voters = typeof opts.voters === 'string' ? parseVoters(opts.voters) : [...opts.voters];
    const me = this.voters.find((v) => v.id === opts.id);
    if (!me) throw new RaftConfigError(`node id ${opts.id} is not among the voters ${this.voters.map((v) => v.id).join(',')}`);
    const fetchTimeoutMs = opts.fetchTimeoutMs ?? 2000;
    const electionTimeoutMs = opts.electionTimeoutMs ?? 1000;
    if (!(fetchTimeoutMs > 0) || !(electionTimeoutMs > 0)) {
      throw new RaftConfigError(`fetchTimeoutMs and electionTimeoutMs must be > 0, got ${fetchTimeoutMs} and ${electionTimeoutMs}`);
    }
    this.electionTimeoutMinMs = fetchTimeoutMs;
    this.electionTimeoutMaxMs = fetchTimeoutMs + electionTimeoutMs;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? Math.max(1, Math.floor(fetchTimeoutMs / 10));
    this.proposeTimeoutMs = opts.proposeTimeoutMs ?? opts.requestTimeoutMs ?? 5000;
    this.tickIntervalMs = opts.tickIntervalMs ?? 10;
    this.maxEntriesPerAppend = opts.maxEntriesPerAppend ?? 256;
    this.maxPendingProposals = opts.maxPendingProposals ?? 10_000;
    this.rt = opts.runtime ?? realRuntime;
    const rng = this.rt.random;
    this.random = opts.random ?? (() => rng.next());
    this.coreConfig = {
      id: this.id,
      voters: this.voters.map((v) => v.id),
      electionTimeoutMinMs: this.electionTimeoutMinMs,
      electionTimeoutMaxMs: this.electionTimeoutMaxMs,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      maxEntriesPerAppend: this.maxEntriesPerAppend,
    };
    validateRaftConfig(this.coreConfig);
    this.log = opts.logger ?? silent;
    this.storage = new RaftStorage(opts.dataDir, this.rt.fs);
    this.transport = new RaftTransport({
      nodeId: opts.id,
      listen: opts.listen ?? { host: me.host, port: me.port },
      peers: new Map(this.voters.filter((v) => v.id !== opts.id).map((v) => [v.id, { host: v.host, port: v.port }])),
      onRaftMessage: (from, message) => {
        if (this.core) this.process(this.core.step(from, message, this.rt.clock.monotonicMs()));
      },
      // A peer that answers nothing for a fetch timeout while we talk to it gets a fresh connection.
      staleMs: this.electionTimeoutMinMs,
      logger: this.log,
      runtime: this.rt,
    });
  }

  onApply(cb: (entry: Entry) => void): void {
    this.applyCbs.push(cb);
  }

  onRestore(cb: (snapshot: Snapshot) => void): void {
    this.restoreCbs.push(cb);
  }

  onHighWatermark(cb: (highWatermark: number) => void): void {
    this.hwCbs.push(cb);
  }

  get highWatermark(): number | null {
    return this.core?.highWatermark ?? null;
  }

  /** The newest snapshot's index, 0 when none. */
  get snapshotIndex(): number {
    return this.core?.latestSnapshot?.index ?? 0;
  }

  /** Makes `data`, the state machine's image at applied index `index`, the newest snapshot. */
  snapshot(index: number, data: string): void {
    if (this.core) this.process(this.core.compact(index, data, this.rt.clock.monotonicMs()));
  }

  /** Up to `max` committed entries from `fromIndex`, or the newest snapshot if `fromIndex` is compacted away. */
  readCommitted(fromIndex: number, max: number): { snapshot: Snapshot | null; entries: Entry[] } {
    const core = this.core;
    if (!core) return { snapshot: null, entries: [] };
    const snap = core.latestSnapshot;
    if (snap !== null && fromIndex < core.logStartIndex) return { snapshot: { ...snap }, entries: [] };
    const entries: Entry[] = [];
    const end = Math.min(this.applied, fromIndex + max - 1);
    for (let i = Math.max(1, fromIndex); i <= end; i++) {
      const e = core.entryAt(i);
      if (e) entries.push({ ...e });
    }
    return { snapshot: null, entries };
  }

  onLeaderChange(cb: (leaderId: number | null, term: number) => void): void {
    this.leaderCbs.push(cb);
  }

  /**
   * The node stopped because its log could not be made durable (a write or fsync failed: a full or
   * broken disk). Its owner must stop the whole process, as Kafka halts on a metadata log I/O error:
   * a broker whose metadata stopped would otherwise act on a stale image (a zombie leader).
   */
  onFatal(cb: (err: Error) => void): void {
    this.fatalCbs.push(cb);
  }

  onRpc(method: string, handler: RpcHandler): void {
    this.transport.onRpc(method, handler);
  }

  /** The leader lease (core.ts): no other node can lead before this time (monotonic ms); null when not leader. */
  get leaseEndMs(): number | null {
    return this.core?.leaseEndMs ?? null;
  }
  get isLeader(): boolean {
    return this.core?.role === 'leader';
  }
  get leaderId(): number | null {
    return this.core?.leaderId ?? null;
  }
  get term(): number {
    return this.core?.term ?? 0;
  }
  get role(): Role | null {
    return this.core?.role ?? null;
  }
  get commitIndex(): number {
    return this.core?.commitIndex ?? 0;
  }
  get appliedIndex(): number {
    return this.applied;
  }
  get lastIndex(): number {
    return this.core?.lastIndex ?? 0;
  }
  /**
   * The core's state, read-only, for checkers (the whole-node simulator's Raft properties: election
   * safety, log matching, leader completeness); null before start. Do not mutate what it returns.
   */
  get stateView(): RaftStateView | null {
    return this.core;
  }
  /** The leader's view of every voter's progress (core.ts `quorumProgress`); null on a non-leader. */
  get quorumProgress(): { id: number; matchIndex: number; lastHeardMs: number | null }[] | null {
    return this.core?.quorumProgress ?? null;
  }
  /** The controller listener's bound port. */
  get port(): number {
    return this.transport.port;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new RaftConfigError('a RaftNode starts once; build a new one to restart');
    this.state = 'running';
    try {
      const persisted = this.storage.load();
      if (persisted.droppedBytes > 0) this.log.warn(`dropped ${persisted.droppedBytes} bytes of torn or corrupt log tail`);
      for (const name of persisted.ignoredSnapshots) this.log.warn(`ignored snapshot ${name} (torn, corrupt, or older than the log)`);
      this.core = new RaftCore(
        this.coreConfig,
        persisted,
        this.random,
        this.rt.clock.monotonicMs(),
      );
      this.log.info(`raft node ${this.id} starting at term ${persisted.term} with ${persisted.snapshot ? `the snapshot at ${persisted.snapshot.index} and ` : ''}${persisted.entries.length} log entries`);
      await this.transport.start();
      // The snapshot restores before anything is applied (the core's first Ready carries it).
      this.process(this.core.tick(this.rt.clock.monotonicMs()));
    } catch (err) {
      this.state = 'stopped';
      this.core = null;
      this.storage.close();
      throw err;
    }
    this.ticker = this.rt.timers.setInterval(() => {
      if (this.core) this.process(this.core.tick(this.rt.clock.monotonicMs()));
    }, this.tickIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.rt.timers.clearInterval(this.ticker);
    this.ticker = null;
    this.core = null;
    this.readyQueue.length = 0;
    for (const p of [...this.pending.values()]) this.settle(p, new RaftStoppedError());
    await this.transport.stop();
    this.storage.close();
  }

  propose(payloads: readonly string[]): Promise<{ index: number }> {
    return new Promise((resolve, reject) => {
      const core = this.core;
      if (!core) return reject(new RaftStoppedError());
      if (this.pending.size >= this.maxPendingProposals) return reject(new RaftOverloadedError(this.maxPendingProposals));
      const r = core.propose(payloads, this.rt.clock.monotonicMs());
      if (!r.ok) return reject(new NotLeaderError(r.leaderId));
      const index = r.lastIndex;
      const timeoutMs = this.proposeTimeoutMs;
      const p: PendingProposal = {
        index,
        term: r.term,
        resolve,
        reject,
        timer: this.rt.timers.setTimeout(() => this.settle(p, new ProposeTimeoutError(index, timeoutMs)), timeoutMs),
      };
      if (index <= this.applied) {
        // Empty batch: nothing new to wait for.
        this.rt.timers.clearTimeout(p.timer);
        resolve({ index });
      } else {
        const prior = this.pending.get(index);
        if (prior) this.settle(prior, new LeadershipLostError(prior.index, prior.term));
        this.pending.set(index, p);
      }
      this.process(r.ready);
    });
  }

  // ---------------------------------------------------------------------------------------------

  private settle(p: PendingProposal, err: Error | null): void {
    if (this.pending.get(p.index) !== p) return;
    this.pending.delete(p.index);
    this.rt.timers.clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve({ index: p.index });
  }

  private process(ready: Ready): void {
    this.readyQueue.push(ready);
    if (this.processing) return;
    this.processing = true;
    try {
      // Bounded: each iteration removes one Ready; callbacks may add more, each from a finite action.
      while (this.readyQueue.length > 0 && this.state === 'running') {
        const r = this.readyQueue.shift()!;
        try {
          this.storage.persistReady(r);
        } catch (err) {
          this.log.error(`raft storage failed, stopping this node (fail-stop): ${(err as Error).message}`);
          void this.stop();
          for (const cb of this.fatalCbs) cb(err as Error);
          return;
        }
        for (const { to, message } of r.messages) this.transport.send(to, message);
        if (r.restore) this.restore(r.restore);
        for (const e of r.committed) this.apply(e);
      }
    } finally {
      this.processing = false;
    }
    this.noticeChanges();
  }

  private restore(s: Snapshot): void {
    this.applied = s.index;
    for (const cb of this.restoreCbs) {
      try {
        cb(s);
      } catch (err) {
        this.log.error(`onRestore callback failed at index ${s.index}: ${(err as Error).message}`);
      }
    }
  }

  private apply(e: Entry): void {
    this.applied = e.index;
    for (const cb of this.applyCbs) {
      try {
        cb(e);
      } catch (err) {
        this.log.error(`onApply callback failed at index ${e.index}: ${(err as Error).message}`);
      }
    }
    const p = this.pending.get(e.index);
    if (p) this.settle(p, p.term === e.term ? null : new LeadershipLostError(p.index, p.term));
  }

  private noticeChanges(): void {
    const core = this.core;
    if (!core) return;
    if (core.leaderId !== this.lastLeader || core.term !== this.lastTerm) {
      this.lastLeader = core.leaderId;
      this.lastTerm = core.term;
      this.log.info(`leader ${core.leaderId ?? 'unknown'} term ${core.term} (role ${core.role})`);
      for (const cb of this.leaderCbs) {
        try {
          cb(core.leaderId, core.term);
        } catch (err) {
          this.log.error(`onLeaderChange callback failed: ${(err as Error).message}`);
        }
      }
    }
    const hw = core.highWatermark;
    if (hw !== null && hw !== this.lastHighWatermark) {
      this.lastHighWatermark = hw;
      for (const cb of this.hwCbs) {
        try {
          cb(hw);
        } catch (err) {
          this.log.error(`onHighWatermark callback failed: ${(err as Error).message}`);
        }
      }
    }
    if (this.pending.size > 0) {
      for (const p of [...this.pending.values()]) {
        if (core.role !== 'leader' || core.term !== p.term) this.settle(p, new LeadershipLostError(p.index, p.term));
      }
    }
  }
}
