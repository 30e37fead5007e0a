/**
 * MetadataImage: the state every node derives by applying committed metadata records in log order.
 *
 *   const image = new MetadataImage();
 *   image.apply(record, offset);   // offset = the record's Raft log index, strictly increasing
 *
 * Spec:
 * - RegisterBroker at offset o sets the broker's epoch to o, its endpoint and incarnation, and marks
 *   it fenced (a new registration always starts fenced; UnfenceBroker lifts it).
 * - Topic creates the topic (partitions arrive as Partition records); RemoveTopic drops the topic
 *   and its partitions, and only the incarnation whose topic id it names (KIP-516): a RemoveTopic
 *   whose id is not the current one of that name is refused (MetadataImageError).
 * - PartitionChange merges a delta: absent fields are unchanged; a leader different from the current
 *   one bumps leaderEpoch by one, and so does a replica set that loses a replica (a finished
 *   reassignment: Kafka's PartitionChangeBuilder bumps it then too, so the removed replica's
 *   in-flight fetches at the old epoch are fenced and cannot count as progress of the same broker
 *   re-added in that leadership); every PartitionChange bumps partitionEpoch by one.
 * - ProducerIdsBlock advances nextProducerId to firstId + size (it never moves backwards).
 * - A record that names an unknown broker, topic or partition is a bug in whoever wrote the log:
 *   apply throws MetadataImageError and leaves the image unchanged.
 * - Offsets must strictly increase (except provisional copies made by clone(), see controller.ts).
 * Queries return copies or readonly views; callers never mutate the image except through apply
 * and restore.
 * - Snapshots: `toSnapshot()` serialises the whole image (brokers with their epochs, topics with ids,
 *   configs and partition states, the producer-id high mark, lastOffset) as JSON;
 *   `restore(data)` replaces this image's state with a snapshot's, in place (holders of the object
 *   keep a valid reference). `restore(x.toSnapshot())` yields an image equal to x.
 */
import { NO_LEADER } from './records.ts';
import type { MetadataRecord, PartitionRecord } from './records.ts';
import { bugActive } from '../bugs.ts';

export interface BrokerRegistration {
  brokerId: number;
  incarnationId: string;
  host: string;
  port: number;
  rack: string | undefined;
  /** The offset of the RegisterBroker record. */
  epoch: number;
  fenced: boolean;
}

export interface PartitionState {
  replicas: readonly number[];
  isr: readonly number[];
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
  addingReplicas: readonly number[];
  removingReplicas: readonly number[];
}

export interface TopicImage {
  name: string;
  topicId: string;
  configs: Readonly<Record<string, string>>;
  /** Index = partition id; length = numPartitions once every Partition record is applied. */
  partitions: PartitionState[];
}

export interface TopicPartitionRef {
  topic: string;
  partition: number;
}

const SNAPSHOT_VERSION = 1;

type SnapshotShape = {
  version: number;
  lastOffset: number;
  nextProducerId: number;
  brokers: Array<BrokerRegistration & { rack?: string | null }>;
  topics: TopicImage[];
};

export class MetadataImageError extends Error {
  readonly code = 'METADATA_IMAGE_INCONSISTENT';
}

export class MetadataImage {
  #brokers = new Map<number, BrokerRegistration>();
  #topics = new Map<string, TopicImage>();
  #topicIds = new Map<string, string>();
  #nextProducerId = 0;
  #lastOffset = -1;

  /** The offset of the last applied record, -1 when empty. */
  get lastOffset(): number {
    return this.#lastOffset;
  }

  get nextProducerId(): number {
    return this.#nextProducerId;
  }

