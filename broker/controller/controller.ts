/**
 * The active controller's decision logic (sans-I/O). Every operation reads the controller's
 * *uncommitted view* and returns `{ records, reply }`: the caller proposes `records` to the metadata
 * log as one batch and sends `reply` only once that batch is committed.
 *
 *   const c = new Controller({ config, image, newTopicId, batchOffset });
 *   c.activate(nowMs);                       // on becoming active: every broker's session restarts now
 *   const { records, reply } = c.heartbeat(req, nowMs);
 *
 * The uncommitted view (Kafka's timeline of uncommitted state, SnapshotRegistry):
 * - At construction the view is a copy of the committed image, which must then hold every record
 *   ever proposed (the host builds a controller only after its own barrier entry commits). Each
 *   decision applies its records to the view as it emits them, at the offsets they will have in the
 *   log (`batchOffset`), so the next decision reads the state *including every batch proposed and
 *   not seen to fail*, whether or not it has committed yet. Decisions may therefore be pipelined:
 *   none waits for an earlier batch to commit.
 * - Invariant: view = committed image + every batch this controller proposed and has not seen fail,
 *   applied in order. A batch whose outcome is unknown (a propose timeout) stays in the view: it may
 *   still commit, and a decision made without it could hand out its producer ids again, let a stale
 *   fence put back a replica its ISR shrink removed, or elect a leader outside its ISR.
 * - When the host learns that a batch failed (nothing appended), that leadership was lost, or a
 *   decision threw mid-way, the view no longer describes a possible future of the log: the host
 *   *renounces* (as Kafka's QuorumController.renounce): it drops this Controller and, if still the
 *   Raft leader, builds a new one from the committed image after a fresh barrier commits.
 * - The committed image passed in is never mutated; only the view is.
 * - Cost: a decision copies nothing; one that changes nothing (a heartbeat of a live broker, a quiet
 *   tick) costs O(1) amortised: sessions are kept in last-contact order (Kafka's
 *   BrokerHeartbeatManager), and leaderless and reassigning partitions in indices kept up to date as
 *   records are staged, so a tick never walks every partition.
 *
 * Invariants of the decisions:
 * - Leaders are elected only from the ISR among unfenced brokers, in assignment order, unless the
 *   topic's unclean election is enabled (topic config `unclean.leader.election.enable`, else the
 *   controller default); an unclean leader gets ISR = [itself].
 * - The ISR never becomes empty: when the last ISR member is fenced it stays in the ISR, the
 *   leader becomes NO_LEADER, and it is re-elected when it is unfenced.
 * - ISR changes from brokers (alterPartition) are accepted only from the current leader with the
 *   current broker epoch, leader epoch and partition epoch, so a stale leader cannot change the ISR.
 *   KIP-903: the request names, for each ISR member, the broker epoch of the incarnation whose
 *   fetches the leader saw; a member whose epoch is not its current registration's, or that is
 *   fenced (which includes shutting down), is INELIGIBLE_REPLICA, and an added member must name its
 *   epoch. So an expansion computed from a previous incarnation's fetches is refused.
 * - A broker is fenced after more than sessionTimeoutMs without a heartbeat, on re-registration of
 *   its id, and on controlled shutdown; fencing removes it from every ISR where it is not the last
 *   member and moves its leaderships to other ISR members.
 * - Controlled shutdown (heartbeat `wantShutDown`): the broker is fenced as above (so it is neither
 *   elected nor added to an ISR), and answered `shouldShutDown` once it leads nothing and it and
 *   every live broker have reported (in heartbeats) metadata at least as new as the batch that moved
 *   its leaderships (Kafka's controlledShutdownOffset <= lowest active offset), so clients asking any
 *   live broker already find the new leaders when it exits.
 * - Reassignment (KIP-455): replicas = target ∪ original while adding; it completes once every
 *   adding replica is in the ISR, leaving replicas = target and ISR = ISR ∩ target.
 * - Unregistration (Kafka's UnregisterBroker, the last step of decommissioning a broker): the broker
 *   is fenced as above (it leaves every ISR it is not the last member of, its leaderships move), then
 *   its registration is removed (UnregisterBroker record); an unknown id is BROKER_ID_NOT_REGISTERED.
 *   Its replica assignments are left alone, as in Kafka: moving them away first is the operator's
 *   job (reassignment), and a broker process still running with that id registers again.
 * Soft state (last heartbeat and metadata offset per broker) lives here and is not replicated.
 */
