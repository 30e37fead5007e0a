/** PartitionLog.open recovery: torn tails, CRC damage, garbage, broken older segments, indexes and checkpoints. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultLogConfig, EPOCH_CHECKPOINT_FILE, PartitionLog, type LogConfig } from '../../../broker/log/partition-log.ts';
import { listSnapshotOffsets, snapshotFileName } from '../../../broker/log/producer-snapshot.ts';
import { CLEAN_SHUTDOWN_FILE } from '../../../broker/log/recovery-point.ts';
import { segmentFileName } from '../../../broker/log/segment.ts';
import { simpleBatch } from './batch-builder.ts';
import { useTmpDirs } from './log-test-util.ts';

const tmpDir = useTmpDirs();
const cfg: LogConfig = { ...defaultLogConfig, segmentBytes: 2000, indexIntervalBytes: 200 };

/** Writes `n` batches of 3 records (epoch 1 for the first half, 2 after) and returns each batch's bytes. */
function writeLog(dir: string, n: number, config = cfg): Buffer[] {
  const log = PartitionLog.open(dir, config);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const b = simpleBatch(3, 60, i);
    log.appendAsLeader(b, i < n / 2 ? 1 : 2);
    out.push(b);
  }
  log.close();
  // The damage each test does next stands for a crash: a crashed broker leaves no clean-shutdown marker.
  fs.rmSync(path.join(dir, CLEAN_SHUTDOWN_FILE));
  return out;
}

function lastSegmentPath(dir: string): string {
  const logs = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
  return path.join(dir, logs.at(-1)!);
}

function expectHolds(log: PartitionLog, batches: Buffer[]): void {
  expect(log.logEndOffset).toBe(batches.length * 3);
  const all = log.read(0, 1 << 24, log.logEndOffset).records;
  expect(all.equals(Buffer.concat(batches))).toBe(true);
}

