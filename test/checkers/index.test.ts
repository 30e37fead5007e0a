/**
 * checkRun: the results.json object. Composes queue + perf, ranks false over unknown over true,
 * echoes `test`, and reads `idempotence`/`acks`/`settleMs` from it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHistory } from '../../checkers/history.ts';
import type { History } from '../../checkers/history.ts';
import { checkRun } from '../../checkers/index.ts';
import { ANOMALY_TYPES } from '../../checkers/queue.ts';

const golden = (name: string): History => parseHistory(readFileSync(join(import.meta.dirname, '../../checkers/testdata', `${name}.jsonl`), 'utf8'));

/** Make time run backwards at the end, which the perf checker cannot interpret. */
function backwards(h: History): History {
  const last = h[h.length - 1]!;
  return [...h, { ...last, index: h.length, timeNs: 0, process: 'nemesis', type: 'info', f: 'note', value: null }];
}

describe('checkRun', () => {
  it('has the results.json shape, with test echoed and every anomaly type present', () => {
    const test = { acks: 'all', idempotence: true, nodes: 3, seed: 7 };
    const r = checkRun(golden('clean'), test);
    expect(r.valid).toBe(true);
    expect(r.test).toBe(test);
    expect(Object.keys(r.anomalies).sort()).toEqual([...ANOMALY_TYPES].sort());
    expect(r.stats).toMatchObject({ sends: 7, acked: 5, sendFailed: 1, sendIndeterminate: 1, polls: 4, valuesRead: 6 });
    expect(r.availability.faultWindows).toHaveLength(1);
    expect(r.latencyMs.send.count).toBe(5);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('reads idempotence from the test: duplicates break only an idempotent run', () => {
    expect(checkRun(golden('duplicate'), { idempotence: false }).valid).toBe(true);
    expect(checkRun(golden('duplicate'), { idempotence: true }).valid).toBe(false);
    expect(checkRun(golden('duplicate'), { idempotence: 'yes' }).valid).toBe(true);
  });

  it('ranks false over unknown over true', () => {
    const clean = checkRun(backwards(golden('clean')), {});
    expect(clean.valid).toBe('unknown');
    expect(clean.errors?.[0]).toMatch(/monotonic/);
    expect(checkRun(backwards(golden('lost-write')), {}).valid).toBe(false);
    expect(checkRun([], {}).valid).toBe('unknown');
  });

  it('passes settleMs to the availability checker', () => {
    expect(checkRun(golden('clean'), { settleMs: 1234 }).availability.settleMs).toBe(1234);
    expect(checkRun(golden('clean'), { settleMs: -1 }).availability.settleMs).toBe(5000);
  });
});
