/**
 * The active controller's decision logic (sans-I/O). Every operation reads the committed
 * MetadataImage, never mutates it, and returns `{ records, reply }`: the caller proposes `records`
 * to the metadata log as one batch, waits for commit, applies them to the image, and only then
 * sends `reply`. Operations must be serialised: the next one starts after the previous batch is
 * applied (each operation assumes the image reflects every earlier decision).
 *
 *   const c = new Controller({ config, image, newTopicId });
 *   c.activate(nowMs);                       // on becoming active: every broker's session restarts now
 *   const { records, reply } = c.heartbeat(req, nowMs);
 *
 * Invariants:
 * - Leaders are elected only from the ISR among unfenced brokers, in assignment order, unless the
 *   topic's unclean election is enabled (topic config `unclean.leader.election.enable`, else the
 *   controller default); an unclean leader gets ISR = [itself].
 * - The ISR never becomes empty: when the last ISR member is fenced it stays in the ISR, the
 *   leader becomes NO_LEADER, and it is re-elected when it is unfenced.
 * - ISR changes from brokers (alterPartition) are accepted only from the current leader with the
 *   current broker epoch, leader epoch and partition epoch, so a stale leader cannot change the ISR;
 *   brokers added to the ISR must be unfenced.
 * - A broker is fenced after more than sessionTimeoutMs without a heartbeat, on re-registration of
 *   its id, and on controlled shutdown; fencing removes it from every ISR and moves its leaderships.
 * - Reassignment (KIP-455): replicas = target ∪ original while adding; it completes once every
 *   adding replica is in the ISR, leaving replicas = target and ISR = ISR ∩ target.
 * Soft state (last heartbeat per broker) lives here and is not replicated.
 */
import type { BrokerRegistration, MetadataImage, PartitionState, TopicPartitionRef } from './image.ts';
import { NO_LEADER } from './records.ts';
import type { MetadataRecord, PartitionChangeRecord, PartitionRecord } from './records.ts';

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

/** Records of one operation, applied to a private copy of the image as they are emitted. */
class Staging {
  readonly image: MetadataImage;
  readonly records: MetadataRecord[] = [];
  readonly #base: number;

  constructor(image: MetadataImage) {
    this.image = image.clone();
    this.#base = image.lastOffset + 1;
  }

