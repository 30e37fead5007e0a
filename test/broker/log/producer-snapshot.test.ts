/**
 * Producer-state snapshots and the bounded open (producer-snapshot.ts, recovery-point.ts) on the
 * real PartitionLog: idempotent dedup answers the same after a restart that used a snapshot as after
 * a full scan, open reads only what the recovery point requires, and snapshots never describe data
 * the log no longer holds (truncation and torn tails).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSnapshot, encodeSnapshot, listSnapshotOffsets, snapshotFileName } from '../../../broker/log/producer-snapshot.ts';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../../../broker/log/partition-log.ts';
import { CLEAN_SHUTDOWN_FILE } from '../../../broker/log/recovery-point.ts';
import type { ProducerEntry } from '../../../broker/log/producer-state.ts';
import { simpleBatch } from './batch-builder.ts';
import { useTmpDirs } from './log-test-util.ts';

const tmpDir = useTmpDirs();
const cfg: LogConfig = { ...defaultLogConfig, segmentBytes: 600, indexIntervalBytes: 128 };

/** Producer `pid` (epoch 0) appends `n` one-record batches with sequences from `firstSeq`. */
function produce(log: PartitionLog, pid: number, firstSeq: number, n: number, records = 1, valueBytes = 20): void {
  for (let i = 0; i < n; i++) {
    log.appendAsLeader(simpleBatch(records, valueBytes, firstSeq + i, { producerId: pid, producerEpoch: 0, baseSequence: firstSeq + i * records }), 0);
  }
}

function stateOf(log: PartitionLog): Array<[number, ProducerEntry]> {
  return [...log.producerState.entries()].sort((a, b) => a[0] - b[0]);
}

/** A copy of `dir` opened with every snapshot removed: the state a full scan gives. */
function fullScanState(dir: string): Array<[number, ProducerEntry]> {
  const copy = tmpDir();
  fs.cpSync(dir, copy, { recursive: true });
  for (const o of listSnapshotOffsets(copy)) fs.rmSync(path.join(copy, snapshotFileName(o)));
  fs.rmSync(path.join(copy, CLEAN_SHUTDOWN_FILE), { force: true });
  const log = PartitionLog.open(copy, cfg);
  expect(log.recovery.segmentsScanned).toBe(log.segmentCount);
  const state = stateOf(log);
  log.close();
  return state;
}

/** Leaves the directory as a crash would: no clean-shutdown marker. */
function crash(dir: string): void {
  fs.rmSync(path.join(dir, CLEAN_SHUTDOWN_FILE), { force: true });
}

