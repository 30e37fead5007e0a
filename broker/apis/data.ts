/**
 * Data-plane APIs: Produce, Fetch (long-poll), ListOffsets, OffsetForLeaderEpoch.
 * Version notes (all per the Kafka schemas):
 * - Produce v3-8: RecordBatch v2 only; v8 adds per-batch record errors and an error message.
 *   acks=0 gets no response; a failed acks=0 produce closes the connection, as Kafka does.
 * - Fetch v4-13: reads below the high watermark for consumers (READ_COMMITTED = READ_UNCOMMITTED
 *   without transactions: LSO = HW), up to the log end for followers (replicaId >= 0). v7+ fetch
 *   sessions are declined (sessionId 0 in every response: each fetch is a full fetch; a request
 *   naming a session id gets FETCH_SESSION_ID_NOT_FOUND). v9+ CurrentLeaderEpoch fences; v12 adds
 *   LastFetchedEpoch -> DivergingEpoch and CurrentLeader.
 *   v13 (KIP-516) names topics by topic id only, in the request and the answer. An id this node's
 *   metadata image does not know is answered UNKNOWN_TOPIC_ID for each of its partitions; an id the
 *   image knows whose local replica holds another incarnation (the replica manager has not applied
 *   the delete and re-creation yet) INCONSISTENT_TOPIC_ID (ReplicaManager.readPartition). Neither reads
 *   the log or counts a follower's fetch as progress: a replica takes records only from a leader of
 *   its own incarnation, and a leader counts only its own incarnation's followers. v4-12 fetches by
 *   name, unchecked, as in Kafka (the name is all such a client knows).
 *   v14+ are not advertised (broker/apis/versions.ts), so dispatch never hands them here; the v15
 *   ReplicaState read below is the only code of theirs and runs for no request until they are
 *   implemented and advertised in full.
 * - ListOffsets v0 answers in old-style offset arrays; v1+ with one offset; v4+ with leader epochs.
 */
import { ErrorCode } from '../protocol/errors.ts';
import { CloseConnection } from '../server.ts';
import type { MetadataImage } from '../controller/image.ts';
import { fetchError, type FetchPartitionRequest, type FetchPartitionResult, type ProduceResult, type ReplicaManager } from '../replica-manager.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { replicaEpochFromClientId } from '../replication/replica-identity.ts';
import type { Body, BrokerContext } from './context.ts';

const MAX_FETCH_WAIT_MS = 60_000;

export async function handleProduce(ctx: BrokerContext, version: number, req: Body): Promise<Body | null> {
  if (req.transactionalId !== null && req.transactionalId !== undefined) {
    // This broker has no transactions: refuse every partition rather than pretend.
    return {
      responses: (req.topicData as Body[]).map((t) => ({
        name: t.name,
        partitionResponses: (t.partitionData as Body[]).map((p) => ({ index: p.index, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, baseOffset: -1, errorMessage: 'transactions are not supported by this broker' })),
      })),
      throttleTimeMs: 0,
    };
  }
  const acks = Number(req.acks);
  if (acks !== 0 && acks !== 1 && acks !== -1) {
    return {
      responses: (req.topicData as Body[]).map((t) => ({ name: t.name, partitionResponses: (t.partitionData as Body[]).map((p) => ({ index: p.index, errorCode: ErrorCode.INVALID_REQUIRED_ACKS, baseOffset: -1 })) })),
      throttleTimeMs: 0,
    };
  }
  const timeoutMs = Math.max(0, Math.min(Number(req.timeoutMs), 300_000));
  const topicData = req.topicData as Body[];
  let responses: Array<{ name: string; partitionResponses: Body[] }>;
  if (topicData.length === 1 && (topicData[0]!.partitionData as Body[]).length === 1) {
    // One partition (what most producers send per request at low latency): one await, no fan-out.
    const t = topicData[0]!;
    const p = (t.partitionData as Body[])[0]!;
    const r = await ctx.replicas.produce(t.name, p.index, p.records ?? null, acks, timeoutMs);
    responses = [{ name: t.name, partitionResponses: [partitionResponse(p.index, r)] }];
  } else {
    responses = await Promise.all(
      topicData.map(async (t) => ({
        name: t.name,
        partitionResponses: await Promise.all((t.partitionData as Body[]).map(async (p) => partitionResponse(p.index, await ctx.replicas.produce(t.name, p.index, p.records ?? null, acks, timeoutMs)))),
      })),
    );
  }
  if (acks === 0) {
    const failed = responses.flatMap((t) => t.partitionResponses.filter((p) => p.errorCode !== 0).map((p) => `${t.name}-${p.index}: error ${p.errorCode}`));
    if (failed.length > 0) throw new CloseConnection(`acks=0 produce failed (${failed.join(', ')})`);
    return null;
  }
  return { responses, throttleTimeMs: 0 };
}

