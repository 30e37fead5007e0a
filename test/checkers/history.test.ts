/**
 * Reading history.jsonl: malformed lines are reported with their line numbers and left out; only an
 * unterminated last line is torn; JSON that is not an op is malformed.
 */
import { describe, expect, it } from 'vitest';
import { parseHistory, readHistory } from '../../checkers/history.ts';

const op = (i: number, extra: Record<string, unknown> = {}): string => JSON.stringify({ index: i, timeNs: i, process: 0, type: 'invoke', f: 'send', value: { key: 'k', value: i }, ...extra });

describe('readHistory', () => {
  it('drops an unterminated last line that does not parse as torn, not malformed', () => {
    const r = readHistory(`${op(0)}\n${op(1)}\n{"index":2,"time`);
    expect(r.ops.map((o) => o.index)).toEqual([0, 1]);
    expect(r.malformed).toEqual([]);
    expect(r.tornLastLine).toBe(true);
  });

  it('counts a bad last line that ends with a newline as malformed, with its line number', () => {
    const r = readHistory(`${op(0)}\n{"index":1,"time\n`);
    expect(r.tornLastLine).toBe(false);
    expect(r.malformed).toEqual([{ line: 2, why: expect.stringMatching(/^not JSON/) }]);
  });

  it('counts JSON that is not an op as malformed, and keeps reading after a bad middle line', () => {
    const r = readHistory([op(0), '[1,2]', '{"index":2}', op(3, { type: 'done' }), 'nope', op(5), ''].join('\n'));
    expect(r.ops.map((o) => o.index)).toEqual([0, 5]);
    expect(r.malformed.map((m) => m.line)).toEqual([2, 3, 4, 5]);
    expect(r.malformed[2]!.why).toMatch(/type "done"/);
    expect(r.lines).toBe(6);
  });

  it('skips blank lines; parseHistory is strict and names the bad line', () => {
    expect(readHistory(`${op(0)}\n\n${op(2)}\n`).ops).toHaveLength(2);
    expect(() => parseHistory(`${op(0)}\nnope\n${op(2)}\n`)).toThrow(/history line 2 is not JSON/);
    expect(parseHistory(`${op(0)}\n{"ind`)).toHaveLength(1);
  });
});
