/** Retention on the real PartitionLog (log/retention.ts): time and size rules, bounds, crash safety. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetOutOfRangeError } from '../../../broker/log/errors.ts';
import { defaultLogConfig, LOG_START_CHECKPOINT_FILE, PartitionLog, type LogConfig } from '../../../broker/log/partition-log.ts';
import { listSnapshotOffsets } from '../../../broker/log/producer-snapshot.ts';
import { applyRetention, segmentsToDelete, type RetentionSegment } from '../../../broker/log/retention.ts';
import { segmentFileName } from '../../../broker/log/segment.ts';
import { simpleBatch } from './batch-builder.ts';
import { useTmpDirs } from './log-test-util.ts';

const tmpDir = useTmpDirs();
const cfg: LogConfig = { ...defaultLogConfig, segmentBytes: 500 };
const HOUR = 3_600_000;

/** 20 batches of 2 records, batch i stamped at hour i, in segments of about 4 batches. */
function hourlyLog(dir: string): PartitionLog {
  const log = PartitionLog.open(dir, cfg);
  for (let i = 0; i < 20; i++) log.appendAsLeader(simpleBatch(2, 40, i, { baseTimestampMs: i * HOUR }), i < 10 ? 1 : 2);
  return log;
}

describe('retention', () => {
  it('deletes whole segments older than retention.ms, never the active one, and moves the log start', () => {
    const dir = tmpDir();
    const log = hourlyLog(dir);
    const bases = log.segmentBases;
    expect(bases.length).toBeGreaterThan(4);
    // Keep 10 hours: every segment whose newest batch is before hour 9.5 goes.
    const now = 19.5 * HOUR;
    const res = applyRetention(log, { retentionMs: 10 * HOUR, retentionBytes: -1 }, now, log.logEndOffset);
    // Batch 10 (offsets 20-21, hour 10) is the oldest within retention: the log now starts at its segment.
    const expectedStart = bases.filter((b) => b <= 20).at(-1)!;
    expect(expectedStart).toBeGreaterThan(0);
    expect(res.reason).toBe('retention.ms');
    expect(log.logStartOffset).toBe(expectedStart);
    expect(res.logStartOffset).toBe(expectedStart);
    // Every kept segment's newest batch is within retention, and the segment before the start was not.
    for (const s of log.segmentInfos().slice(0, -1)) expect(now - s.maxTimestampMs()).toBeLessThanOrEqual(10 * HOUR);
    expect(() => log.read(0, 1000, log.logEndOffset)).toThrow(OffsetOutOfRangeError);
    expect(log.read(log.logStartOffset, 1000, log.logEndOffset).batches).toBeGreaterThan(0);
    expect(log.epochCache.entries[0]!.startOffset).toBe(log.logStartOffset);
    expect(listSnapshotOffsets(dir).every((o) => o >= log.logStartOffset)).toBe(true);
    for (const b of bases.filter((b) => b < log.logStartOffset)) expect(fs.existsSync(path.join(dir, segmentFileName(b, '.log')))).toBe(false);

    // Far in the future everything but the active segment goes.
    applyRetention(log, { retentionMs: 0, retentionBytes: -1 }, 1000 * HOUR, log.logEndOffset);
    expect(log.segmentCount).toBe(1);
    expect(log.logStartOffset).toBe(bases.at(-1));
    const start = log.logStartOffset;
    log.close();
    const again = PartitionLog.open(dir, cfg);
    expect([again.logStartOffset, again.logEndOffset]).toEqual([start, 40]);
    again.close();
  });

  it('deletes the oldest segments while the log exceeds retention.bytes by a whole segment', () => {
    const log = hourlyLog(tmpDir());
    const sizes = log.segmentInfos().map((s) => s.sizeBytes);
    const total = sizes.reduce((a, b) => a + b, 0);
    const limit = total - sizes[0]! - sizes[1]! - 1; // two segments must go, a third would be too many
    const res = applyRetention(log, { retentionMs: -1, retentionBytes: limit }, 0, log.logEndOffset);
    expect(res).toMatchObject({ count: 2, reason: 'retention.bytes', bytesDeleted: sizes[0]! + sizes[1]! });
    expect(log.segmentInfos().reduce((a, s) => a + s.sizeBytes, 0)).toBeGreaterThan(limit);
    // -1 and -1: nothing.
    expect(applyRetention(log, { retentionMs: -1, retentionBytes: -1 }, 1e15, log.logEndOffset).count).toBe(0);
    log.close();
  });

  it('keeps every segment that holds offsets at or above the high watermark', () => {
    const log = hourlyLog(tmpDir());
    const bases = log.segmentBases;
    const hw = bases[2]! + 1;
    applyRetention(log, { retentionMs: 0, retentionBytes: -1 }, 1000 * HOUR, hw);
    expect(log.logStartOffset).toBe(bases[2]);
    log.close();
  });

  it('finishes a deletion a crash interrupted (files gone, log-start checkpoint not yet written)', () => {
    const dir = tmpDir();
    const log = hourlyLog(dir);
    const bases = log.segmentBases;
    log.close();
    for (const b of bases.slice(0, 2)) {
      fs.rmSync(path.join(dir, segmentFileName(b, '.log')));
      fs.rmSync(path.join(dir, segmentFileName(b, '.index')));
    }
    expect(fs.readFileSync(path.join(dir, LOG_START_CHECKPOINT_FILE), 'utf8')).toBe('0\n');
    const again = PartitionLog.open(dir, cfg);
    expect([again.logStartOffset, again.logEndOffset]).toEqual([bases[2], 40]);
    expect(fs.readFileSync(path.join(dir, LOG_START_CHECKPOINT_FILE), 'utf8')).toBe(`${bases[2]}\n`);
    again.close();
  });

  it('segmentsToDelete deletes a prefix that each rule justifies, never the last segment', () => {
    const seg = fc.record({ sizeBytes: fc.integer({ min: 0, max: 1000 }), ts: fc.integer({ min: -1, max: 10_000 }) });
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 12 }), fc.integer({ min: -1, max: 12_000 }), fc.integer({ min: -1, max: 12_000 }), fc.integer({ min: 0, max: 20 }), (specs, retentionMs, retentionBytes, hwSegments) => {
        const segments: RetentionSegment[] = specs.map((s, i) => ({ baseOffset: i * 10, sizeBytes: s.sizeBytes, maxTimestampMs: () => s.ts }));
        const now = 10_000;
        const { count } = segmentsToDelete(segments, { retentionMs, retentionBytes }, now, hwSegments * 10);
        expect(count).toBeLessThan(segments.length);
        expect(count).toBeLessThanOrEqual(hwSegments);
        const total = specs.reduce((a, s) => a + s.sizeBytes, 0);
        let deleted = 0;
        for (let i = 0; i < count; i++) {
          deleted += specs[i]!.sizeBytes;
          const timeOk = retentionMs >= 0 && specs.slice(0, i + 1).every((s) => now - s.ts > retentionMs);
          const sizeOk = retentionBytes >= 0 && total - deleted >= retentionBytes;
          expect(timeOk || sizeOk).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
