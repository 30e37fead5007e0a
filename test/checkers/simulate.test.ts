/**
 * The simulated broker behind the property tests and the bench must make histories that exercise the
 * checker (otherwise "a clean history checks valid" would hold vacuously) and keep the history rules of
 * design.md: per process one op in flight, completions of the same `f`, indexes from 0, time monotonic.
 */
import { describe, expect, it } from 'vitest';
import type { Op } from '../../checkers/history.ts';
import { simulateQueue } from '../../checkers/simulate.ts';

const opts = { seed: 42, ops: 5000, keys: 3, producers: 3, consumers: 3, acks: 'all' as const, faultEverySteps: 300 };

describe('simulateQueue', () => {
  const { history, logs } = simulateQueue(opts);

  it('is deterministic per seed', () => {
    expect(simulateQueue(opts).history).toEqual(history);
    expect(simulateQueue({ ...opts, seed: 43 }).history).not.toEqual(history);
  });

  it('keeps the history rules', () => {
    const inflight = new Map<Op['process'], string>();
    history.forEach((op, i) => {
      expect(op.index).toBe(i);
      if (i > 0) expect(op.timeNs).toBeGreaterThanOrEqual(history[i - 1]!.timeNs);
      if (op.process === 'nemesis' || op.process === 'harness' || op.f === 'assign' || op.f === 'reposition') {
        expect(op.type === 'info' || op.type === 'ok').toBe(true);
        expect(inflight.has(op.process)).toBe(false);
        return;
      }
      if (op.type === 'invoke') {
        expect(inflight.has(op.process)).toBe(false);
        inflight.set(op.process, op.f);
      } else {
        expect(inflight.get(op.process)).toBe(op.f);
        inflight.delete(op.process);
      }
    });
    expect(inflight.size).toBe(0);
    expect(history.length).toBeGreaterThanOrEqual(opts.ops);
  });

  it('exercises every path the checker decides on', () => {
    const types = (f: string): Set<string> => new Set(history.filter((o) => o.f === f && o.type !== 'invoke').map((o) => o.type));
    expect(types('send')).toEqual(new Set(['ok', 'fail', 'info']));
    expect(types('poll')).toEqual(new Set(['ok', 'info']));
    expect(history.some((o) => o.f === 'assign')).toBe(true);
    expect(types('commit')).toEqual(new Set(['ok', 'fail', 'info']));
    expect(history.some((o) => o.f === 'reposition')).toBe(true);
    expect(history.filter((o) => o.f === 'phase').map((o) => o.value)).toEqual(
      ['load', 'heal', 'drain'].flatMap((name) => [{ name, status: 'start' }, { name, status: 'done' }]).sort((a, b) => ['load', 'heal', 'drain'].indexOf(a.name) - ['load', 'heal', 'drain'].indexOf(b.name)),
    );
    // The committer resumes at the group's stored offsets after an assign, so some resumption starts above 0.
    const committer = history.find((o) => o.f === 'commit')!.process;
    const firstAfterAssign: number[] = [];
    let waiting = new Set<string>();
    for (const o of history) {
      if (o.process !== committer) continue;
      if (o.f === 'assign') waiting = new Set((o.value as { keys: string[] }).keys);
      if (o.f === 'poll' && o.type === 'ok') {
        for (const [k, pairs] of Object.entries(o.value as Record<string, Array<[number, number]>>)) {
          if (waiting.delete(k) && pairs.length > 0) firstAfterAssign.push(pairs[0]![0]);
        }
      }
    }
    expect(firstAfterAssign.some((off) => off > 0)).toBe(true);
    expect(history.filter((o) => o.process === 'nemesis').map((o) => o.f)).toContain('restart');
    // Indeterminate sends that were appended (later read) and ones that were not.
    const logged = new Set([...logs.values()].flat());
    const info = history.filter((o) => o.f === 'send' && o.type === 'info').map((o) => (o.value as { value: number }).value);
    expect(info.some((v) => logged.has(v))).toBe(true);
    expect(info.some((v) => !logged.has(v))).toBe(true);
    // Consumers read some offsets more than once (rebalances rewind them).
    let reads = 0;
    for (const o of history) if (o.f === 'poll' && o.type === 'ok') for (const pairs of Object.values(o.value as Record<string, unknown[]>)) reads += pairs.length;
    expect(reads).toBeGreaterThan(logged.size * opts.consumers);
  });

  it('under acks=0 acknowledges without offsets', () => {
    const h = simulateQueue({ ...opts, ops: 500, acks: '0' }).history;
    const acks = h.filter((o) => o.f === 'send' && o.type === 'ok');
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) expect(a.value).not.toHaveProperty('offset');
  });
});
