/**
 * Sans-I/O Raft core for the controller quorum: classic Raft (push-based AppendEntries and
 * RequestVote) with PreVote, check-quorum and a leader lease, over a static voter set.
 *
 * No timers, sockets, files or Math.random: the driver calls `tick(nowMs)`, `step(from, msg, nowMs)`
 * and `propose(payloads, nowMs)`; randomness comes from the `random` function given at construction.
 * Every call returns a `Ready` which the driver must handle IN THIS ORDER:
 *   1. write `persist` (term, votedFor) durably, 2. write `snapshot` durably (a new newest
 *   snapshot), 3. replace the durable log by `resetLog` when present (an installed snapshot), drop
 *   the durable entries up to `compactLog.index` when present (a compaction), then truncate the durable log from
 *   `appendEntries.fromIndex` and append `appendEntries.entries` durably, 4. send `messages`,
 *   5. reset the state machine to `restore` when present, 6. apply `committed` (newly committed
 *   entries, in index order, each exactly once per core).
 * A core rebuilt from what was persisted this way (after a crash) keeps all of Raft's safety
 * properties. commitIndex is not persisted: a restarted core starts from its newest snapshot
 * (committed by construction: the first Ready restores it), learns the rest of the commit index
 * again from the leader (or, as sole voter, by committing its own no-op), and re-emits the
 * committed entries after the snapshot.
 *
 * Snapshots and compaction (Raft §7; KRaft's `__cluster_metadata` snapshots):
 * - `compact(index, data)` records the state machine's image at an applied index as the newest
 *   snapshot and drops the log up to the PREVIOUS snapshot's index: one snapshot interval of log
 *   stays behind the newest snapshot, so a torn or corrupt newest snapshot file falls back to the
 *   older one plus the log (storage.ts).
 * - The log holds the entries after `base` (index and term of the entry just before the first
 *   one kept); `base` is always a snapshot's index, so `base.index <= snapshot.index <= commit`.
 * - A leader whose follower needs an entry at or below `base` sends its newest snapshot
 *   (`snapshot-req`) instead, waits up to `electionTimeoutMinMs` for its answer before sending it
 *   again, and keeps heartbeating meanwhile. A follower installs a snapshot only beyond its commit
 *   index: it keeps the log suffix after the snapshot when the entry at the snapshot's index has
 *   the snapshot's term (log matching says the suffix then agrees), else drops its whole log (none
 *   of it is committed beyond its commit index, so nothing committed is lost).
 *
 * High watermark (KRaft: a follower learns the HW from the leader; the metadata loader publishes
 * only once caught up to it): `highWatermark` is the commit index once it is known to cover every
 * entry committed before this core was built, i.e. the entry at the commit index has the current
 * term (leader completeness puts every entry committed in an earlier term before it) and a follower
 * has reached the leader's commit index it was last told; null until then.
 *
 * Invariants kept here (checked by test/broker/controller/raft/sim.test.ts):
 * - Election safety: a node votes at most once per term (votedFor is persisted before the vote is
 *   sent) and only for a candidate whose log is at least as up to date as its own (§5.4.1).
 * - Log matching: a follower appends only after the (prevLogIndex, prevLogTerm) check passes and
 *   truncates only on a term conflict; an old, duplicated or reordered AppendEntries never
 *   truncates entries that agree with it.
 * - Leader completeness: a leader counts replicas only for entries of its own term (the no-op at
 *   the start of every term makes that possible) and never overwrites its own log.
 * - Committed entries are never truncated: the core throws if it is asked to (that is a bug or a
 *   broken persistence contract, not a recoverable condition).
 *
 * Liveness additions:
 * - PreVote: a node whose election timer fires first asks for pre-votes for term+1 without changing
 *   its term; only with a majority of pre-votes does it become a candidate. A node that was
 *   partitioned away therefore does not inflate its term and does not depose a stable leader when
 *   it returns.
 * - Lease: a node that has heard from a leader within `electionTimeoutMinMs` (or is leader) ignores
 *   (pre-)vote requests for higher terms.
 * - Check-quorum: a leader that has not heard from a majority (itself included) within
 *   `electionTimeoutMinMs` steps down to follower, so an isolated leader stops claiming leadership
 *   within one minimum election timeout (plus one tick).
 * Election timeouts are drawn uniformly from [electionTimeoutMinMs, electionTimeoutMaxMs) on every
 * (re)arm of the timer.
 *
 * Leader lease (Raft thesis §6.4.1), `leaseEndMs`: a leader knows no other leader can be elected
 * before base + electionTimeoutMinMs, where base is the quorum-th latest of: now (itself) and, per
 * peer, the send time (`sentMs`, echoed back as `echoMs`) of the newest AppendEntries or snapshot
 * the peer answered in this term. Send times, not arrival times: an answer that waited in the
 * network proves only that the peer heard the leader when the request was sent. Why it holds: a new
 * leader needs a majority, which shares a node with the quorum behind base; that node heard this
 * leader at or after base and refuses to help elect anyone else for electionTimeoutMinMs after
 * that (the lease above; a candidate's own election timer is at least as long). Two additions make
 * the refusal last across the node's own changes (`noVoteUntilMs`): a leader that steps down keeps
 * refusing votes until the lease it had, so its own vote cannot elect a successor early; and a node
 * refuses votes for electionTimeoutMinMs after it starts, since its last life may have promised a
 * lease that a restart forgot. The lease is on this node's clock: a reader on another clock or
 * trusting it across drift must shorten it (metadata-service.ts does, for the controller's brokers).
 */
