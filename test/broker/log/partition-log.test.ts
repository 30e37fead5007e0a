/**
 * PartitionLog: a fast-check model test (appends, reads, truncations, reopens across segment rolls must match an
 * in-memory list of batches), plus reads, epochs, truncation, follower appends, producer state and flush policy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogError, NonContiguousAppendError, OffsetOutOfRangeError } from '../../../broker/log/errors.ts';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../../../broker/log/partition-log.ts';
import { baseOffsetOf, lastOffsetOf, leaderEpochOf } from '../../../broker/protocol/batch-header.ts';
import { simpleBatch } from './batch-builder.ts';
import { useTmpDirs } from './log-test-util.ts';

const tmpDir = useTmpDirs();

function config(over: Partial<LogConfig> = {}): LogConfig {
  return { ...defaultLogConfig, segmentBytes: 4096, indexIntervalBytes: 256, ...over };
}

/** Splits a read result into (baseOffset, lastOffset) pairs. */
function batchesIn(buf: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let pos = 0; pos < buf.length; pos += 12 + buf.readInt32BE(pos + 8)) out.push([baseOffsetOf(buf, pos), lastOffsetOf(buf, pos)]);
  return out;
}

interface ModelBatch {
  base: number;
  last: number;
  bytes: Buffer;
}

/** What read() must return according to the in-memory model of the log. */
function modelRead(model: ModelBatch[], fetchOffset: number, maxBytes: number, maxOffsetExclusive: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  for (const b of model) {
    if (b.last < fetchOffset) continue;
    if (b.last >= maxOffsetExclusive) break;
    if (out.length > 0 && total + b.bytes.length > maxBytes) break;
    out.push(b.bytes);
    total += b.bytes.length;
  }
  return Buffer.concat(out);
}

type Op =
  | { kind: 'append'; records: number; valueBytes: number; epochStep: number }
  | { kind: 'read'; at: number; maxBytes: number; bound: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), records: fc.integer({ min: 1, max: 12 }), valueBytes: fc.integer({ min: 0, max: 150 }), epochStep: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), maxBytes: fc.integer({ min: 1, max: 5000 }), bound: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

