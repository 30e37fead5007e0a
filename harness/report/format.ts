/**
 * The reports' numbers for people (counts grouped by thousands, durations in the unit that reads best,
 * percentages that never round a loss away) live with every other formatter in harness/format.ts, the
 * one module of them; the report's modules import them from here.
 */
export { fmtCount, fmtMs, fmtPct, fmtS } from '../format.ts';