import type { BrokerRegistration, MetadataImage, PartitionState, TopicPartitionRef } from './image.ts';
import { NO_LEADER } from './records.ts';
import type { MetadataRecord, PartitionChangeRecord, PartitionRecord } from './records.ts';
import { bugActive } from '../bugs.ts';

export interface ControllerConfig {
  sessionTimeoutMs: number;
  minInsyncReplicas: number;
  defaultReplicationFactor: number;
  numPartitions: number;
  uncleanLeaderElection: boolean;
  autoLeaderRebalance: boolean;
  leaderImbalanceCheckIntervalMs: number;
  /** Size of each ProducerIdsBlock; 1000 as in Kafka. */
  producerIdBlockSize?: number;
}

export type ControllerErrorCode =
  | 'NONE'
  | 'STALE_BROKER_EPOCH'
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'TOPIC_ALREADY_EXISTS'
  | 'INVALID_REPLICATION_FACTOR'
  | 'INVALID_PARTITIONS'
  | 'INVALID_TOPIC_EXCEPTION'
  | 'INVALID_CONFIG'
  | 'INVALID_REQUEST'
  | 'FENCED_LEADER_EPOCH'
  | 'UNKNOWN_LEADER_EPOCH'
  | 'NOT_LEADER_OR_FOLLOWER'
  | 'INVALID_UPDATE_VERSION'
  | 'INELIGIBLE_REPLICA'
  | 'INVALID_REPLICA_ASSIGNMENT'
  | 'NO_REASSIGNMENT_IN_PROGRESS'
  | 'BROKER_ID_NOT_REGISTERED'
  | 'ELECTION_NOT_NEEDED'
  | 'PREFERRED_LEADER_NOT_AVAILABLE';

export interface Decision<R> {
  records: MetadataRecord[];
  reply: R;
}

export const UNCLEAN_ELECTION_CONFIG = 'unclean.leader.election.enable';
export const MIN_INSYNC_CONFIG = 'min.insync.replicas';

export interface RegisterBrokerRequest {
  brokerId: number;
  incarnationId: string;
  host: string;
  port: number;
  rack?: string;
}
export interface RegisterBrokerReply {
  errorCode: 'NONE';
  /** brokerEpoch = the offset of records[registerRecordIndex] once committed. */
  registerRecordIndex: number;
  /** That offset, as the batch offsets given to the controller place it. */
  brokerEpoch: number;
}

export interface HeartbeatRequest {
  brokerId: number;
  brokerEpoch: number;
  currentMetadataOffset: number;
  wantShutDown: boolean;
}
export interface HeartbeatReply {
  errorCode: 'NONE' | 'STALE_BROKER_EPOCH';
  isFenced: boolean;
  isCaughtUp: boolean;
  shouldShutDown: boolean;
}

export interface CreateTopicRequest {
  name: string;
  /** -1 = the controller default. */
  numPartitions: number;
  /** -1 = the controller default. */
  replicationFactor: number;
  configs: Record<string, string>;
}
export interface CreateTopicResult {
  name: string;
  errorCode: ControllerErrorCode;
  topicId?: string;
}

export interface AlterPartitionRequest {
  brokerId: number;
  brokerEpoch: number;
  topic: string;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: number[];
  /** KIP-903: for ISR members, the broker epoch the leader saw their fetches come from (-1 unknown). */
  newIsrWithEpochs?: IsrMemberEpoch[];
}
export interface IsrMemberEpoch {
  brokerId: number;
  brokerEpoch: number;
}
export interface AlterPartitionReply {
  errorCode: ControllerErrorCode;
  /** The partition state after the change (the current one on error, when it exists). */
  state?: PartitionState;
}

export interface ReassignRequest {
  topic: string;
  partition: number;
  /** null cancels an ongoing reassignment. */
  replicas: number[] | null;
}
export interface PartitionResult extends TopicPartitionRef {
  errorCode: ControllerErrorCode;
}
export interface OngoingReassignment extends TopicPartitionRef {
  replicas: readonly number[];
  addingReplicas: readonly number[];
  removingReplicas: readonly number[];
}

export interface ProducerIdsReply {
  errorCode: 'NONE' | 'STALE_BROKER_EPOCH';
  firstId: number;
  size: number;
}