function partitionResponse(index: number, r: ProduceResult): Body {
  return { index, errorCode: r.errorCode, baseOffset: r.baseOffset, logAppendTimeMs: r.logAppendTimeMs, logStartOffset: r.logStartOffset, recordErrors: [], errorMessage: r.errorMessage };
}

/** What Fetch needs of the node: its metadata image (topic ids to names), the replica manager, the clock and timers. */
export interface FetchContext {
  metadata: { readonly image: Pick<MetadataImage, 'topicById'> };
  replicas: Pick<ReplicaManager, 'readPartition' | 'watch'>;
  runtime: Pick<Runtime, 'clock' | 'timers'>;
}

/** One topic of a Fetch request as this node resolves it: by name (v4-12), or by topic id (v13+). */
interface FetchTopic {
  /** null: a v13+ id this node's metadata image does not know (KIP-516: UNKNOWN_TOPIC_ID). */
  name: string | null;
  /** The incarnation the request names (v13+); null for a fetch by name. */
  topicId: string | null;
  partitions: Body[];
}

/**
 * KIP-516's rule for naming a topic in Fetch: v13+ names it by topic id only, resolved against the
 * node's metadata image (Kafka's metadataCache.topicIdsToNames); an id the image does not know
 * resolves to no name. Below v13 the name is taken as given.
 */
export function resolveFetchTopic(image: Pick<MetadataImage, 'topicById'>, version: number, t: Body): FetchTopic {
  if (version < 13) return { name: String(t.topic), topicId: null, partitions: t.partitions as Body[] };
  const topicId = String(t.topicId);
  return { name: image.topicById(topicId)?.name ?? null, topicId, partitions: t.partitions as Body[] };
}

/** One requested partition, in request order: `read` is null when its topic id is unknown here. */
interface AskedPartition {
  topic: number;
  partition: number;
  read: FetchPartitionRequest | null;
}

export async function handleFetch(ctx: FetchContext, version: number, req: Body, clientId: string | null = null): Promise<Body> {
  const replicaId = version >= 15 ? (req.replicaState?.replicaId ?? -1) : Number(req.replicaId ?? -1);
  // KIP-903: the follower's incarnation (replication/replica-identity.ts).
  const replicaEpoch = version >= 15 ? Number(req.replicaState?.replicaEpoch ?? -1) : replicaEpochFromClientId(clientId, replicaId);
  if (version >= 7 && Number(req.sessionId) !== 0) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
  }
  const topics = (req.topics as Body[]).map((t) => resolveFetchTopic(ctx.metadata.image, version, t));
  const asked: AskedPartition[] = [];
  topics.forEach((t, i) => {
    for (const p of t.partitions) {
      const read: FetchPartitionRequest | null =
        t.name === null
          ? null
          : {
              topic: t.name,
              ...(t.topicId === null ? {} : { topicId: t.topicId }),
              partition: p.partition,
              fetchOffset: Number(p.fetchOffset),
              currentLeaderEpoch: version >= 9 ? p.currentLeaderEpoch : -1,
              lastFetchedEpoch: version >= 12 ? p.lastFetchedEpoch : -1,
              partitionMaxBytes: Math.max(0, p.partitionMaxBytes),
            };
      asked.push({ topic: i, partition: p.partition, read });
    }
  });
  const reads = asked.flatMap((a) => (a.read === null ? [] : [a.read]));
  const maxBytes = version >= 3 ? Math.max(0, Number(req.maxBytes)) : Number.MAX_SAFE_INTEGER;
  const minBytes = Math.max(0, Number(req.minBytes));
  const maxWaitMs = Math.max(0, Math.min(Number(req.maxWaitMs), MAX_FETCH_WAIT_MS));
  const { clock, timers } = ctx.runtime;
  const deadline = clock.nowMs() + maxWaitMs;

  // The follower's fetch offsets count once, on arrival; long-poll rounds only re-read.
  let results = readAll(ctx, replicaId, asked, maxBytes, true, replicaEpoch);
  while (!satisfied(results, minBytes) && clock.nowMs() < deadline) {
    await new Promise<void>((resolve) => {
      const timer = timers.setTimeout(done, Math.max(0, deadline - clock.nowMs()));
      // A wake-up re-reads after the current I/O phase (setImmediate), not at once: produce requests
      // read in the same poll are all appended first, so one follower round carries them all instead
      // of a round per request (the wait it adds is one turn of the event loop).
      let woken = false;
      const unwatch = ctx.replicas.watch(reads, () => {
        if (woken) return;
        woken = true;
        timers.setImmediate(done);
      });
      function done() {
        timers.clearTimeout(timer);
        unwatch();
        resolve();
      }
    });
    results = readAll(ctx, replicaId, asked, maxBytes, false, replicaEpoch);
  }
  const byTopic: FetchPartitionResult[][] = topics.map(() => []);
  asked.forEach((a, i) => byTopic[a.topic]!.push(results[i]!));
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: topics.map((t, i) => ({
      ...(version >= 13 ? { topicId: t.topicId } : { topic: t.name }),
      partitions: byTopic[i]!.map((r) => ({
        partitionIndex: r.partition,
        errorCode: r.errorCode,
        highWatermark: r.highWatermark,
        lastStableOffset: r.lastStableOffset,
        logStartOffset: r.logStartOffset,
        ...(version >= 12 && r.divergingEpoch ? { divergingEpoch: r.divergingEpoch } : {}),
        ...(version >= 12 && r.errorCode !== 0 ? { currentLeader: r.currentLeader } : {}),
        abortedTransactions: r.errorCode === 0 ? [] : null,
        preferredReadReplica: -1,
        records: r.records,
      })),
    })),
  };
}