import type { AppendRequest, AppendResponse, Entry, Message, Snapshot, SnapshotRequest, VoteRequest, VoteResponse } from './messages.ts';

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

export type HardState = { term: number; votedFor: number | null };

/** Index and term of the entry just before the first one in a log (0/0 for a log from index 1). */
export type LogBase = { index: number; term: number };

/**
 * What a core is rebuilt from: the hard state, the newest snapshot (if any), and the log of the
 * entries after `base` (absent: from index 1). When `base.index > 0` a snapshot at or above it is
 * required (the entries before it exist nowhere else).
 */
export type PersistedState = HardState & { entries: Entry[]; base?: LogBase; snapshot?: Snapshot | null };

export type Outgoing = { to: number; message: Message };

export type Ready = {
  messages: Outgoing[];
  /** Hard state to write durably before sending `messages`. */
  persist?: HardState;
  /** Truncate the durable log from `fromIndex`, then append `entries`; before sending `messages`. */
  appendEntries?: { fromIndex: number; entries: Entry[] };
  /** A new newest snapshot to write durably (after `persist`, before the log changes). */
  snapshot?: Snapshot;
  /** Replace the whole durable log by these entries after `base`; before `appendEntries` and messages. */
  resetLog?: { base: LogBase; entries: Entry[] };
  /** Drop the durable entries up to and including `index` (the log then starts after this base). */
  compactLog?: LogBase;
  /** The state machine must reset to this snapshot before applying `committed`. */
  restore?: Snapshot;
  /** Newly committed entries, in index order. */
  committed: Entry[];
};

export type RaftConfig = {
  id: number;
  voters: readonly number[];
  electionTimeoutMinMs: number;
  electionTimeoutMaxMs: number;
  heartbeatIntervalMs: number;
  maxEntriesPerAppend: number;
};

export type ProposeResult =
  | { ok: true; lastIndex: number; term: number; ready: Ready }
  | { ok: false; leaderId: number | null };

export class RaftConfigError extends Error {
  readonly code = 'RAFT_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'RaftConfigError';
  }
}

/** Validates a core configuration; throws RaftConfigError saying what is wrong and what is allowed. */
export function validateRaftConfig(c: RaftConfig): void {
  const ids = new Set(c.voters);
  if (c.voters.length === 0) throw new RaftConfigError('voters must not be empty');
  if (ids.size !== c.voters.length) throw new RaftConfigError(`voters must be distinct, got ${c.voters.join(',')}`);
  for (const v of c.voters) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RaftConfigError(`voter ids must be non-negative integers, got ${v}`);
  }
  if (!ids.has(c.id)) throw new RaftConfigError(`node id ${c.id} is not among the voters ${c.voters.join(',')}`);
  if (!(c.electionTimeoutMinMs > 0)) throw new RaftConfigError(`electionTimeoutMinMs must be > 0, got ${c.electionTimeoutMinMs}`);
  if (!(c.electionTimeoutMaxMs > c.electionTimeoutMinMs)) {
    throw new RaftConfigError(
      `electionTimeoutMaxMs (${c.electionTimeoutMaxMs}) must be greater than electionTimeoutMinMs (${c.electionTimeoutMinMs})`,
    );
  }
  if (!(c.heartbeatIntervalMs > 0 && c.heartbeatIntervalMs < c.electionTimeoutMinMs)) {
    throw new RaftConfigError(
      `heartbeatIntervalMs must be > 0 and < electionTimeoutMinMs (${c.electionTimeoutMinMs}), got ${c.heartbeatIntervalMs}`,
    );
  }
  if (!Number.isSafeInteger(c.maxEntriesPerAppend) || c.maxEntriesPerAppend < 1) {
    throw new RaftConfigError(`maxEntriesPerAppend must be an integer >= 1, got ${c.maxEntriesPerAppend}`);
  }
}

