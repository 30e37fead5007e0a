/**
 * A consumer group member for the whole-node simulation, over the real wire codec (clients.ts's
 * ClusterClient, `KafkaConnection.request` on the simulated network), with the classic group
 * protocol at versions the broker advertises (broker/apis/versions.ts): FindCoordinator v2,
 * JoinGroup v5, SyncGroup v3, Heartbeat v3, OffsetFetch v5, OffsetCommit v7, LeaveGroup v3, and
 * Fetch v11 from the partition leaders (clients.ts's Consumer, restricted to the assignment). The
 * subscription and assignment bytes and the range assignor the leader member runs are the queue
 * workload's (workloads/group.ts), and so is the table of commit errors that prove a commit was not
 * written (workloads/consumer.ts `commitRefused`).
 *
 * History ops (design.md's format; checkers/queue.ts judges `assign`, `poll` and `commit`):
 * - `assign` (one `ok` line `{keys}`): the member's partitions after a completed rebalance, each at
 *   the group's committed offset, or at 0 (the log start: nothing is ever deleted from the topic)
 *   when none is committed. Every rejoin ends in one, kept partitions too: positions restart at the
 *   committed offsets, so the checker's resume rule judges every takeover.
 * - `poll`: as clients.ts's Consumer records them.
 * - `commit`: invoke `{key: next offset, ...}` (the member's positions) -> `ok`; `fail` when every
 *   partition's error proves the offsets were not written; `info` otherwise (NOT_COORDINATOR and
 *   COORDINATOR_NOT_AVAILABLE may follow the append, a timeout or a dropped connection says nothing;
 *   such a completion carries `unanswered: true`: its request may still be in the network).
 * - `offset-fetch`: invoke `{keys}` -> `ok` `{key: committed offset, or -1 for none}`, or `fail`
 *   `{error}` (a read changes nothing, so a failed one is definite). The queue checker ignores it;
 *   `groupOffsetsMonotonic` (properties.ts) judges it.
 * One op in flight per process: a member does one thing at a time (join, heartbeat, poll, commit).
 *
 * Reactions, as a Kafka consumer's: REBALANCE_IN_PROGRESS and ILLEGAL_GENERATION rejoin with the
 * same member id; UNKNOWN_MEMBER_ID rejoins without one; NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
 * COORDINATOR_LOAD_IN_PROGRESS, a timeout or a dropped connection look the coordinator up again
 * (and rejoin: membership is soft state a new coordinator does not have). A member never polls
 * without a generation and an assignment, and never resumes without knowing the committed offsets.
 * `crash()` stops it without LeaveGroup, dropping its connections with whatever is in flight.
 * Every wait is bounded: requests by their timeout, joins by the rebalance timeout.
 */
import { ApiKeys } from '../broker/protocol/codec.ts';
import { ErrorCode, errorName } from '../broker/protocol/errors.ts';
import type { Process } from '../checkers/history.ts';
import { commitRefused } from '../workloads/consumer.ts';
import { decodeAssignment, encodeAssignment, encodeSubscription, rangeAssign } from '../workloads/group.ts';
import { type ClusterClient, Consumer, type History } from './clients.ts';

const FIND_COORDINATOR_VERSION = 2;
const JOIN_VERSION = 5;
const SYNC_VERSION = 3;
const HEARTBEAT_VERSION = 3;
const LEAVE_VERSION = 3;
const OFFSET_FETCH_VERSION = 5;
const OFFSET_COMMIT_VERSION = 7;

export interface GroupMemberConfig {
  process: number;
  groupId: string;
  topic: string;
  partitions: number;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Commit the positions after every this many polls. */
  pollsPerCommit: number;
}

/** A member's protocol state: only a stable member has a generation and polls. */
type MemberState =
  | { state: 'unjoined'; memberId: string }
  | { state: 'stable'; memberId: string; generationId: number; coordinator: number; lastHeartbeatMs: number };

/** Errors that send the member back to FindCoordinator. */
const COORDINATOR_MOVED: ReadonlySet<number> = new Set([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]);

