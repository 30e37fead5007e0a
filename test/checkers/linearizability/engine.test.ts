/**
 * The WGL search agrees with a brute-force reference on thousands of small random histories.
 * Valid histories come from a sequential execution of the model (each op gets an interval around
 * its linearization point; some ops become `info`: applied or not, result unknown); invalid ones by
 * mutating an output or an interval. For generated-valid histories the verdict must be true; for
 * every history it must equal the reference's, with the failure report or without (`explain: false`).
 * Failures report a partial linearization whose ops
 * replay legally, a blocking op that is not in it, and a shortest failing window whose cut fails
 * while the cut just before it is linearizable (by the reference).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOperations, checkPartition, sequentialOutcome } from '../../../checkers/linearizability/engine.ts';
import { registerModel } from '../../../checkers/linearizability/models/register.ts';
import { fifoQueueModel } from '../../../checkers/linearizability/models/fifo-queue.ts';
import { logModel } from '../../../checkers/linearizability/models/log.ts';
import { kvModel } from '../../../checkers/linearizability/models/kv.ts';
import type { LinOp, Model } from '../../../checkers/linearizability/types.ts';
import { bruteForceLinearizable, prng, type Rand } from './brute-force.ts';

/** A model plus a sequential implementation: the output a correct system would give. */
interface Gen<S, I, O> {
  model: Model<S, I, O>;
  input(r: Rand, state: S, k: number): I;
  output(state: S, input: I): O;
  mutate(r: Rand, input: I, output: O): O;
}

const reg: Gen<number | string | boolean | null, any, any> = {
  model: registerModel('cas-register', null) as Model<any, any, any>,
  input: (r) => [{ f: 'read' }, { f: 'write', value: r(3) }, { f: 'cas', from: r(3), to: r(3) }][r(3)],
  output: (s, i) => (i.f === 'read' ? s : i.f === 'write' ? true : s === i.from),
  mutate: (r, i, o) => (i.f === 'read' ? (r(2) ? null : r(3)) : i.f === 'cas' ? !o : o),
};

const fifo: Gen<readonly (number | string | boolean | null)[], any, any> = {
  model: fifoQueueModel as Model<any, any, any>,
  input: (r, _s, k) => (r(2) ? { f: 'enqueue', value: k } : { f: 'dequeue' }),
  output: (q, i) => (i.f === 'enqueue' ? true : q.length === 0 ? null : q[0]),
  mutate: (r, i, o) => (i.f === 'enqueue' ? o : r(2) ? null : r(8)),
};

const log: Gen<any, any, any> = {
  model: logModel as Model<any, any, any>,
  input: (r, s, k) => {
    const key = r(2) ? 'a' : 'b';
    if (r(2)) return { f: 'append', key, value: k };
    const len = (s as Map<string, number[]>).get(key)?.length ?? 0;
    const from = r(len + 2);
    return { f: 'read', key, offsets: r(2) ? [from] : [from, from + 1] };
  },
  output: (s, i) => {
    const vals = (s as Map<string, number[]>).get(i.key) ?? [];
    return i.f === 'append' ? vals.length : i.offsets.map((o: number) => vals[o] ?? null);
  },
  mutate: (r, i, o) => (i.f === 'append' ? o + (r(2) ? 1 : -1) : o.map((v: number | null) => (r(2) ? v : r(3) ? r(8) : null))),
};

const kv: Gen<any, any, any> = {
  model: kvModel(true) as Model<any, any, any>,
  input: (r, _s, k) => ({ f: (['get', 'put', 'append'] as const)[r(3)], key: r(2) ? 'x' : 'y', value: String(k % 3) }),
  output: (s, i) => (i.f === 'get' ? ((s as Map<string, string>).get(i.key) ?? '') : true),
  mutate: (r, i, o) => (i.f === 'get' ? String(r(3)) : o),
};

/** The log generator needs a per-key reference state; it is simulated alongside with plain maps. */
function simulate(gen: Gen<any, any, any>, r: Rand, n: number): LinOp<any, any>[] {
  const isLog = gen === log;
  const isKv = gen === kv;
  let state: any = isLog || isKv ? new Map() : gen.model.init();
  const ops: LinOp<any, any>[] = [];
  const width = 1 + r(4);
  for (let k = 0; k < n; k++) {
    const input = gen.input(r, state, k);
    const point = 2 * k + 1;
    const call = Math.max(0, point - r(width * 2 + 1));
    const ret = point + r(width * 2 + 1);
    const kind = r(10); // 0: info applied, 1: info never applied, else ok
    const output = gen.output(state, input);
    if (kind !== 1) state = apply(gen, state, input, isLog, isKv);
    ops.push({ id: k, process: k, call, ret: kind <= 1 ? Infinity : ret, input, output: kind <= 1 ? undefined : output });
  }
  return ops;
}