describe('PartitionLog against an in-memory model', () => {
  it('appends, reads, truncates and reopens across segment rolls like the model', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 400, max: 3000 }),
        fc.integer({ min: 0, max: 1200 }),
        (ops, segmentBytes, indexIntervalBytes) => {
          const dir = tmpDir();
          const cfg = config({ segmentBytes, indexIntervalBytes });
          let log = PartitionLog.open(dir, cfg);
          let model: ModelBatch[] = [];
          let epoch = 0;
          const leo = () => model.at(-1)?.last ?? -1;
          try {
            for (const op of ops) {
              if (op.kind === 'append') {
                epoch += op.epochStep;
                const batch = simpleBatch(op.records, op.valueBytes, model.length);
                if (batch.length > segmentBytes) {
                  expect(() => log.appendAsLeader(batch, epoch)).toThrow(LogError);
                  continue;
                }
                const res = log.appendAsLeader(batch, epoch);
                expect(res.baseOffset).toBe(leo() + 1);
                expect(res.lastOffset).toBe(leo() + op.records);
                expect(leaderEpochOf(batch)).toBe(epoch);
                model.push({ base: res.baseOffset, last: res.lastOffset, bytes: Buffer.from(batch) });
              } else if (op.kind === 'read') {
                const end = leo() + 1;
                const fetchOffset = Math.floor(op.at * end);
                const bound = fetchOffset + Math.floor(op.bound * (end - fetchOffset + 1));
                const r = log.read(fetchOffset, op.maxBytes, bound);
                const want = modelRead(model, fetchOffset, op.maxBytes, bound);
                expect(r.records.equals(want)).toBe(true);
                const got = batchesIn(r.records);
                expect(r.batches).toBe(got.length);
                expect(r.nextOffset).toBe(got.length ? got.at(-1)![1] + 1 : fetchOffset);
              } else if (op.kind === 'truncate') {
                const at = Math.floor(op.at * (leo() + 1));
                log.truncateTo(at);
                model = model.filter((b) => b.last < at);
              } else {
                log.close();
                log = PartitionLog.open(dir, cfg);
                // A clean shutdown: every segment is trusted, none is read.
                expect(log.recovery).toMatchObject({ cleanShutdown: true, segmentsScanned: 0, batchesRecovered: 0, bytesTruncated: 0, indexesRebuilt: 0, badReason: null });
              }
              expect(log.logStartOffset).toBe(0);
              expect(log.logEndOffset).toBe(leo() + 1);
              // The epoch cache never claims an epoch start at or beyond the log end.
              for (const e of log.epochCache.entries) expect(e.startOffset).toBeLessThan(Math.max(log.logEndOffset, 1));
            }
            const all = log.read(0, Number.MAX_SAFE_INTEGER, log.logEndOffset);
            expect(all.records.equals(Buffer.concat(model.map((b) => b.bytes)))).toBe(true);
          } finally {
            log.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('PartitionLog basics', () => {
  it('rolls segments named by base offset and reads across them', () => {
    const dir = tmpDir();
    const log = PartitionLog.open(dir, config({ segmentBytes: 1000 }));
    for (let i = 0; i < 20; i++) log.appendAsLeader(simpleBatch(3, 50, i), 0);
    expect(log.segmentCount).toBeGreaterThan(3);
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.log'));
    expect(files).toEqual(log.segmentBases.map((b) => `${String(b).padStart(20, '0')}.log`));
    for (const f of files) expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(1000);
    const r = log.read(0, 1_000_000, log.logEndOffset);
    expect(batchesIn(r.records).map(([b]) => b)).toEqual(Array.from({ length: 20 }, (_, i) => i * 3));
    log.close();
  });

  it('returns one batch larger than maxBytes, and none past the offset bound', () => {
    const log = PartitionLog.open(tmpDir(), config());
    log.appendAsLeader(simpleBatch(5, 100), 0);
    log.appendAsLeader(simpleBatch(5, 100), 0);
    expect(batchesIn(log.read(0, 10, 100).records)).toEqual([[0, 4]]);
    expect(batchesIn(log.read(3, 10, 100).records)).toEqual([[0, 4]]);
    expect(log.read(0, 10_000, 4).batches).toBe(0);
    expect(batchesIn(log.read(0, 10_000, 5).records)).toEqual([[0, 4]]);
    expect(log.read(10, 10_000, 10)).toMatchObject({ batches: 0, nextOffset: 10 });
    log.close();
  });

  it('applies maxBytes across a segment boundary and never skips the rest of a segment', () => {
    const log = PartitionLog.open(tmpDir(), config({ segmentBytes: 850 }));
    const sizes = [130, 530, 30].map((v, i) => {
      const b = simpleBatch(1, v, i);
      log.appendAsLeader(b, 0);
      return b.length;
    });
    expect(log.segmentBases).toEqual([0, 2]);
    const [a, b, c] = sizes as [number, number, number];
    // All of segment 0 fits, the first batch of segment 1 does not: it is not returned.
    expect(batchesIn(log.read(0, a + b + c - 1, 3).records)).toEqual([[0, 0], [1, 1]]);
    expect(batchesIn(log.read(0, a + b + c, 3).records)).toEqual([[0, 0], [1, 1], [2, 2]]);
    // Stopping inside segment 0 (batch 1 does not fit) must not continue with segment 1's batch.
    expect(batchesIn(log.read(0, a + c, 3).records)).toEqual([[0, 0]]);
    expect(log.read(0, a + c, 3).nextOffset).toBe(1);
    log.close();
  });

  it('throws OffsetOutOfRange outside [logStartOffset, logEndOffset]', () => {
    const log = PartitionLog.open(tmpDir(), config());
    log.appendAsLeader(simpleBatch(2), 0);
    expect(() => log.read(3, 100, 3)).toThrow(OffsetOutOfRangeError);
    log.truncateFullyAndStartAt(50);
    expect(() => log.read(49, 100, 60)).toThrow(OffsetOutOfRangeError);
    expect(log.read(50, 100, 60).batches).toBe(0);
    log.close();
    expect(() => log.read(50, 100, 60)).toThrow(expect.objectContaining({ code: 'LOG_CLOSED' }));
  });

  it('assigns an epoch start only when the epoch grows', () => {
    const log = PartitionLog.open(tmpDir(), config());
    log.appendAsLeader(simpleBatch(2), 1);
    log.appendAsLeader(simpleBatch(2), 1);
    log.appendAsLeader(simpleBatch(3), 4);
    expect(log.epochCache.entries).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 4, startOffset: 4 },
    ]);
    expect(log.epochCache.endOffsetFor(1, log.logEndOffset)).toEqual({ epoch: 1, endOffset: 4 });
    expect(() => log.appendAsLeader(simpleBatch(1), -1)).toThrow(RangeError);
    expect(log.logEndOffset).toBe(7);
    log.close();
  });

  it('truncateTo mid-batch drops the whole batch, then appends continue from there', () => {
    const dir = tmpDir();
    const log = PartitionLog.open(dir, config({ segmentBytes: 600 }));
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(4, 40, i), i < 5 ? 1 : 2);
    const before = log.segmentCount;
    log.truncateTo(22); // inside batch [20, 23], which is epoch 2's first batch
    expect(log.logEndOffset).toBe(20);
    expect(log.segmentCount).toBeLessThan(before);
    expect(log.epochCache.entries).toEqual([{ epoch: 1, startOffset: 0 }]);
    const res = log.appendAsLeader(simpleBatch(2, 40, 99), 3);
    expect(res).toMatchObject({ baseOffset: 20, lastOffset: 21 });
    expect(log.epochCache.latestEpoch).toBe(3);
    expect(batchesIn(log.read(16, 10_000, 22).records)).toEqual([
      [16, 19],
      [20, 21],
    ]);
    log.close();
    const again = PartitionLog.open(dir, config({ segmentBytes: 600 }));
    expect(again.logEndOffset).toBe(22);
    expect(again.recovery.bytesTruncated).toBe(0);
    again.close();
  });

  it('truncateFullyAndStartAt restarts an empty log at the offset and survives reopen', () => {
    const dir = tmpDir();
    const log = PartitionLog.open(dir, config());
    log.appendAsLeader(simpleBatch(3, 10, 0, { producerId: 5, producerEpoch: 0, baseSequence: 0 }), 2);
    log.truncateFullyAndStartAt(1000);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([1000, 1000]);
    expect(log.epochCache.entries).toEqual([]);
    expect(log.producerState.size).toBe(0);
    expect(log.appendAsLeader(simpleBatch(1), 3).baseOffset).toBe(1000);
    log.close();
    const again = PartitionLog.open(dir, config());
    expect([again.logStartOffset, again.logEndOffset]).toEqual([1000, 1001]);
    again.close();
  });

  it('finishes a full truncation that a crash interrupted', () => {
    const dir = tmpDir();
    const log = PartitionLog.open(dir, config());
    log.appendAsLeader(simpleBatch(3), 2);
    log.close();
    // The crash came right after the log-start checkpoint was written, before any segment was deleted.
    fs.writeFileSync(path.join(dir, 'log-start-offset-checkpoint'), '500\n');
    const again = PartitionLog.open(dir, config());
    expect([again.logStartOffset, again.logEndOffset]).toEqual([500, 500]);
    expect(again.epochCache.entries).toEqual([]);
    again.close();
  });

  it('finds the first batch at or after a timestamp', () => {
    const log = PartitionLog.open(tmpDir(), config({ segmentBytes: 500 }));
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(2, 40, i, { baseTimestampMs: 1000 * i }), 0);
    expect(log.offsetForTimestamp(0)).toEqual({ offset: 0, timestampMs: 1 });
    expect(log.offsetForTimestamp(3500)).toEqual({ offset: 8, timestampMs: 4001 });
    expect(log.offsetForTimestamp(9001)).toEqual({ offset: 18, timestampMs: 9001 });
    expect(log.offsetForTimestamp(9002)).toBeNull();
    log.close();
  });
});

