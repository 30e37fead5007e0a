/**
 * Property tests of the queue checker against histories of a simulated correct broker
 * (checkers/simulate.ts): a clean history checks valid with every anomaly count 0; planting exactly one
 * anomaly of a kind is caught with the right count, and no other kind is reported (except the poll-skip
 * that a lost write in the middle of a key necessarily causes, each of which must straddle the hole).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Op } from '../../checkers/history.ts';
import { ANOMALY_TYPES, checkQueue } from '../../checkers/queue.ts';
import type { AnomalyType, QueueResult } from '../../checkers/queue.ts';
import { simulateQueue } from '../../checkers/simulate.ts';
import type { SimOptions } from '../../checkers/simulate.ts';

type Pairs = Array<[number, number]>;
type PollMap = Record<string, Pairs>;

const simArb = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  ops: fc.integer({ min: 150, max: 1200 }),
  keys: fc.integer({ min: 1, max: 4 }),
  producers: fc.integer({ min: 1, max: 3 }),
  consumers: fc.integer({ min: 2, max: 3 }),
  acks: fc.constantFrom('0' as const, '1' as const, 'all' as const),
  maxBatch: fc.integer({ min: 1, max: 6 }),
  faultEverySteps: fc.constantFrom(0, 50, 200),
});
const ackedArb = simArb.map((o) => ({ ...o, acks: o.acks === '0' ? ('1' as const) : o.acks }));

const RUNS = { numRuns: 40 };

function counts(r: QueueResult): Record<AnomalyType, number> {
  return Object.fromEntries(ANOMALY_TYPES.map((t) => [t, r.anomalies[t].count])) as Record<AnomalyType, number>;
}

function only(expected: Partial<Record<AnomalyType, number>>): Record<AnomalyType, number> {
  return Object.fromEntries(ANOMALY_TYPES.map((t) => [t, expected[t] ?? 0])) as Record<AnomalyType, number>;
}

function okPolls(history: Op[]): Array<Op & { value: PollMap }> {
  return history.filter((op) => op.f === 'poll' && op.type === 'ok') as Array<Op & { value: PollMap }>;
}

interface Ack {
  invoke: number;
  complete: number;
  process: Op['process'];
  key: string;
  value: number;
  offset: number | undefined;
}

function okSends(history: Op[]): Ack[] {
  const inflight = new Map<Op['process'], number>();
  const out: Ack[] = [];
  for (const op of history) {
    if (op.f !== 'send') continue;
    if (op.type === 'invoke') inflight.set(op.process, op.index);
    else if (op.type === 'ok') {
      const v = op.value as { key: string; value: number; offset?: number };
      out.push({ invoke: inflight.get(op.process)!, complete: op.index, process: op.process, key: v.key, value: v.value, offset: v.offset });
    }
  }
  return out;
}

/** The last ok poll that read `key` (the end of some consumer's final drain of it). */
function lastPollOf(history: Op[], key: string): (Op & { value: PollMap }) | undefined {
  const polls = okPolls(history);
  for (let i = polls.length - 1; i >= 0; i--) if (polls[i]!.value[key] !== undefined) return polls[i];
  return undefined;
}

function sim(o: SimOptions): { history: Op[]; logs: Map<string, number[]> } {
  return simulateQueue(o);
}

