/**
 * Property tests of the queue checker against histories of a simulated correct broker
 * (checkers/simulate.ts): a clean history checks valid with every anomaly count 0; planting exactly one
 * anomaly of a kind is caught with the right count, and no other kind is reported (except the poll-skip
 * and resume-mismatch skips that a lost write in the middle of a key necessarily causes, each of which
 * must straddle the hole). `reposition` is a finding the simulator makes on purpose: its count must equal
 * the reposition ops.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Op } from '../../checkers/history.ts';
import { readHistory } from '../../checkers/history.ts';
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

/** The simulator repositions consumers on purpose: `reposition` is a finding, checked on its own. */
const COUNTED = ANOMALY_TYPES.filter((t) => t !== 'reposition');

function counts(r: QueueResult): Partial<Record<AnomalyType, number>> {
  return Object.fromEntries(COUNTED.map((t) => [t, r.anomalies[t].count]));
}

function only(expected: Partial<Record<AnomalyType, number>>): Partial<Record<AnomalyType, number>> {
  return Object.fromEntries(COUNTED.map((t) => [t, expected[t] ?? 0]));
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

/** How many pairs of the ok polls read each value (a planted change to one read must not hide its value). */
function readCounts(history: Op[]): Map<number, number> {
  const n = new Map<number, number>();
  for (const p of okPolls(history)) for (const pairs of Object.values(p.value)) for (const [, v] of pairs) n.set(v, (n.get(v) ?? 0) + 1);
  return n;
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
        expect(r.anomalies.reposition.count).toBe(history.filter((op) => op.f === 'reposition').length);
        expect(r.valid).toBe(true);
        expect(r.phases.drainComplete).toBe(true);
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
        expect({ ...c, 'poll-skip': 0, 'resume-mismatch': 0 }).toEqual(only({ 'lost-write': 1 }));
        // The group's committer resuming exactly at the hole now starts past it: a skip over it.
        for (const e of r.anomalies['resume-mismatch'].examples as Array<{ key: string; direction: string; committedOffset: number; offset: number }>) {
          expect(e).toMatchObject({ key: s.key, direction: 'skip' });
          expect(e.committedOffset).toBeLessThanOrEqual(s.offset!);
          expect(e.offset).toBeGreaterThan(s.offset!);
        }
        expect(r.anomalies['lost-write'].examples[0]).toMatchObject({ key: s.key, value: s.value, offset: s.offset });
        // Each draining consumer (all but the group's committer) reads across the hole, unless it is at offset 0.
        if (s.offset! > 0) expect(c['poll-skip']).toBeGreaterThanOrEqual(o.consumers - 1);
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
        const read = readCounts(history);
        for (const p of okPolls(history)) for (const [key, pairs] of Object.entries(p.value)) pairs.forEach(([, v], i) => { if (read.get(v)! > 1) reads.push({ pairs, i, key }); });
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
        const cands: Array<{ op: Op & { value: PollMap }; key: string; i: number }> = [];
        const read = readCounts(history);
        for (const p of okPolls(history)) {
          for (const [key, pairs] of Object.entries(p.value)) for (let i = 1; i < pairs.length - 1; i++) if (read.get(pairs[i]![1])! > 1) cands.push({ op: p, key, i });
        }
        fc.pre(cands.length > 0);
        const { op, key, i } = cands[pick % cands.length]!;
        const pairs = op.value[key]!;
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
  it('reading a value no send carried, or a payload that is not an integer, is one unexpected-read', () => {
    fc.assert(
      fc.property(simArb, fc.nat(), fc.constantFrom<unknown>(1e9 + 7, 'not a number', null, { raw: 'bytes' }), (o, pick, payload) => {
        const { history, logs } = sim(o);
        const keys = [...logs.keys()].filter((k) => logs.get(k)!.length > 0);
        fc.pre(keys.length > 0);
        const key = keys[pick % keys.length]!;
        const log = logs.get(key)!;
        const poll = lastPollOf(history, key)!;
        (poll.value[key] as unknown[]).push([log.length, payload]);
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only({ 'unexpected-read': 1 }));
        expect(r.anomalies['unexpected-read'].examples[0]).toEqual({ key, offset: log.length, value: payload, integer: typeof payload === 'number', line: poll.index + 1 });
        expect(r.valid).toBe(false);
      }),
      RUNS,
    );
  });

  it('an ok commit below one that completed before it was invoked is one commit-regress, and keeps the verdict', () => {
    fc.assert(
      fc.property(simArb, (o) => {
        const { history } = sim(o);
        const commits = history.filter((op) => op.f === 'commit');
        fc.pre(commits.length > 0);
        const member = commits[0]!.process;
        // The highest ok-committed offset per key; the member commits one below it at the very end
        // (no assign follows, so no resumption is judged against the planted value).
        const high = new Map<string, number>();
        for (const c of commits) if (c.type === 'ok') for (const [k, off] of Object.entries(c.value as Record<string, number>)) high.set(k, Math.max(high.get(k) ?? 0, off));
        const keys = [...high.keys()].filter((k) => high.get(k)! > 0);
        fc.pre(keys.length > 0);
        const key = keys[0]!;
        const below = high.get(key)! - 1;
        let t = history[history.length - 1]!.timeNs;
        for (const type of ['invoke', 'ok'] as const) history.push({ index: history.length, timeNs: (t += 1000), process: member, type, f: 'commit', value: { [key]: below } });
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only({ 'commit-regress': 1 }));
        expect(r.anomalies['commit-regress'].examples[0]).toMatchObject({ process: member, key, offset: below, previousOffset: below + 1, line: history.length });
        expect(r.valid).toBe(true);
      }),
      RUNS,
    );
  });

  it('a group member resuming below the committed offset, or past it over data, is one resume-mismatch', () => {
    fc.assert(
      fc.property(simArb, fc.boolean(), (o, regress) => {
        const { history, logs } = sim(o);
        const commits = history.filter((op) => op.f === 'commit');
        fc.pre(commits.length > 0);
        const member = commits[0]!.process;
        // The group's committed offset per key at the end: the last ok commit (the simulated committer never regresses).
        const committed = new Map<string, number>();
        for (const c of commits) if (c.type === 'ok') for (const [k, off] of Object.entries(c.value as Record<string, number>)) committed.set(k, off);
        // Highest offset of any commit that was not a definite failure (info commits may have been stored).
        const upper = new Map<string, number>();
        for (const c of commits) if (c.type === 'invoke') for (const [k, off] of Object.entries(c.value as Record<string, number>)) upper.set(k, Math.max(upper.get(k) ?? 0, off));
        // The member's last read of each key: resuming right after it is a kept position, not a mismatch.
        const lastRead = new Map<string, number>();
        for (const p of okPolls(history)) if (p.process === member) for (const [k, pairs] of Object.entries(p.value)) if (pairs.length > 0) lastRead.set(k, pairs.at(-1)![0]);
        const keys = [...committed.keys()].filter((k) => {
          if (regress) return committed.get(k)! > 0;
          const end = logs.get(k)!.length - 1;
          return upper.get(k)! < end && lastRead.get(k) !== end - 1;
        });
        fc.pre(keys.length > 0);
        const key = keys[0]!;
        const log = logs.get(key)!;
        const at = regress ? 0 : log.length - 1;
        let t = history[history.length - 1]!.timeNs;
        const add = (type: Op['type'], f: string, value: unknown): void => {
          history.push({ index: history.length, timeNs: (t += 1000), process: member, type, f, value });
        };
        add('ok', 'assign', { keys: [key] });
        add('invoke', 'poll', null);
        add('ok', 'poll', { [key]: [[at, log[at]!]] });
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only({ 'resume-mismatch': 1 }));
        expect(r.anomalies['resume-mismatch'].examples[0]).toMatchObject({ process: member, key, offset: at, direction: regress ? 'regress' : 'skip', line: history.length });
        expect(r.valid).toBe(false);
      }),
      RUNS,
    );
  });

  it('a reposition is a boundary: reading back after one is no nonmonotonic-poll, and it is counted', () => {
    fc.assert(
      fc.property(simArb, fc.nat(), fc.boolean(), (o, pick, withReposition) => {
        const { history, logs } = sim(o);
        const keys = [...logs.keys()].filter((k) => logs.get(k)!.length > 0);
        fc.pre(keys.length > 0);
        const key = keys[pick % keys.length]!;
        const poll = lastPollOf(history, key)!;
        const last = poll.value[key]!.at(-1)!;
        const before = history.filter((op) => op.f === 'reposition').length;
        let t = history[history.length - 1]!.timeNs;
        const add = (type: Op['type'], f: string, value: unknown): void => {
          history.push({ index: history.length, timeNs: (t += 1000), process: poll.process, type, f, value });
        };
        if (withReposition) add('info', 'reposition', { key, from: last[0] + 1, to: 0, reason: 'OFFSET_OUT_OF_RANGE' });
        add('invoke', 'poll', null);
        add('ok', 'poll', { [key]: [[0, logs.get(key)![0]!]] });
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only(withReposition ? {} : { 'nonmonotonic-poll': 1 }));
        expect(r.anomalies.reposition.count).toBe(before + (withReposition ? 1 : 0));
        expect(r.valid).toBe(!withReposition ? false : true);
      }),
      RUNS,
    );
  });

  it('an unread value in a history whose drain timed out is unknown, not false; with the drain done it is false', () => {
    fc.assert(
      fc.property(simArb, fc.boolean(), (o, timedOut) => {
        const { history, logs } = sim(o);
        const tails = okSends(history).filter((s) => logs.get(s.key)!.at(-1) === s.value);
        fc.pre(tails.length > 0);
        const s = tails[0]!;
        for (const p of okPolls(history)) if (p.value[s.key] !== undefined) p.value[s.key] = p.value[s.key]!.filter(([, v]) => v !== s.value);
        const last = history[history.length - 1]!;
        expect(last.value).toEqual({ name: 'drain', status: 'done' });
        if (timedOut) last.value = { name: 'drain', status: 'timeout' };
        const r = checkQueue(history, { idempotent: true, acks: o.acks });
        expect(counts(r)).toEqual(only({ unseen: 1 }));
        expect(r.phases.drainComplete).toBe(!timedOut);
        expect(r.valid).toBe(timedOut ? 'unknown' : false);
      }),
      RUNS,
    );
  });

  it('a clean history with any one line malformed or missing is unknown, never false', () => {
    fc.assert(
      fc.property(simArb, fc.nat(), fc.boolean(), (o, pick, missing) => {
        const { history } = sim(o);
        const lines = history.map((op) => JSON.stringify(op));
        const i = pick % lines.length;
        if (missing) lines.splice(i, 1);
        else lines[i] = lines[i]!.slice(0, lines[i]!.length - 1);
        const parsed = readHistory(lines.join('\n') + '\n');
        expect(parsed.malformed.length).toBe(missing ? 0 : 1);
        const r = checkQueue(parsed.ops, { idempotent: true, acks: o.acks, malformedLines: parsed.malformed });
        // A missing last line leaves no gap in the indexes: it is a shorter history (here, one whose
        // drain never said done), so it is judged incomplete rather than counted as missing.
        const lastRemoved = missing && i === lines.length;
        if (!lastRemoved) expect(r.stats.malformedOps + r.stats.missingLines).toBeGreaterThan(0);
        else expect(r.phases.drainComplete).toBe(false);
        expect(r.valid).toBe('unknown');
      }),
      RUNS,
    );
  });
});
