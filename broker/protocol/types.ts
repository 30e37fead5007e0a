/**
 * Typed views of the message bodies the broker handles most, as the codec (codec.ts) decodes them and
 * accepts them for encoding. Field names are the schemas' lowerCamelCase names.
 *
 * Conventions (the codec's value model):
 * - Decoded bodies hold every field of the schema; fields not in the decoded version hold defaults.
 *   Bodies to encode may omit any field: it then takes its default. The types mark as optional
 *   (`?`) the fields that are commonly left to their defaults.
 * - int64 fields are typed `number`: the codec yields a number for every safe integer, and a bigint only
 *   beyond +-2^53, which no offset, timestamp or producer id the broker issues reaches. A handler that
 *   must be robust against such input checks `typeof v === 'number'`.
 * - records are zero-copy Buffers (slices of the request frame when decoded), or null.
 * - uuid is the canonical lowercase 8-4-4-4-12 hex string.
 */

/** Produce request, v0-v11 (topicData[].partitionData[].records holds RecordBatch v2 bytes for v3+). */
export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topicData: {
    name: string;
    partitionData: { index: number; records: Buffer | null }[];
  }[];
}

export interface ProducePartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: number;
  logAppendTimeMs?: number;
  logStartOffset?: number;
  recordErrors?: { batchIndex: number; batchIndexErrorMessage: string | null }[];
  errorMessage?: string | null;
  currentLeader?: { leaderId: number; leaderEpoch: number };
}

export interface ProduceResponse {
  responses: { name: string; partitionResponses: ProducePartitionResponse[] }[];
  throttleTimeMs?: number;
  nodeEndpoints?: NodeEndpoint[];
}

export interface NodeEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface FetchRequestPartition {
  partition: number;
  currentLeaderEpoch: number;
  fetchOffset: number;
  lastFetchedEpoch: number;
  logStartOffset: number;
  partitionMaxBytes: number;
  replicaDirectoryId?: string;
}

/** Fetch request, v0-v17. Topics are named up to v12 and identified by topicId from v13. */
export interface FetchRequest {
  clusterId?: string | null;
  /** -1 for consumers, the follower's broker id for replicas (v0-v14; v15+ use replicaState). */
  replicaId: number;
  replicaState?: { replicaId: number; replicaEpoch: number };
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  /** 0 READ_UNCOMMITTED, 1 READ_COMMITTED. */
  isolationLevel: number;
  sessionId: number;
  sessionEpoch: number;
  topics: { topic: string; topicId: string; partitions: FetchRequestPartition[] }[];
  forgottenTopicsData: { topic: string; topicId: string; partitions: number[] }[];
  rackId: string;
}

export interface FetchResponsePartition {
  partitionIndex: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset?: number;
  logStartOffset?: number;
  /** Tagged (v12+): set when the follower's log diverges from the leader's (KIP-320/595). */
  divergingEpoch?: { epoch: number; endOffset: number };
  currentLeader?: { leaderId: number; leaderEpoch: number };
  snapshotId?: { endOffset: number; epoch: number };
  abortedTransactions?: { producerId: number; firstOffset: number }[] | null;
  preferredReadReplica?: number;
  records: Buffer | null;
}

export interface FetchResponse {
  throttleTimeMs?: number;
  errorCode?: number;
  sessionId?: number;
  responses: { topic?: string; topicId?: string; partitions: FetchResponsePartition[] }[];
  nodeEndpoints?: NodeEndpoint[];
}

/** Metadata request, v0-v12. `topics === null` (v1+) asks for all topics. */
export interface MetadataRequest {
  topics: { topicId: string; name: string | null }[] | null;
  allowAutoTopicCreation: boolean;
  includeClusterAuthorizedOperations: boolean;
  includeTopicAuthorizedOperations: boolean;
}

export interface MetadataPartition {
  errorCode: number;
  partitionIndex: number;
  leaderId: number;
  leaderEpoch?: number;
  replicaNodes: number[];
  isrNodes: number[];
  offlineReplicas?: number[];
}

export interface MetadataTopic {
  errorCode: number;
  name: string | null;
  topicId?: string;
  isInternal?: boolean;
  partitions: MetadataPartition[];
  topicAuthorizedOperations?: number;
}

export interface MetadataResponse {
  throttleTimeMs?: number;
  brokers: { nodeId: number; host: string; port: number; rack?: string | null }[];
  clusterId?: string | null;
  controllerId?: number;
  topics: MetadataTopic[];
  clusterAuthorizedOperations?: number;
}

/** ListOffsets request, v0-v9. timestamp -2 = earliest, -1 = latest. */
export interface ListOffsetsRequest {
  replicaId: number;
  isolationLevel: number;
  topics: {
    name: string;
    partitions: { partitionIndex: number; currentLeaderEpoch: number; timestamp: number; maxNumOffsets: number }[];
  }[];
  timeoutMs: number;
}

export interface ListOffsetsResponse {
  throttleTimeMs?: number;
  topics: {
    name: string;
    partitions: {
      partitionIndex: number;
      errorCode: number;
      /** v0 only. */
      oldStyleOffsets?: number[];
      timestamp?: number;
      offset?: number;
      leaderEpoch?: number;
    }[];
  }[];
}

export interface ApiVersionsResponse {
  errorCode: number;
  apiKeys: { apiKey: number; minVersion: number; maxVersion: number }[];
  throttleTimeMs?: number;
}
