/**
 * The consumer group coordinator (Kafka's classic group protocol: JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup) and committed offsets (OffsetCommit, OffsetFetch).
 *
 * State machine per group (GroupMetadata.scala):
 *   Empty --join--> PreparingRebalance --all known members rejoined, or rebalance timeout--> CompletingRebalance
 *   CompletingRebalance --leader's SyncGroup--> Stable --join / leave / session expiry--> PreparingRebalance
 *   any --last member leaves or expires--> Empty
 * Invariants:
 * - The generation id increases by one at every completed join phase; heartbeats, syncs and commits
 *   carrying another generation get ILLEGAL_GENERATION, unknown members UNKNOWN_MEMBER_ID.
 * - A member silent for its session timeout is removed and the group rebalances.
 * - A commit is acknowledged only once the offsets log (the internal `__consumer_offsets` partition,
 *   replicated like any partition) has accepted it (`OffsetLog.append` resolves after the high
 *   watermark passes it), so committed offsets survive a coordinator failover: the new coordinator
 *   replays the partition in `load`.
 * Group membership is soft state, as in Kafka after a coordinator move: members learn of the move
 * through NOT_COORDINATOR / UNKNOWN_MEMBER_ID and rejoin.
 * - Everything this node knows of an offsets partition comes from one load of its log, plus the
 *   commits it acknowledged while coordinating it since that load (Kafka's removeGroupsForPartition):
 *   unload(p) drops every group of p and every committed offset of p, whether the group has members
 *   or was only ever a target of simple commits, and finishLoad(p) starts from an empty map for p.
 *   So a commit that later vanished from the log (truncated after a leadership change) is never
 *   served again. A commit whose append outlives an unload (or an unload and a reload) is not applied
 *   to the map: each load of a partition has its own generation, and a commit applies only under the
 *   generation it started in.
 * - No answer as coordinator without the lease (`canCoordinate`, the broker's coordinator lease:
 *   controller/broker-lifecycle.ts): JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
 *   OffsetFetch, DescribeGroups and ListGroups answer NOT_COORDINATOR while it does not hold, also
 *   for a join or sync that was parked before it lapsed, so clients look the coordinator up again.
 *   While it holds, no controller can have moved the offsets partition away from this broker by
 *   fencing it without this node's image (and so `unload`) knowing. Kafka's coordinator has no such
 *   rule and keeps answering from what it loaded until its metadata says another broker leads the
 *   partition, so a coordinator cut off from the controller, or paused, answers OffsetFetch from
 *   offsets its successor has already moved past. A commit whose append succeeded is applied to
 *   the map of the load it started in even if the lease lapsed meanwhile (the map mirrors that
 *   load's log); only its answer says NOT_COORDINATOR.
 *
 * Time comes from `nowMs()` and expiry runs in `tick()`, called by the broker on a timer, so the
 * logic is testable without real time.
 */
import { realRandom } from '../runtime/real.ts';
import { ErrorCode } from '../protocol/errors.ts';

/** The Kafka error codes the coordinator answers with (values from the one error table). */
export const GroupError = {
  NONE: ErrorCode.NONE,
  COORDINATOR_LOAD_IN_PROGRESS: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  COORDINATOR_NOT_AVAILABLE: ErrorCode.COORDINATOR_NOT_AVAILABLE,
  NOT_COORDINATOR: ErrorCode.NOT_COORDINATOR,
  ILLEGAL_GENERATION: ErrorCode.ILLEGAL_GENERATION,
  INCONSISTENT_GROUP_PROTOCOL: ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
  INVALID_GROUP_ID: ErrorCode.INVALID_GROUP_ID,
  UNKNOWN_MEMBER_ID: ErrorCode.UNKNOWN_MEMBER_ID,
  INVALID_SESSION_TIMEOUT: ErrorCode.INVALID_SESSION_TIMEOUT,
  REBALANCE_IN_PROGRESS: ErrorCode.REBALANCE_IN_PROGRESS,
  MEMBER_ID_REQUIRED: ErrorCode.MEMBER_ID_REQUIRED,
} as const;
type Code = (typeof GroupError)[keyof typeof GroupError];

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
  assignment: Buffer;
  lastHeartbeatMs: number;
  pendingJoin: ((r: JoinResult) => void) | null;
  pendingSync: ((r: SyncResult) => void) | null;
}

