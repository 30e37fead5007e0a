/**
 * Data-plane APIs: Produce, Fetch (long-poll), ListOffsets, OffsetForLeaderEpoch.
 * Version notes (all per the Kafka schemas):
 * - Produce v3-8: RecordBatch v2 only; v8 adds per-batch record errors and an error message.
 *   acks=0 gets no response; a failed acks=0 produce closes the connection, as Kafka does.
 * - Fetch v4-12: reads below the high watermark for consumers (READ_COMMITTED = READ_UNCOMMITTED
 *   without transactions: LSO = HW), up to the log end for followers (replicaId >= 0). v7+ fetch
 *   sessions are declined (sessionId 0 in every response: each fetch is a full fetch; a request
 *   naming a session id gets FETCH_SESSION_ID_NOT_FOUND). v9+ CurrentLeaderEpoch fences; v12 adds
 *   LastFetchedEpoch -> DivergingEpoch and CurrentLeader.
 * - ListOffsets v0 answers in old-style offset arrays; v1+ with one offset; v4+ with leader epochs.
 */
import { ErrorCode } from '../protocol/errors.ts';
import { CloseConnection } from '../server.ts';
import type { FetchPartitionRequest, FetchPartitionResult } from '../replica-manager.ts';
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
  const responses = await Promise.all(
    (req.topicData as Body[]).map(async (t) => ({
      name: t.name,
      partitionResponses: await Promise.all(
        (t.partitionData as Body[]).map(async (p) => {
          const r = await ctx.replicas.produce(t.name, p.index, p.records ?? null, acks, timeoutMs);
          return {
            index: p.index,
            errorCode: r.errorCode,
            baseOffset: r.baseOffset,
            logAppendTimeMs: r.logAppendTimeMs,
            logStartOffset: r.logStartOffset,
            recordErrors: [],
            errorMessage: r.errorMessage,
          };
        }),
      ),
    })),
  );
  if (acks === 0) {
    const failed = responses.flatMap((t) => t.partitionResponses.filter((p) => p.errorCode !== 0).map((p) => `${t.name}-${p.index}: error ${p.errorCode}`));
    if (failed.length > 0) throw new CloseConnection(`acks=0 produce failed (${failed.join(', ')})`);
    return null;
  }
  return { responses, throttleTimeMs: 0 };
}

export async function handleFetch(ctx: BrokerContext, version: number, req: Body, clientId: string | null = null): Promise<Body> {
  const replicaId = version >= 15 ? (req.replicaState?.replicaId ?? -1) : Number(req.replicaId ?? -1);
  // KIP-903: the follower's incarnation (replication/replica-identity.ts).
  const replicaEpoch = version >= 15 ? Number(req.replicaState?.replicaEpoch ?? -1) : replicaEpochFromClientId(clientId, replicaId);
  if (version >= 7 && Number(req.sessionId) !== 0) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
  }
  const parts: FetchPartitionRequest[] = [];
  for (const t of req.topics as Body[]) {
    for (const p of t.partitions as Body[]) {
      parts.push({
        topic: t.topic,
        partition: p.partition,
        fetchOffset: Number(p.fetchOffset),
        currentLeaderEpoch: version >= 9 ? p.currentLeaderEpoch : -1,
        lastFetchedEpoch: version >= 12 ? p.lastFetchedEpoch : -1,
        partitionMaxBytes: Math.max(0, p.partitionMaxBytes),
      });
    }
  }
  const maxBytes = version >= 3 ? Math.max(0, Number(req.maxBytes)) : Number.MAX_SAFE_INTEGER;
  const minBytes = Math.max(0, Number(req.minBytes));
  const maxWaitMs = Math.max(0, Math.min(Number(req.maxWaitMs), MAX_FETCH_WAIT_MS));
  const { clock, timers } = ctx.runtime;
  const deadline = clock.nowMs() + maxWaitMs;

  // The follower's fetch offsets count once, on arrival; long-poll rounds only re-read.
  let results = readAll(ctx, replicaId, parts, maxBytes, true, replicaEpoch);
  while (!satisfied(results, minBytes) && clock.nowMs() < deadline) {
    await new Promise<void>((resolve) => {
      const timer = timers.setTimeout(done, Math.max(0, deadline - clock.nowMs()));
      // A wake-up re-reads after the current I/O phase (setImmediate), not at once: produce requests
      // read in the same poll are all appended first, so one follower round carries them all instead
      // of a round per request (the wait it adds is one turn of the event loop).
      let woken = false;
      const unwatch = ctx.replicas.watch(parts, () => {
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
    results = readAll(ctx, replicaId, parts, maxBytes, false, replicaEpoch);
  }
  const byTopic = new Map<string, FetchPartitionResult[]>();
  for (const r of results) {
    const list = byTopic.get(r.topic) ?? [];
    list.push(r);
    byTopic.set(r.topic, list);
  }
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [...byTopic].map(([topic, ps]) => ({
      topic,
      partitions: ps.map((r) => ({
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

function readAll(ctx: BrokerContext, replicaId: number, parts: FetchPartitionRequest[], maxBytes: number, recordProgress: boolean, replicaEpoch: number): FetchPartitionResult[] {
  let budget = maxBytes;
  let first = true;
  return parts.map((p) => {
    // Kafka's rule: the first non-empty partition may exceed the budget by one batch, so progress is always possible.
    const r = ctx.replicas.readPartition(replicaId, p, first ? Math.max(budget, 1) : budget, recordProgress, replicaEpoch);
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
