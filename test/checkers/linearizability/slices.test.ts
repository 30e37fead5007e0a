/**
 * The search's fast paths against a plain reference, on random histories larger than the brute-force
 * test's (up to 9 ops against brute force; up to 60 ops, where the step memo of revisited states, the
 * table growth and the pausing between slices all come into play, against the same search run at
 * once). Rules checked: a search run in slices of any size reaches the same outcome with the same
 * cache as one run at once (pausing changes only when work is done); the verdict equals the
 * brute-force reference's; a whole history is linearizable iff every partition is (P-compositionality,
 * whatever order the partitions are searched in).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOperations, PartitionSearch } from '../../../checkers/linearizability/engine.ts';
import { registerModel } from '../../../checkers/linearizability/models/register.ts';
import { kvModel } from '../../../checkers/linearizability/models/kv.ts';
import type { LinOp, Model } from '../../../checkers/linearizability/types.ts';
import { bruteForceLinearizable } from './brute-force.ts';

type AnyOp = LinOp<any, any>;

/** Random register ops over values 0..2 (states repeat, so the memo is used), some outputs wrong. */
const registerOps = (maxOps: number): fc.Arbitrary<AnyOp[]> =>
  fc
    .array(
      fc.record({
        call: fc.nat(40),
        len: fc.nat(12),
        kind: fc.nat(2),
        a: fc.nat(2),
        b: fc.nat(2),
        unknown: fc.nat(9),
      }),
      { minLength: 1, maxLength: maxOps },
    )
    .map((rows) =>
      rows.map((r, i): AnyOp => {
        const input = r.kind === 0 ? { f: 'read' } : r.kind === 1 ? { f: 'write', value: r.a } : { f: 'cas', from: r.a, to: r.b };
        const output = r.kind === 0 ? r.b : r.kind === 1 ? true : r.a === r.b;
        const unknown = r.unknown === 0;
        return { id: i, process: i, call: r.call, ret: unknown ? Infinity : r.call + r.len, input, output: unknown ? undefined : output };
      }),
    );

/** Random kv ops on keys x/y (appends make every order a new state; reads check them). */
const kvOps = (maxOps: number): fc.Arbitrary<AnyOp[]> =>
  fc
    .array(fc.record({ call: fc.nat(40), len: fc.nat(12), kind: fc.nat(2), key: fc.boolean(), v: fc.nat(2), read: fc.nat(3) }), {
      minLength: 1,
      maxLength: maxOps,
    })
    .map((rows) =>
      rows.map((r, i): AnyOp => {
        const key = r.key ? 'x' : 'y';
        const f = (['get', 'put', 'append'] as const)[r.kind]!;
        const input = { f, key, value: f === 'get' ? '' : String(r.v) };
        const output = f === 'get' ? ['', '0', '01', '1'][r.read]! : true;
        return { id: i, process: i, call: r.call, ret: r.call + r.len, input, output };
      }),
    );

function runInSlices(model: Model<any, any, any>, ops: readonly AnyOp[], sizes: number[]): { valid: unknown; cacheEntries: number } {
  const search = new PartitionSearch(model, ops, 1e7);
  for (let k = 0; ; k++) {
    const outcome = search.run(sizes[k % sizes.length]!, Infinity);
    if (outcome) return { valid: outcome.valid, cacheEntries: outcome.cacheEntries };
  }
}

describe('search fast paths vs references', () => {
  const register = registerModel('cas-register', 0) as Model<any, any, any>;
  const kv = kvModel(false) as Model<any, any, any>;

  it('small histories: the verdict equals brute force (register and kv)', () => {
    fc.assert(
      fc.property(fc.oneof(registerOps(9).map((o) => [register, o] as const), kvOps(9).map((o) => [kv, o] as const)), ([model, ops]) => {
        expect(checkOperations(model, ops).valid).toBe(bruteForceLinearizable(model, ops));
      }),
      { numRuns: 1500 },
    );
  });

  it('a search run in slices reaches the outcome and cache of one run at once', () => {
    fc.assert(
      fc.property(
        fc.oneof(registerOps(60).map((o) => [register, o] as const), kvOps(40).map((o) => [kv, o] as const)),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
        ([model, ops], sizes) => {
          const whole = runInSlices(model, ops, [Infinity]);
          expect(runInSlices(model, ops, sizes)).toEqual(whole);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a partitioned history is linearizable iff every partition is', () => {
    const partitioned = kvModel(true) as Model<any, any, any>;
    fc.assert(
      fc.property(kvOps(40), (ops) => {
        const groups = partitioned.partition!(ops);
        const each = groups.map((g) => runInSlices(partitioned, g.map((i) => ops[i]!), [Infinity]).valid);
        const expected = each.includes(false) ? false : true;
        expect(checkOperations(partitioned, ops, { findWindow: false }).valid).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});
