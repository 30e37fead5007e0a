/**
 * Text shared by the renderers: how a fault, a verdict, a duration and an op count read, so the live
 * view and the plain lines say the same thing the same way.
 */
import type { Validity } from '../../checkers/result.ts';
import type { NemesisOp } from '../../nemesis/types.ts';
import type { OpCounts } from '../run/events.ts';

/** `12.3 s`, `2 min 05 s`, `1 h 02 min` */
export function seconds(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function millis(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function verdictText(v: Validity): string {
  return v === true ? 'valid' : v === false ? 'INVALID' : 'unknown';
}

/** `kill n2 (leader)`, `partition n1,n2,n3 (halves)`, `packet-loss n1,n2 (p 0.2)` */
export function opText(op: NemesisOp): string {
  const v = op.value;
  const how = [v.role, v.shape, v.probability === undefined ? undefined : `p ${v.probability}`, v.rateKbit === undefined ? undefined : `${v.rateKbit} kbit/s`].filter((x) => x !== undefined);
  return `${op.f} ${v.nodes.join(',') || '-'}${how.length === 0 ? '' : ` (${how.join(', ')})`}`;
}

export function countsText(p: OpCounts): string {
  return `${p.ok} ok, ${p.fail} fail, ${p.info} info; ${Math.round(p.opsPerS)} ops/s; latency p50 ${millis(p.latencyP50Ms)}, max ${millis(p.latencyMaxMs)}`;
}
