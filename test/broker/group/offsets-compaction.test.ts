/**
 * Compaction of an offsets partition (log/cleaner.ts) with the real GroupCoordinator and PartitionLog:
 * many commits to the same keys, a compaction pass, and a fresh load gives the same committed offsets
 * while reading far fewer bytes; tombstones go after delete.retention.ms; the rewritten log survives
 * a restart and keeps its offsets contiguous.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GroupCoordinator, offsetRecordKey } from '../../../broker/group/coordinator.ts';
import { readOffsetsLog } from '../../../broker/group/offsets-load.ts';
import { cleanLog } from '../../../broker/log/cleaner.ts';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../../../broker/log/partition-log.ts';
import { CLEAN_SHUTDOWN_FILE } from '../../../broker/log/recovery-point.ts';
import { buildBatch, decodeRecords } from '../../../broker/protocol/records.ts';
import { useTmpDirs } from '../log/log-test-util.ts';

const tmpDir = useTmpDirs();
const cfg: LogConfig = { ...defaultLogConfig, segmentBytes: 4096 };
const GROUPS = ['g-a', 'g-b', 'g-c'];

function coordinatorOn(log: PartitionLog, nowMs = 1000): GroupCoordinator {
  return new GroupCoordinator({
    nowMs: () => nowMs,
    offsetsPartitions: 1,
    initialRebalanceDelayMs: 0,
    minSessionTimeoutMs: 100,
    maxSessionTimeoutMs: 60_000,
    offsetLog: { append: async (_p, records) => void log.appendAsLeader(buildBatch({ records, baseTimestamp: nowMs }), 0) },
  });
}

/** A fresh coordinator's view of the log: every group's committed offsets, and the bytes the load read. */
function load(log: PartitionLog): { offsets: Record<string, Array<[string, number, number]>>; bytesRead: number } {
  const c = coordinatorOn(log);
  c.beginLoad(0);
  const { records, bytesRead } = readOffsetsLog(log);
  c.finishLoad(0, records);
  const offsets: Record<string, Array<[string, number, number]>> = {};
  for (const g of GROUPS) {
    offsets[g] = c.fetchOffsets(g, null).offsets.map((o): [string, number, number] => [o.topic, o.partition, o.offset]).sort((a, b) => a[1] - b[1]);
  }
  return { offsets, bytesRead };
}

describe('__consumer_offsets compaction', () => {
  it('keeps the latest commit per key: a fresh load gives the same offsets and reads far fewer bytes', async () => {
    const dir = tmpDir();
    const log = PartitionLog.open(dir, cfg);
    const c = coordinatorOn(log);
    c.finishLoad(0, []);
    for (let round = 0; round < 150; round++) {
      for (const g of GROUPS) {
        await c.commit({ groupId: g, generationId: -1, memberId: '', offsets: [0, 1, 2, 3].map((p) => ({ topic: 't', partition: p, offset: round * 10 + p, leaderEpoch: 0, metadata: null })) });
      }
    }
    expect(log.segmentCount).toBeGreaterThan(10);
    const before = load(log);
    expect(before.offsets['g-b']).toEqual([0, 1, 2, 3].map((p) => ['t', p, 1490 + p]));

    const res = cleanLog(log, { nowMs: 1000, deleteRetentionMs: 86_400_000, upToOffset: log.logEndOffset });
    expect(res.segmentsCleaned).toBe(log.segmentCount - 1);
    expect(res.recordsRemoved).toBeGreaterThan(1500);
    const after = load(log);
    expect(after.offsets).toEqual(before.offsets);
    expect(after.bytesRead * 10).toBeLessThan(before.bytesRead);

    // The log end does not move, and one read walks contiguous batches from the start to it.
    const end = log.logEndOffset;
    expect(log.read(0, 1 << 24, end).nextOffset).toBe(end);

    // A second pass changes nothing; the compacted log survives a clean and an unclean restart.
    expect(cleanLog(log, { nowMs: 1000, deleteRetentionMs: 86_400_000, upToOffset: end }).segmentsCleaned).toBe(0);
    log.close();
    let again = PartitionLog.open(dir, cfg);
    expect(again.recovery.segmentsScanned).toBe(0);
    expect(load(again).offsets).toEqual(before.offsets);
    again.close();
    fs.rmSync(path.join(dir, CLEAN_SHUTDOWN_FILE));
    again = PartitionLog.open(dir, cfg);
    expect(again.recovery).toMatchObject({ bytesTruncated: 0, badReason: null });
    expect(load(again).offsets).toEqual(before.offsets);
    again.close();
  });

  it('cleans only below upToOffset (the high watermark), and a newer record above it keeps the older one', () => {
    const log = PartitionLog.open(tmpDir(), { ...cfg, segmentBytes: 1024 });
    const key = offsetRecordKey('g-a', 't', 0);
    const commit = (offset: number): void =>
      void log.appendAsLeader(buildBatch({ baseTimestamp: 1000, records: [{ key, value: Buffer.from(JSON.stringify({ offset, leaderEpoch: 0, metadata: null, commitTimestampMs: 1000 })) }] }), 0);
    for (let i = 0; i < 60; i++) commit(i);
    const bases = log.segmentBases;
    const hw = bases[3]!;
    cleanLog(log, { nowMs: 1000, deleteRetentionMs: 0, upToOffset: hw });
    // Segments 0-2 keep only their range's latest record (in segment 2); segment 3 and later are untouched.
    const values = decodeRecords(log.read(0, 1 << 24, log.logEndOffset).records).map((r) => r.offset);
    expect(values.filter((o) => o < hw)).toEqual([hw - 1]);
    expect(values.filter((o) => o >= hw)).toHaveLength(60 - hw);
    log.close();
  });

  it('drops tombstones only once they are older than delete.retention.ms', () => {
    const mk = (deleteRetentionMs: number): number[] => {
      const log = PartitionLog.open(tmpDir(), { ...cfg, segmentBytes: 1024 });
      const key = offsetRecordKey('g-a', 't', 0);
      for (let i = 0; i < 10; i++) log.appendAsLeader(buildBatch({ baseTimestamp: 1000, records: [{ key, value: Buffer.from(String(i)) }] }), 0);
      log.appendAsLeader(buildBatch({ baseTimestamp: 5000, records: [{ key, value: null }] }), 0);
      const other = offsetRecordKey('g-b', 't', 0);
      for (let i = 0; i < 20; i++) log.appendAsLeader(buildBatch({ baseTimestamp: 6000, records: [{ key: other, value: Buffer.from(String(i)) }] }), 0);
      cleanLog(log, { nowMs: 10_000, deleteRetentionMs, upToOffset: log.logEndOffset });
      const left = decodeRecords(log.read(0, 1 << 24, log.logEndOffset).records).filter((r) => r.key!.equals(key)).map((r) => r.offset);
      log.close();
      return left;
    };
    expect(mk(60_000)).toEqual([10]); // the tombstone stays, the values before it go
    expect(mk(1_000)).toEqual([]); // 5 s old, past a 1 s delete.retention.ms
  });
});