export interface ControllerOptions {
  config: ControllerConfig;
  image: MetadataImage;
  /** Source of topic ids (uuid strings); injected so decisions stay deterministic in tests. */
  newTopicId: () => string;
  /**
   * The log offset the next proposed batch will have: every record of it gets this offset, as a
   * Raft entry holding the whole batch does. Absent: records get consecutive offsets after the
   * view's last one (a log of single records, as unit tests apply them).
   */
  batchOffset?: () => number;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's topic name rules: [a-zA-Z0-9._-], 1..249 characters, not '.' or '..'. */
export function isValidTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

/**
 * Rack-unaware placement as Kafka's: partition p's first replica is broker (p + start) mod n; the
 * others follow at a shift that grows by one every n partitions, so leaders spread evenly (counts
 * differ by at most one) and followers do not always trail the same broker.
 */
export function placeReplicas(
  brokerIds: readonly number[],
  numPartitions: number,
  replicationFactor: number,
  startIndex: number,
  startShift: number,
): number[][] {
  const n = brokerIds.length;
  if (replicationFactor < 1 || replicationFactor > n) throw new RangeError('replication factor out of range');
  const out: number[][] = [];
  let shift = startShift;
  for (let p = 0; p < numPartitions; p++) {
    if (p > 0 && p % n === 0) shift += 1;
    const first = (p + startIndex) % n;
    const replicas = [brokerIds[first] as number];
    for (let j = 0; j < replicationFactor - 1; j++) {
      const step = 1 + ((shift + j) % (n - 1));
      replicas.push(brokerIds[(first + step) % n] as number);
    }
    out.push(replicas);
  }
  return out;
}

/** FNV-1a, used only to pick a deterministic placement start per topic name. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * The view's indices that let a quiet tick cost O(1): partitions without a leader and partitions
 * being reassigned. Kept up to date by Staging.emit after every record it applies.
 */
class ViewIndex {
  readonly leaderless = new Map<string, TopicPartitionRef>();
  readonly reassigning = new Map<string, TopicPartitionRef>();

  constructor(view: MetadataImage) {
    for (const { topic, partition } of view.allPartitions()) this.update(view, topic, partition);
  }

  update(view: MetadataImage, topic: string, partition: number): void {
    const key = tpKey(topic, partition);
    const p = view.partition(topic, partition);
    if (p !== undefined && p.leader === NO_LEADER) this.leaderless.set(key, { topic, partition });
    else this.leaderless.delete(key);
    if (p !== undefined && (p.addingReplicas.length > 0 || p.removingReplicas.length > 0)) this.reassigning.set(key, { topic, partition });
    else this.reassigning.delete(key);
  }

  removeTopic(topic: string): void {
    for (const m of [this.leaderless, this.reassigning]) for (const [k, r] of m) if (r.topic === topic) m.delete(k);
  }

  /** Records touching a partition's leader or reassignment state keep the indices current. */
  onApplied(view: MetadataImage, record: MetadataRecord): void {
    if (record.type === 'Partition' || record.type === 'PartitionChange') this.update(view, record.topic, record.partition);
    else if (record.type === 'RemoveTopic') this.removeTopic(record.name);
  }
}

/**
 * Records of one operation, applied to the controller's uncommitted view as they are emitted (no
 * copy: an operation's records are always proposed, so the view must hold them; see the module doc
 * for what happens when they fail).
 */
class Staging {
  readonly image: MetadataImage;
  readonly records: MetadataRecord[] = [];
  readonly #index: ViewIndex;
  readonly #offset: (i: number) => number;

  constructor(view: MetadataImage, index: ViewIndex, offset: (i: number) => number) {
    this.image = view;
    this.#index = index;
    this.#offset = offset;
  }

  /** The offset the batch's record `i` will have in the log. */
  offsetOf(i: number): number {
    return this.#offset(i);
  }

