// A queue history with a consumer's own bookkeeping (commit, reposition) checks as the same history
// without it: those ops read or write no log.
import { describe, expect, it } from 'vitest';
import type { History } from '../../../checkers/history.ts';
import { checkLogHistory } from '../../../checkers/linearizability/log-history.ts';

const base: History = [
  { index: 0, timeNs: 1, process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 1 } },
  { index: 1, timeNs: 2, process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 1, offset: 0 } },
  { index: 2, timeNs: 3, process: 1, type: 'invoke', f: 'poll', value: null },
  { index: 3, timeNs: 4, process: 1, type: 'ok', f: 'poll', value: { 't-0': [[0, 1]] } },
] as unknown as History;

describe('log model on queue histories with commits and repositions', () => {
  it('ignores commit and reposition ops', () => {
    const withBookkeeping = [
      ...base,
      { index: 4, timeNs: 5, process: 1, type: 'invoke', f: 'commit', value: { 't-0': 1 } },
      { index: 5, timeNs: 6, process: 1, type: 'ok', f: 'commit', value: { 't-0': 1 } },
      { index: 6, timeNs: 7, process: 1, type: 'info', f: 'reposition', value: { key: 't-0', from: 5, to: 0, reason: 'OFFSET_OUT_OF_RANGE' } },
    ] as unknown as History;
    expect(checkLogHistory(base).valid).toBe(true);
    expect(checkLogHistory(withBookkeeping).valid).toBe(true);
  });
});
