/**
 * DescribeQuorum v0 (API key 55, KIP-595): the Raft quorum of the metadata log, topic
 * `__cluster_metadata` partition 0, answered from this node's Raft state
 * (MetadataService.describeQuorum).
 *
 * As Kafka's KafkaRaftClient answers it:
 * - A request that is not exactly one topic `__cluster_metadata` with exactly partition 0 gets
 *   UNKNOWN_TOPIC_OR_PARTITION on every partition it names (top-level error 0).
 * - The Raft leader answers leader id (itself), leader epoch (its term), high watermark (its commit
 *   index: Raft index i is offset i-1), every voter with its log end offset as the leader knows it (-1
 *   when not yet heard from in this term) and the observers that fetch metadata from it.
 * - Any other node answers NOT_LEADER_OR_FOLLOWER on the partition. Where Kafka's controller leaves
 *   the rest at defaults, ours also names the leader it knows (-1 if none) and its epoch, and no
 *   voters. Kafka brokers forward DescribeQuorum to the active controller instead; every node here
 *   answers itself (combined mode: each voter is a controller; an observer tells the leader it
 *   learned from the voters), so a caller that wants the active controller asks several nodes and
 *   takes the leader most of them name (harness/backends/roles.ts).
 */
import { ErrorCode } from '../protocol/errors.ts';
import type { Body, BrokerContext } from './context.ts';

export const METADATA_TOPIC = '__cluster_metadata';

/** v1+ fields (lastFetchTimestamp, lastCaughtUpTimestamp) are ignorable with default -1; v0 carries neither. */
function replica(r: { replicaId: number; logEndOffset: number }): Body {
  return { replicaId: r.replicaId, logEndOffset: r.logEndOffset };
}

export function handleDescribeQuorum(ctx: BrokerContext, _version: number, req: Body): Body {
  const topics = (req.topics ?? []) as Body[];
  const valid = topics.length === 1 && topics[0]!.topicName === METADATA_TOPIC && (topics[0]!.partitions as Body[]).length === 1 && (topics[0]!.partitions as Body[])[0]!.partitionIndex === 0;
  if (!valid) {
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        topicName: t.topicName,
        partitions: (t.partitions as Body[]).map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, leaderId: -1, leaderEpoch: -1, highWatermark: -1, currentVoters: [], observers: [] })),
      })),
    };
  }
  const q = ctx.metadata.describeQuorum();
  const partition: Body = q.leader
    ? { partitionIndex: 0, errorCode: ErrorCode.NONE, leaderId: q.leaderId, leaderEpoch: q.leaderEpoch, highWatermark: q.highWatermark, currentVoters: q.voters.map(replica), observers: q.observers.map(replica) }
    : { partitionIndex: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderId: q.leaderId, leaderEpoch: q.leaderEpoch, highWatermark: -1, currentVoters: [], observers: [] };
  return { errorCode: ErrorCode.NONE, topics: [{ topicName: METADATA_TOPIC, partitions: [partition] }] };
}