type Progress = {
  nextIndex: number;
  matchIndex: number;
  lastHeardMs: number;
  /** The send time (our clock) of the newest request this peer answered in this term (the lease's base). */
  ackedSentMs: number;
  /** A snapshot sent to this peer is awaited until then: rejections meanwhile do not resend it. */
  snapshotAwaitedUntilMs: number;
};

export class RaftCore {
  private readonly cfg: RaftConfig;
  private readonly random: () => number;
  private readonly peers: number[];
  private readonly quorum: number;

  private currentTerm: number;
  private votedFor: number | null;
  /** Entries base.index+1 .. lastIndex. */
  private log: Entry[];
  private base: LogBase;
  private snap: Snapshot | null;
  private commit = 0;
  private applied = 0;
  /** The leaderCommit of the last AppendEntries from this term's leader (Infinity until one arrives). */
  private leaderCommitSeen = Number.POSITIVE_INFINITY;
  private roleNow: Role = 'follower';
  private leader: number | null = null;

  private electionDeadlineMs: number;
  private lastLeaderContactMs = Number.NEGATIVE_INFINITY;
  /** Votes are refused before this (module doc, leader lease): after a start, and after stepping down as leader. */
  private noVoteUntilMs: number;
  private nextHeartbeatMs = 0;
  private votes = new Map<number, boolean>();
  private progress = new Map<number, Progress>();
  private nowMs: number;

  // Per-call output accumulators.
  private outMessages: Outgoing[] = [];
  private hardStateDirty = false;
  private dirtyFromIndex: number | null = null;
  private snapshotDirty = false;
  private logResetDirty = false;
  private compactDirty = false;
  private restorePending: Snapshot | null = null;

  constructor(cfg: RaftConfig, persisted: PersistedState, random: () => number, nowMs: number) {
    validateRaftConfig(cfg);
    this.cfg = cfg;
    this.random = random;
    this.peers = cfg.voters.filter((v) => v !== cfg.id);
    this.quorum = Math.floor(cfg.voters.length / 2) + 1;
    this.currentTerm = persisted.term;
    this.votedFor = persisted.votedFor;
    this.base = { ...(persisted.base ?? { index: 0, term: 0 }) };
    this.snap = persisted.snapshot ? { ...persisted.snapshot } : null;
    this.log = persisted.entries.map((e) => ({ ...e }));
    this.log.forEach((e, i) => {
      if (e.index !== this.base.index + i + 1) throw new RaftConfigError(`persisted log is not contiguous at position ${i}: index ${e.index}`);
      if (e.term > this.currentTerm) throw new RaftConfigError(`persisted entry ${e.index} has term ${e.term} > hard-state term`);
      const prevTerm = i > 0 ? this.log[i - 1]!.term : this.base.term;
      if (e.term < prevTerm) throw new RaftConfigError(`persisted entry terms decrease at index ${e.index}`);
    });
    if (this.base.index > 0 && (this.snap === null || this.snap.index < this.base.index)) {
      throw new RaftConfigError(`persisted log starts after index ${this.base.index} but no snapshot covers it`);
    }
    if (this.snap !== null) {
      if (this.snap.index > this.lastIndex) throw new RaftConfigError(`persisted snapshot at ${this.snap.index} is beyond the log end ${this.lastIndex}`);
      if (this.termAt(this.snap.index) !== this.snap.term) {
        throw new RaftConfigError(`persisted snapshot at ${this.snap.index} has term ${this.snap.term}, the log says ${this.termAt(this.snap.index)}`);
      }
      // A snapshot holds committed state only: it is committed and applied from the start.
      this.commit = this.snap.index;
      this.applied = this.snap.index;
      this.restorePending = this.snap;
    }
    this.nowMs = nowMs;
    this.electionDeadlineMs = nowMs + this.randomElectionTimeoutMs();
    this.noVoteUntilMs = nowMs + cfg.electionTimeoutMinMs;
  }

