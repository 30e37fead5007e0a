/**
 * A run's history (checkers/history.ts ops) checked against the log model: a simulated correct
 * broker's history of thousands of sends and polls is linearizable, and checks fast; re-assigning one
 * acknowledged offset (as a diverged replica would) makes it not linearizable; indeterminate sends
 * do not make the search run away once a drain has read every partition; nemesis lines and
 * invoke-less assign lines are ignored.
 */
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../../../checkers/history.ts';
import { checkLogHistory, logHistoryHtml } from '../../../checkers/linearizability/log-history.ts';

/** Producers 0..4 send to keys k-0..k-2; each send takes effect at a random instant inside its interval. Consumer 9 polls. */
function simulate(seed: number, sends: number, infoPercent = 0): History {
  let x = seed;
  const rnd = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    return x % n;
  };
  type Pending = { p: number; key: string; value: number; call: number; at: number; ret: number; info: boolean; applied: boolean };
  const logs = new Map<string, number[]>();
  const events: Array<Omit<Op, 'index'>> = [];
  const pending: Pending[] = [];
  let t = 0;
  let value = 0;
  const busy = new Set<number>();
  for (let i = 0; i < sends; i++) {
    t += 1 + rnd(3);
    const p = rnd(5);
    if (!busy.has(p)) {
      busy.add(p);
      const key = `k-${rnd(3)}`;
      const v = value++;
      events.push({ timeNs: t, process: p, type: 'invoke', f: 'send', value: { key, value: v } });
      const info = rnd(100) < infoPercent;
      pending.push({ p, key, value: v, call: t, at: t + 1 + rnd(5), ret: t + 6 + rnd(10), info, applied: !info || rnd(2) === 0 });
    }
    for (const q of [...pending]) {
      if (q.at === -1 || q.at > t) continue;
      q.at = -1;
      if (!q.applied) continue;
      const log = logs.get(q.key) ?? [];
      logs.set(q.key, log);
      log.push(q.value);
      (q as Pending & { offset?: number }).offset = log.length - 1;
    }
    for (const q of [...pending]) {
      if (q.at !== -1 || q.ret > t) continue;
      const offset = (q as Pending & { offset?: number }).offset!;
      if (q.info) events.push({ timeNs: t, process: q.p, type: 'info', f: 'send', value: { key: q.key, value: q.value, error: 'REQUEST_TIMED_OUT' } });
      else events.push({ timeNs: t, process: q.p, type: 'ok', f: 'send', value: { key: q.key, value: q.value, offset } });
      pending.splice(pending.indexOf(q), 1);
      busy.delete(q.p);
    }
    if (rnd(4) === 0) {
      const key = `k-${rnd(3)}`;
      const log = logs.get(key) ?? [];
      const from = rnd(log.length + 1);
      const pairs = log.slice(from, from + 3).map((v, k): [number, number] => [from + k, v]);
      events.push({ timeNs: t, process: 9, type: 'invoke', f: 'poll', value: null });
      events.push({ timeNs: t + 1, process: 9, type: 'ok', f: 'poll', value: pairs.length ? { [key]: pairs } : {} });
      if (rnd(10) === 0) events.push({ timeNs: t + 1, process: 9, type: 'ok', f: 'assign', value: { keys: ['k-0'] } });
      if (rnd(20) === 0) events.push({ timeNs: t + 1, process: 'nemesis', type: 'info', f: 'kill', value: { nodes: ['n1'] } });
    }
  }
  for (const [key, log] of logs) {
    t += 10; // final drain: every partition read from offset 0
    events.push({ timeNs: t, process: 10, type: 'invoke', f: 'poll', value: null });
    events.push({ timeNs: t + 1, process: 10, type: 'ok', f: 'poll', value: { [key]: log.map((v, k): [number, number] => [k, v]) } });
  }
  return events.sort((a, b) => a.timeNs - b.timeNs).map((e, index) => ({ ...e, index }));
}

describe('checkLogHistory', () => {
  it('a correct history is linearizable, and thousands of ops check fast', () => {
    for (const seed of [1, 2, 3]) {
      const h = simulate(seed, 3000);
      const r = checkLogHistory(h, { timeLimitMs: 20_000 });
      expect(r.valid).toBe(true);
      expect(r.ops).toBeGreaterThan(1500);
      expect(r.partitions).toHaveLength(3);
    }
  });

  it('with 20% indeterminate sends (half of them applied) and a final drain it stays linearizable and fast', () => {
    const h = simulate(5, 6000, 20);
    expect(h.filter((o) => o.type === 'info').length).toBeGreaterThan(200);
    const r = checkLogHistory(h, { timeLimitMs: 20_000 });
    expect(r.valid).toBe(true);
    expect(r.partitions.every((p) => p.cacheEntries < 10 * p.ops)).toBe(true);
  });

  it('one acknowledged offset re-assigned to another value is caught, in its partition', () => {
    const h = simulate(4, 400);
    const acks = h.filter((o) => o.f === 'send' && o.type === 'ok') as Array<Op & { value: { key: string; offset: number } }>;
    const a = acks[10]!;
    const b = acks.find((o) => o.value.key === a.value.key && o.value.offset > a.value.offset)!;
    b.value = { ...b.value, offset: a.value.offset };
    const r = checkLogHistory(h);
    expect(r.valid).toBe(false);
    expect(r.failure?.partition).toBe(`key ${a.value.key}`);
    const html = logHistoryHtml(h, 'run');
    expect(html).toContain(`Failing partition: key ${a.value.key}`);
    expect(html).toContain('class="block"');
  });

  it('malformed sends give unknown, not an exception', () => {
    const h: History = [
      { index: 0, timeNs: 0, process: 1, type: 'invoke', f: 'send', value: { nokey: 1 } },
      { index: 1, timeNs: 1, process: 1, type: 'ok', f: 'send', value: { nokey: 1 } },
    ];
    expect(checkLogHistory(h).valid).toBe('unknown');
  });
});