  emit(record: MetadataRecord): number {
    this.image.apply(record, this.#offset(this.records.length));
    this.records.push(record);
    this.#index.onApplied(this.image, record);
    return this.records.length - 1;
  }

  /** Emits a PartitionChange holding only the fields that differ; nothing when none does. */
  change(topic: string, partition: number, next: Partial<Omit<PartitionState, 'leaderEpoch' | 'partitionEpoch'>>): void {
    const cur = this.image.partition(topic, partition);
    if (cur === undefined) return;
    const rec: PartitionChangeRecord = { type: 'PartitionChange', topic, partition };
    let changed = false;
    if (next.isr !== undefined && !sameMembers(next.isr, cur.isr)) {
      rec.isr = [...next.isr];
      changed = true;
    }
    if (next.leader !== undefined && next.leader !== cur.leader) {
      rec.leader = next.leader;
      changed = true;
    }
    if (next.replicas !== undefined && !sameMembers(next.replicas, cur.replicas)) {
      rec.replicas = [...next.replicas];
      changed = true;
    }
    if (next.addingReplicas !== undefined && !sameMembers(next.addingReplicas, cur.addingReplicas)) {
      rec.addingReplicas = [...next.addingReplicas];
      changed = true;
    }
    if (next.removingReplicas !== undefined && !sameMembers(next.removingReplicas, cur.removingReplicas)) {
      rec.removingReplicas = [...next.removingReplicas];
      changed = true;
    }
    if (changed) this.emit(rec);
  }
}

export class Controller {
  readonly config: ControllerConfig;
  /** The uncommitted view (module doc). */
  readonly #view: MetadataImage;
  readonly #index: ViewIndex;
  readonly #newTopicId: () => string;
  readonly #batchOffset: (() => number) | undefined;
  /** Last heartbeat per broker, in last-contact order (a heartbeat moves its broker to the end). */
  readonly #lastHeartbeatMs = new Map<number, number>();
  /** Brokers whose session is running (unfenced when last looked at), in last-contact order. */
  readonly #sessions = new Map<number, number>();
  /** The metadata offset each broker last reported in a heartbeat. */
  readonly #metadataOffset = new Map<number, number>();
  /** Per broker in controlled shutdown: the offset of the batch that moved its leaderships. */
  readonly #shutdownOffset = new Map<number, number>();
  #lastRebalanceMs = Number.NEGATIVE_INFINITY;

  constructor(options: ControllerOptions) {
    this.config = options.config;
    this.#view = options.image.clone();
    this.#index = new ViewIndex(this.#view);
    this.#newTopicId = options.newTopicId;
    this.#batchOffset = options.batchOffset;
  }

  /** The uncommitted view: the committed image plus every batch proposed and not seen to fail. */
  get view(): MetadataImage {
    return this.#view;
  }

  #stage(): Staging {
    const batch = this.#batchOffset;
    if (batch !== undefined) {
      const offset = batch();
      return new Staging(this.#view, this.#index, () => offset);
    }
    const base = this.#view.lastOffset + 1;
    return new Staging(this.#view, this.#index, (i) => base + i);
  }

  /**
   * On becoming the active controller: forget soft state; every registered broker's session restarts
   * now, except brokers the caller knows to have been silent since an earlier time (`silentSinceMs`,
   * e.g. the previous controller, whose silence is what caused this election): their session counts
   * from then, so a dead controller's partitions fail over without waiting a full new session.
   */
  activate(nowMs: number, silentSinceMs: ReadonlyMap<number, number> = new Map()): void {
    this.#lastHeartbeatMs.clear();
    this.#sessions.clear();
    this.#metadataOffset.clear();
    this.#shutdownOffset.clear();
    const brokers = this.#view.brokers().map((b) => ({ id: b.brokerId, fenced: b.fenced, at: Math.min(nowMs, silentSinceMs.get(b.brokerId) ?? nowMs) }));
    brokers.sort((a, b) => a.at - b.at);
    for (const b of brokers) {
      this.#lastHeartbeatMs.set(b.id, b.at);
      if (!b.fenced) this.#sessions.set(b.id, b.at);
    }
    this.#lastRebalanceMs = nowMs;
  }

  lastHeartbeatMs(brokerId: number): number | undefined {
    return this.#lastHeartbeatMs.get(brokerId);
  }

  #touch(brokerId: number, nowMs: number): void {
    this.#lastHeartbeatMs.delete(brokerId);
    this.#lastHeartbeatMs.set(brokerId, nowMs);
    this.#sessions.delete(brokerId);
    this.#sessions.set(brokerId, nowMs);
  }

  #uncleanFor(image: MetadataImage, topic: string): boolean {
    const v = image.topic(topic)?.configs[UNCLEAN_ELECTION_CONFIG];
    if (v === 'true') return true;
    if (v === 'false') return false;
    return this.config.uncleanLeaderElection;
  }

  /**
   * The leader and ISR a partition should have given which brokers are unfenced now: keep a valid
   * current leader, else the first replica in assignment order that is in the ISR and unfenced,
   * else (unclean) the first unfenced replica with ISR = [it], else NO_LEADER.
   */
  #elect(image: MetadataImage, topic: string, replicas: readonly number[], isr: readonly number[], leader: number): { leader: number; isr: readonly number[] } {
    if (leader !== NO_LEADER && isr.includes(leader) && replicas.includes(leader) && image.isUnfenced(leader)) {
      return { leader, isr };
    }
    const clean = replicas.find((r) => (isr.includes(r) || bugActive('elect-outside-isr')) && image.isUnfenced(r));
    if (clean !== undefined) return { leader: clean, isr };
    if (this.#uncleanFor(image, topic)) {
      const any = replicas.find((r) => image.isUnfenced(r));
      if (any !== undefined) return { leader: any, isr: [any] };
    }
    return { leader: NO_LEADER, isr };
  }

