/**
 * Metadata log records (KRaft-like), as a JSON-serialisable discriminated union on `type`.
 *
 * The controller emits these; every node applies them in log order to its MetadataImage
 * (image.ts). Invariants the producer of records keeps (and the image relies on):
 * - A broker's epoch is the metadata-log offset of its RegisterBroker record. A RegisterBroker for
 *   a known id replaces the old registration (a new incarnation) and always registers it fenced.
 * - Partition carries the full state of one partition; PartitionChange carries a delta: a field that
 *   is absent is unchanged. Applying a PartitionChange whose `leader` differs from the current one
 *   bumps leaderEpoch; applying any PartitionChange bumps partitionEpoch.
 * - The ISR is never empty while the partition has replicas (KRaft: the last ISR member stays so it
 *   stays electable); `leader` is NO_LEADER (-1) when no eligible leader exists.
 * - ProducerIdsBlock hands out [firstId, firstId + size) to one broker; blocks never overlap.
 * - Topic ids (KIP-516): a Topic record gives each incarnation of a name a fresh UUID; RemoveTopic
 *   names the incarnation it removes by id, so it can never remove a later incarnation of the same
 *   name. Partition and PartitionChange name the topic: in log order a name denotes exactly one
 *   incarnation at each offset, and the image resolves it there (no record is ever applied out of
 *   order, and a restart starts from a snapshot, never replays records onto a newer image).
 */

export const NO_LEADER = -1;

export interface RegisterBrokerRecord {
  type: 'RegisterBroker';
  brokerId: number;
  incarnationId: string;
  host: string;
  port: number;
  rack?: string;
}

export interface FenceBrokerRecord {
  type: 'FenceBroker';
  brokerId: number;
}

export interface UnfenceBrokerRecord {
  type: 'UnfenceBroker';
  brokerId: number;
}

export interface UnregisterBrokerRecord {
  type: 'UnregisterBroker';
  brokerId: number;
}

export interface TopicRecord {
  type: 'Topic';
  name: string;
  topicId: string;
  numPartitions: number;
  configs: Record<string, string>;
}

export interface PartitionRecord {
  type: 'Partition';
  topic: string;
  partition: number;
  replicas: number[];
  isr: number[];
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
  addingReplicas: number[];
  removingReplicas: number[];
}

export interface PartitionChangeRecord {
  type: 'PartitionChange';
  topic: string;
  partition: number;
  isr?: number[];
  leader?: number;
  replicas?: number[];
  addingReplicas?: number[];
  removingReplicas?: number[];
}

export interface RemoveTopicRecord {
  type: 'RemoveTopic';
  name: string;
  /**
   * The incarnation removed (KIP-516). Required of every writer; logs written before topic ids were
   * carried here lack it, and then the name's current incarnation is meant.
   */
  topicId: string;
}

export interface ProducerIdsBlockRecord {
  type: 'ProducerIdsBlock';
  brokerId: number;
  firstId: number;
  size: number;
}

export interface TopicConfigRecord {
  type: 'TopicConfig';
  name: string;
  key: string;
  /** null removes the override. */
  value: string | null;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | UnregisterBrokerRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | RemoveTopicRecord
  | ProducerIdsBlockRecord
  | TopicConfigRecord;

export type MetadataRecordType = MetadataRecord['type'];