  get role(): Role {
    return this.roleNow;
  }
  get term(): number {
    return this.currentTerm;
  }
  get leaderId(): number | null {
    return this.leader;
  }
  get commitIndex(): number {
    return this.commit;
  }
  get lastIndex(): number {
    return this.base.index + this.log.length;
  }
  /** The first index still in the log (entries before it exist only in the snapshot). */
  get logStartIndex(): number {
    return this.base.index + 1;
  }
  /** The newest snapshot, if any. For drivers (serving observers) and tests; do not mutate. */
  get latestSnapshot(): Snapshot | null {
    return this.snap;
  }
  /** See the module docstring: the commit index once it covers everything committed before; else null. */
  get highWatermark(): number | null {
    if (this.termAt(this.commit) !== this.currentTerm) return null;
    if (this.roleNow === 'leader') return this.commit;
    if (this.roleNow === 'follower' && this.leader !== null && this.commit >= this.leaderCommitSeen) return this.commit;
    return null;
  }
  get id(): number {
    return this.cfg.id;
  }
  /**
   * The leader lease (module doc): on a leader, the time (this core's clock) before which no other
   * node can become leader; null on a non-leader.
   */
  get leaseEndMs(): number | null {
    if (this.roleNow !== 'leader') return null;
    const times = [this.nowMs, ...this.peers.map((p) => this.progress.get(p)!.ackedSentMs)].sort((a, b) => b - a);
    return times[this.quorum - 1]! + this.cfg.electionTimeoutMinMs;
  }
  /**
   * The leader's view of the quorum (for DescribeQuorum), null on a non-leader: every voter with the
   * highest index it is known to hold (the leader's own last index for itself, the peers' matchIndex,
   * 0 when not yet known), in voter order. In Kafka's offset terms (entry index i is offset i-1) that
   * index is the replica's log end offset.
   */
  get quorumProgress(): { id: number; matchIndex: number; lastHeardMs: number | null }[] | null {
    if (this.roleNow !== 'leader') return null;
    return this.cfg.voters.map((v) => {
      if (v === this.cfg.id) return { id: v, matchIndex: this.lastIndex, lastHeardMs: null };
      const pr = this.progress.get(v);
      return { id: v, matchIndex: pr?.matchIndex ?? 0, lastHeardMs: pr?.lastHeardMs ?? null };
    });
  }
  /** The entry at `index` (1-based), if present. For drivers and tests; do not mutate. */
  entryAt(index: number): Entry | undefined {
    return index > this.base.index ? this.log[index - this.base.index - 1] : undefined;
  }

  /**
   * Takes the state machine's image `data` at applied index `index` as the newest snapshot and
   * compacts the log up to the previous snapshot (see the module docstring). Ignored (empty Ready)
   * unless `index` is applied and above the current snapshot.
   */
  compact(index: number, data: string, nowMs: number): Ready {
    this.nowMs = Math.max(this.nowMs, nowMs);
    if (!Number.isSafeInteger(index) || index > this.applied || index <= (this.snap?.index ?? 0) || index <= this.base.index) return this.takeReady();
    const previous = this.snap;
    this.snap = { index, term: this.termAt(index), data };
    this.snapshotDirty = true;
    if (previous !== null && previous.index > this.base.index) {
      this.log = this.log.slice(previous.index - this.base.index);
      this.base = { index: previous.index, term: previous.term };
      this.compactDirty = true;
    }
    return this.takeReady();
  }

  /** Advances time: election timeouts (followers, candidates), heartbeats and check-quorum (leaders). */
  tick(nowMs: number): Ready {
    this.nowMs = Math.max(this.nowMs, nowMs);
    const now = this.nowMs;
    if (this.roleNow === 'leader') {
      const active = 1 + this.peers.filter((p) => now - this.progress.get(p)!.lastHeardMs <= this.cfg.electionTimeoutMinMs).length;
      if (active < this.quorum) {
        this.becomeFollower(this.currentTerm, null);
      } else if (now >= this.nextHeartbeatMs) {
        this.nextHeartbeatMs = now + this.cfg.heartbeatIntervalMs;
        for (const p of this.peers) this.sendAppend(p);
      }
    } else if (now >= this.electionDeadlineMs) {
      this.startPreVote();
    }
    return this.takeReady();
  }

