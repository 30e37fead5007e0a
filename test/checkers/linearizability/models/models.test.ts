/**
 * Model steps and history adapters: each rule of the models' docstrings, including the failure
 * semantics (fail = never happened; cas fail = compare mismatch unless configured otherwise).
 */
import { describe, expect, it } from 'vitest';
import { checkHistoryText } from '../../../../checkers/linearizability/check.ts';
import { registerModel } from '../../../../checkers/linearizability/models/register.ts';
import { kvModel } from '../../../../checkers/linearizability/models/kv.ts';
import { fifoQueueModel } from '../../../../checkers/linearizability/models/fifo-queue.ts';
import { logModel } from '../../../../checkers/linearizability/models/log.ts';

const jsonl = (ops: object[]): string => ops.map((o, i) => JSON.stringify({ index: i, timeNs: i, ...o })).join('\n');

describe('register and cas-register', () => {
  const m = registerModel('cas-register', null);
  it('steps', () => {
    expect(m.step(null, { f: 'read' }, null)).toBe(null);
    expect(m.step(null, { f: 'read' }, 1)).toBeUndefined();
    expect(m.step(1, { f: 'write', value: 2 }, true)).toBe(2);
    expect(m.step(1, { f: 'cas', from: 1, to: 3 }, true)).toBe(3);
    expect(m.step(2, { f: 'cas', from: 1, to: 3 }, true)).toBeUndefined();
    expect(m.step(2, { f: 'cas', from: 1, to: 3 }, false)).toBe(2);
    expect(m.step(1, { f: 'cas', from: 1, to: 3 }, false)).toBeUndefined();
  });

  const failedCas = jsonl([
    { process: 0, type: 'invoke', f: 'write', value: 1 },
    { process: 0, type: 'ok', f: 'write', value: 1 },
    { process: 0, type: 'invoke', f: 'cas', value: [1, 2] },
    { process: 0, type: 'fail', f: 'cas', value: [1, 2] },
  ]);
  it('a failed cas never happened in jsonl, is a compare mismatch in Jepsen formats, either on request', () => {
    expect(checkHistoryText(failedCas, 'jsonl', 'cas-register').result.valid).toBe(true);
    expect(checkHistoryText(failedCas, 'jsonl', 'cas-register', { failedCasIsMismatch: true }).result.valid).toBe(false);
    const edn = '{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n{:process 0 :type :invoke :f :cas :value [1 2]}\n{:process 0 :type :fail :f :cas :value [1 2]}';
    expect(checkHistoryText(edn, 'edn', 'cas-register').result.valid).toBe(false);
    expect(checkHistoryText(edn, 'edn', 'cas-register', { failedCasIsMismatch: false }).result.valid).toBe(true);
  });
  it('failed writes never happened; info writes may have', () => {
    const h = (type: string) =>
      jsonl([
        { process: 0, type: 'invoke', f: 'write', value: 5 },
        { process: 0, type, f: 'write', value: 5 },
        { process: 1, type: 'invoke', f: 'read', value: null },
        { process: 1, type: 'ok', f: 'read', value: 5 },
      ]);
    expect(checkHistoryText(h('fail'), 'jsonl', 'register').result.valid).toBe(false);
    expect(checkHistoryText(h('info'), 'jsonl', 'register').result.valid).toBe(true);
    expect(checkHistoryText(h('ok'), 'jsonl', 'register', { initial: 5 }).result.valid).toBe(true);
  });
  it('ops a model does not know give unknown with a message naming what is allowed', () => {
    const r = checkHistoryText(failedCas, 'jsonl', 'register').result;
    expect(r.valid).toBe('unknown');
    expect(r.reason).toMatch(/read\|write/);
  });
});