describe('producer-state snapshots', () => {
  it('round-trips a snapshot and refuses one whose bytes or offset are wrong', () => {
    const entries = new Map<number, ProducerEntry>([
      [7, { producerEpoch: 3, lastTimestampMs: 1234, batches: [{ firstSeq: 0, lastSeq: 4, firstOffset: 10, lastOffset: 14 }] }],
      [2 ** 40, { producerEpoch: 0, lastTimestampMs: 5, batches: [] }],
    ]);
    const buf = encodeSnapshot(99, entries);
    expect(decodeSnapshot(buf, 99)).toEqual(entries);
    expect(decodeSnapshot(buf, 98)).toBeNull();
    for (let i = 0; i < buf.length; i++) {
      const bad = Buffer.from(buf);
      bad[i]! ^= 0x10;
      expect(decodeSnapshot(bad, 99)).toBeNull();
    }
    expect(decodeSnapshot(buf.subarray(0, buf.length - 1), 99)).toBeNull();
  });

  it('answers duplicates after a restart from a snapshot exactly as after a full scan', () => {
    const dir = tmpDir();
    let log = PartitionLog.open(dir, cfg);
    produce(log, 1, 0, 40);
    produce(log, 2, 0, 13, 3);
    produce(log, 1, 40, 7);
    const lastOfP1 = log.logEndOffset - 1;
    expect(log.segmentCount).toBeGreaterThan(10);
    const before = stateOf(log);
    log.close();
    crash(dir);

    log = PartitionLog.open(dir, cfg);
    expect(log.recovery.snapshotOffset).toBe(log.segmentBases.at(-1));
    expect(log.recovery.segmentsScanned).toBe(1);
    expect(stateOf(log)).toEqual(before);
    expect(stateOf(log)).toEqual(fullScanState(dir));
    // The last batch retried: a duplicate with its original offset; the next sequence appends.
    expect(log.producerState.check(1, 0, 46, 46)).toEqual({ kind: 'duplicate', firstOffset: lastOfP1, lastOffset: lastOfP1 });
    expect(log.producerState.check(2, 0, 36, 38)).toMatchObject({ kind: 'duplicate' });
    expect(log.producerState.check(1, 0, 47, 47)).toEqual({ kind: 'append' });
    expect(log.producerState.check(1, 0, 49, 49)).toMatchObject({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    log.close();
  });

  it('reads only the segments the recovery point requires on open', () => {
    const dir = tmpDir();
    let log = PartitionLog.open(dir, cfg);
    produce(log, 1, 0, 130);
    const segments = log.segmentCount;
    expect(segments).toBeGreaterThanOrEqual(20);
    const end = log.logEndOffset;
    log.close();

    // Clean shutdown: the recovery point is the log end, nothing is read.
    log = PartitionLog.open(dir, cfg);
    expect(log.recovery).toMatchObject({ cleanShutdown: true, segmentsScanned: 0, snapshotOffset: end, batchesRecovered: 0 });
    expect(log.logEndOffset).toBe(end);
    log.close();

    // A crash: only the active segment is read.
    crash(dir);
    log = PartitionLog.open(dir, cfg);
    expect(log.recovery).toMatchObject({ cleanShutdown: false, segmentsScanned: 1, snapshotOffset: log.segmentBases.at(-1) });
    log.close();

    // A corrupt newest usable snapshot: the one before it is used, one more segment is read.
    crash(dir);
    const bases = log.segmentBases;
    const newest = path.join(dir, snapshotFileName(bases.at(-1)!));
    const data = fs.readFileSync(newest);
    data[data.length - 1]! ^= 0xff;
    fs.writeFileSync(newest, data);
    log = PartitionLog.open(dir, cfg);
    expect(log.recovery).toMatchObject({ segmentsScanned: 2, snapshotOffset: bases.at(-2) });
    // The corrupt file was replaced by a good one, written when the scan reached the active segment.
    expect(decodeSnapshot(fs.readFileSync(newest), bases.at(-1)!)).not.toBeNull();
    log.close();

    // No snapshot at all: the fallback scans every segment.
    crash(dir);
    for (const o of listSnapshotOffsets(dir)) fs.rmSync(path.join(dir, snapshotFileName(o)));
    log = PartitionLog.open(dir, cfg);
    expect(log.recovery).toMatchObject({ segmentsScanned: segments, snapshotOffset: null });
    expect(log.producerState.check(1, 0, 129, 129)).toMatchObject({ kind: 'duplicate' });
    log.close();

    // That scan left a snapshot at the active segment's base. A marker that does not match the
    // files (the active segment grew after it) is not trusted.
    expect(listSnapshotOffsets(dir)).toContain(bases.at(-1));
    log = PartitionLog.open(dir, cfg);
    log.close();
    fs.appendFileSync(path.join(dir, `${String(bases.at(-1)).padStart(20, '0')}.log`), Buffer.alloc(7));
    log = PartitionLog.open(dir, cfg);
    expect(log.recovery).toMatchObject({ cleanShutdown: false, bytesTruncated: 7, segmentsScanned: 1 });
    log.close();
  });

  it('never starts from a snapshot above the recovery point (a torn tail after a clean close)', () => {
    const dir = tmpDir();
    let log = PartitionLog.open(dir, cfg);
    produce(log, 1, 0, 12);
    const lastBatchBytes = simpleBatch(1, 20, 11).length;
    const end = log.logEndOffset;
    log.close(); // snapshot at the log end, sequence 11 included
    expect(listSnapshotOffsets(dir)).toContain(end);
    // Then a crash loses the last batch (it was never fsynced after a reopen, say) and the marker.
    crash(dir);
    const active = path.join(dir, `${String(log.segmentBases.at(-1)).padStart(20, '0')}.log`);
    fs.truncateSync(active, fs.statSync(active).size - lastBatchBytes);
    log = PartitionLog.open(dir, cfg);
    expect(log.logEndOffset).toBe(end - 1);
    expect(log.recovery.snapshotOffset).toBeLessThan(end);
    // Sequence 11 is gone from the log: its retry must be appended, not answered as a duplicate.
    expect(log.producerState.check(1, 0, 11, 11)).toEqual({ kind: 'append' });
    expect(listSnapshotOffsets(dir).every((o) => o <= log.logEndOffset)).toBe(true);
    log.close();
  });

  it('truncation deletes snapshots above the new end, so a later truncation cannot start from one', () => {
    const dir = tmpDir();
    const log = PartitionLog.open(dir, { ...cfg, segmentBytes: 400 });
    produce(log, 1, 0, 30); // one-record batches: a roll, and a snapshot, every few offsets
    const oldSnapshots = listSnapshotOffsets(dir);
    log.truncateTo(5);
    expect(log.logEndOffset).toBe(5);
    expect(listSnapshotOffsets(dir).every((o) => o <= 5)).toBe(true);
    // Producer 2 writes ten-record batches of small records: the active segment now spans offsets
    // where old snapshots were, and no roll writes a fresh snapshot there.
    const segments = log.segmentCount;
    produce(log, 2, 0, 2, 10, 0);
    expect(log.logEndOffset).toBe(25);
    expect(log.segmentCount).toBe(segments);
    const activeBase = log.segmentBases.at(-1)!;
    expect(oldSnapshots.some((o) => o > activeBase && o <= 15)).toBe(true); // the setup has its power
    log.truncateTo(15);
    // Producer 2's first batch (offsets 5..14) is still in the log, producer 1's sequence 5 is not.
    expect(log.producerState.check(2, 0, 0, 9)).toEqual({ kind: 'duplicate', firstOffset: 5, lastOffset: 14 });
    expect(log.producerState.check(1, 0, 5, 5)).toEqual({ kind: 'append' });
    expect(log.producerState.check(1, 0, 4, 4)).toEqual({ kind: 'duplicate', firstOffset: 4, lastOffset: 4 });
    log.close();
  });

  it('truncateFullyAndStartAt deletes every snapshot', () => {
    const dir = tmpDir();
    const log = PartitionLog.open(dir, cfg);
    produce(log, 1, 0, 20);
    expect(listSnapshotOffsets(dir).length).toBeGreaterThan(0);
    log.truncateFullyAndStartAt(5000);
    expect(listSnapshotOffsets(dir)).toEqual([]);
    log.close();
  });
});
