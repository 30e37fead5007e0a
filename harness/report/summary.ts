/**
 * The human summary of a run printed to stderr at the end of `faultline run` and `faultline check`:
 * verdict, the anomaly counts that are non-zero, the main stats, what the history reader left out,
 * the worst consumer lag, availability and send latency.
 * Pure: a function of results.json's contents. Figures through harness/format.ts (no float noise).
 */
import { formatFigure, formatPercent } from '../format.ts';

export interface SummaryInput {
  valid: unknown;
  test: Record<string, unknown>;
  stats?: unknown;
  anomalies?: Record<string, { count: number }>;
  availability?: unknown;
  latencyMs?: unknown;
  lag?: { worstMs: number | null; overTime?: { points?: Array<{ unseen: number }> } };
  malformed?: string;
  error?: string;
  interrupted?: boolean;
  runDir?: string;
}

function verdictWord(v: unknown): string {
  return v === true ? 'VALID' : v === false ? 'INVALID' : 'UNKNOWN';
}

function num(v: unknown): string {
  return typeof v === 'number' && Number.isInteger(v) ? String(v) : formatFigure(v);
}

export function summarize(r: SummaryInput): string {
  const lines: string[] = [];
  const name = typeof r.test['name'] === 'string' ? r.test['name'] : 'run';
  lines.push(`${name} (seed ${num(r.test['seed'])}): ${verdictWord(r.valid)}`);
  if (r.error !== undefined) lines.push(`  harness error: ${r.error}`);
  if (r.interrupted === true) lines.push('  interrupted: results are from a partial history');
  const s = (r.stats ?? {}) as Record<string, unknown>;
  lines.push(`  sends ${num(s['sends'])}: acked ${num(s['acked'])}, failed ${num(s['sendFailed'])}, indeterminate ${num(s['sendIndeterminate'])}; polls ${num(s['polls'])}, values read ${num(s['valuesRead'])}`);
  const hits = Object.entries(r.anomalies ?? {}).filter(([, a]) => a.count > 0);
  lines.push(hits.length === 0 ? '  anomalies: none' : `  anomalies: ${hits.map(([t, a]) => `${t} ${a.count}`).join(', ')}`);
  if (r.malformed !== undefined) lines.push(`  history: ${r.malformed} (a verdict that lost data could explain is unknown)`);
  if (r.lag !== undefined && r.lag.worstMs !== null) {
    const last = r.lag.overTime?.points?.at(-1);
    lines.push(`  consumer lag: worst ${num(r.lag.worstMs)} ms from ack to first read${last === undefined ? '' : `; unread at the end ${last.unseen}`}`);
  }
  const a = (r.availability ?? {}) as { overall?: { ratio?: unknown }; maxUnavailableMs?: unknown };
  const ratio = a.overall?.ratio;
  const l = (r.latencyMs ?? {}) as { send?: { p50?: unknown; p99?: unknown; max?: unknown } };
  lines.push(`  availability ${formatPercent(ratio)} (longest outage ${num(a.maxUnavailableMs)} ms); send latency p50 ${num(l.send?.p50)} ms, p99 ${num(l.send?.p99)} ms, max ${num(l.send?.max)} ms`);
  if (r.runDir !== undefined) lines.push(`  ${r.runDir}/report.html`);
  return lines.join('\n');
}
