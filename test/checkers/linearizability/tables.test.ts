/**
 * The search's tables against plain JS references on random operation sequences: ExploredCache is a
 * set of (bit words, state id); StateIndex interns: it finds exactly the
 * ids recorded under a hash whose state equals the probe, and records a new one otherwise. Small tables force collisions and growth.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExploredCache } from '../../../checkers/linearizability/cache.ts';
import { StateIndex } from '../../../checkers/linearizability/tables.ts';

describe('ExploredCache', () => {
  it('add returns true exactly for pairs not added before', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(7), fc.nat(7), fc.nat(3)), { maxLength: 300 }), (adds) => {
        const cache = new ExploredCache(2, 4);
        const seen = new Set<string>();
        for (const [w0, w1, sid] of adds) {
          const bits = new Uint32Array([w0, w1 << 28]);
          const h = (w0 * 31 + w1) % 5; // weak hash: many collisions
          const key = `${w0}/${w1}/${sid}`;
          expect(cache.add(bits, h, sid)).toBe(!seen.has(key));
          seen.add(key);
        }
        expect(cache.size).toBe(seen.size);
      }),
      { numRuns: 300 },
    );
  });
});

describe('StateIndex', () => {
  it('finds the recorded id whose state is equal, and records new states, under colliding hashes', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(40), { maxLength: 300 }), (values) => {
        const index = new StateIndex();
        const states: number[] = [];
        for (const v of values) {
          const h = v % 7; // collisions
          const expected = states.indexOf(v);
          const length = states.length;
          const id = index.intern(h, states, v, (a, b) => a === b);
          if (expected >= 0) {
            expect(id).toBe(expected);
            expect(states.length).toBe(length);
          } else {
            expect(id).toBe(~length);
            expect(states).toHaveLength(length + 1);
            expect(states[length]).toBe(v);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
