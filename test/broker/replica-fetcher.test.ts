/**
 * The replica fetcher against a fake leader (no sockets): it backs off on a degenerate answer
 * (a DivergingEpoch of {-1,-1}, which the wire cannot tell from "none") instead of spinning, and
 * it never truncates after an await once the replica stopped following that leader at that epoch;
 * it fetches by its replica's topic id (v13) and on UNKNOWN_TOPIC_ID / INCONSISTENT_TOPIC_ID keeps its
 * log and the partition, and never applies an answer made under another topic id (KIP-516).
 * The replicas are real (Replica over a PartitionLog on the simulated disk; ReplicaManager's own
 * applyFetched).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../broker/config.ts';
import { defaultLogConfig, PartitionLog } from '../../broker/log/partition-log.ts';
import type { Logger } from '../../broker/logger.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { FOLLOWER_FETCH_VERSION, ReplicaFetcherManager, type FetcherReplicas, type LeaderConnection } from '../../broker/replica-fetcher.ts';
import { Replica, ReplicaManager } from '../../broker/replica-manager.ts';
import { SimFileSystem } from '../sim/sim-fs.ts';
import { makeBatch, simpleBatch } from './log/batch-builder.ts';

const debugLines: string[] = [];
const quiet: Logger = { debug: (m: string) => void debugLines.push(m), info() {}, warn() {}, error() {}, child: () => quiet };
const config = buildConfig({ 'replica.fetch.backoff.ms': '100', 'replica.fetch.wait.max.ms': '200' });
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
  debugLines.length = 0;
});

/** A follower of broker 2 at leader epoch `epoch`, holding `records` records of epoch 0. */
function follower(records: number, epoch = 1): Replica {
  const log = PartitionLog.open('/d/t-0', defaultLogConfig, Date.now, new SimFileSystem());
  for (let i = 0; i < records; i++) log.appendAsLeader(simpleBatch(1, 10, i), 0);
  const r = new Replica('t', 'topic-id-t', 0, log);
  r.role = 'follower';
  r.leaderId = 2;
  r.leaderEpoch = epoch;
  return r;
}

type Handler = (apiKey: number, body: any) => Promise<any>;

function start(r: Replica, handler: Handler, nowMs?: () => number): { manager: ReplicaFetcherManager; calls: number[]; fetches: Array<{ version: number; body: any }> } {
  const calls: number[] = [];
  const fetches: Array<{ version: number; body: any }> = [];
  const conn: LeaderConnection = {
    closed: false,
    // Each answer arrives on a later turn of the event loop, as a network answer does.
    request: async (apiKey, v, body) => {
      calls.push(apiKey);
      if (apiKey === ApiKeys.Fetch) fetches.push({ version: v, body });
      await new Promise((resolve) => setImmediate(resolve));
      return handler(apiKey, body);
    },
    close() {},
  };
  const rm = new ReplicaManager({ brokerId: 1, dataDir: mkdtempSync(join(tmpdir(), 'fl-fetch-')), config, logger: quiet, isr: { alterPartition: async () => undefined } });
  const replicas: FetcherReplicas = { get: () => r, applyFetched: (rep, res) => rm.applyFetched(rep, res) };
  const manager = new ReplicaFetcherManager({ brokerId: 1, config, logger: quiet, replicas, image: () => null, brokerEpoch: () => 1, connect: async () => conn, ...(nowMs ? { nowMs } : {}) });
  stops.push(async () => {
    await manager.stop();
    rm.stop();
  });
  manager.update([r]);
  return { manager, calls, fetches };
}