/** The key of a partition of `topic` in the history (`topic-index`). */
function keyOf(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

function errorOf(err: unknown): string {
  return (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * The group's committed offsets of `partitions` from `coordinator`, recorded as one `offset-fetch`
 * op (its invoke names the broker asked, `coordinator`); null when the answer was an error (of the
 * request or of any partition) or did not come.
 */
export async function fetchCommitted(c: ClusterClient, h: History, process: Process, coordinator: number, groupId: string, topic: string, partitions: readonly number[]): Promise<Map<number, number> | null> {
  h.add(process, 'invoke', 'offset-fetch', { keys: partitions.map((p) => keyOf(topic, p)), coordinator });
  let res: any;
  try {
    res = await c.request(coordinator, ApiKeys.OffsetFetch, OFFSET_FETCH_VERSION, { groupId, topics: [{ name: topic, partitionIndexes: [...partitions] }], requireStable: false });
  } catch (err) {
    h.add(process, 'fail', 'offset-fetch', { error: errorOf(err) });
    return null;
  }
  const codes: number[] = [];
  if ((res.errorCode ?? 0) !== 0) codes.push(res.errorCode);
  const out = new Map<number, number>();
  for (const t of res.topics ?? []) {
    for (const p of t.partitions ?? []) {
      if ((p.errorCode ?? 0) !== 0) codes.push(p.errorCode);
      else if (t.name === topic) out.set(p.partitionIndex, Number(p.committedOffset));
    }
  }
  if (codes.length > 0 || partitions.some((p) => !out.has(p))) {
    h.add(process, 'fail', 'offset-fetch', { error: codes.length > 0 ? [...new Set(codes.map(errorName))].join(',') : 'a partition missing from the answer' });
    return null;
  }
  h.add(process, 'ok', 'offset-fetch', Object.fromEntries([...out].map(([p, o]) => [keyOf(topic, p), o])));
  return out;
}

/** The coordinator of `groupId`, asked of a random broker; null when it did not say. */
export async function findCoordinator(c: ClusterClient, groupId: string): Promise<number | null> {
  try {
    const res = await c.request(c.randomBroker(), ApiKeys.FindCoordinator, FIND_COORDINATOR_VERSION, { key: groupId, keyType: 0 });
    return res.errorCode === 0 && res.nodeId >= 0 ? res.nodeId : null;
  } catch {
    return null;
  }
}

export class GroupMember {
  readonly cfg: GroupMemberConfig;
  readonly consumer: Consumer;
  readonly #c: ClusterClient;
  readonly #h: History;
  #s: MemberState = { state: 'unjoined', memberId: '' };
  #crashed = false;
  #polls = 0;
  /** Completed rebalances (assign ops) and coordinator look-ups, for tests of the workload's reach. */
  readonly stats = { assigns: 0, rejoins: 0, coordinatorLookups: 0 };

  constructor(cfg: GroupMemberConfig, c: ClusterClient, h: History) {
    this.cfg = cfg;
    this.#c = c;
    this.#h = h;
    this.consumer = new Consumer(cfg.process, cfg.topic, cfg.partitions, c, h);
    this.consumer.assigned = [];
  }

  /** Monotonic: heartbeat intervals must not jump with the client host's wall clock. */
  get #nowMs(): number {
    return this.#c.runtime.clock.monotonicMs();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((r) => this.#c.runtime.timers.setTimeout(r, ms));
  }

  /** Runs the member until `done()` (then leaves the group) or until it crashes. */
  async run(done: () => boolean, pauseMs: () => number): Promise<void> {
    while (!this.#crashed && !done()) {
      const s = this.#s;
      if (s.state === 'unjoined') {
        if (!(await this.#join())) await this.#sleep(pauseMs() + 100);
        continue;
      }
      if (this.#nowMs - s.lastHeartbeatMs >= this.cfg.heartbeatIntervalMs) {
        await this.#heartbeat(s);
        continue;
      }
      if ((this.consumer.assigned ?? []).length > 0) {
        await this.consumer.poll();
        if (++this.#polls % this.cfg.pollsPerCommit === 0 && !this.#crashed) await this.#commit();
      }
      await this.#sleep(pauseMs());
    }
    if (!this.#crashed) await this.#leave();
  }

  get crashed(): boolean {
    return this.#crashed;
  }

  /** Stops without LeaveGroup: its connections drop with whatever they carry (a killed client). */
  crash(): void {
    this.#crashed = true;
    this.#c.closeAll();
  }

  /** After an answer that says the member's generation, id or coordinator is gone: what to keep. */
  #lose(code: number, memberId: string): void {
    this.stats.rejoins++;
    this.#s = { state: 'unjoined', memberId: code === ErrorCode.UNKNOWN_MEMBER_ID ? '' : memberId };
    this.consumer.assigned = [];
  }

  async #heartbeat(s: Extract<MemberState, { state: 'stable' }>): Promise<void> {
    try {
      const res = await this.#c.request(s.coordinator, ApiKeys.Heartbeat, HEARTBEAT_VERSION, { groupId: this.cfg.groupId, generationId: s.generationId, memberId: s.memberId, groupInstanceId: null });
      s.lastHeartbeatMs = this.#nowMs;
      if (res.errorCode !== 0) this.#lose(res.errorCode, s.memberId);
    } catch {
      // A timeout or a dropped connection: the coordinator may have moved; look it up again.
      this.#lose(ErrorCode.NOT_COORDINATOR, s.memberId);
    }
  }

  /**
   * FindCoordinator, JoinGroup (again with the id MEMBER_ID_REQUIRED hands out), SyncGroup (the
   * leader sends the range assignment), OffsetFetch of the assignment; true when stable.
   */
  async #join(): Promise<boolean> {
    const { groupId, topic, partitions, sessionTimeoutMs, rebalanceTimeoutMs } = this.cfg;
    this.stats.coordinatorLookups++;
    const coordinator = await findCoordinator(this.#c, groupId);
    if (coordinator === null || this.#crashed) return false;
    let memberId = this.#s.memberId;
    const joinTimeoutMs = rebalanceTimeoutMs + 2_000;
    try {
      // Bounded: one MEMBER_ID_REQUIRED round, then the real join.
      let join: any;
      for (let attempt = 0; attempt < 2; attempt++) {
        join = await this.#c.request(coordinator, ApiKeys.JoinGroup, JOIN_VERSION, {
          groupId,
          sessionTimeoutMs,
          rebalanceTimeoutMs,
          memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: encodeSubscription([topic]) }],
        }, joinTimeoutMs);
        if (join.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) break;
        memberId = join.memberId;
        this.#s = { state: 'unjoined', memberId };
      }
      if (this.#crashed) return false;
      if (join.errorCode !== 0) {
        this.#lose(join.errorCode, memberId);
        return false;
      }
      memberId = join.memberId;
      const assignments =
        join.leader === memberId
          ? [...rangeAssign((join.members ?? []).map((m: { memberId: string }) => m.memberId), partitions)].map(([m, ps]) => ({ memberId: m, assignment: encodeAssignment(new Map([[topic, ps]])) }))
          : [];
      const sync = await this.#c.request(coordinator, ApiKeys.SyncGroup, SYNC_VERSION, { groupId, generationId: join.generationId, memberId, groupInstanceId: null, assignments }, joinTimeoutMs);
      if (this.#crashed) return false;
      if (sync.errorCode !== 0) {
        this.#lose(sync.errorCode, memberId);
        return false;
      }
      const mine = decodeAssignment(sync.assignment, topic);
      const committed = mine.length === 0 ? new Map<number, number>() : await fetchCommitted(this.#c, this.#h, this.cfg.process, coordinator, groupId, topic, mine);
      if (this.#crashed) return false;
      if (committed === null) {
        // Never resume without the committed offsets: stay a member (same id) and join again.
        this.#lose(ErrorCode.NOT_COORDINATOR, memberId);
        return false;
      }
      this.consumer.position.clear();
      for (const p of mine) this.consumer.position.set(p, Math.max(0, committed.get(p) ?? -1));
      this.consumer.assigned = mine;
      this.#h.add(this.cfg.process, 'ok', 'assign', { keys: mine.map((p) => keyOf(topic, p)) });
      this.stats.assigns++;
      this.#s = { state: 'stable', memberId, generationId: join.generationId, coordinator, lastHeartbeatMs: this.#nowMs };
      return true;
    } catch {
      this.#lose(ErrorCode.NOT_COORDINATOR, memberId);
      return false;
    }
  }

  /** OffsetCommit of the member's positions under its generation (one `commit` op). */
  async #commit(): Promise<void> {
    const s = this.#s;
    if (s.state !== 'stable' || this.consumer.position.size === 0) return;
    const offsets = Object.fromEntries([...this.consumer.position].map(([p, o]) => [keyOf(this.cfg.topic, p), o]));
    this.#h.add(this.cfg.process, 'invoke', 'commit', offsets);
    try {
      const res = await this.#c.request(s.coordinator, ApiKeys.OffsetCommit, OFFSET_COMMIT_VERSION, {
        groupId: this.cfg.groupId,
        generationIdOrMemberEpoch: s.generationId,
        memberId: s.memberId,
        groupInstanceId: null,
        topics: [{ name: this.cfg.topic, partitions: [...this.consumer.position].map(([p, o]) => ({ partitionIndex: p, committedOffset: o, committedLeaderEpoch: -1, committedMetadata: null })) }],
      });
      const codes: number[] = (res.topics ?? []).flatMap((t: any) => (t.partitions ?? []).filter((p: any) => p.errorCode !== 0).map((p: any) => p.errorCode as number));
      if (codes.length === 0) {
        this.#h.add(this.cfg.process, 'ok', 'commit', offsets);
        return;
      }
      this.#h.add(this.cfg.process, commitRefused(codes) ? 'fail' : 'info', 'commit', { ...offsets, error: [...new Set(codes.map(errorName))].join(',') });
      const code = codes[0]!;
      if (COORDINATOR_MOVED.has(code) || code === ErrorCode.REBALANCE_IN_PROGRESS || code === ErrorCode.ILLEGAL_GENERATION || code === ErrorCode.UNKNOWN_MEMBER_ID) this.#lose(code, s.memberId);
    } catch (err) {
      this.#h.add(this.cfg.process, 'info', 'commit', { ...offsets, error: errorOf(err), unanswered: true });
      this.#lose(ErrorCode.NOT_COORDINATOR, s.memberId);
    }
  }

  async #leave(): Promise<void> {
    const s = this.#s;
    this.#s = { state: 'unjoined', memberId: '' };
    this.consumer.assigned = [];
    if (s.state !== 'stable') return;
    try {
      await this.#c.request(s.coordinator, ApiKeys.LeaveGroup, LEAVE_VERSION, { groupId: this.cfg.groupId, members: [{ memberId: s.memberId, groupInstanceId: null }] });
    } catch {
      // Its session expires instead.
    }
  }
}