  /** Handles one message from `from`. Messages from non-voters or from itself are ignored. */
  step(from: number, msg: Message, nowMs: number): Ready {
    this.nowMs = Math.max(this.nowMs, nowMs);
    if (from !== this.cfg.id && this.cfg.voters.includes(from)) this.handle(from, msg);
    return this.takeReady();
  }

  /** Appends payloads as new entries if leader; the returned `ready` must be handled like any other. */
  propose(payloads: readonly string[], nowMs: number): ProposeResult {
    this.nowMs = Math.max(this.nowMs, nowMs);
    if (this.roleNow !== 'leader') return { ok: false, leaderId: this.leader };
    for (const payload of payloads) this.appendLocal(payload);
    if (payloads.length > 0) {
      for (const p of this.peers) this.sendAppend(p);
      this.maybeAdvanceCommit();
    }
    return { ok: true, lastIndex: this.lastIndex, term: this.currentTerm, ready: this.takeReady() };
  }

  // ---------------------------------------------------------------------------------------------

  private handle(from: number, msg: Message): void {
    if (msg.term > this.currentTerm) {
      if (msg.type === 'vote-req') {
        // Lease: a node in contact with a live leader refuses to help depose it.
        if (this.inLease()) return;
        if (!msg.pre) this.becomeFollower(msg.term, null);
      } else if (msg.type === 'vote-resp' && msg.pre && msg.granted) {
        // A granted pre-vote echoes the term we proposed; it does not move our term.
      } else {
        this.becomeFollower(msg.term, msg.type === 'append-req' || msg.type === 'snapshot-req' ? from : null);
      }
    } else if (msg.term < this.currentTerm) {
      // Tell stale senders our term so they step down; a stale leader learns of the newer term here
      // even though our vote requests may be filtered out by its lease.
      if (msg.type === 'append-req' || msg.type === 'snapshot-req') {
        this.send(from, { type: 'append-resp', term: this.currentTerm, success: false, matchIndex: 0, hintIndex: 0 });
      } else if (msg.type === 'vote-req') {
        this.send(from, { type: 'vote-resp', term: this.currentTerm, granted: false, pre: msg.pre });
      }
      return;
    }
    switch (msg.type) {
      case 'vote-req':
        this.onVoteRequest(from, msg);
        return;
      case 'vote-resp':
        this.onVoteResponse(from, msg);
        return;
      case 'append-req':
        this.onAppendRequest(from, msg);
        return;
      case 'append-resp':
        this.onAppendResponse(from, msg);
        return;
      case 'snapshot-req':
        this.onSnapshotRequest(from, msg);
        return;
    }
  }

  private onVoteRequest(from: number, msg: VoteRequest): void {
    const upToDate = this.isUpToDate(msg.lastLogTerm, msg.lastLogIndex);
    if (msg.pre) {
      // Grant a pre-vote for a future term to a node with an up-to-date log, without changing state.
      const granted = msg.term > this.currentTerm && upToDate && !this.inLease();
      this.send(from, { type: 'vote-resp', term: granted ? msg.term : this.currentTerm, granted, pre: true });
      return;
    }
    // Here msg.term === currentTerm.
    const granted = (this.votedFor === null || this.votedFor === from) && upToDate && this.roleNow === 'follower';
    if (granted && this.votedFor !== from) {
      this.votedFor = from;
      this.hardStateDirty = true;
    }
    if (granted) this.resetElectionTimer();
    this.send(from, { type: 'vote-resp', term: this.currentTerm, granted, pre: false });
  }

  private onVoteResponse(from: number, msg: VoteResponse): void {
    if (msg.pre) {
      if (this.roleNow !== 'precandidate' || msg.term !== this.currentTerm + 1) return;
    } else if (this.roleNow !== 'candidate' || msg.term !== this.currentTerm) {
      return;
    }
    this.votes.set(from, msg.granted);
    let yes = 0;
    let no = 0;
    for (const g of this.votes.values()) g ? yes++ : no++;
    if (yes >= this.quorum) {
      if (msg.pre) this.becomeCandidate();
      else this.becomeLeader();
    } else if (no >= this.quorum) {
      // Lost: wait for the next election timeout as a follower.
      this.becomeFollower(this.currentTerm, null);
    }
  }