const partitionAnswer = (over: object) => ({
  responses: [{ topicId: 'topic-id-t', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 0n, lastStableOffset: 0n, logStartOffset: 0n, records: null, divergingEpoch: { epoch: -1, endOffset: -1n }, ...over }] }],
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replica fetcher', () => {
  it('backs off on an immediate answer that carries nothing (DivergingEpoch {-1,-1}) instead of spinning', async () => {
    const r = follower(3);
    const { calls } = start(r, async () => partitionAnswer({}));
    await sleep(600);
    const fetches = calls.filter((k) => k === ApiKeys.Fetch).length;
    // One fetch per 100 ms back-off at most (a spinning loop makes thousands).
    expect(fetches).toBeGreaterThan(0);
    expect(fetches).toBeLessThanOrEqual(8);
    expect(debugLines.some((l) => l.includes('empty answer'))).toBe(true);
    expect(r.log.logEndOffset).toBe(3);
  });

  it('does not back off after an empty answer that the leader held for the full wait (a long poll)', async () => {
    const r = follower(3);
    let now = 0;
    const { calls } = start(
      r,
      async () => {
        now += 200; // the leader held the fetch for replica.fetch.wait.max.ms
        return partitionAnswer({});
      },
      () => now,
    );
    await sleep(100);
    expect(calls.filter((k) => k === ApiKeys.Fetch).length).toBeGreaterThan(3);
    expect(debugLines.filter((l) => l.includes('backing off'))).toEqual([]);
  });

  it('resolveOutOfRange: does not truncate when the replica was promoted while ListOffsets was out', async () => {
    const r = follower(5);
    let answerListOffsets: (v: unknown) => void = () => {};
    const { manager } = start(r, (apiKey) => {
      if (apiKey === ApiKeys.Fetch) return Promise.resolve(partitionAnswer({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }));
      return new Promise((resolve) => (answerListOffsets = resolve));
    });
    await sleep(100);
    // Promoted (the controller elected this replica) before the old leader's answer arrives.
    r.role = 'leader';
    r.leaderId = 1;
    r.leaderEpoch = 2;
    manager.update([r]);
    answerListOffsets({ topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0, offset: 0n, timestamp: -1n, leaderEpoch: 1 }] }] });
    await sleep(50);
    expect(r.log.logEndOffset).toBe(5);
  });

  it('resolveOutOfRange: still truncates to the leader end when nothing changed', async () => {
    const r = follower(5);
    start(r, async (apiKey) =>
      apiKey === ApiKeys.Fetch
        ? partitionAnswer({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE })
        : { topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0, offset: 2n, timestamp: -1n, leaderEpoch: 1 }] }] },
    );
    await sleep(150);
    expect(r.log.logEndOffset).toBe(2);
  });

  it('divergence: a DivergingEpoch answer is not applied once the replica follows at a newer epoch', async () => {
    const r = follower(5);
    let answerFetch: (v: unknown) => void = () => {};
    const { manager } = start(r, () => new Promise((resolve) => (answerFetch = resolve)));
    await sleep(50);
    r.leaderEpoch = 3; // a new leader epoch, same leader: the loop is re-assigned
    manager.update([r]);
    answerFetch(partitionAnswer({ divergingEpoch: { epoch: 0, endOffset: 1n } }));
    await sleep(50);
    expect(r.log.logEndOffset).toBe(5);
  });

  describe('topic ids (Fetch v13, KIP-516)', () => {
    /** A batch the leader could send the follower at its log end (offset 5, epoch 0). */
    const next = () => makeBatch({ values: [Buffer.from('x')], baseOffset: 5, leaderEpoch: 0 });

    it('fetches with v13, naming the topic by its replica\'s topic id only', async () => {
      const r = follower(5);
      const { fetches } = start(r, async () => partitionAnswer({}));
      await sleep(50);
      expect(FOLLOWER_FETCH_VERSION).toBe(13);
      expect(fetches[0]?.version).toBe(13);
      expect(fetches[0]?.body.topics).toEqual([{ topicId: 'topic-id-t', partitions: [expect.objectContaining({ partition: 0, fetchOffset: 5 })] }]);
    });

    it.each([
      ['UNKNOWN_TOPIC_ID', ErrorCode.UNKNOWN_TOPIC_ID],
      ['INCONSISTENT_TOPIC_ID', ErrorCode.INCONSISTENT_TOPIC_ID],
    ])('on %s it keeps its log and the partition, appends nothing, and asks again after the back-off', async (_name, errorCode) => {
      const r = follower(5);
      // The error comes with what a leader of another incarnation would have sent: records and a divergence.
      const { calls } = start(r, async () => partitionAnswer({ errorCode, records: next(), highWatermark: 6n, divergingEpoch: { epoch: 0, endOffset: 1n } }));
      await sleep(350);
      expect(r.log.logEndOffset).toBe(5);
      expect(r.highWatermark).toBe(0);
      const fetches = calls.filter((k) => k === ApiKeys.Fetch).length;
      // Still fetched (the partition is kept), once per 100 ms back-off.
      expect(fetches).toBeGreaterThanOrEqual(2);
      expect(fetches).toBeLessThanOrEqual(5);
    });

    it('an answer under another topic id than the replica\'s is not applied', async () => {
      const r = follower(5);
      start(r, async () => ({ responses: [{ topicId: 'topic-id-of-another-incarnation', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 6n, lastStableOffset: 6n, logStartOffset: 0n, records: next(), divergingEpoch: { epoch: -1, endOffset: -1n } }] }] }));
      await sleep(150);
      expect(r.log.logEndOffset).toBe(5);
    });

    it('the same answer under its own topic id is applied (the tests above fail on the id, not on the batch)', async () => {
      const r = follower(5);
      start(r, async () => partitionAnswer({ records: next(), highWatermark: 6n }));
      await sleep(150);
      expect(r.log.logEndOffset).toBe(6);
    });
  });
});