function apply(gen: Gen<any, any, any>, state: any, input: any, isLog: boolean, isKv: boolean): any {
  if (isLog) {
    if (input.f !== 'append') return state;
    const m = new Map(state as Map<string, number[]>);
    m.set(input.key, [...(m.get(input.key) ?? []), input.value]);
    return m;
  }
  if (isKv) {
    if (input.f === 'get') return state;
    const m = new Map(state as Map<string, string>);
    m.set(input.key, input.f === 'put' ? input.value : (m.get(input.key) ?? '') + input.value);
    return m;
  }
  const s = gen.model.step(state, input, gen.output(state, input));
  return s;
}

function mutate(gen: Gen<any, any, any>, r: Rand, ops: LinOp<any, any>[]): LinOp<any, any>[] {
  const out = ops.map((o) => ({ ...o }));
  const victim = out[r(out.length)]!;
  if (r(3) === 0 && victim.output !== undefined) {
    const other = out[r(out.length)]!;
    if (r(2)) victim.call = victim.ret; // shrink to a point at its return
    else if (other.ret !== Infinity) {
      victim.call = other.ret + 1 + r(3); // move after another op
      victim.ret = Math.max(victim.ret, victim.call);
    }
  } else if (victim.output !== undefined) {
    victim.output = gen.mutate(r, victim.input, victim.output);
  }
  return out;
}

/** The history as it stood at time t: in-flight ops have unknown results, later calls are dropped. */
function cutAt(ops: LinOp<any, any>[], t: number): LinOp<any, any>[] {
  return ops.filter((o) => o.call <= t).map((o) => (o.output !== undefined && o.ret <= t ? o : { ...o, ret: Infinity, output: undefined }));
}

/** A reported partial linearization replays legally from init in the model. */
function replays(model: Model<any, any, any>, ops: LinOp<any, any>[], seq: number[]): boolean {
  let s = model.init();
  for (const id of seq) {
    const o = ops[id]!;
    s = model.step(s, o.input, o.output);
    if (s === undefined) return false;
  }
  return true;
}

const gens = { 'cas-register': reg, 'fifo-queue': fifo, log, kv } as const;

describe('WGL search vs brute force', () => {
  for (const [name, gen] of Object.entries(gens)) {
    it(`${name}: generated histories are linearizable; mutated ones agree with brute force`, () => {
      let invalidSeen = 0;
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 7 }), (seed, n) => {
          const r = prng(seed);
          const valid = simulate(gen, r, n);
          expect(checkOperations(gen.model, valid).valid).toBe(true);
          const bad = mutate(gen, r, valid);
          const expected = bruteForceLinearizable(gen.model, bad);
          const got = checkOperations(gen.model, bad);
          expect(got.valid).toBe(expected);
          // Verdicts only (no report kept): the same verdict.
          const bare = checkOperations(gen.model, bad, { explain: false });
          expect(bare.valid).toBe(expected);
          expect(bare.failure).toBeUndefined();
          if (!expected) {
            invalidSeen++;
            const f = got.failure!;
            expect(f.linearized.every((step) => f.ops.includes(step.op))).toBe(true);
            expect(replays(gen.model, bad, f.linearized.map((s) => s.op))).toBe(true);
            expect(f.linearized.map((s) => s.op)).not.toContain(f.blockingOp);
            // The shortest failing window: the cut before it is linearizable, the cut at it is not.
            const w = f.prefix!;
            expect(w.returningAtFailure.length).toBeGreaterThan(0);
            const sub = bad.filter((o) => f.ops.includes(o.id));
            expect(bruteForceLinearizable(gen.model, cutAt(sub, w.failsAt))).toBe(false);
            if (w.linearizableUntil !== null) expect(bruteForceLinearizable(gen.model, cutAt(sub, w.linearizableUntil))).toBe(true);
          }
        }),
        { numRuns: 800 },
      );
      expect(invalidSeen).toBeGreaterThan(50);
    });
  }
});

/**
 * A sequential history (each op returns before the next is called; a single client) skips the
 * search (`sequentialOutcome`). Generated on a coarse clock, so that some neighbours touch (a return
 * and the next call at one time are concurrent: not sequential, and another order may then be legal),
 * with some `info` ops (never sequential: they may take effect at any later time, or never).
 */
