/**
 * The per-anomaly verdict data (checkers/queue/anomalies.ts) keeps the invariants the verdicts rely on,
 * and the run's final verdict and the checker's read it rather than lists of their own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANOMALIES, ANOMALY_TYPES, breakingAnomalies } from '../../../checkers/queue.ts';
import { finalVerdict } from '../../../harness/run/run.ts';

const one = (t: string): Record<string, { count: number }> => ({ [t]: { count: 1 } });

describe('ANOMALIES', () => {
  it('every anomaly an incomplete drain can explain, discarded lines can explain too (finalVerdict composes on it)', () => {
    for (const t of ANOMALY_TYPES) if (ANOMALIES[t].explainableByIncompleteDrain) expect([t, ANOMALIES[t].explainableByDiscardedLines]).toEqual([t, true]);
  });

  it('aborted-read and unexpected-read are never excused under weak acks; every entry says why', () => {
    expect(ANOMALIES['aborted-read'].excusedUnderWeakAcks).toBe(false);
    expect(ANOMALIES['unexpected-read'].excusedUnderWeakAcks).toBe(false);
    for (const t of ANOMALY_TYPES) expect(ANOMALIES[t].weakAcksReason.length).toBeGreaterThan(20);
  });

  it('breakingAnomalies honours breaksValidity, the drain and discarded lines', () => {
    const ctx = { idempotent: false, drainComplete: true, discardedLines: 0 };
    expect(breakingAnomalies(one('duplicate'), ctx)).toEqual([]);
    expect(breakingAnomalies(one('duplicate'), { ...ctx, idempotent: true })).toEqual(['duplicate']);
    expect(breakingAnomalies(one('commit-regress'), ctx)).toEqual([]);
    expect(breakingAnomalies(one('reposition'), ctx)).toEqual([]);
    expect(breakingAnomalies(one('unseen'), { ...ctx, drainComplete: false })).toEqual([]);
    expect(breakingAnomalies(one('lost-write'), { ...ctx, drainComplete: false })).toEqual(['lost-write']);
    expect(breakingAnomalies(one('lost-write'), { ...ctx, discardedLines: 1 })).toEqual([]);
    expect(breakingAnomalies(one('inconsistent-offsets'), { ...ctx, discardedLines: 1 })).toEqual(['inconsistent-offsets']);
  });

  it('finalVerdict follows the table for every anomaly type', () => {
    for (const t of ANOMALY_TYPES) {
      for (const idempotent of [false, true]) {
        const b = ANOMALIES[t].breaksValidity;
        const breaks = b === 'always' || (b === 'when-idempotent' && idempotent);
        const expected = breaks && !ANOMALIES[t].explainableByIncompleteDrain ? false : 'unknown';
        expect([t, idempotent, finalVerdict(false, one(t), false, idempotent)]).toEqual([t, idempotent, expected]);
        expect(finalVerdict(false, one(t), true, idempotent)).toBe(false);
      }
    }
    expect(finalVerdict('unknown', one('aborted-read'), false, false)).toBe('unknown');
  });

  it('docs/gate.md lists every anomaly exactly as the table says, and docs/results.md defines every type', () => {
    const docs = join(import.meta.dirname, '../../../docs');
    const rows = new Map<string, string[]>();
    for (const line of readFileSync(join(docs, 'gate.md'), 'utf8').split('\n')) {
      const m = /^\| `([a-z-]+)` \|(.*)\|$/.exec(line);
      if (m !== null) rows.set(m[1]!, m[2]!.split(' | ').map((c) => c.trim()));
    }
    const yn = (b: boolean): string => (b ? 'yes' : 'no');
    expect([...rows.keys()]).toEqual([...ANOMALY_TYPES]);
    for (const t of ANOMALY_TYPES) {
      const a = ANOMALIES[t];
      expect([t, ...rows.get(t)!]).toEqual([t, a.unit, a.breaksValidity, yn(a.explainableByIncompleteDrain), yn(a.explainableByDiscardedLines), yn(a.excusedUnderWeakAcks), a.weakAcksReason]);
    }
    const results = readFileSync(join(docs, 'results.md'), 'utf8');
    for (const t of ANOMALY_TYPES) expect(results).toContain(`| \`${t}\` | ${ANOMALIES[t].unit} |`);
  });
});