  private onAppendRequest(from: number, msg: AppendRequest): void {
    // msg.term === currentTerm: `from` is the leader of this term (at most one exists).
    if (this.roleNow === 'leader') throw new Error(`raft: two leaders in term ${this.currentTerm} (${this.cfg.id}, ${from})`);
    if (this.roleNow !== 'follower') this.becomeFollower(this.currentTerm, from);
    this.leader = from;
    this.lastLeaderContactMs = this.nowMs;
    this.leaderCommitSeen = msg.leaderCommit;
    this.resetElectionTimer();

    let prevLogIndex = msg.prevLogIndex;
    let entries = msg.entries;
    if (prevLogIndex < this.base.index) {
      // Entries up to our base are in our snapshot, hence committed, hence the leader's: skip them.
      const skip = this.base.index - prevLogIndex;
      if (skip >= entries.length) {
        const matchIndex = prevLogIndex + entries.length;
        this.reply(from, msg, { type: 'append-resp', term: this.currentTerm, success: true, matchIndex, hintIndex: matchIndex });
        return;
      }
      entries = entries.slice(skip);
      prevLogIndex = this.base.index;
    } else if (msg.prevLogIndex > this.lastIndex) {
      this.reply(from, msg, { type: 'append-resp', term: this.currentTerm, success: false, matchIndex: 0, hintIndex: this.lastIndex });
      return;
    } else if (this.termAt(msg.prevLogIndex) !== msg.prevLogTerm) {
      // Skip back over the whole conflicting term; the leader retries from just before it.
      const conflictTerm = this.termAt(msg.prevLogIndex);
      let hint = msg.prevLogIndex - 1;
      while (hint > this.commit && this.termAt(hint) === conflictTerm) hint--;
      this.reply(from, msg, { type: 'append-resp', term: this.currentTerm, success: false, matchIndex: 0, hintIndex: hint });
      return;
    }
    for (const e of entries) {
      if (e.index <= this.lastIndex) {
        if (this.termAt(e.index) === e.term) continue;
        this.truncateFrom(e.index);
      }
      this.log.push({ term: e.term, index: e.index, payload: e.payload });
      this.markDirty(e.index);
    }
    const matchIndex = prevLogIndex + entries.length;
    const newCommit = Math.min(msg.leaderCommit, matchIndex);
    if (newCommit > this.commit) this.commit = newCommit;
    this.reply(from, msg, { type: 'append-resp', term: this.currentTerm, success: true, matchIndex, hintIndex: matchIndex });
  }

  private onSnapshotRequest(from: number, msg: SnapshotRequest): void {
    // msg.term === currentTerm: `from` is the leader of this term.
    if (this.roleNow === 'leader') throw new Error(`raft: two leaders in term ${this.currentTerm} (${this.cfg.id}, ${from})`);
    if (this.roleNow !== 'follower') this.becomeFollower(this.currentTerm, from);
    this.leader = from;
    this.lastLeaderContactMs = this.nowMs;
    this.resetElectionTimer();
    if (msg.index > this.commit) {
      const keep = this.termAt(msg.index) === msg.lastTerm ? this.log.slice(msg.index - this.base.index) : [];
      this.log = keep;
      this.base = { index: msg.index, term: msg.lastTerm };
      this.snap = { index: msg.index, term: msg.lastTerm, data: msg.data };
      this.commit = msg.index;
      this.applied = msg.index;
      this.restorePending = this.snap;
      this.snapshotDirty = true;
      this.logResetDirty = true;
      this.dirtyFromIndex = null;
    }
    // Either way the entry at msg.index is committed here, so it matches the leader's.
    this.reply(from, msg, { type: 'append-resp', term: this.currentTerm, success: true, matchIndex: msg.index, hintIndex: msg.index });
  }

  /** Answers the leader's request, echoing its send time (the leader's lease, module doc). */
  private reply(to: number, req: AppendRequest | SnapshotRequest, resp: AppendResponse): void {
    if (req.sentMs !== undefined) resp.echoMs = req.sentMs;
    this.send(to, resp);
  }

