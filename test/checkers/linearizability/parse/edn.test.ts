/** The EDN reader reads what Jepsen and Knossos write, and reports bad input with a line number. */
import { describe, expect, it } from 'vitest';
import { EdnError, Keyword, readAll } from '../../../../checkers/linearizability/parse/edn.ts';
import { parseEdnHistory } from '../../../../checkers/linearizability/parse/edn-history.ts';
import { parseJepsenLog } from '../../../../checkers/linearizability/parse/jepsen-log.ts';
import { parseJsonlHistory } from '../../../../checkers/linearizability/parse/jsonl.ts';
import { pairEvents } from '../../../../checkers/linearizability/parse/ops.ts';

describe('EDN reader', () => {
  it('reads scalars, collections, comments, discards and tags', () => {
    const [m] = readAll('; a comment\n{:a 1, :b "x\\"y", :c [1 -2 3.5], :d nil, :e #{:k}, :f #_ 9 true, :g #inst "2020", :h (1 2)}');
    expect(m).toEqual({ a: 1, b: 'x"y', c: [1, -2, 3.5], d: null, e: [new Keyword('k')], f: true, g: '2020', h: [1, 2] });
  });
  it('reports unterminated input with its line', () => {
    expect(() => readAll('[1 2\n{:a')).toThrow(EdnError);
    expect(() => readAll('\n\n}')).toThrow(/line 3/);
  });
});

describe('history readers', () => {
  it('EDN histories: one map per line or a vector; nemesis ops dropped; extra keys kept', () => {
    const lines = '{:process 0, :type :invoke, :f :put, :key "k", :value "v"}\n{:process :nemesis, :type :info, :f :start}\n{:process 0, :type :ok, :f :put, :key "k", :value "v"}';
    const vector = `[${lines}]`;
    for (const text of [lines, vector]) {
      const ev = parseEdnHistory(text);
      expect(ev.map((e) => [e.process, e.type, e.f, e.value, e.fields['key'], e.time])).toEqual([
        [0, 'invoke', 'put', 'v', 'k', 0],
        [0, 'ok', 'put', 'v', 'k', 1],
      ]);
    }
    expect(() => parseEdnHistory('[{:process 1, :f :read}]')).toThrow(/type/);
  });

  it('Jepsen log lines with tabs or spaces, other lines skipped', () => {
    const text = [
      'INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0]',
      'INFO  jepsen.core - something else',
      'INFO  jepsen.util - 3 :fail   :cas    [3 0]',
      'INFO  jepsen.util - 4\t:invoke\t:read\tnil',
      'INFO  jepsen.util - 4\t:fail\t:read\t:timed-out',
    ].join('\n');
    const ev = parseJepsenLog(text);
    expect(ev.map((e) => [e.process, e.type, e.f, e.value, e.time])).toEqual([
      [3, 'invoke', 'cas', [3, 0], 0],
      [3, 'fail', 'cas', [3, 0], 2],
      [4, 'invoke', 'read', null, 3],
      [4, 'fail', 'read', new Keyword('timed-out'), 4],
    ]);
  });

  it('jsonl: timeNs is the time axis, nemesis lines dropped, a torn last line ignored', () => {
    const text = [
      '{"index":0,"timeNs":10,"process":1,"type":"invoke","f":"write","value":3}',
      '{"index":1,"timeNs":15,"process":"nemesis","type":"info","f":"kill","value":null}',
      '{"index":2,"timeNs":20,"process":1,"type":"ok","f":"write","value":3}',
      '{"index":3,"timeNs":2',
    ].join('\n');
    expect(parseJsonlHistory(text).map((e) => [e.type, e.time])).toEqual([
      ['invoke', 10],
      ['ok', 20],
    ]);
    expect(() => parseJsonlHistory('{"process":1}\n{"process":1,"type":"ok","f":"x"}')).toThrow(/line 1/);
  });

  it('pairing: next completion of the same process; open or superseded invokes are info', () => {
    const ev = parseJsonlHistory(
      [
        { process: 1, type: 'invoke', f: 'write', value: 1 },
        { process: 2, type: 'invoke', f: 'write', value: 2 },
        { process: 1, type: 'ok', f: 'write', value: 1 },
        { process: 3, type: 'ok', f: 'write', value: 9 },
        { process: 2, type: 'invoke', f: 'read', value: null },
        { process: 4, type: 'invoke', f: 'read', value: null },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n'),
    );
    const ops = pairEvents(ev);
    expect(ops.map((o) => [o.process, o.f, o.type, o.call, o.ret])).toEqual([
      [1, 'write', 'ok', 0, 2],
      [2, 'write', 'info', 1, Infinity],
      [2, 'read', 'info', 4, Infinity],
      [4, 'read', 'info', 5, Infinity],
    ]);
  });
});
