/**
 * A consumer group member for the queue workload's `subscribe` mode, over the project's codec: the
 * classic group protocol (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetFetch, OffsetCommit,
 * LeaveGroup) with Kafka's consumer protocol bytes and a range assignor run by the group leader.
 *
 * Invariants:
 * - The consumer polls only while the member is `stable` (it has a generation and an assignment);
 *   every change of assignment is recorded as an `assign` op (Consumer.assign), and reads restart at
 *   the group's committed offsets (or the log start when none), so checkers may treat reads after it
 *   as restartable anywhere.
 * - A heartbeat answer of REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID or
 *   FENCED_INSTANCE_ID, or a coordinator that does not answer, makes the member rejoin.
 * - Commits carry the member's generation, so the coordinator refuses a zombie's commit.
 * Every request is bounded (the Consumer's request timeout; JoinGroup by the rebalance timeout).
 */
import { ApiKeys } from '../broker/protocol/codec.ts';
import { ErrorCode, errorName } from '../broker/protocol/errors.ts';
import type { Consumer } from './consumer.ts';
import { keyOf } from './consumer.ts';

export interface GroupConfig {
  groupId: string;
  topic: string;
  /** the topic's partition count: what the range assignor splits */
  partitions: number;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs?: number;
}

const JOIN_VERSION = 5;
const SYNC_VERSION = 3;
const HEARTBEAT_VERSION = 3;
const LEAVE_VERSION = 3;
const OFFSET_FETCH_VERSION = 5;

/** Kafka's ConsumerProtocolSubscription v0: version, topics, user data (null). */
export function encodeSubscription(topics: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0])];
  const n = Buffer.alloc(4);
  n.writeInt32BE(topics.length);
  parts.push(n);
  for (const t of topics) {
    const s = Buffer.from(t);
    const l = Buffer.alloc(2);
    l.writeInt16BE(s.length);
    parts.push(l, s);
  }
  parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  return Buffer.concat(parts);
}

/** Kafka's ConsumerProtocolAssignment v0: version, [topic, [partition]], user data (null). */
export function encodeAssignment(byTopic: Map<string, number[]>): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0])];
  const n = Buffer.alloc(4);
  n.writeInt32BE(byTopic.size);
  parts.push(n);
  for (const [t, ps] of byTopic) {
    const s = Buffer.from(t);
    const head = Buffer.alloc(2 + s.length + 4 + 4 * ps.length);
    head.writeInt16BE(s.length, 0);
    s.copy(head, 2);
    head.writeInt32BE(ps.length, 2 + s.length);
    ps.forEach((p, i) => head.writeInt32BE(p, 2 + s.length + 4 + 4 * i));
    parts.push(head);
  }
  parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  return Buffer.concat(parts);
}

