/**
 * Queue-workload histories (send/poll/assign) checked with the log model: sends become appends at
 * their acknowledged offset, each poll one read per key. Lost, reordered and diverged reads fail.
 */
import { describe, expect, it } from 'vitest';
import { checkHistoryText } from '../../../checkers/linearizability/check.ts';
import { fromQueueOp } from '../../../checkers/linearizability/from-queue-history.ts';
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
