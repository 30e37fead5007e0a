/**
 * HTML view of a linearizability check (pure string building, no I/O). For a failing history it
 * shows the failing partition's ops per process on a time axis: ops in the longest partial
 * linearization (green, numbered in linearization order, state after each in the tooltip), the op
 * whose return could not be reached with a legal placement (red), the other unplaceable candidates
 * (orange), and the rest (grey). Ops with an unknown result extend dashed to the end of the axis.
 * Below the chart: the partial linearization as a table. For a valid or unknown history: the verdict
 * and per-partition statistics. Every string from the history is HTML-escaped.
 */
import type { LinReport } from './check.ts';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const rowHeightPx = 26;
const chartWidthPx = 1100;
const labelWidthPx = 90;

export function renderLinHtml(report: LinReport, title: string): string {
  const { result, ops } = report;
  const verdict = result.valid === true ? 'linearizable' : result.valid === false ? 'NOT linearizable' : 'unknown';
  const parts: string[] = [];
  parts.push(`<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font-family:system-ui,sans-serif;margin:20px;color:#222}
.v-true{color:#1a7f37}.v-false{color:#cf222e}.v-unknown{color:#9a6700}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
svg text{font-size:11px;font-family:monospace}
.lin rect{fill:#b7e4c7;stroke:#2d6a4f}.block rect{fill:#ffadad;stroke:#cf222e;stroke-width:2}
.cand rect{fill:#ffd6a5;stroke:#e85d04}.other rect{fill:#e9ecef;stroke:#adb5bd}.unk rect{stroke-dasharray:4 3}
</style></head><body>`);
  parts.push(`<h1>${esc(title)}</h1><p>Model <b>${esc(result.model)}</b>, ${result.ops} ops: <b class="v-${String(result.valid)}">${verdict}</b> in ${result.elapsedMs.toFixed(1)} ms${result.reason ? ` (${esc(result.reason)})` : ''}.</p>`);
  parts.push('<table><tr><th>partition</th><th>ops</th><th>verdict</th><th>cache entries</th><th>ms</th></tr>');
  for (const p of result.partitions) {
    parts.push(`<tr><td>${esc(p.partition)}</td><td>${p.ops}</td><td class="v-${String(p.valid)}">${String(p.valid)}${p.reason ? ` (${p.reason})` : ''}</td><td>${p.cacheEntries}</td><td>${p.elapsedMs.toFixed(1)}</td></tr>`);
  }
  parts.push('</table>');

  const f = result.failure;
  if (f) {
    const byId = new Map(ops.map((o) => [o.id, o]));
    const shown = f.ops.map((id) => byId.get(id)).filter((o) => o !== undefined);
    const order = new Map(f.linearized.map((s, k) => [s.op, k]));
    const cands = new Map(f.unplaceable.map((u) => [u.op, u.reason]));
    const finite = shown.flatMap((o) => (o.ret === Infinity ? [o.call] : [o.call, o.ret]));
    const t0 = Math.min(...finite);
    const tEnd = Math.max(...finite);
    const span = Math.max(1, tEnd - t0) * 1.05;
    const x = (t: number): number => labelWidthPx + ((Math.min(t, t0 + span) - t0) / span) * (chartWidthPx - labelWidthPx - 10);
    const processes = [...new Set(shown.map((o) => o.process))].sort((a, b) => a - b);
    const rowOf = new Map(processes.map((p, i) => [p, i]));
    parts.push(`<h2>Failing partition: ${esc(f.partition)}</h2>`);
    if (f.prefix) {
      const until = f.prefix.linearizableUntil === null ? 'nothing' : `time ${f.prefix.linearizableUntil} (${f.prefix.linearizableOps} completed ops)`;
      const failing = f.prefix.returningAtFailure.map((id) => esc(byId.get(id)?.label ?? String(id))).join(', ');
      parts.push(`<p>Shortest failing window: the history is linearizable up to ${until}; it stops being so when ${failing} returns at time ${f.prefix.failsAt}.</p>`);
    }
    if (f.refutation) parts.push(`<p>Refuted without a search: ${esc(f.refutation.rule)} (${f.refutation.ops.map((id) => esc(byId.get(id)?.label ?? String(id))).join(', ')}).</p>`);
    else parts.push(`<p>The longest partial linearization has ${f.linearized.length} ops (green, numbered). The op in red returned before it could be placed; orange ops were callable at that point: none extends the linearization.</p>`);
    const height = processes.length * rowHeightPx + 30;
    parts.push(`<svg width="${chartWidthPx}" height="${height}" xmlns="http://www.w3.org/2000/svg">`);
    processes.forEach((p, i) => {
      const y = i * rowHeightPx + 20;
      parts.push(`<text x="4" y="${y + 15}">process ${p}</text><line x1="${labelWidthPx}" x2="${chartWidthPx - 10}" y1="${y + 20}" y2="${y + 20}" stroke="#eee"/>`);
    });
    for (const o of shown) {
      const y = rowOf.get(o.process)! * rowHeightPx + 22;
      const x1 = x(o.call);
      const x2 = Math.max(x1 + 4, o.ret === Infinity ? chartWidthPx - 10 : x(o.ret));
      const k = order.get(o.id);
      const cls = o.id === f.blockingOp ? 'block' : k !== undefined ? 'lin' : cands.has(o.id) ? 'cand' : 'other';
      const tip = `#${o.id} ${o.label}${k !== undefined ? ` | linearized ${k + 1}, state after: ${f.linearized[k]!.state}` : ''}${cands.has(o.id) ? ` | ${cands.get(o.id)}` : ''}`;
      parts.push(`<g class="${cls}${o.ret === Infinity ? ' unk' : ''}"><title>${esc(tip)}</title><rect x="${x1.toFixed(1)}" y="${y}" width="${(x2 - x1).toFixed(1)}" height="${rowHeightPx - 8}" rx="3"/>`);
      parts.push(`<text x="${(x1 + 3).toFixed(1)}" y="${y + 13}">${esc((k !== undefined ? `${k + 1}. ` : '') + o.label).slice(0, Math.max(1, Math.floor((x2 - x1) / 7)))}</text></g>`);
    }
    parts.push('</svg>');
    parts.push('<h3>Partial linearization</h3><table><tr><th>#</th><th>op</th><th>process</th><th>state after</th></tr>');
    f.linearized.forEach((s, k) => {
      const o = byId.get(s.op);
      parts.push(`<tr><td>${k + 1}</td><td>${esc(o?.label ?? String(s.op))}</td><td>${o?.process ?? ''}</td><td>${esc(s.state)}</td></tr>`);
    });
    parts.push('</table><h3>Cannot be placed next</h3><table><tr><th>op</th><th>process</th><th>why</th></tr>');
    for (const u of f.unplaceable) {
      const o = byId.get(u.op);
      const why = u.reason === 'illegal-step' ? 'illegal from the state above' : 'legal, but every continuation was a dead end';
      parts.push(`<tr${u.op === f.blockingOp ? ' class="v-false"' : ''}><td>${esc(o?.label ?? String(u.op))}${u.op === f.blockingOp ? ' (returned first)' : ''}</td><td>${o?.process ?? ''}</td><td>${why}</td></tr>`);
    }
    parts.push('</table>');
  }
  parts.push('</body></html>\n');
  return parts.join('\n');
}