describe('PartitionLog recovery', () => {
  it('cuts a torn last batch and keeps everything before it', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 30);
    const seg = lastSegmentPath(dir);
    const size = fs.statSync(seg).size;
    fs.truncateSync(seg, size - 20);
    const log = PartitionLog.open(dir, cfg);
    expect(log.recovery.bytesTruncated).toBe(batches.at(-1)!.length - 20);
    expect(log.recovery.badReason).toMatch(/torn batch/);
    expectHolds(log, batches.slice(0, -1));
    expect(log.appendAsLeader(simpleBatch(1), 2).baseOffset).toBe(87);
    log.close();
  });

  it('cuts a last batch torn inside its size field', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 10);
    const seg = lastSegmentPath(dir);
    fs.truncateSync(seg, fs.statSync(seg).size - batches.at(-1)!.length + 5);
    const log = PartitionLog.open(dir, cfg);
    expect(log.recovery).toMatchObject({ bytesTruncated: 5, badReason: expect.stringMatching(/size field/) });
    expectHolds(log, batches.slice(0, -1));
    log.close();
  });

  it('cuts a last batch whose CRC no longer matches (one flipped byte)', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 12);
    const seg = lastSegmentPath(dir);
    const data = fs.readFileSync(seg);
    data[data.length - 30]! ^= 0x01;
    fs.writeFileSync(seg, data);
    const log = PartitionLog.open(dir, cfg);
    expect(log.recovery.bytesTruncated).toBe(batches.at(-1)!.length);
    expect(log.recovery.badReason).toMatch(/CRC/);
    expectHolds(log, batches.slice(0, -1));
    log.close();
  });

  it('cuts a last batch whose base offset (outside the CRC) was damaged', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 12);
    const seg = lastSegmentPath(dir);
    const data = fs.readFileSync(seg);
    data[data.length - batches.at(-1)!.length + 7]! ^= 0x04;
    fs.writeFileSync(seg, data);
    const log = PartitionLog.open(dir, cfg);
    expect(log.recovery.badReason).toMatch(/base offset/);
    expectHolds(log, batches.slice(0, -1));
    log.close();
  });

  it('drops any garbage appended after the last batch', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (garbage) => {
        const dir = tmpDir();
        const batches = writeLog(dir, 6);
        fs.appendFileSync(lastSegmentPath(dir), garbage);
        const log = PartitionLog.open(dir, cfg);
        expect(log.recovery.bytesTruncated).toBe(garbage.length);
        expect(log.recovery.batchesRecovered).toBe(6);
        expectHolds(log, batches);
        log.close();
      }),
      { numRuns: 25 },
    );
  });

  it('recovers exactly the batches wholly before a random cut', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, cutAt) => {
        const dir = tmpDir();
        const batches = writeLog(dir, n, { ...cfg, segmentBytes: 1 << 20 });
        const total = batches.reduce((s, b) => s + b.length, 0);
        const cut = Math.floor(cutAt * total);
        fs.truncateSync(lastSegmentPath(dir), cut);
        let kept = 0;
        let bytes = 0;
        while (kept < n && bytes + batches[kept]!.length <= cut) bytes += batches[kept++]!.length;
        const log = PartitionLog.open(dir, cfg);
        expect(log.recovery.bytesTruncated).toBe(cut - bytes);
        expectHolds(log, batches.slice(0, kept));
        // The epoch cache never points past the recovered end.
        for (const e of log.epochCache.entries) expect(e.startOffset).toBeLessThan(log.logEndOffset);
        log.close();
      }),
      { numRuns: 30 },
    );
  });

  it('rebuilds missing or damaged index files', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 30);
    const indexes = fs.readdirSync(dir).filter((f) => f.endsWith('.index')).sort();
    expect(indexes.length).toBeGreaterThan(2);
    const original = indexes.map((f) => fs.readFileSync(path.join(dir, f)));
    fs.rmSync(path.join(dir, indexes[0]!));
    fs.rmSync(path.join(dir, indexes.at(-1)!));
    fs.writeFileSync(path.join(dir, indexes[1]!), Buffer.from([0, 0, 0, 9, 0, 0, 0, 1, 0xff]));
    const log = PartitionLog.open(dir, cfg);
    expect(log.recovery).toMatchObject({ indexesRebuilt: 3, bytesTruncated: 0, badReason: null });
    indexes.forEach((f, i) => expect(fs.readFileSync(path.join(dir, f)).equals(original[i]!)).toBe(true));
    expectHolds(log, batches);
    for (let off = 0; off < log.logEndOffset; off += 7) {
      const r = log.read(off, 1, log.logEndOffset);
      expect(r.records.equals(batches[Math.floor(off / 3)]!)).toBe(true);
    }
    log.close();
  });

  it('without producer snapshots (the fallback scan), cuts at a broken batch in an older segment and deletes every later segment', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 30);
    // Below the recovery point a segment is trusted; with no snapshot every segment is scanned.
    for (const o of listSnapshotOffsets(dir)) fs.rmSync(path.join(dir, snapshotFileName(o)));
    const logs = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
    expect(logs.length).toBeGreaterThan(3);
    const second = path.join(dir, logs[1]!);
    const secondBase = Number(logs[1]!.slice(0, 20));
    const data = fs.readFileSync(second);
    const firstSize = 12 + data.readInt32BE(8);
    data.writeInt32BE(1 << 30, firstSize + 8); // the second batch's size field now claims 1 GiB
    fs.writeFileSync(second, data);
    const log = PartitionLog.open(dir, cfg);
    expect(log.segmentBases).toEqual([0, secondBase]);
    expect(log.recovery.segmentsScanned).toBe(2);
    expect(log.recovery.segmentsDeleted).toBe(logs.length - 2);
    expect(log.logEndOffset).toBe(secondBase + 3);
    expectHolds(log, batches.slice(0, secondBase / 3 + 1));
    for (const f of logs.slice(2)) expect(fs.existsSync(path.join(dir, f))).toBe(false);
    log.close();
  });

  it('removes leftover temp files and indexes without a segment', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 3);
    fs.writeFileSync(path.join(dir, segmentFileName(900, '.index')), Buffer.alloc(16));
    fs.writeFileSync(path.join(dir, `${EPOCH_CHECKPOINT_FILE}.tmp`), 'half written');
    const log = PartitionLog.open(dir, cfg);
    expect(fs.readdirSync(dir).sort()).toEqual([
      segmentFileName(0, '.index'),
      segmentFileName(0, '.log'),
      snapshotFileName(9),
      EPOCH_CHECKPOINT_FILE,
      'log-start-offset-checkpoint',
    ]);
    expectHolds(log, batches);
    log.close();
  });

  it('deletes a segment that does not continue the log', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 4, { ...cfg, segmentBytes: 1 << 20 });
    fs.writeFileSync(path.join(dir, segmentFileName(50, '.log')), simpleBatch(1, 10, 0, { baseOffset: 50 }));
    const log = PartitionLog.open(dir, cfg);
    expect(log.recovery).toMatchObject({ segmentsDeleted: 1, badReason: expect.stringMatching(/does not continue/) });
    expectHolds(log, batches);
    log.close();
  });

  it('cuts epoch-cache entries beyond the recovered end, and rebuilds a missing or corrupt checkpoint', () => {
    const dir = tmpDir();
    const batches = writeLog(dir, 10, { ...cfg, segmentBytes: 1 << 20 }); // epoch 1 at 0, epoch 2 at 15
    const cp = path.join(dir, EPOCH_CHECKPOINT_FILE);
    expect(fs.readFileSync(cp, 'utf8')).toBe('0\n2\n1 0\n2 15\n');
    const seg = lastSegmentPath(dir);
    fs.truncateSync(seg, batches.slice(0, 5).reduce((s, b) => s + b.length, 0) + 3);
    let log = PartitionLog.open(dir, cfg);
    expect(log.epochCache.entries).toEqual([{ epoch: 1, startOffset: 0 }]);
    expect(fs.readFileSync(cp, 'utf8')).toBe('0\n1\n1 0\n');
    log.appendAsLeader(simpleBatch(1), 4);
    log.close();
    log = PartitionLog.open(dir, cfg);
    expect(log.recovery.epochCacheRebuilt).toBe(false);
    log.close();
    fs.rmSync(cp);
    log = PartitionLog.open(dir, cfg);
    expect(log.recovery.epochCacheRebuilt).toBe(true);
    expect(log.epochCache.entries).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 4, startOffset: 15 },
    ]);
    log.close();
    fs.writeFileSync(cp, 'not a checkpoint');
    log = PartitionLog.open(dir, cfg);
    expect(log.recovery.epochCacheRebuilt).toBe(true);
    expect(log.epochCache.latestEpoch).toBe(4);
    expect(fs.readFileSync(cp, 'utf8')).toBe('0\n2\n1 0\n4 15\n');
    log.close();
  });
});
