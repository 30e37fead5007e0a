import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fmtCount, fmtMs, fmtPct, fmtS, formatCount, formatFigure, formatMs, formatPercent, formatRate, formatS } from '../../harness/format.ts';
import * as reportFormat from '../../harness/report/format.ts';

describe('numbers for people', () => {
  it('prints durations, counts, rates and ratios without float noise', () => {
    expect(formatMs(726.897)).toBe('727 ms');
    expect(formatMs(7.345)).toBe('7.3 ms');
    expect(formatMs(0.4213)).toBe('0.42 ms');
    expect(formatMs(0)).toBe('0 ms');
    expect(formatS(61.099999)).toBe('61.1 s');
    expect(formatS(300)).toBe('300 s');
    expect(formatCount(12345.6)).toBe('12346');
    expect(formatRate(99.54)).toBe('99.5/s');
    expect(formatRate(1234.5)).toBe('1235/s');
    expect(formatPercent(0.99612)).toBe('99.6%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatFigure(null)).toBe('-');
    expect(formatMs(Number.NaN)).toBe('-');
  });

  it('never prints more than two decimals, nor more than three significant figures above 1', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), (v) => {
        const s = formatFigure(v);
        const [int, dec = ''] = s.replace('-', '').split('.');
        return dec.length <= 2 && (Math.abs(v) < 1 || int!.length + dec.length <= Math.max(3, int!.length)) && !/e/.test(s);
      }),
    );
  });

  it("the reports' formatters are this module's (one implementation), and agree with the terminal's below 10 ms", () => {
    expect(Object.keys(reportFormat).sort()).toEqual(['fmtCount', 'fmtMs', 'fmtPct', 'fmtS']);
    expect([reportFormat.fmtCount, reportFormat.fmtMs, reportFormat.fmtPct, reportFormat.fmtS]).toEqual([fmtCount, fmtMs, fmtPct, fmtS]);
    expect(fmtMs(1234)).toBe('1.23 s');
    expect(fmtMs(59_999)).toBe('60 s');
    expect(fmtS(125)).toBe('2 min 5 s');
    expect(fmtCount(-1234.56)).toBe('-1,234.6');
    expect(fmtPct(0.00001)).toBe('0.01%');
    // (fast-check's doubles crowd near 0, so decimals of every size come from scaled integers too)
    const belowTenMs = fc.oneof(fc.double({ min: -9.9, max: 9.9, noNaN: true }), fc.integer({ min: -99_999, max: 99_999 }).map((n) => n / 10_000));
    fc.assert(fc.property(belowTenMs, (v) => fmtMs(v) === formatMs(v)));
  });
});