  private onAppendResponse(from: number, msg: AppendResponse): void {
    if (this.roleNow !== 'leader') return;
    const pr = this.progress.get(from)!;
    pr.lastHeardMs = this.nowMs;
    // An echo from the future is not ours (a corrupt or foreign message): it must not extend the lease.
    if (msg.echoMs !== undefined && msg.echoMs <= this.nowMs && msg.echoMs > pr.ackedSentMs) pr.ackedSentMs = msg.echoMs;
    if (msg.success) {
      if (msg.matchIndex > pr.matchIndex) pr.matchIndex = Math.min(msg.matchIndex, this.lastIndex);
      if (this.snap !== null && pr.matchIndex >= this.snap.index) pr.snapshotAwaitedUntilMs = 0;
      if (pr.nextIndex <= pr.matchIndex) pr.nextIndex = pr.matchIndex + 1;
      this.maybeAdvanceCommit();
      if (pr.matchIndex < this.lastIndex && pr.nextIndex <= this.lastIndex) this.sendAppend(from);
      return;
    }
    // A follower still waiting for the snapshot we sent rejects our heartbeats: do not resend it yet.
    if (msg.hintIndex < this.base.index && this.nowMs < pr.snapshotAwaitedUntilMs) return;
    // Rejection (possibly stale or reordered): never go below what is known to match.
    const next = Math.max(pr.matchIndex + 1, Math.min(pr.nextIndex - 1, msg.hintIndex + 1));
    pr.nextIndex = Math.max(1, next);
    this.sendAppend(from);
  }

  // ---------------------------------------------------------------------------------------------

  private startPreVote(): void {
    this.roleNow = 'precandidate';
    this.leader = null;
    this.votes = new Map([[this.cfg.id, true]]);
    this.resetElectionTimer();
    if (this.votes.size >= this.quorum) {
      this.becomeCandidate();
      return;
    }
    const req: VoteRequest = {
      type: 'vote-req',
      term: this.currentTerm + 1,
      lastLogIndex: this.lastIndex,
      lastLogTerm: this.termAt(this.lastIndex),
      pre: true,
    };
    for (const p of this.peers) this.send(p, req);
  }

  private becomeCandidate(): void {
    this.roleNow = 'candidate';
    this.currentTerm += 1;
    this.votedFor = this.cfg.id;
    this.hardStateDirty = true;
    this.leader = null;
    this.votes = new Map([[this.cfg.id, true]]);
    this.resetElectionTimer();
    if (this.votes.size >= this.quorum) {
      this.becomeLeader();
      return;
    }
    const req: VoteRequest = {
      type: 'vote-req',
      term: this.currentTerm,
      lastLogIndex: this.lastIndex,
      lastLogTerm: this.termAt(this.lastIndex),
      pre: false,
    };
    for (const p of this.peers) this.send(p, req);
  }

  private becomeLeader(): void {
    this.roleNow = 'leader';
    this.leader = this.cfg.id;
    this.progress = new Map();
    for (const p of this.peers) {
      this.progress.set(p, { nextIndex: this.lastIndex + 1, matchIndex: 0, lastHeardMs: this.nowMs, ackedSentMs: Number.NEGATIVE_INFINITY, snapshotAwaitedUntilMs: 0 });
    }
    this.appendLocal(null);
    this.nextHeartbeatMs = this.nowMs + this.cfg.heartbeatIntervalMs;
    for (const p of this.peers) this.sendAppend(p);
    this.maybeAdvanceCommit();
  }

  private becomeFollower(term: number, leaderId: number | null): void {
    // A leader stepping down keeps the lease it had: its vote must not elect a successor before it ends.
    const lease = this.leaseEndMs;
    if (lease !== null && lease > this.noVoteUntilMs) this.noVoteUntilMs = lease;
    if (term > this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
      this.hardStateDirty = true;
    }
    this.roleNow = 'follower';
    this.leaderCommitSeen = Number.POSITIVE_INFINITY;
    this.leader = leaderId;
    if (leaderId !== null) this.lastLeaderContactMs = this.nowMs;
    this.votes = new Map();
    this.progress = new Map();
    this.resetElectionTimer();
  }

  // ---------------------------------------------------------------------------------------------

  private inLease(): boolean {
    if (this.roleNow === 'leader' || this.nowMs < this.noVoteUntilMs) return true;
    return this.leader !== null && this.nowMs - this.lastLeaderContactMs < this.cfg.electionTimeoutMinMs;
  }

  private isUpToDate(lastLogTerm: number, lastLogIndex: number): boolean {
    const myTerm = this.termAt(this.lastIndex);
    return lastLogTerm > myTerm || (lastLogTerm === myTerm && lastLogIndex >= this.lastIndex);
  }

  /** The term of the entry at `index`; -1 when unknown (beyond the log, or compacted away). */
  private termAt(index: number): number {
    if (index === this.base.index) return this.base.term;
    if (this.snap !== null && index === this.snap.index) return this.snap.term;
    if (index < this.base.index) return -1;
    return this.log[index - this.base.index - 1]?.term ?? -1;
  }