  /** A deep copy, used by the controller to stage several records of one operation. */
  clone(): MetadataImage {
    const copy = new MetadataImage();
    for (const [id, b] of this.#brokers) copy.#brokers.set(id, { ...b });
    for (const [name, t] of this.#topics) {
      copy.#topics.set(name, {
        name: t.name,
        topicId: t.topicId,
        configs: { ...t.configs },
        partitions: t.partitions.map((p) => ({ ...p })),
      });
    }
    copy.#topicIds = new Map(this.#topicIds);
    copy.#nextProducerId = this.#nextProducerId;
    copy.#lastOffset = this.#lastOffset;
    return copy;
  }

  apply(record: MetadataRecord, offset: number): void {
    switch (record.type) {
      case 'RegisterBroker':
        this.#brokers.set(record.brokerId, {
          brokerId: record.brokerId,
          incarnationId: record.incarnationId,
          host: record.host,
          port: record.port,
          rack: record.rack,
          epoch: offset,
          fenced: true,
        });
        break;
      case 'FenceBroker':
      case 'UnfenceBroker': {
        const b = this.#brokers.get(record.brokerId);
        if (b === undefined) throw new MetadataImageError(`${record.type}: unknown broker ${record.brokerId}`);
        b.fenced = record.type === 'FenceBroker';
        break;
      }
      case 'UnregisterBroker':
        if (!this.#brokers.delete(record.brokerId)) {
          throw new MetadataImageError(`UnregisterBroker: unknown broker ${record.brokerId}`);
        }
        break;
      case 'Topic':
        if (this.#topics.has(record.name)) throw new MetadataImageError(`Topic: ${record.name} exists`);
        this.#topics.set(record.name, {
          name: record.name,
          topicId: record.topicId,
          configs: { ...record.configs },
          partitions: [],
        });
        this.#topicIds.set(record.topicId, record.name);
        break;
      case 'TopicConfig': {
        const t = this.#topic(record.name, record.type);
        const configs = { ...t.configs };
        if (record.value === null) delete configs[record.key];
        else configs[record.key] = record.value;
        t.configs = configs;
        break;
      }
      case 'Partition':
        this.#applyPartition(record);
        break;
      case 'PartitionChange': {
        const t = this.#topic(record.topic, record.type);
        const p = t.partitions[record.partition];
        if (p === undefined) throw new MetadataImageError(`PartitionChange: unknown ${record.topic}-${record.partition}`);
        const leader = record.leader ?? p.leader;
        t.partitions[record.partition] = {
          replicas: record.replicas ?? p.replicas,
          isr: record.isr ?? p.isr,
          leader,
          leaderEpoch: leader !== p.leader && !bugActive('epoch-not-bumped') ? p.leaderEpoch + 1 : p.leaderEpoch,
          partitionEpoch: p.partitionEpoch + 1,
          addingReplicas: record.addingReplicas ?? p.addingReplicas,
          removingReplicas: record.removingReplicas ?? p.removingReplicas,
        };
        const removed = record.replicas !== undefined && p.replicas.some((r) => !record.replicas!.includes(r));
        if (removed && leader === p.leader) t.partitions[record.partition] = { ...t.partitions[record.partition]!, leaderEpoch: p.leaderEpoch + 1 };
        break;
      }
      case 'RemoveTopic': {
        const t = this.#topic(record.name, record.type);
        if (record.topicId !== undefined && record.topicId !== t.topicId) {
          throw new MetadataImageError(`RemoveTopic: ${record.name} is incarnation ${t.topicId}, not ${record.topicId}`);
        }
        this.#topics.delete(record.name);
        this.#topicIds.delete(t.topicId);
        break;
      }
      case 'ProducerIdsBlock':
        this.#nextProducerId = Math.max(this.#nextProducerId, record.firstId + record.size);
        break;
    }
    this.#lastOffset = Math.max(this.#lastOffset, offset);
  }

  /** The whole image as JSON (see the module docstring). */
  toSnapshot(): string {
    return JSON.stringify({
      version: SNAPSHOT_VERSION,
      lastOffset: this.#lastOffset,
      nextProducerId: this.#nextProducerId,
      brokers: [...this.#brokers.values()],
      topics: [...this.#topics.values()],
    });
  }

  /** Replaces this image's state with the snapshot's; throws MetadataImageError (image unchanged) when malformed. */
  restore(data: string): void {
    let o: SnapshotShape;
    try {
      o = JSON.parse(data) as SnapshotShape;
    } catch (err) {
      throw new MetadataImageError(`metadata snapshot is not JSON: ${(err as Error).message}`);
    }
    if (o === null || typeof o !== 'object' || o.version !== SNAPSHOT_VERSION || !Array.isArray(o.brokers) || !Array.isArray(o.topics) || !Number.isSafeInteger(o.lastOffset)) {
      throw new MetadataImageError(`metadata snapshot has an unknown shape (version ${String((o as { version?: unknown } | null)?.version)})`);
    }
    const brokers = new Map<number, BrokerRegistration>();
    for (const b of o.brokers) brokers.set(b.brokerId, { ...b, rack: b.rack ?? undefined });
    const topics = new Map<string, TopicImage>();
    const ids = new Map<string, string>();
    for (const t of o.topics) {
      topics.set(t.name, { name: t.name, topicId: t.topicId, configs: { ...t.configs }, partitions: t.partitions.map((p) => ({ ...p })) });
      ids.set(t.topicId, t.name);
    }
    this.#brokers = brokers;
    this.#topics = topics;
    this.#topicIds = ids;
    this.#nextProducerId = o.nextProducerId;
    this.#lastOffset = o.lastOffset;
  }

  #applyPartition(record: PartitionRecord): void {
    const t = this.#topic(record.topic, record.type);
    if (record.partition < 0 || record.partition > t.partitions.length) {
      throw new MetadataImageError(`Partition: ${record.topic}-${record.partition} out of order`);
    }
    t.partitions[record.partition] = {
      replicas: [...record.replicas],
      isr: [...record.isr],
      leader: record.leader,
      leaderEpoch: record.leaderEpoch,
      partitionEpoch: record.partitionEpoch,
      addingReplicas: [...record.addingReplicas],
      removingReplicas: [...record.removingReplicas],
    };
  }

  #topic(name: string, what: string): TopicImage {
    const t = this.#topics.get(name);
    if (t === undefined) throw new MetadataImageError(`${what}: unknown topic ${name}`);
    return t;
  }

  broker(brokerId: number): Readonly<BrokerRegistration> | undefined {
    return this.#brokers.get(brokerId);
  }

  /** Every registered broker, by ascending id. */
  brokers(): Readonly<BrokerRegistration>[] {
    return [...this.#brokers.values()].sort((a, b) => a.brokerId - b.brokerId);
  }

  /** Registered and unfenced brokers, by ascending id. */
  liveBrokers(): Readonly<BrokerRegistration>[] {
    return this.brokers().filter((b) => !b.fenced);
  }

  isUnfenced(brokerId: number): boolean {
    const b = this.#brokers.get(brokerId);
    return b !== undefined && !b.fenced;
  }

  topic(name: string): Readonly<TopicImage> | undefined {
    return this.#topics.get(name);
  }

  topicById(topicId: string): Readonly<TopicImage> | undefined {
    const name = this.#topicIds.get(topicId);
    return name === undefined ? undefined : this.#topics.get(name);
  }

  /** Topic names in ascending order. */
  topicNames(): string[] {
    return [...this.#topics.keys()].sort();
  }

  partition(topic: string, partition: number): Readonly<PartitionState> | undefined {
    return this.#topics.get(topic)?.partitions[partition];
  }

  /** Every partition, topics by name then partition id. */
  *allPartitions(): Generator<TopicPartitionRef & { state: Readonly<PartitionState> }> {
    for (const name of this.topicNames()) {
      const t = this.#topics.get(name);
      if (t === undefined) continue;
      for (let i = 0; i < t.partitions.length; i++) {
        const state = t.partitions[i];
        if (state !== undefined) yield { topic: name, partition: i, state };
      }
    }
  }

  partitionsLedBy(brokerId: number): TopicPartitionRef[] {
    const out: TopicPartitionRef[] = [];
    for (const p of this.allPartitions()) {
      if (p.state.leader === brokerId && brokerId !== NO_LEADER) out.push({ topic: p.topic, partition: p.partition });
    }
    return out;
  }

  partitionsWithReplica(brokerId: number): TopicPartitionRef[] {
    const out: TopicPartitionRef[] = [];
    for (const p of this.allPartitions()) {
      if (p.state.replicas.includes(brokerId)) out.push({ topic: p.topic, partition: p.partition });
    }
    return out;
  }
}