interface Group {
  groupId: string;
  state: GroupState;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  members: Map<string, Member>;
  /** When the current join phase must end (rebalance timeout or initial delay). */
  joinDeadlineMs: number;
  /** The join phase lasts at least until here (group.initial.rebalance.delay.ms for a new group). */
  minJoinEndMs: number;
  /** Member ids handed out by MEMBER_ID_REQUIRED, waiting for their second JoinGroup. */
  pendingMemberIds: Map<string, number>;
}

export interface JoinRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+: a member without id gets one with MEMBER_ID_REQUIRED and must rejoin with it. */
  requireKnownMemberId: boolean;
}

export interface JoinResult {
  errorCode: Code;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: Code;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestampMs: number;
}

/** Where committed offsets are made durable: one internal partition per coordinator shard. */
export interface OffsetLog {
  /** Appends records to the offsets partition; resolves once they are committed (HW passed), rejects with a Kafka error code. */
  append(partition: number, records: Array<{ key: Buffer; value: Buffer | null }>): Promise<void>;
}

export interface CoordinatorOptions {
  nowMs: () => number;
  /** Fresh member ids (default: crypto's randomUUID, through the real runtime). */
  uuid?: () => string;
  offsetLog: OffsetLog;
  offsetsPartitions: number;
  initialRebalanceDelayMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** How long a member id handed out by MEMBER_ID_REQUIRED stays valid without a rejoin. */
  pendingMemberTimeoutMs?: number;
  /** Whether this broker holds its coordinator lease now (module doc); default: always. */
  canCoordinate?: () => boolean;
}

/** Kafka's partitionFor: abs(groupId.hashCode) % numPartitions, with Java's String.hashCode. */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(31, h) + groupId.charCodeAt(i)) | 0;
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % partitions;
}

/** The offsets-log record key and value (our own JSON encoding: a key per group/topic/partition). */
export function offsetRecordKey(groupId: string, topic: string, partition: number): Buffer {
  return Buffer.from(JSON.stringify({ g: groupId, t: topic, p: partition }));
}

