/**
 * Tests of the availability and latency checker on hand-built timelines (exact figures) and on
 * simulated runs whose failover time is known (the measured unavailability must bracket it).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../../checkers/history.ts';
import { checkPerf, percentiles } from '../../checkers/perf.ts';
import { simulateQueue } from '../../checkers/simulate.ts';

/** Builds a history from [timeMs, process, type, f, value] rows, sorted by time (stable). */
function timeline(rows: Array<[number, Op['process'], Op['type'], string, unknown]>): History {
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r[0] - b.r[0] || a.i - b.i)
    .map(({ r: [ms, process, type, f, value] }, index) => ({ index, timeNs: Math.round(ms * 1e6), process, type, f, value }));
}

type Row = [number, Op['process'], Op['type'], string, unknown];
const sendRows = (p: number, atMs: number, latencyMs: number, type: Op['type'], value: number): Row[] => [
  [atMs, p, 'invoke', 'send', { key: 'k', value }],
  [atMs + latencyMs, p, type, 'send', type === 'ok' ? { key: 'k', value, offset: value } : { key: 'k', value, error: 'X' }],
];

describe('latency', () => {
  it('nearest-rank percentiles of ok sends and ok polls only', () => {
    const rows: Row[] = [];
    for (let i = 1; i <= 100; i++) rows.push(...sendRows(0, i * 1000, i, 'ok', i));
    rows.push(...sendRows(0, 200_000, 5000, 'fail', 500));
    for (let i = 1; i <= 10; i++) rows.push([i * 1000 + 500, 1, 'invoke', 'poll', null], [i * 1000 + 500 + i, 1, 'ok', 'poll', {}]);
    rows.push([50_000, 1, 'invoke', 'poll', null], [60_000, 1, 'info', 'poll', { error: 'X' }]);
    const r = checkPerf(timeline(rows));
    expect(r.valid).toBe(true);
    expect(r.latencyMs.send).toEqual({ count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(r.latencyMs.poll).toEqual({ count: 10, p50: 5, p90: 9, p99: 10, max: 10 });
  });

  it('percentiles: ordered, attained, and at least the named share at or below each', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), (xs) => {
        const p = percentiles(Float64Array.from(xs));
        const sorted = [...xs].sort((a, b) => a - b);
        expect(p.count).toBe(xs.length);
        expect(p.max).toBe(sorted[sorted.length - 1]);
        for (const [q, v] of [[0.5, p.p50], [0.9, p.p90], [0.99, p.p99]] as const) {
          expect(xs).toContain(v);
          expect(sorted.filter((x) => x <= v!).length).toBeGreaterThanOrEqual(Math.ceil(q * xs.length));
          expect(sorted.filter((x) => x < v!).length).toBeLessThan(Math.ceil(q * xs.length));
        }
      }),
      { numRuns: 100 },
    );
    expect(percentiles(new Float64Array(0))).toEqual({ count: 0, p50: null, p90: null, p99: null, max: null });
  });
});