  private appendLocal(payload: string | null): void {
    const index = this.lastIndex + 1;
    this.log.push({ term: this.currentTerm, index, payload });
    this.markDirty(index);
  }

  private truncateFrom(index: number): void {
    if (index <= this.commit) {
      throw new Error(`raft: node ${this.cfg.id} asked to truncate committed entry ${index} (commit ${this.commit})`);
    }
    this.log.length = index - 1 - this.base.index;
    this.markDirty(index);
  }

  private markDirty(index: number): void {
    if (this.dirtyFromIndex === null || index < this.dirtyFromIndex) this.dirtyFromIndex = index;
  }

  private sendAppend(to: number): void {
    const pr = this.progress.get(to)!;
    let prevLogIndex = Math.min(pr.nextIndex - 1, this.lastIndex);
    if (prevLogIndex < this.base.index) {
      const snap = this.snap!;
      if (this.nowMs >= pr.snapshotAwaitedUntilMs) {
        this.send(to, { type: 'snapshot-req', term: this.currentTerm, index: snap.index, lastTerm: snap.term, data: snap.data, sentMs: this.nowMs });
        pr.snapshotAwaitedUntilMs = this.nowMs + this.cfg.electionTimeoutMinMs;
      }
      // Meanwhile (and right behind the snapshot) heartbeats continue from the snapshot's index.
      prevLogIndex = snap.index;
    }
    const from = prevLogIndex - this.base.index;
    const entries = this.log.slice(from, from + this.cfg.maxEntriesPerAppend);
    this.send(to, {
      type: 'append-req',
      term: this.currentTerm,
      prevLogIndex,
      prevLogTerm: this.termAt(prevLogIndex),
      entries,
      leaderCommit: this.commit,
      sentMs: this.nowMs,
    });
    // Optimistic pipelining: a lost message shows up as a rejection and moves nextIndex back.
    pr.nextIndex = prevLogIndex + entries.length + 1;
  }

  private maybeAdvanceCommit(): void {
    const matches = [this.lastIndex, ...this.peers.map((p) => this.progress.get(p)!.matchIndex)].sort((a, b) => b - a);
    const candidate = matches[this.quorum - 1]!;
    // Only entries of the current term are committed by counting replicas (§5.4.2).
    if (candidate > this.commit && this.termAt(candidate) === this.currentTerm) {
      this.commit = candidate;
      // Let followers learn the new commit index promptly.
      for (const p of this.peers) this.sendAppend(p);
    }
  }

  private resetElectionTimer(): void {
    this.electionDeadlineMs = this.nowMs + this.randomElectionTimeoutMs();
  }

  private randomElectionTimeoutMs(): number {
    const { electionTimeoutMinMs: lo, electionTimeoutMaxMs: hi } = this.cfg;
    return lo + Math.floor(this.random() * (hi - lo));
  }

  private send(to: number, message: Message): void {
    this.outMessages.push({ to, message });
  }

  private takeReady(): Ready {
    const ready: Ready = { messages: this.outMessages, committed: [] };
    this.outMessages = [];
    if (this.hardStateDirty) {
      ready.persist = { term: this.currentTerm, votedFor: this.votedFor };
      this.hardStateDirty = false;
    }
    if (this.snapshotDirty && this.snap !== null) {
      ready.snapshot = { ...this.snap };
      this.snapshotDirty = false;
    }
    if (this.logResetDirty) {
      // The whole log goes in the reset: it already holds whatever was dirty.
      ready.resetLog = { base: { ...this.base }, entries: this.log.map((e) => ({ ...e })) };
      this.logResetDirty = false;
      this.dirtyFromIndex = null;
    } else if (this.compactDirty) {
      ready.compactLog = { ...this.base };
    }
    this.compactDirty = false;
    if (this.dirtyFromIndex !== null) {
      const from = this.dirtyFromIndex;
      ready.appendEntries = { fromIndex: from, entries: this.log.slice(from - 1 - this.base.index).map((e) => ({ ...e })) };
      this.dirtyFromIndex = null;
    }
    if (this.restorePending !== null) {
      ready.restore = { ...this.restorePending };
      this.restorePending = null;
    }
    if (this.commit > this.applied) {
      ready.committed = this.log.slice(this.applied - this.base.index, this.commit - this.base.index).map((e) => ({ ...e }));
      this.applied = this.commit;
    }
    return ready;
  }
}