  /** FenceBroker plus, for every partition it replicates: leave the ISR (never emptying it) and re-elect. */
  #fence(s: Staging, brokerId: number): void {
    const b = s.image.broker(brokerId);
    if (b === undefined) return;
    this.#sessions.delete(brokerId);
    if (!b.fenced) s.emit({ type: 'FenceBroker', brokerId });
    for (const ref of s.image.partitionsWithReplica(brokerId)) {
      const p = s.image.partition(ref.topic, ref.partition);
      if (p === undefined) continue;
      const without = p.isr.filter((r) => r !== brokerId);
      const isr = without.length > 0 ? without : p.isr;
      const next = this.#elect(s.image, ref.topic, p.replicas, isr, p.leader);
      s.change(ref.topic, ref.partition, next);
    }
  }

  /** Elect leaders for leaderless partitions (after unfencing or a config change). */
  #electLeaderless(s: Staging, only?: number): void {
    for (const ref of [...this.#index.leaderless.values()]) {
      const p = s.image.partition(ref.topic, ref.partition);
      if (p === undefined || p.leader !== NO_LEADER) continue;
      if (only !== undefined && !p.replicas.includes(only)) continue;
      const next = this.#elect(s.image, ref.topic, p.replicas, p.isr, NO_LEADER);
      if (next.leader !== NO_LEADER) s.change(ref.topic, ref.partition, next);
    }
  }

  registerBroker(req: RegisterBrokerRequest, nowMs: number): Decision<RegisterBrokerReply> {
    const s = this.#stage();
    if (s.image.broker(req.brokerId) !== undefined) this.#fence(s, req.brokerId);
    const rec: MetadataRecord = {
      type: 'RegisterBroker',
      brokerId: req.brokerId,
      incarnationId: req.incarnationId,
      host: req.host,
      port: req.port,
    };
    if (req.rack !== undefined) rec.rack = req.rack;
    const index = s.emit(rec);
    this.#touch(req.brokerId, nowMs);
    this.#sessions.delete(req.brokerId);
    this.#shutdownOffset.delete(req.brokerId);
    this.#metadataOffset.delete(req.brokerId);
    return { records: s.records, reply: { errorCode: 'NONE', registerRecordIndex: index, brokerEpoch: s.offsetOf(index) } };
  }

  heartbeat(req: HeartbeatRequest, nowMs: number): Decision<HeartbeatReply> {
    const b = this.#view.broker(req.brokerId);
    if (b === undefined || b.epoch !== req.brokerEpoch) {
      return {
        records: [],
        reply: { errorCode: 'STALE_BROKER_EPOCH', isFenced: true, isCaughtUp: false, shouldShutDown: false },
      };
    }
    this.#touch(req.brokerId, nowMs);
    this.#metadataOffset.set(req.brokerId, req.currentMetadataOffset);
    const isCaughtUp = req.currentMetadataOffset >= b.epoch;
    if (req.wantShutDown) return this.#controlledShutdown(req);
    this.#shutdownOffset.delete(req.brokerId);
    if (!(b.fenced && isCaughtUp)) {
      if (b.fenced) this.#sessions.delete(req.brokerId);
      return { records: [], reply: { errorCode: 'NONE', isFenced: b.fenced, isCaughtUp, shouldShutDown: false } };
    }
    const s = this.#stage();
    s.emit({ type: 'UnfenceBroker', brokerId: req.brokerId });
    this.#electLeaderless(s, req.brokerId);
    return { records: s.records, reply: { errorCode: 'NONE', isFenced: false, isCaughtUp, shouldShutDown: false } };
  }

  /**
   * A heartbeat with wantShutDown: fence (moving leaderships and leaving ISRs, see #fence), remember
   * the offset of the batch that did it, and allow the shutdown once the broker leads nothing and it
   * and every live broker report metadata at least that new.
   */
  #controlledShutdown(req: HeartbeatRequest): Decision<HeartbeatReply> {
    const s = this.#stage();
    this.#fence(s, req.brokerId);
    if (s.records.length > 0) this.#shutdownOffset.set(req.brokerId, s.offsetOf(s.records.length - 1));
    // A controller that took over mid-shutdown did not see the batch: anything it has seen is as new.
    else if (!this.#shutdownOffset.has(req.brokerId)) this.#shutdownOffset.set(req.brokerId, this.#view.lastOffset);
    const needed = this.#shutdownOffset.get(req.brokerId) as number;
    const seen = (id: number): boolean => (this.#metadataOffset.get(id) ?? -1) >= needed;
    const shouldShutDown =
      s.records.length === 0 &&
      seen(req.brokerId) &&
      this.#view.liveBrokers().every((b) => seen(b.brokerId)) &&
      this.#view.partitionsLedBy(req.brokerId).length === 0;
    return { records: s.records, reply: { errorCode: 'NONE', isFenced: true, isCaughtUp: req.currentMetadataOffset >= (this.#view.broker(req.brokerId)?.epoch ?? 0), shouldShutDown } };
  }

  /** Session expiry, leaderless recovery, reassignment completion and preferred-leader rebalancing. */
  tick(nowMs: number): Decision<null> {
    const s = this.#stage();
    // Sessions are in last-contact order: only the expired prefix is looked at.
    for (const [brokerId, last] of this.#sessions) {
      if (nowMs - last <= this.config.sessionTimeoutMs) break;
      this.#sessions.delete(brokerId);
      if (s.image.isUnfenced(brokerId)) this.#fence(s, brokerId);
    }
    if (this.#index.leaderless.size > 0) this.#electLeaderless(s);
    for (const r of [...this.#index.reassigning.values()]) this.#maybeCompleteReassignment(s, r.topic, r.partition);
    if (this.config.autoLeaderRebalance && nowMs - this.#lastRebalanceMs >= this.config.leaderImbalanceCheckIntervalMs) {
      this.#lastRebalanceMs = nowMs;
      for (const ref of [...s.image.allPartitions()]) this.#preferred(s, ref.topic, ref.partition);
    }
    return { records: s.records, reply: null };
  }

  #preferred(s: Staging, topic: string, partition: number): ControllerErrorCode {
    const p = s.image.partition(topic, partition);
    if (p === undefined) return 'UNKNOWN_TOPIC_OR_PARTITION';
    const first = p.replicas[0];
    if (first === undefined) return 'PREFERRED_LEADER_NOT_AVAILABLE';
    if (p.leader === first) return 'ELECTION_NOT_NEEDED';
    if (!p.isr.includes(first) || !s.image.isUnfenced(first)) return 'PREFERRED_LEADER_NOT_AVAILABLE';
    s.change(topic, partition, { leader: first });
    return 'NONE';
  }

  /** Preferred-leader election (admin ElectLeaders); `partitions` null = every partition. */
  electLeaders(partitions: TopicPartitionRef[] | null): Decision<PartitionResult[]> {
    const s = this.#stage();
    const refs = partitions ?? [...this.#view.allPartitions()].map(({ topic, partition }) => ({ topic, partition }));
    const reply = refs.map((r) => ({ topic: r.topic, partition: r.partition, errorCode: this.#preferred(s, r.topic, r.partition) }));
    return { records: s.records, reply };
  }

  createTopics(reqs: CreateTopicRequest[]): Decision<CreateTopicResult[]> {
    const s = this.#stage();
    const reply: CreateTopicResult[] = [];
    const live = this.#view.liveBrokers().map((b) => b.brokerId);
    for (const req of reqs) {
      const numPartitions = req.numPartitions === -1 ? this.config.numPartitions : req.numPartitions;
      const rf = req.replicationFactor === -1 ? this.config.defaultReplicationFactor : req.replicationFactor;
      const result = (errorCode: ControllerErrorCode): void => {
        reply.push({ name: req.name, errorCode });
      };
      if (!isValidTopicName(req.name)) result('INVALID_TOPIC_EXCEPTION');
      else if (s.image.topic(req.name) !== undefined) result('TOPIC_ALREADY_EXISTS');
      else if (!Number.isInteger(numPartitions) || numPartitions < 1) result('INVALID_PARTITIONS');
      else if (!Number.isInteger(rf) || rf < 1 || rf > live.length) result('INVALID_REPLICATION_FACTOR');
      else if (!validConfigs(req.configs)) result('INVALID_CONFIG');
      else {
        const topicId = this.#newTopicId();
        const h = nameHash(req.name);
        const placement = placeReplicas(live, numPartitions, rf, h % live.length, (h >>> 8) % live.length);
        s.emit({ type: 'Topic', name: req.name, topicId, numPartitions, configs: { ...req.configs } });
        placement.forEach((replicas, partition) => {
          const rec: PartitionRecord = {
            type: 'Partition',
            topic: req.name,
            partition,
            replicas,
            isr: [...replicas],
            leader: replicas[0] as number,
            leaderEpoch: 0,
            partitionEpoch: 0,
            addingReplicas: [],
            removingReplicas: [],
          };
          s.emit(rec);
        });
        reply.push({ name: req.name, errorCode: 'NONE', topicId });
      }
    }
    return { records: s.records, reply };
  }

  deleteTopics(names: string[]): Decision<{ name: string; errorCode: ControllerErrorCode }[]> {
    const s = this.#stage();
    const reply = names.map((name) => {
      const topic = s.image.topic(name);
      if (topic === undefined) return { name, errorCode: 'UNKNOWN_TOPIC_OR_PARTITION' as const };
      s.emit({ type: 'RemoveTopic', name, topicId: topic.topicId });
      return { name, errorCode: 'NONE' as const };
    });
    return { records: s.records, reply };
  }

  alterPartition(req: AlterPartitionRequest): Decision<AlterPartitionReply> {
    const view = this.#view;
    const fail = (errorCode: ControllerErrorCode): Decision<AlterPartitionReply> => {
      const state = view.partition(req.topic, req.partition);
      return { records: [], reply: state === undefined ? { errorCode } : { errorCode, state: { ...state } } };
    };
    const b = view.broker(req.brokerId);
    if (b === undefined || b.epoch !== req.brokerEpoch) return fail('STALE_BROKER_EPOCH');
    const p = view.partition(req.topic, req.partition);
    if (p === undefined) return fail('UNKNOWN_TOPIC_OR_PARTITION');
    if (req.leaderEpoch < p.leaderEpoch) return fail('FENCED_LEADER_EPOCH');
    if (req.leaderEpoch > p.leaderEpoch) return fail('UNKNOWN_LEADER_EPOCH');
    if (p.leader !== req.brokerId) return fail('NOT_LEADER_OR_FOLLOWER');
    if (req.partitionEpoch !== p.partitionEpoch) return fail('INVALID_UPDATE_VERSION');
    const isr = req.newIsr;
    if (
      isr.length === 0 ||
      new Set(isr).size !== isr.length ||
      !isr.includes(req.brokerId) ||
      !isr.every((r) => p.replicas.includes(r))
    ) {
      return fail('INVALID_REQUEST');
    }
    if (isr.some((r) => r !== req.brokerId && !this.#eligibleIsrMember(r, !p.isr.includes(r), req.newIsrWithEpochs))) return fail('INELIGIBLE_REPLICA');
    const s = this.#stage();
    s.change(req.topic, req.partition, { isr });
    this.#maybeCompleteReassignment(s, req.topic, req.partition);
    const state = s.image.partition(req.topic, req.partition) as PartitionState;
    return { records: s.records, reply: { errorCode: 'NONE', state: { ...state } } };
  }

  /**
   * KIP-903: an ISR member named in an AlterPartition must be registered, unfenced (a broker in
   * controlled shutdown is fenced), and of the incarnation the leader saw fetching: the epoch the
   * request names for it must be its current registration's. A member being added must name one; a
   * member already in the ISR may be named with -1 (the leader has not seen it fetch yet).
   */
  #eligibleIsrMember(brokerId: number, adding: boolean, epochs: readonly IsrMemberEpoch[] | undefined): boolean {
    const reg = this.#view.broker(brokerId);
    if (reg === undefined || reg.fenced) return false;
    const named = epochs?.find((e) => e.brokerId === brokerId)?.brokerEpoch ?? -1;
    if (named === -1) return !adding;
    return named === reg.epoch;
  }

  allocateProducerIds(brokerId: number, brokerEpoch: number): Decision<ProducerIdsReply> {
    const size = this.config.producerIdBlockSize ?? 1000;
    const b = this.#view.broker(brokerId);
    if (b === undefined || b.epoch !== brokerEpoch) {
      return { records: [], reply: { errorCode: 'STALE_BROKER_EPOCH', firstId: -1, size: 0 } };
    }
    const s = this.#stage();
    const firstId = s.image.nextProducerId;
    s.emit({ type: 'ProducerIdsBlock', brokerId, firstId, size });
    return { records: s.records, reply: { errorCode: 'NONE', firstId, size } };
  }

  /** Decommission's last step (module doc): fence the broker, then drop its registration. */
  unregisterBroker(brokerId: number): Decision<{ errorCode: ControllerErrorCode }> {
    if (this.#view.broker(brokerId) === undefined) return { records: [], reply: { errorCode: 'BROKER_ID_NOT_REGISTERED' } };
    const s = this.#stage();
    this.#fence(s, brokerId);
    s.emit({ type: 'UnregisterBroker', brokerId });
    this.#lastHeartbeatMs.delete(brokerId);
    this.#sessions.delete(brokerId);
    this.#metadataOffset.delete(brokerId);
    this.#shutdownOffset.delete(brokerId);
    return { records: s.records, reply: { errorCode: 'NONE' } };
  }

  ongoingReassignments(): OngoingReassignment[] {
    const out: OngoingReassignment[] = [];
    for (const { topic, partition, state } of this.#view.allPartitions()) {
      if (state.addingReplicas.length > 0 || state.removingReplicas.length > 0) {
        out.push({ topic, partition, replicas: [...state.replicas], addingReplicas: [...state.addingReplicas], removingReplicas: [...state.removingReplicas] });
      }
    }
    return out;
  }

  reassignPartitions(reqs: ReassignRequest[]): Decision<PartitionResult[]> {
    const s = this.#stage();
    const reply = reqs.map((r) => ({ topic: r.topic, partition: r.partition, errorCode: this.#reassign(s, r) }));
    return { records: s.records, reply };
  }

  #reassign(s: Staging, req: ReassignRequest): ControllerErrorCode {
    const p = s.image.partition(req.topic, req.partition);
    if (p === undefined) return 'UNKNOWN_TOPIC_OR_PARTITION';
    const original = p.replicas.filter((r) => !p.addingReplicas.includes(r));
    if (req.replicas === null) {
      if (p.addingReplicas.length === 0 && p.removingReplicas.length === 0) return 'NO_REASSIGNMENT_IN_PROGRESS';
      return this.#finish(s, req.topic, req.partition, original, true) ? 'NONE' : 'INELIGIBLE_REPLICA';
    }
    const target = req.replicas;
    if (target.length === 0 || new Set(target).size !== target.length || !target.every((r) => s.image.broker(r) !== undefined)) {
      return 'INVALID_REPLICA_ASSIGNMENT';
    }
    const adding = target.filter((r) => !original.includes(r));
    const removing = original.filter((r) => !target.includes(r));
    const replicas = [...target, ...removing];
    s.change(req.topic, req.partition, {
      replicas,
      isr: p.isr.filter((r) => replicas.includes(r)),
      addingReplicas: adding,
      removingReplicas: removing,
    });
    this.#maybeCompleteReassignment(s, req.topic, req.partition);
    return 'NONE';
  }

  #maybeCompleteReassignment(s: Staging, topic: string, partition: number): void {
    const p = s.image.partition(topic, partition);
    if (p === undefined || (p.addingReplicas.length === 0 && p.removingReplicas.length === 0)) return;
    if (!p.addingReplicas.every((r) => p.isr.includes(r))) return;
    const target = p.replicas.filter((r) => !p.removingReplicas.includes(r));
    this.#finish(s, topic, partition, target, false);
  }

  /**
   * Ends a reassignment with `replicas`, ISR ∩ replicas, and a leader from that set. Nothing
   * happens (false) when no ISR member is in `replicas` (the ISR would be empty); a completion
   * (force = false) also waits while no member of the new ISR could lead, a cancel does not.
   */
  #finish(s: Staging, topic: string, partition: number, replicas: readonly number[], force: boolean): boolean {
    const p = s.image.partition(topic, partition) as PartitionState;
    const isr = p.isr.filter((r) => replicas.includes(r));
    if (isr.length === 0) return false;
    const current = replicas.includes(p.leader) ? p.leader : NO_LEADER;
    const next = this.#elect(s.image, topic, replicas, isr, current);
    if (!force && next.leader === NO_LEADER) return false;
    s.change(topic, partition, { replicas, isr: next.isr, leader: next.leader, addingReplicas: [], removingReplicas: [] });
    return true;
  }
}

/** The topic's min.insync.replicas: its config override, else the controller default. */
export function topicMinInsync(image: MetadataImage, topic: string, config: ControllerConfig): number {
  const v = image.topic(topic)?.configs[MIN_INSYNC_CONFIG];
  return v === undefined ? config.minInsyncReplicas : Number(v);
}

function validConfigs(configs: Record<string, string>): boolean {
  const unclean = configs[UNCLEAN_ELECTION_CONFIG];
  if (unclean !== undefined && unclean !== 'true' && unclean !== 'false') return false;
  const minIsr = configs[MIN_INSYNC_CONFIG];
  if (minIsr !== undefined && !/^[1-9][0-9]*$/.test(minIsr)) return false;
  return true;
}