describe('PartitionLog.appendAsFollower', () => {
  it('keeps leader offsets and epochs, updates the epoch cache, and rejects gaps', () => {
    const leader = PartitionLog.open(tmpDir(), config());
    leader.appendAsLeader(simpleBatch(3), 1);
    leader.appendAsLeader(simpleBatch(2), 3);
    const follower = PartitionLog.open(tmpDir(), config());
    const fetched = leader.read(0, 100_000, leader.logEndOffset).records;
    expect(follower.appendAsFollower(Buffer.from(fetched))).toMatchObject({ baseOffset: 0, lastOffset: 4 });
    expect(follower.epochCache.entries).toEqual(leader.epochCache.entries);
    expect(follower.read(0, 100_000, 5).records.equals(fetched)).toBe(true);

    const ahead = simpleBatch(1, 10, 0, { baseOffset: 7, leaderEpoch: 3 });
    expect(() => follower.appendAsFollower(ahead)).toThrow(NonContiguousAppendError);
    const gap = Buffer.concat([simpleBatch(1, 10, 0, { baseOffset: 5 }), simpleBatch(1, 10, 0, { baseOffset: 7 })]);
    expect(() => follower.appendAsFollower(gap)).toThrow(NonContiguousAppendError);
    const corrupt = simpleBatch(2, 10, 0, { baseOffset: 5, leaderEpoch: 3 });
    corrupt[corrupt.length - 3]! ^= 0xff;
    expect(() => follower.appendAsFollower(corrupt)).toThrow(expect.objectContaining({ code: 'CORRUPT_MESSAGE' }));
    expect(follower.logEndOffset).toBe(5);
    leader.close();
    follower.close();
  });
});

