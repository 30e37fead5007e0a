/**
 * Queue-workload histories (send/poll/assign) checked with the log model: sends become appends at
 * their acknowledged offset, each poll one read per key. Lost, reordered and diverged reads fail.
 * The pruning of unknown appends (`refineLogOps`) preserves the verdict of a brute-force search.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistoryText } from '../../../checkers/linearizability/check.ts';
import { fromQueueOp, refineLogOps } from '../../../checkers/linearizability/from-queue-history.ts';
import { logModel, type LogInput, type LogOutput } from '../../../checkers/linearizability/models/log.ts';
import type { LinOp, Model } from '../../../checkers/linearizability/types.ts';
import { bruteForceLinearizable } from './brute-force.ts';
import { pairEvents } from '../../../checkers/linearizability/parse/ops.ts';
import { parseJsonlHistory } from '../../../checkers/linearizability/parse/jsonl.ts';

const jsonl = (ops: object[]): string => ops.map((o, i) => JSON.stringify({ index: i, timeNs: i * 10, ...o })).join('\n');

const send = (p: number, key: string, value: number, type: string, offset?: number) => [
  { process: p, type: 'invoke', f: 'send', value: { key, value } },
  { process: p, type, f: 'send', value: { key, value, ...(offset !== undefined ? { offset } : {}) } },
];
const poll = (p: number, got: Record<string, Array<[number, number]>>) => [
  { process: p, type: 'invoke', f: 'poll', value: null },
  { process: p, type: 'ok', f: 'poll', value: got },
];

describe('queue history as log ops', () => {
  it('converts sends and polls; drops fails, assigns and empty keys', () => {
    const events = parseJsonlHistory(
      jsonl([
        ...send(0, 't-0', 1, 'ok', 0),
        ...send(0, 't-0', 2, 'fail'),
        ...send(0, 't-1', 3, 'info'),
        { process: 5, type: 'ok', f: 'assign', value: { keys: ['t-0'] } },
        ...poll(5, { 't-0': [[0, 1]], 't-1': [] }),
      ]),
    );
    const ops = pairEvents(events).flatMap((op) => fromQueueOp(op));
    expect(ops).toEqual([
      { input: { f: 'append', key: 't-0', value: 1 }, output: 0 },
      { input: { f: 'append', key: 't-1', value: 3 }, output: undefined },
      { input: { f: 'read', key: 't-0', offsets: [0] }, output: [1] },
    ]);
  });

  it('a clean run is linearizable', () => {
    const h = jsonl([...send(0, 't-0', 1, 'ok', 0), ...send(1, 't-0', 2, 'ok', 1), ...send(0, 't-1', 3, 'info'), ...poll(5, { 't-0': [[0, 1], [1, 2]], 't-1': [[0, 3]] })]);
    expect(checkHistoryText(h, 'jsonl', 'log').result.valid).toBe(true);
  });

  it('a value read at an offset other than its acknowledged one is not', () => {
    const h = jsonl([...send(0, 't-0', 1, 'ok', 0), ...send(1, 't-0', 2, 'ok', 1), ...poll(5, { 't-0': [[0, 2]] })]);
    const r = checkHistoryText(h, 'jsonl', 'log').result;
    expect(r.valid).toBe(false);
    expect(r.failure?.partition).toBe('key t-0');
  });

  it('an acknowledged write that a later read skips over (lost write) is not', () => {
    const h = jsonl([...send(0, 't-0', 1, 'ok', 0), ...poll(5, { 't-0': [[0, 9]] }), ...send(1, 't-0', 9, 'info')]);
    expect(checkHistoryText(h, 'jsonl', 'log').result.valid).toBe(false);
  });

  it('reading a value whose send failed (aborted read) is not', () => {
    const h = jsonl([...send(0, 't-0', 1, 'fail'), ...poll(5, { 't-0': [[0, 1]] })]);
    expect(checkHistoryText(h, 'jsonl', 'log').result.valid).toBe(false);
  });
});

describe('refineLogOps', () => {
  const append = (id: number, key: string, value: number, output: number | undefined, call = id, ret = id + 1): LinOp<LogInput, LogOutput> => ({
    id,
    process: id,
    call,
    ret: output === undefined ? Infinity : ret,
    input: { f: 'append', key, value },
    output,
  });
  const read = (id: number, key: string, offsets: number[], values: Array<number | null>): LinOp<LogInput, LogOutput> => ({
    id,
    process: id,
    call: id,
    ret: id + 1,
    input: { f: 'read', key, offsets },
    output: values,
  });

  it('an unknown append that was read becomes required at the offset it was read at', () => {
    const out = refineLogOps([append(0, 'k', 1, 0), append(1, 'k', 2, undefined), read(2, 'k', [0, 1], [1, 2])]);
    expect(out[1]).toMatchObject({ output: 1, ret: Infinity });
  });

  it('an unread unknown append is dropped when its key has no gap, kept otherwise', () => {
    expect(refineLogOps([append(0, 'k', 1, 0), append(1, 'k', 2, undefined), read(2, 'k', [0], [1])])).toHaveLength(2);
    expect(refineLogOps([append(0, 'k', 1, 1), append(1, 'k', 2, undefined)])).toHaveLength(2);
    expect(refineLogOps([append(0, 'k', 1, 0), append(1, 'k', 2, undefined), read(2, 'k', [1], [null])])).toHaveLength(3);
  });

  it('never changes the verdict (brute force before and after, random small histories)', () => {
    const model = logModel as Model<any, LogInput, LogOutput>;
    let changed = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('append', 'append', 'read'),
            key: fc.constantFrom('a', 'b'),
            offset: fc.integer({ min: 0, max: 3 }),
            known: fc.boolean(),
            value: fc.integer({ min: 0, max: 5 }),
            nothing: fc.boolean(),
            call: fc.integer({ min: 0, max: 8 }),
            len: fc.integer({ min: 0, max: 4 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (specs) => {
          const ops: LinOp<LogInput, LogOutput>[] = specs.map((s, id) =>
            s.kind === 'append'
              ? append(id, s.key, 100 + id, s.known ? s.offset : undefined, s.call, s.call + s.len)
              : { ...read(id, s.key, [s.offset], [s.nothing ? null : 100 + s.value]), call: s.call, ret: s.call + s.len },
          );
          const refined = refineLogOps(ops);
          if (refined.length !== ops.length || refined.some((o, i) => o.output !== ops[i]!.output)) changed++;
          expect(bruteForceLinearizable(model, refined)).toBe(bruteForceLinearizable(model, ops));
        },
      ),
      { numRuns: 1500 },
    );
    expect(changed).toBeGreaterThan(100);
  });
});