describe('kv', () => {
  const m = kvModel(false);
  it('steps: keys start empty, append concatenates, get compares', () => {
    const s1 = m.step(m.init(), { f: 'append', key: 'a', value: 'x' }, true)!;
    const s2 = m.step(s1, { f: 'append', key: 'a', value: 'y' }, true)!;
    expect(m.step(s2, { f: 'get', key: 'a', value: '' }, 'xy')).toBe(s2);
    expect(m.step(s2, { f: 'get', key: 'b', value: '' }, '')).toBe(s2);
    expect(m.step(s2, { f: 'get', key: 'a', value: '' }, 'x')).toBeUndefined();
    const s3 = m.step(m.init(), { f: 'put', key: 'a', value: 'xy' }, true)!;
    expect(m.equal(s2, s3) && m.hash(s2) === m.hash(s3)).toBe(true);
    expect(m.equal(m.init(), m.step(m.init(), { f: 'put', key: 'b', value: '' }, true)!)).toBe(true);
  });
  it('a one-key state and a many-key state of the same meaning are equal and hash equal', () => {
    const one = m.step(m.init(), { f: 'append', key: 'a', value: 'x' }, true)!;
    const many = m.step(m.step(one, { f: 'put', key: 'b', value: 'y' }, true)!, { f: 'put', key: 'b', value: '' }, true)!;
    expect(many.values).not.toBeNull();
    expect(one.values).toBeNull();
    expect(m.equal(one, many) && m.equal(many, one) && m.hash(one) === m.hash(many)).toBe(true);
    expect(m.step(many, { f: 'get', key: 'a', value: '' }, 'x')).toBe(many);
    const other = m.step(m.init(), { f: 'append', key: 'b', value: 'x' }, true)!;
    expect(m.equal(one, other)).toBe(false);
  });
});

describe('fifo-queue', () => {
  const m = fifoQueueModel;
  it('steps', () => {
    const q = m.step(m.step(m.init(), { f: 'enqueue', value: 1 }, true)!, { f: 'enqueue', value: 2 }, true)!;
    expect(m.step(q, { f: 'dequeue' }, 2)).toBeUndefined();
    expect(m.step(q, { f: 'dequeue' }, 1)).toEqual([2]);
    expect(m.step(q, { f: 'dequeue' }, null)).toBeUndefined();
    expect(m.step(m.init(), { f: 'dequeue' }, null)).toEqual([]);
  });
  it('edn histories with enqueue/dequeue', () => {
    const text = `[{:process 0 :type :invoke :f :enqueue :value 1} {:process 0 :type :ok :f :enqueue :value 1}
      {:process 1 :type :invoke :f :dequeue :value nil} {:process 1 :type :ok :f :dequeue :value 2}]`;
    expect(checkHistoryText(text, 'edn', 'fifo-queue').result.valid).toBe(false);
    expect(checkHistoryText(text.replace(':value 2', ':value 1'), 'edn', 'fifo-queue').result.valid).toBe(true);
  });
});

describe('log', () => {
  const m = logModel;
  it('appends take the next offset; reads see values at offsets or nothing beyond the end', () => {
    const s1 = m.step(m.init(), { f: 'append', key: 'k', value: 7 }, 0)!;
    expect(m.step(m.init(), { f: 'append', key: 'k', value: 7 }, 1)).toBeUndefined();
    expect(m.step(s1, { f: 'read', key: 'k', offsets: [0, 1] }, [7, null])).toBe(s1);
    expect(m.step(s1, { f: 'read', key: 'k', offsets: [0] }, [8])).toBeUndefined();
    expect(m.step(s1, { f: 'read', key: 'j', offsets: [0] }, [7])).toBeUndefined();
    expect(m.step(s1, { f: 'read', key: 'k', offsets: [0] }, [null])).toBeUndefined();
  });
  it('states that share storage stay independent (two appends from one state)', () => {
    const s1 = m.step(m.init(), { f: 'append', key: 'k', value: 1 }, 0)!;
    const a = m.step(s1, { f: 'append', key: 'k', value: 2 }, 1)!;
    const b = m.step(s1, { f: 'append', key: 'k', value: 3 }, 1)!;
    expect(m.step(a, { f: 'read', key: 'k', offsets: [1] }, [2])).toBe(a);
    expect(m.step(b, { f: 'read', key: 'k', offsets: [1] }, [3])).toBe(b);
    expect(m.step(s1, { f: 'read', key: 'k', offsets: [1] }, [null])).toBe(s1);
    expect(m.equal(a, b)).toBe(false);
  });
  it('jsonl append/read ops', () => {
    const h = jsonl([
      { process: 0, type: 'invoke', f: 'append', value: { key: 'k', value: 5 } },
      { process: 0, type: 'ok', f: 'append', value: { key: 'k', value: 5, offset: 0 } },
      { process: 1, type: 'invoke', f: 'read', value: { key: 'k', offset: 0 } },
      { process: 1, type: 'ok', f: 'read', value: { key: 'k', offset: 0, value: 5 } },
    ]);
    expect(checkHistoryText(h, 'jsonl', 'log').result.valid).toBe(true);
    expect(checkHistoryText(h.replace('"offset":0,"value":5', '"offset":0,"value":6'), 'jsonl', 'log').result.valid).toBe(false);
  });
});