/** The partitions of `topic` in an assignment; a malformed one reads as none. */
export function decodeAssignment(buf: Buffer | null | undefined, topic: string): number[] {
  if (!buf || buf.length < 6) return [];
  try {
    let pos = 2;
    const topics = buf.readInt32BE(pos);
    pos += 4;
    const out: number[] = [];
    for (let i = 0; i < topics && i < 1000; i++) {
      const l = buf.readInt16BE(pos);
      const t = buf.subarray(pos + 2, pos + 2 + l).toString();
      pos += 2 + l;
      const count = buf.readInt32BE(pos);
      pos += 4;
      for (let j = 0; j < count && j < 100_000; j++) {
        if (t === topic) out.push(buf.readInt32BE(pos));
        pos += 4;
      }
    }
    return out.sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** The range assignor: members sorted by id, each gets a contiguous run of partitions. */
export function rangeAssign(memberIds: string[], partitions: number): Map<string, number[]> {
  const members = [...memberIds].sort();
  const out = new Map<string, number[]>(members.map((m) => [m, []]));
  const per = Math.floor(partitions / Math.max(1, members.length));
  const extra = partitions % Math.max(1, members.length);
  let next = 0;
  members.forEach((m, i) => {
    const n = per + (i < extra ? 1 : 0);
    for (let k = 0; k < n; k++) out.get(m)!.push(next++);
  });
  return out;
}

const rejoinCodes: ReadonlySet<number> = new Set([ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_INSTANCE_ID]);

type MemberState = { state: 'unjoined'; memberId: string } | { state: 'stable'; memberId: string; generationId: number; coordinator: string; lastHeartbeatMs: number };

export class GroupMember {
  readonly #c: Consumer;
  readonly #g: GroupConfig;
  #s: MemberState = { state: 'unjoined', memberId: '' };

  constructor(consumer: Consumer, g: GroupConfig) {
    this.#c = consumer;
    this.#g = g;
  }

  /** Join if needed, heartbeat when due; true when the member is stable and may poll. */
  async maintain(): Promise<boolean> {
    if (this.#s.state === 'unjoined') return this.#join();
    const s = this.#s;
    if (Date.now() - s.lastHeartbeatMs < (this.#g.heartbeatIntervalMs ?? 500)) return true;
    try {
      const res = await this.#c.request(s.coordinator, ApiKeys.Heartbeat, HEARTBEAT_VERSION, { groupId: this.#g.groupId, generationId: s.generationId, memberId: s.memberId, groupInstanceId: null });
      s.lastHeartbeatMs = Date.now();
      if (res.errorCode === 0) return true;
      this.#s = { state: 'unjoined', memberId: res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID ? '' : s.memberId };
      return rejoinCodes.has(res.errorCode) ? this.#join() : false;
    } catch {
      this.#s = { state: 'unjoined', memberId: s.memberId };
      return false;
    }
  }

  async #join(): Promise<boolean> {
    const coordinator = await this.#c.coordinator(this.#g.groupId);
    const maxAttempts = 3;
    let memberId = this.#s.memberId;
    for (let i = 0; i < maxAttempts; i++) {
      const join = await this.#c.request(
        coordinator,
        ApiKeys.JoinGroup,
        JOIN_VERSION,
        {
          groupId: this.#g.groupId,
          sessionTimeoutMs: this.#g.sessionTimeoutMs,
          rebalanceTimeoutMs: this.#g.rebalanceTimeoutMs,
          memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: encodeSubscription([this.#g.topic]) }],
        },
        this.#g.rebalanceTimeoutMs + 5000,
      );
      if (join.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        memberId = join.memberId;
        continue;
      }
      if (join.errorCode !== 0) {
        if (join.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.#s = { state: 'unjoined', memberId: '' };
        throw new Error(`JoinGroup: ${errorName(join.errorCode)}`);
      }
      memberId = join.memberId;
      const assignments =
        join.leader === join.memberId
          ? [...rangeAssign((join.members ?? []).map((m: any) => m.memberId), this.#g.partitions)].map(([m, ps]) => ({ memberId: m, assignment: encodeAssignment(new Map([[this.#g.topic, ps]])) }))
          : [];
      const sync = await this.#c.request(
        coordinator,
        ApiKeys.SyncGroup,
        SYNC_VERSION,
        { groupId: this.#g.groupId, generationId: join.generationId, memberId, groupInstanceId: null, assignments },
        this.#g.rebalanceTimeoutMs + 5000,
      );
      if (sync.errorCode !== 0) {
        this.#s = { state: 'unjoined', memberId: sync.errorCode === ErrorCode.UNKNOWN_MEMBER_ID ? '' : memberId };
        return false;
      }
      const mine = decodeAssignment(sync.assignment, this.#g.topic);
      let committed: Map<number, number>;
      try {
        committed = await this.#committed(coordinator, mine);
      } catch (err) {
        // Never resume without knowing the committed offsets: stay a member (same id), join again.
        this.#s = { state: 'unjoined', memberId };
        throw err;
      }
      await this.#c.assign(mine, committed);
      this.#s = { state: 'stable', memberId, generationId: join.generationId, coordinator, lastHeartbeatMs: Date.now() };
      return true;
    }
    this.#s = { state: 'unjoined', memberId };
    return false;
  }

  /**
   * The group's committed offsets of these partitions (those with none, -1, are left out). An error,
   * the answer's (v2+: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS) or a partition's, throws: its
   * partitions come back at -1, which must not read as "nothing committed" (the member would resume
   * at the log start below offsets the group committed: a resume-mismatch the harness caused).
   */
  async #committed(coordinator: string, partitions: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (partitions.length === 0) return out;
    const res = await this.#c.request(coordinator, ApiKeys.OffsetFetch, OFFSET_FETCH_VERSION, {
      groupId: this.#g.groupId,
      topics: [{ name: this.#g.topic, partitionIndexes: partitions }],
      requireStable: false,
    });
    if ((res.errorCode ?? 0) !== 0) throw new Error(`OffsetFetch: ${errorName(res.errorCode)}`);
    for (const t of res.topics ?? []) {
      for (const p of t.partitions ?? []) {
        if ((p.errorCode ?? 0) !== 0) throw new Error(`OffsetFetch ${t.name}-${p.partitionIndex}: ${errorName(p.errorCode)}`);
        if (Number(p.committedOffset) >= 0) out.set(p.partitionIndex, Number(p.committedOffset));
      }
    }
    return out;
  }

  /** Commit the consumer's positions as this generation's member (recorded as a `commit` op). */
  async commit(): Promise<void> {
    if (this.#s.state !== 'stable') return;
    await this.#c.commit(this.#g.groupId, this.#s.coordinator, { generationId: this.#s.generationId, memberId: this.#s.memberId });
  }

  async leave(): Promise<void> {
    if (this.#s.state !== 'stable') return;
    const s = this.#s;
    this.#s = { state: 'unjoined', memberId: '' };
    await this.#c.request(s.coordinator, ApiKeys.LeaveGroup, LEAVE_VERSION, { groupId: this.#g.groupId, members: [{ memberId: s.memberId, groupInstanceId: null }] });
  }

  get keys(): string[] {
    return this.#c.assigned.map((p) => keyOf(this.#g.topic, p));
  }
}