function readAll(ctx: FetchContext, replicaId: number, asked: readonly AskedPartition[], maxBytes: number, recordProgress: boolean, replicaEpoch: number): FetchPartitionResult[] {
  let budget = maxBytes;
  let first = true;
  return asked.map((a) => {
    if (a.read === null) return fetchError('', a.partition, ErrorCode.UNKNOWN_TOPIC_ID);
    // Kafka's rule: the first non-empty partition may exceed the budget by one batch, so progress is always possible.
    const r = ctx.replicas.readPartition(replicaId, a.read, first ? Math.max(budget, 1) : budget, recordProgress, replicaEpoch);
    const n = r.records?.length ?? 0;
    if (n > 0) {
      first = false;
      budget = Math.max(0, budget - n);
    }
    return r;
  });
}

/** Kafka's completion rule for a fetch: any error or divergence, or at least minBytes of data (0 answers at once). */
function satisfied(results: FetchPartitionResult[], minBytes: number): boolean {
  let bytes = 0;
  for (const r of results) {
    if (r.errorCode !== 0 || r.divergingEpoch) return true;
    bytes += r.records?.length ?? 0;
  }
  return bytes >= minBytes;
}

export function handleListOffsets(ctx: BrokerContext, version: number, req: Body): Body {
  const replicaId = Number(req.replicaId);
  return {
    throttleTimeMs: 0,
    topics: (req.topics as Body[]).map((t) => ({
      name: t.name,
      partitions: (t.partitions as Body[]).map((p) => {
        const r = ctx.replicas.listOffset(t.name, p.partitionIndex, Number(p.timestamp), version >= 4 ? p.currentLeaderEpoch : -1, replicaId);
        if (version === 0) {
          return { partitionIndex: p.partitionIndex, errorCode: r.errorCode, oldStyleOffsets: r.errorCode === 0 && r.offset >= 0 && p.maxNumOffsets > 0 ? [r.offset] : [] };
        }
        return { partitionIndex: p.partitionIndex, errorCode: r.errorCode, timestamp: r.timestamp, offset: r.offset, ...(version >= 4 ? { leaderEpoch: r.leaderEpoch } : {}) };
      }),
    })),
  };
}

export function handleOffsetForLeaderEpoch(ctx: BrokerContext, version: number, req: Body): Body {
  return {
    throttleTimeMs: 0,
    topics: (req.topics as Body[]).map((t) => ({
      topic: t.topic,
      partitions: (t.partitions as Body[]).map((p) => {
        const r = ctx.replicas.endOffsetForEpoch(t.topic, p.partition, version >= 2 ? p.currentLeaderEpoch : -1, p.leaderEpoch);
        return { errorCode: r.errorCode, partition: p.partition, leaderEpoch: r.leaderEpoch, endOffset: r.endOffset };
      }),
    })),
  };
}
