/** Segment and scanBatches: every validation rule of on-disk batches, early stop, and the whole-batch read rules. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanBatches, Segment, segmentFileName, type ScannedBatch } from '../../../broker/log/segment.ts';
import { simpleBatch } from './batch-builder.ts';
import { useTmpDirs } from './log-test-util.ts';

const tmpDir = useTmpDirs();

function scanBuffer(data: Buffer, firstOffset = 0, verifyCrc = true, onBatch: (b: ScannedBatch) => boolean | void = () => {}) {
  const file = path.join(tmpDir(), 'seg.log');
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r');
  try {
    return scanBatches(fd, data.length, firstOffset, verifyCrc, onBatch);
  } finally {
    fs.closeSync(fd);
  }
}

const three = () => [simpleBatch(2, 20, 0, { baseOffset: 10 }), simpleBatch(3, 20, 1, { baseOffset: 12 }), simpleBatch(1, 20, 2, { baseOffset: 15 })];

describe('scanBatches', () => {
  it('accepts contiguous valid batches', () => {
    const bs = three();
    const data = Buffer.concat(bs);
    expect(scanBuffer(data, 10)).toEqual({ validBytes: data.length, nextOffset: 16, batches: 3, badReason: null });
  });

  it('stops at the first batch breaking a rule', () => {
    const cases: [string, (bs: Buffer[]) => void, RegExp][] = [
      ['magic', (bs) => bs[1]!.writeInt8(1, 16), /magic 1/],
      ['gap', (bs) => bs[1]!.writeBigInt64BE(13n, 0), /base offset 13, expected 12/],
      ['crc', (bs) => (bs[1]![70]! ^= 1), /CRC/],
      ['size below header', (bs) => bs[1]!.writeInt32BE(10, 8), /below the header/],
      ['negative delta', (bs) => bs[1]!.writeInt32BE(-1, 23), /negative lastOffsetDelta/],
    ];
    for (const [name, damage, reason] of cases) {
      const bs = three();
      damage(bs);
      const r = scanBuffer(Buffer.concat(bs), 10);
      expect({ name, batches: r.batches, validBytes: r.validBytes, nextOffset: r.nextOffset }).toEqual({
        name,
        batches: 1,
        validBytes: bs[0]!.length,
        nextOffset: 12,
      });
      expect(r.badReason).toMatch(reason);
    }
  });

  it('skips the CRC check when not asked, and stops early when the callback says so', () => {
    const bs = three();
    bs[1]![70]! ^= 1;
    expect(scanBuffer(Buffer.concat(bs), 10, false).badReason).toBeNull();
    const seen: number[] = [];
    const r = scanBuffer(Buffer.concat(three()), 10, true, (b) => {
      seen.push(b.header.baseOffset);
      return b.header.baseOffset < 12;
    });
    expect(seen).toEqual([10, 12]);
    expect(r.nextOffset).toBe(15);
  });

  it('handles batches larger than its read chunk', () => {
    const big = simpleBatch(3, 600_000, 0, { baseOffset: 0 });
    const data = Buffer.concat([big, simpleBatch(1, 10, 1, { baseOffset: 3 }), big.subarray(0, 100)]);
    expect(scanBuffer(data, 0)).toMatchObject({ batches: 2, nextOffset: 4, validBytes: data.length - 100 });
  });
});

describe('Segment', () => {
  it('reads whole batches under the byte and offset bounds', () => {
    const dir = tmpDir();
    const seg = Segment.create(dir, 10, 0);
    const bs = three();
    const buf = Buffer.concat(bs);
    let pos = 0;
    seg.append(
      buf,
      bs.map((b) => {
        const meta = { position: pos, size: b.length, baseOffset: Number(b.readBigInt64BE(0)), lastOffset: Number(b.readBigInt64BE(0)) + b.readInt32BE(23), maxTimestampMs: 0 };
        pos += b.length;
        return meta;
      }),
    );
    expect(fs.existsSync(path.join(dir, segmentFileName(10, '.log')))).toBe(true);
    expect(seg.nextOffset).toBe(16);
    expect(seg.indexEntries).toBe(3);
    expect(seg.positionOf(14)).toBe(bs[0]!.length);
    expect(seg.positionOf(16)).toBeNull();
    expect(() => seg.positionOf(9)).toThrow(RangeError);
    expect(seg.readBatches(0, 1, 100, true)).toMatchObject({ batches: 1, nextOffset: 12 });
    expect(seg.readBatches(0, 1, 100, false).batches).toBe(0);
    expect(seg.readBatches(0, bs[0]!.length + bs[1]!.length, 100, false)).toMatchObject({ batches: 2, nextOffset: 15 });
    expect(seg.readBatches(0, 1 << 20, 15, false)).toMatchObject({ batches: 2, nextOffset: 15 });
    expect(seg.readBatches(0, 1 << 20, 11, true).batches).toBe(0);
    expect(seg.truncateTo(13)).toBe(12);
    expect(seg.size).toBe(bs[0]!.length);
    seg.close();
  });
});
