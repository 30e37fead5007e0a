/**
 * ddmin (mutants/shrink.ts) finds a 1-minimal failing sublist: a property over random lists and
 * random "culprit" sets (the failure needs all culprits present) that the result is exactly the
 * culprits, in order; and the budget is honoured.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ddmin } from '../../mutants/shrink.ts';

describe('ddmin', () => {
  it('shrinks to exactly the culprits when the failure needs all of them', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 4 }), fc.nat(), (items, k, pick) => {
        const culprits = new Set(Array.from({ length: Math.min(k, items.length) }, (_, i) => items[(pick + i * 7) % items.length]!));
        const fails = (c: number[]): boolean => [...culprits].every((x) => c.includes(x));
        const r = ddmin(items, fails, 10_000);
        expect(r.minimal).toBe(true);
        expect(r.items).toEqual(items.filter((x) => culprits.has(x)));
      }),
    );
  });

  it('answers the empty list when the failure needs nothing, and stops at the run budget', () => {
    expect(ddmin([1, 2, 3], () => true).items).toEqual([]);
    const r = ddmin(Array.from({ length: 64 }, (_, i) => i), (c) => c.includes(5) && c.includes(60), 3);
    expect(r.runs).toBeLessThanOrEqual(3);
    expect(r.minimal).toBe(false);
  });
});
