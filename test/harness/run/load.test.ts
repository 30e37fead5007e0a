import { describe, expect, it } from 'vitest';
import type { OpInput } from '../../../harness/store/history-writer.ts';
import { runLoad } from '../../../harness/run/load.ts';

type Inv = { f: 'send'; value: { v: number } };
type Comp = { type: 'ok' | 'fail' | 'info'; value: { v: number } };

function recorder(): { ops: Array<OpInput & { t: number }>; append(op: OpInput): never } {
  const ops: Array<OpInput & { t: number }> = [];
  return {
    ops,
    append(op: OpInput) {
      ops.push({ ...op, t: Date.now() });
      return undefined as never;
    },
  };
}

describe('runLoad', () => {
  it('keeps one op in flight per process, pairs every invoke with its completion and respects the rate', async () => {
    const h = recorder();
    let n = 0;
    const inFlight = new Set<number>();
    const start = Date.now();
    const durationMs = 600;
    const rate = 100;
    const s = await runLoad<Inv, Comp>({
      processes: 4,
      rate,
      durationMs,
      drainInFlightMs: 1000,
      signal: new AbortController().signal,
      history: h,
      next: () => ({ f: 'send', value: { v: n++ } }),
      invoke: async (p, op) => {
        expect(inFlight.has(p)).toBe(false);
        inFlight.add(p);
        await new Promise((r) => setTimeout(r, (op.value.v % 3) * 3));
        inFlight.delete(p);
        return { type: op.value.v % 5 === 0 ? 'info' : 'ok', value: op.value };
      },
    });
    expect(s.abandoned).toBe(0);
    expect(s.invoked).toBe(s.completed);
    // at most rate * duration ops start, plus one grid slot per process
    expect(s.invoked).toBeLessThanOrEqual((rate * durationMs) / 1000 + 4);
    expect(s.invoked).toBeGreaterThan(((rate * durationMs) / 1000) * 0.5);
    for (let p = 0; p < 4; p++) {
      const mine = h.ops.filter((o) => o.process === p);
      mine.forEach((o, i) => expect(o.type === 'invoke').toBe(i % 2 === 0));
      for (const o of mine.filter((x) => x.type === 'invoke')) expect(o.t - start).toBeLessThan(durationMs + 50);
    }
  });

  it('stops starting ops on abort and bounds the wait for stuck ops', async () => {
    const h = recorder();
    const ac = new AbortController();
    let n = 0;
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const s = await runLoad<Inv, Comp>({
      processes: 2,
      rate: 50,
      durationMs: 60_000,
      drainInFlightMs: 200,
      signal: ac.signal,
      history: h,
      next: () => ({ f: 'send', value: { v: n++ } }),
      invoke: (_p, op) => (op.value.v === 3 ? new Promise<Comp>(() => {}) : Promise.resolve({ type: 'ok', value: op.value })),
    });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(s.abandoned).toBe(1);
    expect(h.ops.filter((o) => o.type === 'invoke')).toHaveLength(s.invoked);
    // the abandoned op is completed as info at once, so no process keeps an op open
    const stuck = h.ops.filter((o) => o.type === 'info' && String((o.value as { error?: string }).error).startsWith('ABANDONED'));
    expect(stuck).toHaveLength(1);
    expect(stuck[0]!.value).toMatchObject({ v: 3 });
  });
});