function sequential(gen: Gen<any, any, any>, r: Rand, n: number): LinOp<any, any>[] {
  const isLog = gen === log;
  const isKv = gen === kv;
  let state: any = isLog || isKv ? new Map() : gen.model.init();
  const ops: LinOp<any, any>[] = [];
  let t = 0;
  for (let k = 0; k < n; k++) {
    const input = gen.input(r, state, k);
    const output = gen.output(state, input);
    const call = t + r(2);
    const ret = call + r(2);
    t = ret;
    const kind = r(12); // 0: info applied, 1: info never applied, else ok
    if (kind !== 1) state = apply(gen, state, input, isLog, isKv);
    ops.push({ id: k, process: 0, call, ret: kind <= 1 ? Infinity : ret, input, output: kind <= 1 ? undefined : output });
  }
  return ops;
}

describe('sequential partitions', () => {
  for (const [name, gen] of Object.entries(gens)) {
    it(`${name}: the one-order check agrees with brute force and reports the search's failure`, () => {
      let skipped = 0;
      let failed = 0;
      for (let seed = 1; seed <= 1500; seed++) {
        const r = prng(seed * 104729);
        const ops = sequential(gen, r, 1 + r(7));
        const bad = r(3) === 0 ? ops : mutate(gen, r, ops);
        const expected = bruteForceLinearizable(gen.model, bad);
        expect(checkOperations(gen.model, bad, { findWindow: false }).valid).toBe(expected);
        const fast = sequentialOutcome(gen.model, bad);
        if (fast === undefined) continue;
        skipped++;
        expect(fast.valid).toBe(expected);
        const searched = checkPartition(gen.model, bad, performance.now() + 60_000, 1e6);
        if (fast.valid === false && searched.valid === false) {
          failed++;
          expect(fast.failure).toEqual(searched.failure);
        }
      }
      expect(skipped).toBeGreaterThan(200);
      expect(failed).toBeGreaterThan(30);
    });
  }
});

describe('sequential partitions, edge cases', () => {
  it('an unknown-output op last is optional, even where stepping it would be illegal', () => {
    const m = registerModel('cas-register', null) as Model<any, any, any>;
    const ops: LinOp<any, any>[] = [
      { id: 0, process: 0, call: 0, ret: 1, input: { f: 'write', value: 0 }, output: true },
      { id: 1, process: 0, call: 2, ret: Infinity, input: { f: 'cas', from: 5, to: 6 }, output: undefined },
    ];
    expect(bruteForceLinearizable(m, ops)).toBe(true);
    expect(sequentialOutcome(m, ops)).toBeUndefined();
    expect(checkOperations(m, ops).valid).toBe(true);
  });
});

describe('bounds', () => {
  const m = registerModel('register', null);
  // Many concurrent writes of distinct values and reads that force a deep search.
  const hard: LinOp<any, any>[] = [];
  for (let i = 0; i < 24; i++) hard.push({ id: i, process: i, call: 0, ret: 100, input: { f: 'write', value: i }, output: true });
  hard.push({ id: 24, process: 24, call: 0, ret: 100, input: { f: 'read' }, output: 99 });

  it('a cache bound gives unknown instead of running away', () => {
    const r = checkPartition(m, hard, performance.now() + 60_000, 1000);
    expect(r.valid).toBe('unknown');
    expect(r.cacheEntries).toBeLessThanOrEqual(1001);
    const full = checkOperations(m, hard, { maxCacheEntries: 1000 });
    expect(full.valid).toBe('unknown');
    expect(full.reason).toMatch(/cache-limit/);
  });

  it('a cache byte bound gives unknown', () => {
    const r = checkOperations(m, hard, { maxCacheBytes: 64 * 1024 });
    expect(r.valid).toBe('unknown');
    expect(r.partitions[0]!.cacheEntries).toBeLessThanOrEqual(Math.floor((64 * 1024) / 20) + 1);
  });

  it('a time bound gives unknown', () => {
    const r = checkOperations(m, hard, { timeLimitMs: 0 });
    expect(r.valid).toBe('unknown');
    expect(r.reason).toMatch(/time-limit/);
  });

  it('ops with unknown results may never take effect', () => {
    const ops: LinOp<any, any>[] = [
      { id: 0, process: 0, call: 0, ret: Infinity, input: { f: 'write', value: 1 }, output: undefined },
      { id: 1, process: 1, call: 5, ret: 6, input: { f: 'read' }, output: null },
      { id: 2, process: 1, call: 7, ret: 8, input: { f: 'read' }, output: 1 },
    ];
    expect(checkOperations(m, ops).valid).toBe(true);
    expect(checkOperations(m, ops.slice(0, 2)).valid).toBe(true);
    const back: LinOp<any, any>[] = [...ops, { id: 3, process: 1, call: 9, ret: 10, input: { f: 'read' }, output: null }];
    expect(checkOperations(m, back).valid).toBe(false);
  });
});
