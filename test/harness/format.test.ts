import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCount, formatFigure, formatMs, formatPercent, formatRate, formatS } from '../../harness/format.ts';

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
});
