/**
 * The kv refutations are sound: on thousands of small random kv histories (a sequential execution
 * with intervals around each op's point on a coarse clock (many equal times), some ops `info`, then one output or interval mutated), a
 * history that `refuteKv` refutes is not linearizable by the brute-force reference, and a generated
 * (valid) history is never refuted. The test checks its own power: both rules fire on many of them.
 * The engine uses a refutation only for a partition its first turn leaves undecided; the Porcupine
 * fixtures (c10-bad, c50-bad) take that path, checked at the end.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkOperations } from '../../../../checkers/linearizability/engine.ts';
import { kvModel, type KvInput, type KvOutput } from '../../../../checkers/linearizability/models/kv.ts';
import { refuteKv } from '../../../../checkers/linearizability/models/kv-refute.ts';
import { checkHistoryText } from '../../../../checkers/linearizability/check.ts';
import type { LinOp } from '../../../../checkers/linearizability/types.ts';
import { bruteForceLinearizable, prng } from '../brute-force.ts';

type Op = LinOp<KvInput, KvOutput>;

/** A linearizable history of n ops on keys x and y: puts are rarer than appends and gets. */
function simulate(r: (n: number) => number, n: number): Op[] {
  const state = new Map<string, string>();
  const ops: Op[] = [];
  const width = 1 + r(4);
  for (let k = 0; k < n; k++) {
    const f = (['get', 'get', 'append', 'append', 'put'] as const)[r(5)]!;
    const key = r(3) ? 'x' : 'y';
    const value = f === 'get' ? '' : r(4) ? `${k}.` : String(k % 2);
    const cur = state.get(key) ?? '';
    const output: KvOutput = f === 'get' ? cur : true;
    const point = 2 * k + 1;
    // A coarse clock (a third of the points' scale) makes equal call and return times common.
    const call = Math.floor(Math.max(0, point - r(width * 2 + 1)) / 3);
    const ret = Math.ceil((point + r(width * 2 + 1)) / 3);
    const kind = r(10); // 0: info applied, 1: info never applied, else ok
    if (kind !== 1 && f !== 'get') state.set(key, f === 'put' ? value : cur + value);
    ops.push({ id: k, process: k, call, ret: kind <= 1 ? Infinity : ret, input: { f, key, value }, output: kind <= 1 ? undefined : output });
  }
  return ops;
}

function mutate(r: (n: number) => number, ops: Op[]): Op[] {
  const out = ops.map((o) => ({ ...o }));
  const victim = out[r(out.length)]!;
  if (victim.output === undefined) return out;
  if (r(3) === 0) {
    const other = out[r(out.length)]!;
    if (other.ret !== Infinity) {
      victim.call = other.ret + 1 + r(3);
      victim.ret = Math.max(victim.ret, victim.call);
    }
  } else if (victim.input.f === 'get') {
    const s = victim.output as string;
    victim.output = r(2) ? s.slice(0, Math.max(0, s.length - 1 - r(3))) : `${r(9)}.${s}`;
  }
  return out;
}

describe('kv refutations', () => {
  it('never refute a linearizable history, and refute only what brute force rejects', () => {
    const m = kvModel(false);
    const fired = new Map<string, number>();
    for (let seed = 1; seed <= 8000; seed++) {
      const r = prng(seed * 7919);
      const valid = simulate(r, 2 + r(7));
      expect(refuteKv(valid)).toBeUndefined();
      const bad = mutate(r, valid);
      const refutation = refuteKv(bad);
      if (refutation === undefined) continue;
      expect(bruteForceLinearizable(m, bad)).toBe(false);
      fired.set(refutation.rule, (fired.get(refutation.rule) ?? 0) + 1);
    }
    expect(fired.size).toBe(2);
    for (const count of fired.values()) expect(count).toBeGreaterThan(30);
  });

  it('a put concurrent with either end may come between (equal times are concurrent)', () => {
    const op = (id: number, call: number, ret: number, f: KvInput['f'], value: string, output: KvOutput): Op => ({ id, process: id, call, ret, input: { f, key: 'k', value }, output });
    // The put is called exactly when the read returns, or returns exactly when the append is called.
    const atReadReturn = [op(0, 0, 1, 'append', 'a', true), op(1, 5, 9, 'put', '', true), op(2, 3, 5, 'get', '', '')];
    const atAppendCall = [op(0, 0, 2, 'put', '', true), op(1, 2, 3, 'append', 'a', true), op(2, 4, 5, 'get', '', '')];
    for (const ops of [atReadReturn, atAppendCall]) {
      expect(bruteForceLinearizable(kvModel(false), ops)).toBe(true);
      expect(refuteKv(ops)).toBeUndefined();
    }
  });

  it('a refuted partition is reported with its rule and ops, the read blocking', () => {
    // A partition the first turn does not decide: 40 concurrent appends, then a read that misses one.
    const ops: Op[] = [];
    for (let i = 0; i < 40; i++) ops.push({ id: i, process: i, call: 0, ret: 10, input: { f: 'append', key: 'k', value: `${i}.` }, output: true });
    ops.push({ id: 40, process: 40, call: 20, ret: 21, input: { f: 'get', key: 'k', value: '' }, output: '1.2.' });
    const res = checkOperations(kvModel(true), ops, { findWindow: false });
    expect(res.valid).toBe(false);
    expect(res.failure!.refutation!.ops).toHaveLength(2);
    expect(res.failure!.blockingOp).toBe(40);
    expect(res.failure!.unplaceable).toEqual([{ op: 40, reason: 'illegal-step' }]);
  });

  it('the Porcupine c50-bad history is refuted (not searched to the end)', () => {
    const text = readFileSync(new URL('../../../fixtures/porcupine/kv/c50-bad.txt', import.meta.url), 'utf8');
    const { result } = checkHistoryText(text, 'edn', 'kv', { partitioned: true, timeLimitMs: 20_000 });
    expect(result.valid).toBe(false);
    expect(result.failure!.refutation).toBeDefined();
  });
});