describe('availability', () => {
  // One producer sends every 100 ms (10 ms each). A kill at 1000 ms makes sends fail until 1500 ms;
  // the restart comes at 2000 ms.
  const rows: Row[] = [];
  for (let i = 0; i < 30; i++) {
    const at = i * 100;
    rows.push(...sendRows(0, at, 10, at >= 1000 && at < 1500 ? 'fail' : 'ok', i));
  }
  rows.push([1000, 'nemesis', 'info', 'kill', { nodes: ['n1'], role: 'leader' }], [2000, 'nemesis', 'info', 'restart', { nodes: ['n1'] }]);
  const r = checkPerf(timeline(rows), { settleMs: 500 });

  it('overall, per fault window and per quiet window', () => {
    expect(r.availability.overall).toEqual({ attempted: 30, acked: 25, ratio: 25 / 30 });
    expect(r.availability.faulted).toEqual({ attempted: 10, acked: 5, ratio: 0.5 });
    expect(r.availability.quiet).toEqual({ attempted: 20, acked: 20, ratio: 1 });
    expect(r.availability.faultWindows).toHaveLength(1);
    expect(r.availability.faultWindows[0]).toMatchObject({ fault: 'kill', nodes: ['n1'], startMs: 1000, endMs: 2000, closed: true, attempted: 10, acked: 5, ratio: 0.5 });
    expect(r.availability.quietWindows).toEqual([
      { startMs: 0, endMs: 1000, attempted: 10, acked: 10, ratio: 1 },
      { startMs: 2000, endMs: 2910, attempted: 10, acked: 10, ratio: 1 },
    ]);
  });

  it('the longest unavailability after a fault runs from the first unanswered attempt to the next ack', () => {
    expect(r.availability.faultWindows[0]).toMatchObject({ longestUnavailableMs: 510, unavailableFromMs: 1000, unavailableToMs: 1510 });
    expect(r.availability.maxUnavailableMs).toBe(510);
  });

  it('an outage starts at an ack when another send is still in flight', () => {
    const w = checkPerf(timeline([
      ...sendRows(0, 0, 10, 'ok', 1),
      ...sendRows(1, 900, 500, 'fail', 2),
      [950, 'nemesis', 'info', 'kill', { nodes: ['n1'] }],
      ...sendRows(0, 990, 10, 'ok', 3),
      ...sendRows(0, 1500, 100, 'ok', 4),
      [1700, 'nemesis', 'info', 'restart', { nodes: ['n1'] }],
    ]), { settleMs: 0 }).availability.faultWindows;
    expect(w[0]).toMatchObject({ longestUnavailableMs: 600, unavailableFromMs: 1000, unavailableToMs: 1600, attempted: 2, acked: 2 });
  });

  it('with no sends the ratios are null', () => {
    const e = checkPerf(timeline([[0, 1, 'invoke', 'poll', null], [5, 1, 'ok', 'poll', {}]]));
    expect(e.availability.overall).toEqual({ attempted: 0, acked: 0, ratio: null });
    expect(e.availability.maxUnavailableMs).toBe(0);
  });

  it('pairs faults with their recoveries by kind and nodes; heal lifts every partition; failed nemesis ops change nothing; an unclosed fault ends at the last op', () => {
    const w = checkPerf(timeline([
      [0, 0, 'invoke', 'send', { key: 'k', value: 1 }],
      [100, 'nemesis', 'info', 'pause', { nodes: ['n1'] }],
      [200, 'nemesis', 'info', 'partition', { nodes: ['n2', 'n3'] }],
      [300, 'nemesis', 'info', 'resume', { nodes: ['n1'] }],
      [400, 'nemesis', 'info', 'heal', {}],
      [500, 'nemesis', 'info', 'kill', { nodes: ['n1'] }],
      [600, 'nemesis', 'info', 'kill', { nodes: ['n2'] }],
      [700, 'nemesis', 'info', 'restart', { nodes: ['n2'] }],
      [710, 'nemesis', 'info', 'start-clock-skew', { nodes: ['n3'] }],
      [720, 'nemesis', 'info', 'stop-clock-skew', { nodes: ['n3'] }],
      [730, 'nemesis', 'invoke', 'kill', { nodes: ['n3'] }],
      [740, 'nemesis', 'info', 'kill', { nodes: ['n3'], error: 'no such process' }],
      [750, 'nemesis', 'info', 'partition', { nodes: ['n1', 'n2'] }],
      [760, 'nemesis', 'info', 'partition', { nodes: ['n3'] }],
      [770, 'nemesis', 'info', 'heal', { nodes: ['n3'] }],
      [780, 'nemesis', 'info', 'pause', { nodes: ['n2'] }],
      [790, 'nemesis', 'info', 'resume', { nodes: ['n2'], error: 'SIGCONT failed' }],
      [1000, 0, 'ok', 'send', { key: 'k', value: 1, offset: 0 }],
    ])).availability;
    expect(w.faultWindows.map((x) => [x.fault, x.nodes.join(','), x.startMs, x.endMs, x.closed])).toEqual([
      ['pause', 'n1', 100, 300, true],
      ['partition', 'n2,n3', 200, 400, true],
      ['kill', 'n1', 500, 1000, false],
      ['kill', 'n2', 600, 700, true],
      ['start-clock-skew', 'n3', 710, 720, true],
      ['partition', 'n1,n2', 750, 770, true],
      ['partition', 'n3', 760, 770, true],
      ['pause', 'n2', 780, 1000, false],
    ]);
    expect(w.quietWindows.map((q) => [q.startMs, q.endMs])).toEqual([[0, 100], [400, 500]]);
    expect(w.faulted.attempted + w.quiet.attempted).toBe(w.overall.attempted);
  });

  it('a fault\'s settle time stops at the next fault', () => {
    const rows2: Row[] = [];
    // Acks stop at 1200 for good; faults at 1000-1100 and 1500-1600; settle 5000.
    for (let i = 0; i < 40; i++) rows2.push(...sendRows(0, i * 100, 10, i * 100 < 1200 ? 'ok' : 'fail', i));
    rows2.push([1000, 'nemesis', 'info', 'pause', { nodes: ['n1'] }], [1100, 'nemesis', 'info', 'resume', { nodes: ['n1'] }]);
    rows2.push([1500, 'nemesis', 'info', 'pause', { nodes: ['n1'] }], [1600, 'nemesis', 'info', 'resume', { nodes: ['n1'] }]);
    const w = checkPerf(timeline(rows2), { settleMs: 5000 }).availability.faultWindows;
    expect(w[0]).toMatchObject({ longestUnavailableMs: 300, unavailableFromMs: 1200, unavailableToMs: 1500 });
    // The second fault sees the outage from its start to the last send event (3910 ms).
    expect(w[1]).toMatchObject({ longestUnavailableMs: 2410, unavailableFromMs: 1500, unavailableToMs: 3910 });
  });

  it('measures the simulated failover time of each kill', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 3 }), (seed, producers) => {
        const failoverMs = 300;
        const { history } = simulateQueue({ seed, ops: 6000, keys: 2, producers, consumers: 2, acks: 'all', faultEverySteps: 400, faultDurationMs: 1000, failoverMs });
        const a = checkPerf(history, { settleMs: 1000 }).availability;
        // Faults that ran their full course (the final phase cuts the last one short).
        const closed = a.faultWindows.filter((w) => w.closed && w.endMs - w.startMs >= 900);
        fc.pre(closed.length > 0);
        for (const w of closed) {
          // It starts at the fault (or the first attempt after it) and ends at the first ack after the failover.
          expect(w.unavailableFromMs!).toBeGreaterThanOrEqual(w.startMs);
          expect(w.unavailableFromMs!).toBeLessThan(w.startMs + 50);
          expect(w.unavailableToMs!).toBeGreaterThanOrEqual(w.startMs + failoverMs);
          expect(w.unavailableToMs!).toBeLessThan(w.startMs + failoverMs + 100);
          expect(w.longestUnavailableMs).toBeCloseTo(w.unavailableToMs! - w.unavailableFromMs!, 6);
        }
      }),
      { numRuns: 10 },
    );
  });
});

describe('checkPerf never throws', () => {
  it('time going backwards is unknown', () => {
    const r = checkPerf([
      { index: 0, timeNs: 5e6, process: 0, type: 'invoke', f: 'send', value: { key: 'k', value: 1 } },
      { index: 1, timeNs: 1e6, process: 0, type: 'ok', f: 'send', value: { key: 'k', value: 1, offset: 0 } },
    ]);
    expect(r.valid).toBe('unknown');
    expect(r.error).toMatch(/monotonic/);
  });

  it('junk gives a verdict, not an exception', () => {
    fc.assert(
      fc.property(fc.array(fc.anything()), (junk) => {
        expect([true, 'unknown']).toContain(checkPerf(junk as unknown as History).valid);
      }),
      { numRuns: 200 },
    );
    expect(checkPerf(undefined as unknown as History).valid).toBe('unknown');
  });
});
