/**
 * Numbers for people, the one module of them: every figure a command prints (run summary, campaign and
 * hunt tables, check, lin, logs) and every figure of the HTML reports goes through these, so none shows
 * float noise (`726.897 ms`, `61.099999 s`).
 *
 * Two families, one engine (`sig3` and its trailing-zero trim):
 * - `format*`, for terminal tables and lines: durations keep three significant figures with at most one
 *   decimal in their unit (`0.42 ms`, `7.3 ms`, `727 ms`); counts are integers (ungrouped, so a printed
 *   table stays machine-readable); rates one decimal below 100, integers above; ratios as percent with
 *   one decimal.
 * - `fmt*`, for the reports (harness/report/, which re-exports them from its own `format.ts`): counts
 *   grouped by thousands, durations in the unit that reads best with at most three significant digits
 *   (`7.3 ms`, `1.23 s`, `2 min 5 s`), ratios as percentages that never round a loss away (99.996%
 *   shows as 99.99%, never 100%, and 100% means exactly all).
 * A value that is not a finite number prints as `-`.
 */

const dash = '-';

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** `12.50` -> `12.5`, `3.00` -> `3`; a string without a decimal point is left alone. */
function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** A magnitude with three significant figures and no more than `maxDecimals` decimals. */
export function sig3(v: number, maxDecimals = 1): string {
  const a = Math.abs(v);
  const decimals = a >= 100 ? 0 : a >= 10 ? Math.min(1, maxDecimals) : a >= 1 ? Math.min(2, maxDecimals) : maxDecimals;
  return trimZeros(v.toFixed(decimals));
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

// ---- the reports' figures ----

/** 1234567 -> "1,234,567"; a non-integer keeps at most one decimal. */
export function fmtCount(n: number | null | undefined): string {
  if (!finite(n)) return dash;
  const s = Number.isInteger(n) ? String(Math.abs(n)) : Math.abs(n).toFixed(1);
  const [int, frac] = s.split('.') as [string, string | undefined];
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}${grouped}${frac === undefined ? '' : `.${frac}`}`;
}

/**
 * Milliseconds in the unit that reads best: "0.42 ms", "7.3 ms", "727 ms", "1.23 s", "12.5 s",
 * "2 min 5 s". Below a second, three significant figures with at most two decimals below 1 ms and one
 * below 10 ms (as `formatMs`), whole ms above; then seconds with three significant figures; from a
 * minute on, whole minutes and seconds.
 */
export function fmtMs(ms: number | null | undefined): string {
  if (!finite(ms)) return dash;
  const a = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (a < 1000) return `${sign}${sig3(a, a < 1 ? 2 : a < 10 ? 1 : 0)} ms`;
  if (a < 60_000) return `${sign}${sig3(a / 1000, 2)} s`;
  const totalS = Math.round(a / 1000);
  const min = Math.floor(totalS / 60);
  const s = totalS % 60;
  return `${sign}${min} min${s === 0 ? '' : ` ${s} s`}`;
}

/** Seconds (hunt.json's and campaign.json's unit), as fmtMs. */
export function fmtS(s: number | null | undefined): string {
  return s === null || s === undefined ? dash : fmtMs(s * 1000);
}

/**
 * A ratio in [0, 1] as a percentage with two decimals at most, truncated toward 50% so that anything
 * short of all is never shown as 100% and anything above none is never shown as 0%.
 */
export function fmtPct(r: number | null | undefined): string {
  if (!finite(r)) return dash;
  if (r >= 1) return '100%';
  if (r <= 0) return '0%';
  const p = r * 100;
  const t = p >= 50 ? Math.floor(p * 100) / 100 : Math.ceil(p * 100) / 100;
  return `${trimZeros(t.toFixed(2))}%`;
}
