/**
 * Every history of Porcupine's test data (test/fixtures/porcupine) gets the verdict of its
 * EXPECTED.tsv: etcd Jepsen logs against the cas-register model, kv EDN histories against the kv
 * model with and without per-key partitioning.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkHistoryText } from '../../../checkers/linearizability/check.ts';

const dir = new URL('../../fixtures/porcupine/', import.meta.url);
const rows = readFileSync(new URL('EXPECTED.tsv', dir), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => line.split('\t') as [string, string, string]);

describe('porcupine reference histories', () => {
  it('lists every etcd and kv history', () => {
    expect(rows.filter(([f]) => f.startsWith('jepsen/')).length).toBe(102);
    expect(rows.filter(([f]) => f.startsWith('kv/')).length).toBe(10);
  });

  for (const [file, model, expected] of rows) {
    it(`${file} (${model}) is ${expected}`, () => {
      const text = readFileSync(new URL(file, dir), 'utf8');
      const { result } =
        model === 'etcd_cas_register'
          ? checkHistoryText(text, 'jepsen-log', 'cas-register', { timeLimitMs: 20_000 })
          : checkHistoryText(text, 'edn', 'kv', { partitioned: model === 'kv_partitioned', timeLimitMs: 20_000 });
      expect(result.valid).toBe(expected === 'ok');
      if (expected === 'illegal') {
        expect(result.failure).toBeDefined();
        expect(result.failure!.unplaceable.length).toBeGreaterThan(0);
      }
    });
  }

  it('the empty etcd_095 history is linearizable', () => {
    const text = readFileSync(new URL('jepsen/etcd_095.log', dir), 'utf8');
    expect(checkHistoryText(text, 'jepsen-log', 'cas-register').result.valid).toBe(true);
  });
});