  emit(record: MetadataRecord): number {
    this.image.apply(record, this.#base + this.records.length);
    this.records.push(record);
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
  readonly #image: MetadataImage;
  readonly #newTopicId: () => string;
  readonly #lastHeartbeatMs = new Map<number, number>();
  #lastRebalanceMs = Number.NEGATIVE_INFINITY;

  constructor(options: ControllerOptions) {
    this.config = options.config;
    this.#image = options.image;
    this.#newTopicId = options.newTopicId;
  }

  /**
   * On becoming the active controller: forget soft state; every registered broker's session restarts
   * now, except brokers the caller knows to have been silent since an earlier time (`silentSinceMs`,
   * e.g. the previous controller, whose silence is what caused this election): their session counts
   * from then, so a dead controller's partitions fail over without waiting a full new session.
   */
  activate(nowMs: number, silentSinceMs: ReadonlyMap<number, number> = new Map()): void {
    this.#lastHeartbeatMs.clear();
    for (const b of this.#image.brokers()) this.#lastHeartbeatMs.set(b.brokerId, Math.min(nowMs, silentSinceMs.get(b.brokerId) ?? nowMs));
    this.#lastRebalanceMs = nowMs;
  }

  lastHeartbeatMs(brokerId: number): number | undefined {
    return this.#lastHeartbeatMs.get(brokerId);
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
    const clean = replicas.find((r) => isr.includes(r) && image.isUnfenced(r));
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
    for (const ref of [...s.image.allPartitions()]) {
      if (ref.state.leader !== NO_LEADER) continue;
      if (only !== undefined && !ref.state.replicas.includes(only)) continue;
      const next = this.#elect(s.image, ref.topic, ref.state.replicas, ref.state.isr, NO_LEADER);
      if (next.leader !== NO_LEADER) s.change(ref.topic, ref.partition, next);
    }
  }

  registerBroker(req: RegisterBrokerRequest, nowMs: number): Decision<RegisterBrokerReply> {
    const s = new Staging(this.#image);
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
    this.#lastHeartbeatMs.set(req.brokerId, nowMs);
    return { records: s.records, reply: { errorCode: 'NONE', registerRecordIndex: index } };
  }

  heartbeat(req: HeartbeatRequest, nowMs: number): Decision<HeartbeatReply> {
    const b = this.#image.broker(req.brokerId);
    if (b === undefined || b.epoch !== req.brokerEpoch) {
      return {
        records: [],
        reply: { errorCode: 'STALE_BROKER_EPOCH', isFenced: true, isCaughtUp: false, shouldShutDown: false },
      };
    }
    this.#lastHeartbeatMs.set(req.brokerId, nowMs);
    const s = new Staging(this.#image);
    const isCaughtUp = req.currentMetadataOffset >= b.epoch;
    if (req.wantShutDown) {
      this.#fence(s, req.brokerId);
    } else if (b.fenced && isCaughtUp) {
      s.emit({ type: 'UnfenceBroker', brokerId: req.brokerId });
      this.#electLeaderless(s, req.brokerId);
    }
    const after = s.image.broker(req.brokerId) as BrokerRegistration;
    return {
      records: s.records,
      reply: {
        errorCode: 'NONE',
        isFenced: after.fenced,
        isCaughtUp,
        shouldShutDown: req.wantShutDown && s.image.partitionsLedBy(req.brokerId).length === 0,
      },
    };
  }

  /** Session expiry, leaderless recovery, reassignment completion and preferred-leader rebalancing. */
  tick(nowMs: number): Decision<null> {
    const s = new Staging(this.#image);
    for (const b of this.#image.brokers()) {
      const last = this.#lastHeartbeatMs.get(b.brokerId);
      if (last === undefined) {
        this.#lastHeartbeatMs.set(b.brokerId, nowMs);
        continue;
      }
      if (!b.fenced && nowMs - last > this.config.sessionTimeoutMs) this.#fence(s, b.brokerId);
    }
    this.#electLeaderless(s);
    for (const r of this.#ongoing(s.image)) this.#maybeCompleteReassignment(s, r.topic, r.partition);
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
    const s = new Staging(this.#image);
    const refs = partitions ?? [...this.#image.allPartitions()].map(({ topic, partition }) => ({ topic, partition }));
    const reply = refs.map((r) => ({ topic: r.topic, partition: r.partition, errorCode: this.#preferred(s, r.topic, r.partition) }));
    return { records: s.records, reply };
  }

  createTopics(reqs: CreateTopicRequest[]): Decision<CreateTopicResult[]> {
    const s = new Staging(this.#image);
    const reply: CreateTopicResult[] = [];
    const live = this.#image.liveBrokers().map((b) => b.brokerId);
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
        s.emit({ type: 'Topic', name: req.name, topicId, numPartitions, configs: { ...req.configs } });
        const h = nameHash(req.name);
        const placement = placeReplicas(live, numPartitions, rf, h % live.length, (h >>> 8) % live.length);
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
    const s = new Staging(this.#image);
    const reply = names.map((name) => {
      const topic = s.image.topic(name);
      if (topic === undefined) return { name, errorCode: 'UNKNOWN_TOPIC_OR_PARTITION' as const };
      s.emit({ type: 'RemoveTopic', name, topicId: topic.topicId });
      return { name, errorCode: 'NONE' as const };
    });
    return { records: s.records, reply };
  }

  alterPartition(req: AlterPartitionRequest): Decision<AlterPartitionReply> {
    const fail = (errorCode: ControllerErrorCode): Decision<AlterPartitionReply> => {
      const state = this.#image.partition(req.topic, req.partition);
      return { records: [], reply: state === undefined ? { errorCode } : { errorCode, state: { ...state } } };
    };
    const b = this.#image.broker(req.brokerId);
    if (b === undefined || b.epoch !== req.brokerEpoch) return fail('STALE_BROKER_EPOCH');
    const p = this.#image.partition(req.topic, req.partition);
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
    if (isr.some((r) => !p.isr.includes(r) && !this.#image.isUnfenced(r))) return fail('INELIGIBLE_REPLICA');
    const s = new Staging(this.#image);
    s.change(req.topic, req.partition, { isr });
    this.#maybeCompleteReassignment(s, req.topic, req.partition);
    const state = s.image.partition(req.topic, req.partition) as PartitionState;
    return { records: s.records, reply: { errorCode: 'NONE', state: { ...state } } };
  }

  allocateProducerIds(brokerId: number, brokerEpoch: number): Decision<ProducerIdsReply> {
    const size = this.config.producerIdBlockSize ?? 1000;
    const b = this.#image.broker(brokerId);
    if (b === undefined || b.epoch !== brokerEpoch) {
      return { records: [], reply: { errorCode: 'STALE_BROKER_EPOCH', firstId: -1, size: 0 } };
    }
    const firstId = this.#image.nextProducerId;
    return { records: [{ type: 'ProducerIdsBlock', brokerId, firstId, size }], reply: { errorCode: 'NONE', firstId, size } };
  }

  ongoingReassignments(): OngoingReassignment[] {
    return this.#ongoing(this.#image);
  }

  #ongoing(image: MetadataImage): OngoingReassignment[] {
    const out: OngoingReassignment[] = [];
    for (const { topic, partition, state } of image.allPartitions()) {
      if (state.addingReplicas.length > 0 || state.removingReplicas.length > 0) {
        out.push({ topic, partition, replicas: [...state.replicas], addingReplicas: [...state.addingReplicas], removingReplicas: [...state.removingReplicas] });
      }
    }
    return out;
  }

  reassignPartitions(reqs: ReassignRequest[]): Decision<PartitionResult[]> {
    const s = new Staging(this.#image);
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
