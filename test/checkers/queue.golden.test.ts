/**
 * Golden histories (checkers/testdata/*.jsonl): each file's sidecar `<name>.expected.json` gives the
 * checker options, the verdict, the count of EVERY anomaly type and, optionally, some stats. The
 * checker must match them exactly; a new golden file is picked up without touching this test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHistory } from '../../checkers/history.ts';
import { ANOMALY_TYPES, checkQueue } from '../../checkers/queue.ts';
import type { QueueOptions } from '../../checkers/queue.ts';

const dir = join(import.meta.dirname, '../../checkers/testdata');

interface Expected {
  options: QueueOptions;
  valid: boolean | 'unknown';
  counts: Record<string, number>;
  stats?: Record<string, number>;
}

const names = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => f.slice(0, -'.jsonl'.length)).sort();

describe('golden queue histories', () => {
  it('cover every anomaly type and a clean run', () => {
    const covered = new Set<string>();
    for (const name of names) {
      const exp = JSON.parse(readFileSync(join(dir, `${name}.expected.json`), 'utf8')) as Expected;
      for (const [t, n] of Object.entries(exp.counts)) if (n > 0) covered.add(t);
    }
    expect([...covered].sort()).toEqual([...ANOMALY_TYPES].sort());
    expect(names).toContain('clean');
  });

  it.each(names)('%s', (name) => {
    const history = parseHistory(readFileSync(join(dir, `${name}.jsonl`), 'utf8'));
    const exp = JSON.parse(readFileSync(join(dir, `${name}.expected.json`), 'utf8')) as Expected;
    expect(Object.keys(exp.counts).sort()).toEqual([...ANOMALY_TYPES].sort());
    const r = checkQueue(history, exp.options);
    const counts = Object.fromEntries(ANOMALY_TYPES.map((t) => [t, r.anomalies[t].count]));
    expect(counts).toEqual(exp.counts);
    expect(r.valid).toBe(exp.valid);
    for (const [k, v] of Object.entries(exp.stats ?? {})) expect([k, r.stats[k as keyof typeof r.stats]]).toEqual([k, v]);
    for (const t of ANOMALY_TYPES) expect(r.anomalies[t].examples.length).toBe(Math.min(16, r.anomalies[t].count));
  });
});