describe('PartitionLog producer state', () => {
  const idem = (seq: number, n: number, epoch = 0) => simpleBatch(n, 10, seq, { producerId: 42, producerEpoch: epoch, baseSequence: seq });

  it('tracks appended batches, survives restart, and is identical on a follower', () => {
    const dir = tmpDir();
    const log = PartitionLog.open(dir, config({ segmentBytes: 700 }));
    let seq = 0;
    for (let i = 0; i < 8; i++) {
      const b = idem(seq, 3);
      expect(log.producerState.check(42, 0, seq, seq + 2)).toEqual({ kind: 'append' });
      log.appendAsLeader(b, 0);
      seq += 3;
    }
    expect(log.producerState.check(42, 0, 21, 23)).toEqual({ kind: 'duplicate', firstOffset: 21, lastOffset: 23 });
    expect(log.producerState.check(42, 0, 25, 27)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    const entry = structuredClone(log.producerState.entry(42));
    const follower = PartitionLog.open(tmpDir(), config());
    follower.appendAsFollower(Buffer.from(log.read(0, 1 << 20, log.logEndOffset).records));
    expect(follower.producerState.entry(42)).toEqual(entry);
    log.close();
    const again = PartitionLog.open(dir, config({ segmentBytes: 700 }));
    expect(again.producerState.entry(42)).toEqual(entry);
    again.close();
    follower.close();
  });

  it('is rebuilt on truncation so a retried batch is appended again, not taken for a duplicate', () => {
    const log = PartitionLog.open(tmpDir(), config());
    log.appendAsLeader(idem(0, 2), 0);
    log.appendAsLeader(idem(2, 2), 0);
    expect(log.producerState.check(42, 0, 2, 3)).toMatchObject({ kind: 'duplicate' });
    log.truncateTo(2);
    expect(log.producerState.check(42, 0, 2, 3)).toEqual({ kind: 'append' });
    log.truncateTo(0);
    expect(log.producerState.entry(42)).toBeUndefined();
    log.close();
  });
});

describe('PartitionLog flush policy', () => {
  it('fsyncs never with Kafka defaults until close', () => {
    const log = PartitionLog.open(tmpDir(), { ...defaultLogConfig, segmentBytes: 1 << 20 });
    for (let i = 0; i < 50; i++) log.appendAsLeader(simpleBatch(4), 0);
    expect(log.fsyncCount).toBe(0);
    expect(log.maybeFlush(Date.now() + 3_600_000)).toBe(false);
    log.close();
    expect(log.fsyncCount).toBe(1);
  });

  it('fsyncs after flushIntervalMessages offsets', () => {
    const log = PartitionLog.open(tmpDir(), config({ segmentBytes: 1 << 20, flushIntervalMessages: 10 }));
    for (let i = 0; i < 4; i++) log.appendAsLeader(simpleBatch(3), 0); // 12 offsets: one flush at 12
    expect(log.fsyncCount).toBe(1);
    expect(log.unflushedMessages).toBe(0);
    for (let i = 0; i < 3; i++) log.appendAsLeader(simpleBatch(3), 0); // 9 more: none yet
    expect(log.fsyncCount).toBe(1);
    expect(log.unflushedMessages).toBe(9);
    log.appendAsLeader(simpleBatch(1), 0);
    expect(log.fsyncCount).toBe(2);
    log.close();
  });

  it('fsyncs from maybeFlush once flushIntervalMs passed with data unflushed', () => {
    let now = 1000;
    const log = PartitionLog.open(tmpDir(), config({ segmentBytes: 1 << 20, flushIntervalMs: 100 }), () => now);
    expect(log.maybeFlush(2000)).toBe(false); // nothing to flush
    log.appendAsLeader(simpleBatch(2), 0);
    expect(log.maybeFlush(1050)).toBe(false);
    expect(log.maybeFlush(1100)).toBe(true);
    expect(log.fsyncCount).toBe(1);
    now = 1150;
    log.appendAsLeader(simpleBatch(2), 0);
    expect(log.maybeFlush(1150)).toBe(false);
    expect(log.maybeFlush(1200)).toBe(true);
    expect(log.fsyncCount).toBe(2);
    log.close();
  });

  it('fsyncs a segment when it rolls, as Kafka does', () => {
    const log = PartitionLog.open(tmpDir(), config({ segmentBytes: 500 }));
    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(2, 40), 0);
    expect(log.segmentCount).toBeGreaterThan(1);
    expect(log.fsyncCount).toBe(log.segmentCount - 1);
    log.close();
  });
});