describe('queue checker on a simulated correct broker', () => {
  it('a clean history is valid with every count 0, and every acknowledged value is read', () => {
    fc.assert(
      fc.property(simArb, fc.boolean(), (o, idempotent) => {
        const { history, logs } = sim(o);
        const r = checkQueue(history, { idempotent, acks: o.acks });
        expect(counts(r)).toEqual(only({}));
        expect(r.valid).toBe(true);
        expect(r.stats.malformedOps).toBe(0);
        let logged = 0;
        for (const l of logs.values()) logged += l.length;
        expect(r.stats.valuesRead).toBe(logged);
        expect(r.stats.acked + r.stats.sendFailed + r.stats.sendIndeterminate).toBe(r.stats.sends);
      }),
      RUNS,
    );
  });

  it('an acked value dropped from every read at a middle offset is one lost-write', () => {
    fc.assert(
      fc.property(ackedArb, fc.nat(), (o, pick) => {
        const { history, logs } = sim(o);
        const mids = okSends(history).filter((s) => s.offset !== undefined && s.offset < logs.get(s.key)!.length - 1);
        fc.pre(mids.length > 0);
        const s = mids[pick % mids.length]!;
        for (const p of okPolls(history)) {
          const pairs = p.value[s.key];
          if (pairs !== undefined) p.value[s.key] = pairs.filter(([, v]) => v !== s.value);
        }
        const r = checkQueue(history, { idempotent: false, acks: o.acks });
        const c = counts(r);
        expect({ ...c, 'poll-skip': 0 }).toEqual(only({ 'lost-write': 1 }));
        expect(r.anomalies['lost-write'].examples[0]).toMatchObject({ key: s.key, value: s.value, offset: s.offset });
        // Each consumer's final drain reads across the hole, unless the hole is at offset 0.
        if (s.offset! > 0) expect(c['poll-skip']).toBeGreaterThanOrEqual(o.consumers);
        for (const e of r.anomalies['poll-skip'].examples as Array<{ key: string; fromOffset: number; toOffset: number }>) {
          expect(e.key).toBe(s.key);
          expect(e.fromOffset).toBeLessThan(s.offset!);
          expect(e.toOffset).toBeGreaterThan(s.offset!);
        }
        expect(r.valid).toBe(false);
      }),
      RUNS,
    );
  });

  it('an acked value dropped from every read at the tail is one unseen', () => {
    fc.assert(
      fc.property(simArb, (o) => {
        const { history, logs } = sim(o);
        const sends = okSends(history);
        const tails = sends.filter((s) => {
          const log = logs.get(s.key)!;
          return log[log.length - 1] === s.value;
        });
        fc.pre(tails.length > 0);
        const s = tails[0]!;
        for (const p of okPolls(history)) {
          const pairs = p.value[s.key];
          if (pairs !== undefined) p.value[s.key] = pairs.filter(([, v]) => v !== s.value);
        }
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only({ unseen: 1 }));
        expect(r.anomalies.unseen.examples[0]).toMatchObject({ key: s.key, value: s.value });
        expect(r.valid).toBe(false);
      }),
      RUNS,
    );
  });

  it('a value read again at a new offset past the end is one duplicate', () => {
    fc.assert(
      fc.property(simArb, fc.nat(), fc.boolean(), (o, pick, idempotent) => {
        const { history, logs } = sim(o);
        const keys = [...logs.keys()].filter((k) => logs.get(k)!.length > 0);
        fc.pre(keys.length > 0);
        const key = keys[pick % keys.length]!;
        const log = logs.get(key)!;
        const value = log[pick % log.length]!;
        lastPollOf(history, key)!.value[key]!.push([log.length, value]);
        const r = checkQueue(history, { idempotent, acks: o.acks });
        expect(counts(r)).toEqual(only({ duplicate: 1 }));
        expect(r.anomalies.duplicate.examples[0]).toMatchObject({
          value,
          at: [{ key, offset: log.indexOf(value) }, { key, offset: log.length, line: lastPollOf(history, key)!.index + 1 }],
        });
        expect(r.valid).toBe(idempotent ? false : true);
      }),
      RUNS,
    );
  });

  it('a second value at one offset is one inconsistent-offsets', () => {
    fc.assert(
      fc.property(simArb, fc.nat(), (o, pick) => {
        const { history } = sim(o);
        const reads: Array<{ pairs: Pairs; i: number; key: string }> = [];
        for (const p of okPolls(history)) for (const [key, pairs] of Object.entries(p.value)) pairs.forEach((_, i) => reads.push({ pairs, i, key }));
        fc.pre(reads.length > 0);
        const { pairs, i, key } = reads[pick % reads.length]!;
        const offset = pairs[i]![0];
        pairs[i] = [offset, 1e9 + 7]; // a value no send carried: a diverged replica's
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        // A value no send carried is also an unexpected read.
        expect(counts(r)).toEqual(only({ 'inconsistent-offsets': 1, 'unexpected-read': 1 }));
        expect(r.anomalies['inconsistent-offsets'].examples[0]).toMatchObject({ key, offset });
        expect(r.anomalies['unexpected-read'].examples[0]).toMatchObject({ key, offset, value: 1e9 + 7 });
        expect(r.stats.readsOfUnknownValues).toBe(1);
        expect(r.valid).toBe(false);
      }),
      RUNS,
    );
  });

  it('reading a failed send is one aborted-read', () => {
    fc.assert(
      fc.property(simArb, fc.nat(), (o, pick) => {
        const { history, logs } = sim(o);
        const failed = history.filter((op) => op.f === 'send' && op.type === 'fail');
        fc.pre(failed.length > 0);
        const { key, value } = failed[pick % failed.length]!.value as { key: string; value: number };
        const last = lastPollOf(history, key);
        fc.pre(last !== undefined);
        last!.value[key]!.push([logs.get(key)!.length, value]);
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only({ 'aborted-read': 1 }));
        expect(r.anomalies['aborted-read'].examples[0]).toMatchObject({ key, value });
        expect(r.valid).toBe(false);
      }),
      RUNS,
    );
  });

  it('skipping an offset within a consumer\'s reads is one poll-skip', () => {
    fc.assert(
      fc.property(simArb, fc.nat(), (o, pick) => {
        const { history } = sim(o);
        const cands: Array<{ op: Op & { value: PollMap }; key: string }> = [];
        for (const p of okPolls(history)) for (const [key, pairs] of Object.entries(p.value)) if (pairs.length >= 3) cands.push({ op: p, key });
        fc.pre(cands.length > 0);
        const { op, key } = cands[pick % cands.length]!;
        const pairs = op.value[key]!;
        const i = 1 + (pick % (pairs.length - 2));
        const [skipped] = pairs.splice(i, 1);
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only({ 'poll-skip': 1 }));
        expect(r.anomalies['poll-skip'].examples[0]).toEqual({
          process: op.process, key, fromOffset: skipped![0] - 1, toOffset: skipped![0] + 1, skipped: 1, line: op.index + 1,
        });
        expect(r.valid).toBe(false);
      }),
      RUNS,
    );
  });

  it('re-reading an offset without an assign is one nonmonotonic-poll', () => {
    fc.assert(
      fc.property(simArb, fc.nat(), (o, pick) => {
        const { history } = sim(o);
        const cands: Array<{ op: Op & { value: PollMap }; key: string }> = [];
        for (const p of okPolls(history)) for (const key of Object.keys(p.value)) cands.push({ op: p, key });
        fc.pre(cands.length > 0);
        const { op, key } = cands[pick % cands.length]!;
        const pairs = op.value[key]!;
        const i = pick % pairs.length;
        pairs.splice(i + 1, 0, [pairs[i]![0], pairs[i]![1]]);
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only({ 'nonmonotonic-poll': 1 }));
        expect(r.anomalies['nonmonotonic-poll'].examples[0]).toMatchObject({ process: op.process, key, fromOffset: pairs[i]![0], toOffset: pairs[i]![0] });
        expect(r.valid).toBe(false);
      }),
      RUNS,
    );
  });

  it('two sends of one process to a key acknowledged in reverse order are one nonmonotonic-send', () => {
    fc.assert(
      fc.property(ackedArb, fc.nat(), fc.boolean(), (o, pick, idempotent) => {
        const { history } = sim(o);
        // Successive acked sends of one process to one key.
        const last = new Map<string, Ack>();
        const pairs: Array<[Ack, Ack]> = [];
        for (const s of okSends(history)) {
          const id = `${String(s.process)}/${s.key}`;
          const prev = last.get(id);
          if (prev !== undefined) pairs.push([prev, s]);
          last.set(id, s);
        }
        fc.pre(pairs.length > 0);
        const [a, b] = pairs[pick % pairs.length]!;
        for (const [x, y] of [[a.invoke, b.invoke], [a.complete, b.complete]] as const) {
          const tmp = history[x]!.value;
          history[x]!.value = history[y]!.value;
          history[y]!.value = tmp;
        }
        const r = checkQueue(history, { idempotent, acks: o.acks });
        expect(counts(r)).toEqual(only({ 'nonmonotonic-send': 1 }));
        expect(r.anomalies['nonmonotonic-send'].examples[0]).toMatchObject({ process: a.process, key: a.key, value: a.value, offset: a.offset, previousOffset: b.offset });
        expect(r.valid).toBe(idempotent ? false : true);
      }),
      RUNS,
    );
  });
});
