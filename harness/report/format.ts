/**
 * Numbers for people in the reports (pure): counts grouped by thousands, durations in the unit that
 * reads best with at most three significant digits, ratios as percentages that never round a loss away
 * (99.996% shows as 99.99%, never 100%, and 100% means exactly all). No float noise (`726.897 ms` is
 * `727 ms`).
 */

/** 1234567 -> "1,234,567"; a non-integer keeps at most one decimal. */
export function fmtCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const s = Number.isInteger(n) ? String(Math.abs(n)) : Math.abs(n).toFixed(1);
  const [int, frac] = s.split('.') as [string, string | undefined];
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}${grouped}${frac === undefined ? '' : `.${frac}`}`;
}

/** Milliseconds: "0.42 ms", "7.3 ms", "727 ms", "1.23 s", "12.5 s", "2 min 5 s". */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const a = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (a < 1) return `${sign}${trim(a.toFixed(2))} ms`;
  if (a < 10) return `${sign}${trim(a.toFixed(1))} ms`;
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 10_000) return `${sign}${trim((a / 1000).toFixed(2))} s`;
  if (a < 60_000) return `${sign}${trim((a / 1000).toFixed(1))} s`;
  const totalS = Math.round(a / 1000);
  const min = Math.floor(totalS / 60);
  const s = totalS % 60;
  return `${sign}${min} min${s === 0 ? '' : ` ${s} s`}`;
}

/** Seconds, as fmtMs. */
export function fmtS(s: number | null | undefined): string {
  return s === null || s === undefined ? '-' : fmtMs(s * 1000);
}

/**
 * A ratio in [0, 1] as a percentage with two decimals at most, truncated toward 50% so that anything
 * short of all is never shown as 100% and anything above none is never shown as 0%.
 */
export function fmtPct(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '-';
  if (r >= 1) return '100%';
  if (r <= 0) return '0%';
  const p = r * 100;
  const t = p >= 50 ? Math.floor(p * 100) / 100 : Math.ceil(p * 100) / 100;
  return `${trim(t.toFixed(2))}%`;
}

function trim(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}