describe('PartitionLog offset index', () => {
  it('keeps the index equal to a rebuild after truncation and further appends', () => {
    const dir = tmpDir();
    const cfg = config({ segmentBytes: 1 << 20, indexIntervalBytes: 300 });
    const log = PartitionLog.open(dir, cfg);
    for (let i = 0; i < 30; i++) log.appendAsLeader(simpleBatch(2, 30 + (i % 7) * 10, i), 0);
    log.truncateTo(23);
    for (let i = 0; i < 30; i++) log.appendAsLeader(simpleBatch(3, 25 + (i % 5) * 10, i), 0);
    const indexPath = path.join(dir, '00000000000000000000.index');
    const written = fs.readFileSync(indexPath);
    expect(written.length).toBeGreaterThan(8 * 5);
    log.close();
    const again = PartitionLog.open(dir, cfg);
    expect(again.recovery.indexesRebuilt).toBe(0);
    expect(fs.readFileSync(indexPath).equals(written)).toBe(true);
    // Every indexed entry points at the batch with that offset.
    const data = fs.readFileSync(path.join(dir, '00000000000000000000.log'));
    for (let i = 0; i < written.length; i += 8) {
      expect(baseOffsetOf(data, written.readInt32BE(i + 4))).toBe(written.readInt32BE(i));
    }
    again.close();
  });
});

describe('truncateTo at the log end', () => {
  it('drops epoch entries that start at or after the offset even when no batch goes', () => {
    const log = PartitionLog.open(tmpDir(), config());
    log.appendAsLeader(simpleBatch(3), 1);
    const end = log.logEndOffset;
    // Became leader at epoch 2 (assigned at the log end) but wrote nothing, then follows again.
    log.epochCache.assign(2, end);
    expect(log.epochCache.latestEpoch).toBe(2);
    log.truncateTo(end);
    expect(log.logEndOffset).toBe(end);
    expect(log.epochCache.latestEpoch).toBe(1);
    log.close();
  });
});
