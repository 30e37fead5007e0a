import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHistory } from '../../../checkers/history.ts';
import { HistoryWriter } from '../../../harness/store/history-writer.ts';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'fl-hist-'));
}

describe('HistoryWriter', () => {
  it('writes each op as one line before append returns, with gapless indexes and monotonic time', () => {
    const path = join(tmp(), 'history.jsonl');
    let t = 1000n;
    const clock = (): bigint => t;
    const w = new HistoryWriter(path, clock);
    t = 1500n;
    w.append({ process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 1 } });
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(2);
    t = 1200n; // a clock step backwards must not make timeNs decrease
    w.append({ process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 1, offset: 0 } });
    t = 4000n;
    w.append({ process: 'nemesis', type: 'info', f: 'kill', value: { nodes: ['n1'] } });
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['index'])).toEqual([0, 1, 2]);
    expect(lines.map((l) => l['timeNs'])).toEqual([500, 500, 3000]);
    expect(Object.keys(lines[0]!)).toEqual(['index', 'timeNs', 'process', 'type', 'f', 'value']);
    expect(w.ops()).toEqual(lines);
    w.close();
    w.close();
  });

  it('leaves a checkable history when the process dies mid-line (torn tail dropped)', () => {
    const path = join(tmp(), 'history.jsonl');
    const w = new HistoryWriter(path);
    for (let i = 0; i < 5; i++) w.append({ process: i, type: 'invoke', f: 'send', value: { key: 't-0', value: i } });
    appendFileSync(path, '{"index":5,"timeNs":9,"process":1,"ty');
    const ops = parseHistory(readFileSync(path, 'utf8'));
    expect(ops).toHaveLength(5);
    expect(ops.at(-1)?.index).toBe(4);
    w.close();
  });
});
