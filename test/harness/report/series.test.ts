import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../../../checkers/history.ts';
import { latencySeries, minMaxSample, orders, pairOps, throughput, timeline } from '../../../harness/report/series.ts';
import { fmtCount, fmtMs, fmtPct } from '../../../harness/report/format.ts';

const ms = 1e6;
function h(ops: Array<Omit<Op, 'index'>>): History {
  return ops.map((o, index) => ({ ...o, index }));
}

const history = h([
  { timeNs: 0, process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 1 } },
  { timeNs: 5 * ms, process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 1, offset: 0 } },
  { timeNs: 6 * ms, process: 1, type: 'invoke', f: 'poll', value: null },
  { timeNs: 6 * ms, process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 2 } },
  { timeNs: 9 * ms, process: 1, type: 'ok', f: 'poll', value: { 't-0': [[0, 1], [1, 2]] } },
  { timeNs: 10 * ms, process: 'nemesis', type: 'info', f: 'kill', value: { nodes: ['n1'] } },
  { timeNs: 20 * ms, process: 0, type: 'info', f: 'send', value: { key: 't-0', value: 2, error: 'REQUEST_TIMED_OUT' } },
  { timeNs: 21 * ms, process: 2, type: 'invoke', f: 'poll', value: null },
  { timeNs: 25 * ms, process: 2, type: 'ok', f: 'poll', value: { 't-0': [[0, 1], [1, 3], [2, 1]] } },
  { timeNs: 30 * ms, process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 4 } },
]);

describe('report plot data', () => {
  it('pairs invokes with completions of the same process and f; a never-completed op stays pending', () => {
    const ops = pairOps(history);
    expect(ops.map((o) => [o.process, o.f, o.type, o.startMs, o.endMs, o.line])).toEqual([
      [0, 'send', 'ok', 0, 5, 2],
      [1, 'poll', 'ok', 6, 9, 5],
      [0, 'send', 'info', 6, 20, 7],
      [2, 'poll', 'ok', 21, 25, 9],
      [0, 'send', 'pending', 30, null, 10],
    ]);
  });

  it('gives one latency point per completed op, a series per (f, type)', () => {
    const s = latencySeries(pairOps(history), 30);
    expect(s.map((x) => [x.f, x.type, x.points])).toEqual([
      ['poll', 'ok', [[6, 3, 5], [21, 4, 9]]],
      ['send', 'ok', [[0, 5, 2]]],
      ['send', 'info', [[6, 14, 7]]],
    ]);
  });

  it('counts completions per second per (f, type) in bounded buckets', () => {
    const t = throughput(pairOps(history), 30);
    expect(t.bucketMs).toBe(100);
    expect(t.series.find((s) => s.f === 'send' && s.type === 'info')!.opsPerS).toEqual([10]);
    expect(throughput(pairOps(history), 3_600_000, 300).tMs.length).toBeLessThanOrEqual(300);
  });

  it('shows which value each source saw at each offset, counting conflicts and repeated values', () => {
    const o = orders(history);
    expect(o.keysTotal).toBe(1);
    const k = o.keys[0]!;
    expect(k.sources).toEqual(['ack', 'process 1', 'process 2']);
    expect(k.points).toEqual([[0, 1, 0], [0, 1, 1], [0, 1, 2], [1, 2, 1], [1, 3, 2], [2, 1, 2]]);
    expect(k.conflictingOffsets).toBe(1); // offset 1 holds 2 and 3
    expect(k.repeatedValues).toBe(1); // value 1 at offsets 0 and 2
  });

  it('keeps every conflicting observation when a key is sampled', () => {
    const ops: Array<Omit<Op, 'index'>> = [];
    const reads: Array<[number, number]> = [];
    for (let i = 0; i < 5000; i++) reads.push([i, i]);
    reads.push([2500, 999_999]); // a second value at offset 2500
    ops.push({ timeNs: 0, process: 1, type: 'invoke', f: 'poll', value: null }, { timeNs: 1, process: 1, type: 'ok', f: 'poll', value: { k: reads } });
    const k = orders(h(ops), 32, 1000).keys[0]!;
    expect(k.sampled).toBe(true);
    expect(k.points.length).toBeLessThanOrEqual(1000);
    expect(k.points).toContainEqual([2500, 999_999, 0]);
    expect(k.points).toContainEqual([2500, 2500, 0]);
    expect(k.conflictingOffsets).toBe(1);
  });

  it('property: min/max sampling stays within the cap and keeps the slowest and fastest op', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(10_000), fc.nat(100_000)), { minLength: 1, maxLength: 3000 }), fc.integer({ min: 2, max: 500 }), (raw, cap) => {
        const pts = raw.map(([t, l], i) => [t, l, i] as [number, number, number]).sort((a, b) => a[0] - b[0]);
        const out = minMaxSample(pts, cap, 0, 10_000);
        expect(out.length).toBeLessThanOrEqual(Math.max(cap, 1));
        const lat = pts.map((p) => p[1]);
        expect(out.some((p) => p[1] === Math.max(...lat))).toBe(true);
        expect(out.some((p) => p[1] === Math.min(...lat))).toBe(true);
        for (let i = 1; i < out.length; i++) expect(out[i]![0]).toBeGreaterThanOrEqual(out[i - 1]![0]);
      }),
    );
  });

  it('property: timeline merging fits the bar budget, accounts for every op and never hides a failure', () => {
    const outcome = fc.constantFrom<'ok' | 'fail' | 'info'>('ok', 'fail', 'info');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(4), fc.nat(1000), fc.nat(50), outcome), { maxLength: 800 }), fc.integer({ min: 1, max: 200 }), (raw, maxBars) => {
        const ops = raw.map(([p, t, d, type], i) => ({ process: p, f: 'send', startMs: t, endMs: t + d, type, line: i + 1 })).sort((a, b) => a.startMs - b.startMs);
        const tl = timeline(ops, 1050, maxBars);
        // one bar per lane and f is as far as merging goes
        expect(tl.bars.length).toBeLessThanOrEqual(Math.max(maxBars, tl.lanes.length));
        expect(tl.bars.reduce((n, b) => n + b[6], 0)).toBe(ops.length);
        for (const [lane, p] of tl.lanes.entries()) {
          if (ops.some((o) => String(o.process) === p && o.type === 'fail')) expect(tl.bars.some((b) => b[0] === lane && b[3] === 1)).toBe(true);
        }
      }),
    );
  });
});

describe('numbers for people', () => {
  it('formats counts, durations and ratios without float noise', () => {
    expect(fmtCount(1234567)).toBe('1,234,567');
    expect(fmtCount(12.345)).toBe('12.3');
    expect(fmtMs(726.897)).toBe('727 ms');
    expect(fmtMs(7.26)).toBe('7.3 ms');
    expect(fmtMs(0.123)).toBe('0.12 ms');
    expect(fmtMs(1234)).toBe('1.23 s');
    expect(fmtMs(125_000)).toBe('2 min 5 s');
    expect(fmtPct(0.99999)).toBe('99.99%');
    expect(fmtPct(1)).toBe('100%');
    expect(fmtPct(0.00001)).toBe('0.01%');
    expect(fmtPct(0.5)).toBe('50%');
    expect(fmtPct(null)).toBe('-');
  });
});