export function parseOffsetRecord(key: Buffer | null, value: Buffer | null): { groupId: string; topic: string; partition: number; value: CommittedOffset | null } | null {
  if (!key) return null;
  try {
    const k = JSON.parse(key.toString()) as { g: unknown; t: unknown; p: unknown };
    if (typeof k.g !== 'string' || typeof k.t !== 'string' || typeof k.p !== 'number') return null;
    const v = value ? (JSON.parse(value.toString()) as CommittedOffset) : null;
    return { groupId: k.g, topic: k.t, partition: k.p, value: v };
  } catch {
    return null;
  }
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** groupId -> "topic\0partition" -> committed offset. */
  private readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  /** Offsets partitions this node coordinates (is leader of and has loaded). */
  private readonly owned = new Set<number>();
  private readonly loading = new Set<number>();
  /** Partitions being reloaded while still owned (beginLoad without an unload since the last load). */
  private readonly reloadingOwned = new Set<number>();
  /** Offsets partition -> load generation: bumped by every beginLoad, finishLoad and unload. */
  private readonly loadGeneration = new Map<number, number>();
  private readonly opts: CoordinatorOptions;

  constructor(opts: CoordinatorOptions) {
    this.opts = opts;
  }

  partitionFor(groupId: string): number {
    return offsetsPartitionFor(groupId, this.opts.offsetsPartitions);
  }

  /** Error for a group this node cannot serve right now, or NONE: it must own the group's partition and hold the lease (module doc). */
  ownership(groupId: string): Code {
    const p = this.partitionFor(groupId);
    if (this.loading.has(p)) return GroupError.COORDINATOR_LOAD_IN_PROGRESS;
    if (!this.owned.has(p)) return GroupError.NOT_COORDINATOR;
    return this.leaseHeld() ? GroupError.NONE : GroupError.NOT_COORDINATOR;
  }

  /** Whether this node has loaded an offsets partition and not unloaded it (lease or not; for checkers and metrics). */
  owns(partition: number): boolean {
    return this.owned.has(partition) && !this.loading.has(partition);
  }

  private leaseHeld(): boolean {
    return this.opts.canCoordinate?.() ?? true;
  }

  /** A parked join's or sync's answer as it leaves: NOT_COORDINATOR if the lease lapsed meanwhile (module doc). */
  private stillCoordinating<R extends { errorCode: Code }>(r: R, lapsed: R): R {
    return r.errorCode === GroupError.NONE && !this.leaseHeld() ? lapsed : r;
  }

  beginLoad(partition: number): void {
    this.bumpGeneration(partition);
    // Still coordinating it (a new leader epoch on this same node): its log holds everything served.
    if (this.owned.has(partition)) this.reloadingOwned.add(partition);
    this.loading.add(partition);
  }

  /**
   * Becomes coordinator of an offsets partition after replaying its records (in log order). Committed
   * offsets known before are dropped first: the log alone is the state. Group membership is dropped
   * too unless this node coordinated the partition without a break (a reload at a new leader epoch
   * on the same node), when members keep their generation.
   */
  finishLoad(partition: number, records: Iterable<{ key: Buffer | null; value: Buffer | null }>): void {
    if (this.reloadingOwned.delete(partition)) this.dropOffsets(partition);
    else this.dropPartition(partition);
    this.bumpGeneration(partition);
    for (const r of records) {
      const parsed = parseOffsetRecord(r.key, r.value);
      if (!parsed) continue;
      // A record that hashes elsewhere cannot be ours (a corrupt or foreign record): skip it.
      if (this.partitionFor(parsed.groupId) !== partition) continue;
      const byKey = this.offsetsOf(parsed.groupId);
      const k = `${parsed.topic}\0${parsed.partition}`;
      if (parsed.value) byKey.set(k, parsed.value);
      else byKey.delete(k);
    }
    this.loading.delete(partition);
    this.owned.add(partition);
  }

  /** Stops coordinating a partition (leadership moved): pending joins and syncs learn NOT_COORDINATOR. */
  unload(partition: number): void {
    this.loading.delete(partition);
    this.reloadingOwned.delete(partition);
    this.owned.delete(partition);
    this.bumpGeneration(partition);
    this.dropPartition(partition);
  }

  /** Forgets every group and every committed offset of an offsets partition (members learn NOT_COORDINATOR). */
  private dropPartition(partition: number): void {
    for (const [id, g] of this.groups) {
      if (this.partitionFor(id) !== partition) continue;
      for (const m of g.members.values()) {
        m.pendingJoin?.(joinError(GroupError.NOT_COORDINATOR, m.memberId));
        m.pendingSync?.(syncError(GroupError.NOT_COORDINATOR));
      }
      this.groups.delete(id);
    }
    this.dropOffsets(partition);
  }

  /**
   * Offsets are keyed by group on their own: a group with no members (simple commits, or loaded from
   * the log and never joined) has offsets but no entry in `groups`, so they are dropped by partition.
   */
  private dropOffsets(partition: number): void {
    for (const id of this.offsets.keys()) if (this.partitionFor(id) === partition) this.offsets.delete(id);
  }

  private bumpGeneration(partition: number): void {
    this.loadGeneration.set(partition, (this.loadGeneration.get(partition) ?? 0) + 1);
  }

  /** Groups and offset maps held in memory (for tests and metrics). */
  loadedCounts(): { groups: number; groupsWithOffsets: number } {
    return { groups: this.groups.size, groupsWithOffsets: this.offsets.size };
  }

  private offsetsOf(groupId: string): Map<string, CommittedOffset> {
    let m = this.offsets.get(groupId);
    if (!m) {
      m = new Map();
      this.offsets.set(groupId, m);
    }
    return m;
  }

  private group(groupId: string): Group {
    let g = this.groups.get(groupId);
    if (!g) {
      g = {
        groupId,
        state: 'Empty',
        generationId: 0,
        protocolType: null,
        protocolName: null,
        leaderId: null,
        members: new Map(),
        joinDeadlineMs: 0,
        minJoinEndMs: 0,
        pendingMemberIds: new Map(),
      };
      this.groups.set(groupId, g);
    }
    return g;
  }

  join(req: JoinRequest): Promise<JoinResult> {
    const own = this.ownership(req.groupId);
    if (own !== GroupError.NONE) return Promise.resolve(joinError(own, req.memberId));
    if (req.groupId === '') return Promise.resolve(joinError(GroupError.INVALID_GROUP_ID, req.memberId));
    if (req.sessionTimeoutMs < this.opts.minSessionTimeoutMs || req.sessionTimeoutMs > this.opts.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(GroupError.INVALID_SESSION_TIMEOUT, req.memberId));
    }
    const g = this.group(req.groupId);
    const now = this.opts.nowMs();
    if (g.state !== 'Empty' && g.protocolType !== null && req.protocolType !== g.protocolType) {
      return Promise.resolve(joinError(GroupError.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    if (g.members.size > 0 && !req.protocols.some((p) => this.allSupport(g, p.name, req.memberId))) {
      return Promise.resolve(joinError(GroupError.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    let memberId = req.memberId;
    if (memberId === '') {
      memberId = `${req.clientId}-${(this.opts.uuid ?? realRandom.uuid)()}`;
      if (req.requireKnownMemberId) {
        g.pendingMemberIds.set(memberId, now + (this.opts.pendingMemberTimeoutMs ?? req.sessionTimeoutMs));
        return Promise.resolve({ ...joinError(GroupError.MEMBER_ID_REQUIRED, memberId) });
      }
    } else if (!g.members.has(memberId) && !g.pendingMemberIds.has(memberId)) {
      return Promise.resolve(joinError(GroupError.UNKNOWN_MEMBER_ID, memberId));
    }
    g.pendingMemberIds.delete(memberId);

    let m = g.members.get(memberId);
    const changed = !m || !sameProtocols(m.protocols, req.protocols);
    if (!m) {
      m = {
        memberId,
        groupInstanceId: req.groupInstanceId,
        clientId: req.clientId,
        clientHost: req.clientHost,
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        protocolType: req.protocolType,
        protocols: req.protocols,
        assignment: Buffer.alloc(0),
        lastHeartbeatMs: now,
        pendingJoin: null,
        pendingSync: null,
      };
      g.members.set(memberId, m);
    } else {
      m.protocols = req.protocols;
      m.sessionTimeoutMs = req.sessionTimeoutMs;
      m.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
      m.lastHeartbeatMs = now;
    }
    const member = m;
    // A stable member rejoining with the same protocols just gets the current generation back.
    if (g.state === 'Stable' && !changed && g.leaderId !== memberId) {
      return Promise.resolve(this.joinResultFor(g, member));
    }
    const result = new Promise<JoinResult>((resolve) => {
      member.pendingJoin?.(joinError(GroupError.UNKNOWN_MEMBER_ID, memberId));
      member.pendingJoin = resolve;
    });
    if (g.state === 'PreparingRebalance') {
      this.maybeCompleteJoin(g);
    } else {
      this.prepareRebalance(g, g.state === 'Empty' ? this.opts.initialRebalanceDelayMs : 0);
      this.maybeCompleteJoin(g);
    }
    return result.then((r) => this.stillCoordinating(r, joinError(GroupError.NOT_COORDINATOR, r.memberId)));
  }

  private allSupport(g: Group, protocol: string, except: string): boolean {
    for (const m of g.members.values()) {
      if (m.memberId === except) continue;
      if (!m.protocols.some((p) => p.name === protocol)) return false;
    }
    return true;
  }

  private prepareRebalance(g: Group, delayMs: number): void {
    const now = this.opts.nowMs();
    // Members waiting for a sync of the old generation must rejoin.
    for (const m of g.members.values()) {
      if (m.pendingSync) {
        m.pendingSync(syncError(GroupError.REBALANCE_IN_PROGRESS));
        m.pendingSync = null;
      }
    }
    let rebalanceTimeoutMs = 0;
    for (const m of g.members.values()) rebalanceTimeoutMs = Math.max(rebalanceTimeoutMs, m.rebalanceTimeoutMs);
    g.state = 'PreparingRebalance';
    // The join phase ends when every known member has rejoined (after the initial delay for a new
    // group), or at the rebalance timeout, whichever is first.
    g.joinDeadlineMs = now + (delayMs > 0 ? delayMs : rebalanceTimeoutMs);
    g.minJoinEndMs = now + delayMs;
  }

  private maybeCompleteJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance') return;
    const now = this.opts.nowMs();
    const allJoined = [...g.members.values()].every((m) => m.pendingJoin !== null);
    if (now < g.minJoinEndMs) return;
    if (!allJoined && now < g.joinDeadlineMs) return;
    // Members that did not rejoin in time are dropped.
    for (const m of [...g.members.values()]) if (!m.pendingJoin) g.members.delete(m.memberId);
    if (g.members.size === 0) {
      this.toEmpty(g);
      return;
    }
    g.generationId++;
    g.protocolType = [...g.members.values()][0]!.protocolType;
    g.protocolName = this.selectProtocol(g);
    if (g.leaderId === null || !g.members.has(g.leaderId)) g.leaderId = [...g.members.keys()][0]!;
    g.state = 'CompletingRebalance';
    for (const m of g.members.values()) {
      m.assignment = Buffer.alloc(0);
      m.lastHeartbeatMs = now;
      const resolve = m.pendingJoin!;
      m.pendingJoin = null;
      resolve(this.joinResultFor(g, m));
    }
  }

  private joinResultFor(g: Group, m: Member): JoinResult {
    const isLeader = g.leaderId === m.memberId;
    return {
      errorCode: GroupError.NONE,
      generationId: g.generationId,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      leader: g.leaderId ?? '',
      memberId: m.memberId,
      members: isLeader
        ? [...g.members.values()].map((x) => ({
            memberId: x.memberId,
            groupInstanceId: x.groupInstanceId,
            metadata: x.protocols.find((p) => p.name === g.protocolName)?.metadata ?? Buffer.alloc(0),
          }))
        : [],
    };
  }

  /** The protocol most members list first among those every member supports (Kafka's vote). */
  private selectProtocol(g: Group): string {
    const members = [...g.members.values()];
    const candidates = members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const m of members) {
      const pick = m.protocols.find((p) => candidates.includes(p.name));
      if (pick) votes.set(pick.name, (votes.get(pick.name) ?? 0) + 1);
    }
    let best = candidates[0] ?? members[0]!.protocols[0]?.name ?? '';
    for (const c of candidates) if ((votes.get(c) ?? 0) > (votes.get(best) ?? 0)) best = c;
    return best;
  }

  private toEmpty(g: Group): void {
    g.state = 'Empty';
    g.leaderId = null;
    g.protocolName = null;
    g.generationId++;
  }

  sync(req: { groupId: string; generationId: number; memberId: string; assignments: Array<{ memberId: string; assignment: Buffer }> }): Promise<SyncResult> {
    const own = this.ownership(req.groupId);
    if (own !== GroupError.NONE) return Promise.resolve(syncError(own));
    const g = this.groups.get(req.groupId);
    const m = g?.members.get(req.memberId);
    if (!g || !m) return Promise.resolve(syncError(GroupError.UNKNOWN_MEMBER_ID));
    if (req.generationId !== g.generationId) return Promise.resolve(syncError(GroupError.ILLEGAL_GENERATION));
    if (g.state === 'PreparingRebalance') return Promise.resolve(syncError(GroupError.REBALANCE_IN_PROGRESS));
    m.lastHeartbeatMs = this.opts.nowMs();
    if (g.state === 'Stable') return Promise.resolve(this.syncResultFor(g, m));
    // CompletingRebalance: wait for the leader's assignment.
    const result = new Promise<SyncResult>((resolve) => {
      m.pendingSync = resolve;
    });
    if (req.memberId === g.leaderId) {
      for (const x of g.members.values()) x.assignment = Buffer.alloc(0);
      for (const a of req.assignments) {
        const target = g.members.get(a.memberId);
        if (target) target.assignment = a.assignment;
      }
      g.state = 'Stable';
      for (const x of g.members.values()) {
        if (x.pendingSync) {
          const resolve = x.pendingSync;
          x.pendingSync = null;
          resolve(this.syncResultFor(g, x));
        }
      }
    }
    return result.then((r) => this.stillCoordinating(r, syncError(GroupError.NOT_COORDINATOR)));
  }

  private syncResultFor(g: Group, m: Member): SyncResult {
    return { errorCode: GroupError.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: m.assignment };
  }

  heartbeat(req: { groupId: string; generationId: number; memberId: string }): Code {
    const own = this.ownership(req.groupId);
    if (own !== GroupError.NONE) return own;
    const g = this.groups.get(req.groupId);
    const m = g?.members.get(req.memberId);
    if (!g || !m) return GroupError.UNKNOWN_MEMBER_ID;
    m.lastHeartbeatMs = this.opts.nowMs();
    if (g.state === 'PreparingRebalance') return GroupError.REBALANCE_IN_PROGRESS;
    if (req.generationId !== g.generationId) return GroupError.ILLEGAL_GENERATION;
    return GroupError.NONE;
  }

  leave(groupId: string, memberIds: string[]): { errorCode: Code; members: Array<{ memberId: string; errorCode: Code }> } {
    const own = this.ownership(groupId);
    if (own !== GroupError.NONE) return { errorCode: own, members: [] };
    const g = this.groups.get(groupId);
    const results = memberIds.map((id) => ({ memberId: id, errorCode: g?.members.has(id) ? GroupError.NONE : GroupError.UNKNOWN_MEMBER_ID }));
    if (g) for (const id of memberIds) this.removeMember(g, id);
    return { errorCode: GroupError.NONE, members: results };
  }

  private removeMember(g: Group, memberId: string): void {
    const m = g.members.get(memberId);
    if (!m) return;
    g.members.delete(memberId);
    m.pendingJoin?.(joinError(GroupError.UNKNOWN_MEMBER_ID, memberId));
    m.pendingSync?.(syncError(GroupError.UNKNOWN_MEMBER_ID));
    if (g.leaderId === memberId) g.leaderId = null;
    if (g.members.size === 0) {
      if (g.state !== 'Empty') this.toEmpty(g);
      return;
    }
    if (g.state === 'PreparingRebalance') this.maybeCompleteJoin(g);
    else this.prepareRebalance(g, 0);
  }

  /** Expires silent members, ends join phases at their deadline, forgets stale pending member ids. */
  tick(): void {
    const now = this.opts.nowMs();
    for (const g of this.groups.values()) {
      for (const [id, deadline] of g.pendingMemberIds) if (now > deadline) g.pendingMemberIds.delete(id);
      for (const m of [...g.members.values()]) {
        // Members parked in a join are kept alive by the pending request itself (Kafka does the same).
        if (m.pendingJoin) continue;
        if (now - m.lastHeartbeatMs > m.sessionTimeoutMs) this.removeMember(g, m.memberId);
      }
      this.maybeCompleteJoin(g);
    }
  }

  /** Validates membership for a commit; a generation of -1 with an empty member id is a simple (group-less) commit. */
  private commitCheck(groupId: string, generationId: number, memberId: string): Code {
    const own = this.ownership(groupId);
    if (own !== GroupError.NONE) return own;
    if (generationId < 0 && memberId === '') {
      const g = this.groups.get(groupId);
      return g && g.state !== 'Empty' ? GroupError.ILLEGAL_GENERATION : GroupError.NONE;
    }
    const g = this.groups.get(groupId);
    const m = g?.members.get(memberId);
    if (!g || !m) return GroupError.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generationId) return GroupError.ILLEGAL_GENERATION;
    if (g.state === 'CompletingRebalance') return GroupError.REBALANCE_IN_PROGRESS;
    m.lastHeartbeatMs = this.opts.nowMs();
    return GroupError.NONE;
  }

  /** Commits offsets durably; resolves with one error code for the whole request (per-partition codes are equal). */
  async commit(req: {
    groupId: string;
    generationId: number;
    memberId: string;
    offsets: Array<{ topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }>;
  }): Promise<Code> {
    const check = this.commitCheck(req.groupId, req.generationId, req.memberId);
    if (check !== GroupError.NONE) return check;
    const now = this.opts.nowMs();
    const partition = this.partitionFor(req.groupId);
    const generation = this.loadGeneration.get(partition);
    const records = req.offsets.map((o) => ({
      key: offsetRecordKey(req.groupId, o.topic, o.partition),
      value: Buffer.from(JSON.stringify({ offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata, commitTimestampMs: now } satisfies CommittedOffset)),
    }));
    try {
      await this.opts.offsetLog.append(partition, records);
    } catch (err) {
      const code = (err as { kafkaErrorCode?: number }).kafkaErrorCode;
      // Kafka maps offsets-log write failures to coordinator errors so clients rediscover it.
      return code === GroupError.NOT_COORDINATOR ? GroupError.NOT_COORDINATOR : GroupError.COORDINATOR_NOT_AVAILABLE;
    }
    // Unloaded (and perhaps reloaded) meanwhile: the map is the new load's, not ours to write.
    if (!this.owned.has(partition) || this.loadGeneration.get(partition) !== generation) return GroupError.NOT_COORDINATOR;
    const byKey = this.offsetsOf(req.groupId);
    for (const o of req.offsets) byKey.set(`${o.topic}\0${o.partition}`, { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata, commitTimestampMs: now });
    // The map mirrors this load's log (module doc); the answer is the coordinator's only if the lease still holds.
    return this.ownership(req.groupId);
  }

  /** Committed offsets of a group: for the partitions asked, or all when `partitions` is null. */
  fetchOffsets(groupId: string, partitions: Array<{ topic: string; partition: number }> | null): { errorCode: Code; offsets: Array<{ topic: string; partition: number } & CommittedOffset> } {
    const own = this.ownership(groupId);
    if (own !== GroupError.NONE) return { errorCode: own, offsets: [] };
    const byKey = this.offsets.get(groupId) ?? new Map<string, CommittedOffset>();
    if (partitions === null) {
      return {
        errorCode: GroupError.NONE,
        offsets: [...byKey].map(([k, v]) => {
          const [topic, p] = k.split('\0');
          return { topic: topic!, partition: Number(p), ...v };
        }),
      };
    }
    return {
      errorCode: GroupError.NONE,
      offsets: partitions.map(({ topic, partition }) => ({
        topic,
        partition,
        ...(byKey.get(`${topic}\0${partition}`) ?? { offset: -1, leaderEpoch: -1, metadata: '', commitTimestampMs: -1 }),
      })),
    };
  }

  describe(groupId: string): { errorCode: Code; state: GroupState; protocolType: string; protocol: string; members: Array<{ memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }> } {
    const own = this.ownership(groupId);
    const g = this.groups.get(groupId);
    if (own !== GroupError.NONE || !g) return { errorCode: own, state: 'Dead', protocolType: '', protocol: '', members: [] };
    return {
      errorCode: GroupError.NONE,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocol: g.protocolName ?? '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? Buffer.alloc(0),
        assignment: m.assignment,
      })),
    };
  }

  listGroups(): Array<{ groupId: string; protocolType: string; state: GroupState }> {
    const out: Array<{ groupId: string; protocolType: string; state: GroupState }> = [];
    for (const g of this.groups.values()) {
      if (this.ownership(g.groupId) !== GroupError.NONE) continue;
      out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state });
    }
    return out;
  }
}

function joinError(errorCode: Code, memberId: string): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
}

function syncError(errorCode: Code): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
}

function sameProtocols(a: Array<{ name: string; metadata: Buffer }>, b: Array<{ name: string; metadata: Buffer }>): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
