/**
 * Numbers for people: every figure a command prints (run summary, campaign and hunt tables, check,
 * lin) goes through these, so none shows float noise (`726.897 ms`, `61.099999 s`).
 *
 * Rules: durations keep three significant figures with at most one decimal in their unit
 * (`0.42 ms`, `7.3 ms`, `727 ms`); counts are integers (ungrouped, so a printed table stays
 * machine-readable); rates one decimal below 100, integers above; ratios as percent with one decimal.
 * A value that is not a finite number prints as `-`.
 */

const dash = '-';

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A magnitude with three significant figures and no more than `maxDecimals` decimals. */
export function sig3(v: number, maxDecimals = 1): string {
  const a = Math.abs(v);
  const decimals = a >= 100 ? 0 : a >= 10 ? Math.min(1, maxDecimals) : a >= 1 ? Math.min(2, maxDecimals) : maxDecimals;
  const s = v.toFixed(decimals);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Milliseconds: `0.4 ms`, `7.3 ms`, `727 ms`. */
export function formatMs(v: unknown): string {
  return finite(v) ? `${sig3(v, Math.abs(v) < 1 ? 2 : 1)} ms` : dash;
}

/** Seconds: `0.3 s`, `61.1 s`, `300 s`. */
export function formatS(v: unknown): string {
  return finite(v) ? `${sig3(v, 1)} s` : dash;
}

/** A bare duration figure for a table column whose header carries the unit. */
export function formatFigure(v: unknown): string {
  return finite(v) ? sig3(v, 1) : dash;
}

/** A count: an integer; a non-integer is rounded. */
export function formatCount(v: unknown): string {
  return finite(v) ? String(Math.round(v)) : dash;
}

/** A rate: `0.5/s`, `99.5/s`, `1234/s`. */
export function formatRate(v: unknown, unit = '/s'): string {
  if (!finite(v)) return dash;
  return `${Math.abs(v) >= 100 ? formatCount(v) : sig3(v, 1)}${unit}`;
}

/** A ratio in [0, 1] as percent: `99.6%`, `100%`. */
export function formatPercent(ratio: unknown): string {
  return finite(ratio) ? `${sig3(ratio * 100, 1)}%` : dash;
}
