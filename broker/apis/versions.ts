/**
 * The API versions this broker advertises in ApiVersions. Every version listed is implemented in
 * full by the handlers (design.md, "The wire codec"): clients beyond kafkajs and kcat pick their own
 * versions from this list. The codec itself reads and writes every version of these APIs, flexible
 * ones included; a range here is a statement about the handlers' semantics.
 *
 * Chosen so that kafkajs 2.2.4 (non-flexible versions only) and librdkafka (kcat) find what they need:
 * Produce >= 3 and Fetch >= 4 for RecordBatch v2, ApiVersions 0.. for its fallback. Fetch goes up to
 * v13 (flexible, topics by topic id: KIP-516), which the brokers' own followers use: v12's epoch
 * divergence detection (KIP-595), and v13's topic id so that a replica takes records only from a
 * leader of its own incarnation of the topic (broker/apis/data.ts). v14+ are not implemented
 * (v15 replaces ReplicaId with ReplicaState, v16 adds NodeEndpoints), so not advertised.
 */
import { ApiKeys } from '../protocol/codec.ts';

export const advertisedVersions: ReadonlyArray<{ apiKey: number; minVersion: number; maxVersion: number }> = [
  { apiKey: ApiKeys.Produce, minVersion: 3, maxVersion: 8 },
  { apiKey: ApiKeys.Fetch, minVersion: 4, maxVersion: 13 },
  { apiKey: ApiKeys.ListOffsets, minVersion: 0, maxVersion: 5 },
  { apiKey: ApiKeys.Metadata, minVersion: 0, maxVersion: 10 },
  { apiKey: ApiKeys.OffsetCommit, minVersion: 0, maxVersion: 7 },
  { apiKey: ApiKeys.OffsetFetch, minVersion: 1, maxVersion: 5 },
  { apiKey: ApiKeys.FindCoordinator, minVersion: 0, maxVersion: 2 },
  { apiKey: ApiKeys.JoinGroup, minVersion: 0, maxVersion: 5 },
  { apiKey: ApiKeys.Heartbeat, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKeys.LeaveGroup, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKeys.SyncGroup, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKeys.DescribeGroups, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKeys.ListGroups, minVersion: 0, maxVersion: 2 },
  { apiKey: ApiKeys.ApiVersions, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKeys.CreateTopics, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKeys.DeleteTopics, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKeys.InitProducerId, minVersion: 0, maxVersion: 1 },
  { apiKey: ApiKeys.OffsetForLeaderEpoch, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKeys.ElectLeaders, minVersion: 0, maxVersion: 1 },
  { apiKey: ApiKeys.AlterPartitionReassignments, minVersion: 0, maxVersion: 0 },
  { apiKey: ApiKeys.ListPartitionReassignments, minVersion: 0, maxVersion: 0 },
  { apiKey: ApiKeys.DescribeQuorum, minVersion: 0, maxVersion: 0 },
  { apiKey: ApiKeys.UnregisterBroker, minVersion: 0, maxVersion: 0 },
];

const byKey = new Map(advertisedVersions.map((v) => [v.apiKey, v]));

export function isAdvertised(apiKey: number, version: number): boolean {
  const v = byKey.get(apiKey);
  return v !== undefined && version >= v.minVersion && version <= v.maxVersion;
}
