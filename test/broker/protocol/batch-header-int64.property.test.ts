/** The BigInt-free int64 helpers of batch-header.ts agree with Node's BigInt reads and writes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readInt64, writeUInt53 } from '../../../broker/protocol/batch-header.ts';

describe('int64 helpers', () => {
  it('readInt64 is Number(readBigInt64BE) for every int64, rounding included', () => {
    const edges = [0n, 1n, -1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n)];
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(...edges)), fc.integer({ min: 0, max: 8 }), (v, at) => {
        const buf = Buffer.alloc(16);
        buf.writeBigInt64BE(v, at);
        expect(readInt64(buf, at)).toBe(Number(buf.readBigInt64BE(at)));
      }),
      { numRuns: 2000 },
    );
  });

  it('writeUInt53 writes what writeBigInt64BE(BigInt(v)) writes for every non-negative safe integer', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER)), (v) => {
        const a = Buffer.alloc(8);
        const b = Buffer.alloc(8);
        writeUInt53(a, v, 0);
        b.writeBigInt64BE(BigInt(v), 0);
        expect(a.equals(b)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
