/**
 * Segment's in-memory tail (the newest appended batches' positions): positionOf answers every
 * offset exactly as a walk of the file would, after any sequence of appends and truncations,
 * including appends that overflow the tail; and an offset in the tail costs no read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeFileSystem, type FileSystem } from '../../../broker/log/fs.ts';
import { Segment, type AppendBatch } from '../../../broker/log/segment.ts';
import { simpleBatch } from './batch-builder.ts';
import { useTmpDirs } from './log-test-util.ts';

const tmpDir = useTmpDirs();

/** The model: every batch in the segment, with its offsets and byte position. */
interface Placed {
  base: number;
  last: number;
  position: number;
  size: number;
}

function countingFs(): { fs: FileSystem; reads: () => number } {
  let n = 0;
  return { fs: { ...nodeFileSystem, read: (...a) => (n++, nodeFileSystem.read(...a)) }, reads: () => n };
}

/** Appends one group of batches with the given record counts at the segment's end; updates the model. */
function appendGroup(seg: Segment, model: Placed[], counts: number[]): void {
  let next = seg.nextOffset;
  let pos = 0;
  const bufs: Buffer[] = [];
  const metas: AppendBatch[] = [];
  for (const c of counts) {
    const b = simpleBatch(c, 8, next, { baseOffset: next });
    metas.push({ position: pos, size: b.length, baseOffset: next, lastOffset: next + c - 1, maxTimestampMs: 0 });
    model.push({ base: next, last: next + c - 1, position: seg.size + pos, size: b.length });
    bufs.push(b);
    pos += b.length;
    next += c;
  }
  seg.append(Buffer.concat(bufs), metas);
}

/** positionOf(o) for every offset of the segment is the model's batch containing o. */
function checkAll(seg: Segment, model: Placed[]): void {
  for (const b of model) for (let o = b.base; o <= b.last; o++) expect(seg.positionOf(o)).toBe(b.position);
  expect(seg.positionOf(seg.nextOffset)).toBeNull();
}

function truncate(seg: Segment, model: Placed[], offset: number): void {
  seg.truncateTo(offset);
  const i = model.findIndex((b) => b.last >= offset);
  if (i >= 0) model.length = i;
}

describe('Segment tail positions', () => {
  it('answers every offset as the file walk does, across appends and truncations', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), counts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 6 }) }),
      fc.record({ kind: fc.constant('truncate' as const), back: fc.integer({ min: 0, max: 12 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), fc.integer({ min: 0, max: 300 }), (ops, indexIntervalBytes) => {
        const seg = Segment.create(tmpDir(), 100, indexIntervalBytes);
        const model: Placed[] = [];
        try {
          for (const o of ops) {
            if (o.kind === 'append') appendGroup(seg, model, o.counts);
            else truncate(seg, model, Math.max(seg.baseOffset, seg.nextOffset - o.back));
            checkAll(seg, model);
          }
        } finally {
          seg.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('stays exact when appends overflow the tail (one batch at a time, and one group larger than half of it)', () => {
    const seg = Segment.create(tmpDir(), 0, 256);
    const model: Placed[] = [];
    try {
      for (let i = 0; i < 4500; i++) appendGroup(seg, model, [1]);
      checkAll(seg, model);
      appendGroup(seg, model, Array.from({ length: 3000 }, () => 2));
      checkAll(seg, model);
      appendGroup(seg, model, [1, 1]);
      checkAll(seg, model);
    } finally {
      seg.close();
    }
  });

  it('finds a batch in the tail without reading the file', () => {
    const { fs, reads } = countingFs();
    const seg = Segment.create(tmpDir(), 0, 1 << 20, fs);
    const model: Placed[] = [];
    try {
      for (let i = 0; i < 50; i++) appendGroup(seg, model, [1]);
      const before = reads();
      expect(seg.positionOf(49)).toBe(model[49]!.position);
      expect(seg.positionOf(25)).toBe(model[25]!.position);
      expect(reads() - before).toBe(0);
      // After a truncation the tail is empty and the walk answers (and must read).
      truncate(seg, model, 40);
      expect(seg.positionOf(39)).toBe(model[39]!.position);
      expect(reads() - before).toBeGreaterThan(0);
    } finally {
      seg.close();
    }
  });
});
