import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../harness/rng.ts';

const draws = (seed: number, n: number): number[] => {
  const r = createRng(seed);
  return Array.from({ length: n }, () => r.next());
};

describe('rng', () => {
  it('same seed -> same sequence; different seeds -> different sequences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        expect(draws(seed, 20)).toEqual(draws(seed, 20));
        expect(draws(seed, 20)).not.toEqual(draws((seed + 1) >>> 0, 20));
      }),
      { numRuns: 50 },
    );
  });

  it('next() in [0,1), int(n) in [0,n), pick from the array', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 1000 }), (seed, n) => {
        const r = createRng(seed);
        for (let i = 0; i < 50; i++) {
          const x = r.next();
          expect(x >= 0 && x < 1).toBe(true);
          const k = r.int(n);
          expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true);
        }
        expect(['a', 'b', 'c']).toContain(r.pick(['a', 'b', 'c']));
      }),
      { numRuns: 50 },
    );
  });

  it('int(n) is roughly uniform (chi-square, 10 buckets, 10000 draws)', () => {
    const r = createRng(42);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) counts[r.int(10)]! += 1;
    const chi = counts.reduce((acc, c) => acc + (c - 1000) ** 2 / 1000, 0);
    expect(chi).toBeLessThan(27.9); // p = 0.001 for 9 degrees of freedom
  });

  it('fork(label) depends on seed and label only, not on draws made before', () => {
    const a = createRng(7);
    const b = createRng(7);
    for (let i = 0; i < 13; i++) b.next();
    const fa = a.fork('nemesis');
    const fb = b.fork('nemesis');
    expect([fa.next(), fa.next(), fa.next()]).toEqual([fb.next(), fb.next(), fb.next()]);
    const other = createRng(7).fork('workload');
    expect(other.next()).not.toBe(createRng(7).fork('nemesis').next());
    expect(createRng(7).fork('nemesis').next()).not.toBe(createRng(8).fork('nemesis').next());
  });

  it('rejects bad arguments with a clear message', () => {
    const r = createRng(1);
    expect(() => r.int(0)).toThrow(/integer n >= 1/);
    expect(() => r.int(2.5)).toThrow(/integer n >= 1/);
    expect(() => r.pick([])).toThrow(/non-empty/);
    expect(() => createRng(Number.NaN)).toThrow(/finite/);
  });
});
