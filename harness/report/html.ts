/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts or external assets) that a person
 * reads after a run: verdict, options, stats, anomaly counts with examples, availability and latency,
 * a timeline of fault windows over per-second send outcomes, and links to node logs (relative paths
 * inside the run directory, so the page works wherever the run directory is copied).
 *
 * Invariant: every string from the run is HTML-escaped; the page is a pure function of its inputs.
 */
import type { History } from '../../checkers/history.ts';
import { sendBuckets } from './buckets.ts';

export interface ReportInput {
  valid: unknown;
  test: Record<string, unknown>;
  stats?: unknown;
  anomalies?: Record<string, { count: number; examples: unknown[] }>;
  availability?: unknown;
  latencyMs?: unknown;
  phases?: Record<string, string>;
  error?: string;
  interrupted?: boolean;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

interface WindowLike {
  fault: string;
  nodes?: string[];
  startMs: number;
  endMs: number;
  closed?: boolean;
}

/** The checker's fault windows (results.availability.faultWindows), tolerating their absence. */
export function faultWindowsOf(availability: unknown): WindowLike[] {
  const ws = (availability as { faultWindows?: unknown } | undefined)?.faultWindows;
  if (!Array.isArray(ws)) return [];
  return ws.filter((w): w is WindowLike => typeof w === 'object' && w !== null && typeof (w as WindowLike).fault === 'string' && typeof (w as WindowLike).startMs === 'number' && typeof (w as WindowLike).endMs === 'number');
}

function table(rows: Array<[string, string]>): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (typeof v === 'object') return `<code>${escapeHtml(JSON.stringify(v))}</code>`;
  return escapeHtml(String(v));
}

const faultColors: Record<string, string> = { kill: '#d9534f', pause: '#f0ad4e', partition: '#5b7fde' };

function timelineSvg(history: History, availability: unknown): string {
  const buckets = sendBuckets(history);
  const windows = faultWindowsOf(availability);
  const lastS = Math.max(1, Math.ceil((history.at(-1)?.timeNs ?? 0) / 1e9), ...buckets.map((b) => b.second + 1), ...windows.map((w) => Math.ceil(w.endMs / 1000)));
  const width = 900;
  const plotH = 140;
  const laneH = 14;
  const lanes = [...new Set([...Object.keys(faultColors), ...windows.map((w) => w.fault)])];
  const height = plotH + lanes.length * laneH + 40;
  const x = (s: number): number => 40 + (s / lastS) * (width - 50);
  const maxSends = Math.max(1, ...buckets.map((b) => b.sends));
  const parts: string[] = [];
  for (const b of buckets) {
    const w = Math.max(1, x(b.second + 1) - x(b.second) - 1);
    let y = plotH;
    for (const [k, color] of [['ok', '#5cb85c'], ['info', '#f0ad4e'], ['fail', '#d9534f'], ['pending', '#aaaaaa']] as const) {
      const h = (b[k] / maxSends) * (plotH - 10);
      if (h <= 0) continue;
      y -= h;
      parts.push(`<rect x="${x(b.second).toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${b.second}s: ${b[k]} ${k}</title></rect>`);
    }
  }
  lanes.forEach((f, i) => {
    const y = plotH + 8 + i * laneH;
    parts.push(`<text x="2" y="${y + 10}" font-size="10">${escapeHtml(f)}</text>`);
    for (const w of windows.filter((w) => w.fault === f)) {
      const s0 = w.startMs / 1000;
      const title = escapeHtml(`${w.fault} ${(w.nodes ?? []).join(',')} ${s0.toFixed(1)}s-${(w.endMs / 1000).toFixed(1)}s${w.closed === false ? ' (never healed)' : ''}`);
      parts.push(`<rect x="${x(s0).toFixed(1)}" y="${y}" width="${Math.max(2, x(w.endMs / 1000) - x(s0)).toFixed(1)}" height="${laneH - 3}" fill="${faultColors[f] ?? '#777'}" opacity="0.8"><title>${title}</title></rect>`);
    }
  });
  for (let s = 0; s <= lastS; s += Math.max(1, Math.ceil(lastS / 10))) {
    parts.push(`<text x="${x(s).toFixed(1)}" y="${height - 4}" font-size="10" text-anchor="middle">${s}s</text>`);
  }
  parts.push(`<line x1="40" y1="${plotH}" x2="${width - 10}" y2="${plotH}" stroke="#999"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="timeline">${parts.join('')}</svg>
<p class="legend"><span style="color:#5cb85c">&#9632; ok</span> <span style="color:#f0ad4e">&#9632; info</span> <span style="color:#d9534f">&#9632; fail</span> sends per second; lanes below: fault windows</p>`;
}

/** The log workload's linearizability verdict, linking to its HTML view when the check did not pass. */
function linSection(r: ReportInput): string {
  const lin = (r as { linearizability?: { valid?: unknown } }).linearizability;
  if (lin === undefined) return '';
  const v = lin.valid === true ? 'linearizable' : lin.valid === false ? 'NOT linearizable' : 'unknown (bound reached)';
  const link = lin.valid === true ? '' : ' &mdash; <a href="linearizability.html">failing history, partial linearization and the op that cannot be placed</a>';
  return `<h2>Linearizability (log model)</h2><p>${v}${link}</p>`;
}

export function renderReport(r: ReportInput, history: History): string {
  const verdict = r.valid === true ? 'valid' : r.valid === false ? 'INVALID' : 'unknown';
  const cls = r.valid === true ? 'ok' : r.valid === false ? 'bad' : 'unk';
  const name = typeof r.test['name'] === 'string' ? r.test['name'] : 'run';
  const anomalies = Object.entries(r.anomalies ?? {});
  const anomalyRows = anomalies
    .map(([t, a]) => {
      const ex = a.examples.slice(0, 5).map((e) => `<code>${escapeHtml(JSON.stringify(e))}</code>`).join('<br>');
      return `<tr class="${a.count > 0 ? 'hit' : ''}"><th>${escapeHtml(t)}</th><td>${a.count}</td><td>${ex}</td></tr>`;
    })
    .join('');
  const statsRows = Object.entries((r.stats ?? {}) as Record<string, unknown>).map(([k, v]) => [k, fmt(v)] as [string, string]);
  const optionRows = Object.entries(r.test).map(([k, v]) => [k, fmt(v)] as [string, string]);
  const nodes = typeof r.test['nodes'] === 'number' ? r.test['nodes'] : 0;
  const links = Array.from({ length: nodes }, (_, i) => `n${i + 1}`)
    .map((n) => `<li>${n}: <a href="nodes/${n}/broker.log">broker.log</a>, <a href="nodes/${n}/data-listing.txt">data listing</a></li>`)
    .join('');
  const avail = r.availability as { overall?: unknown; faulted?: unknown; quiet?: unknown; maxUnavailableMs?: unknown } | undefined;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(name)}: ${verdict}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px;color:#222}
.verdict{font-size:1.6em;padding:.3em .6em;display:inline-block;border-radius:4px}
.ok{background:#dff0d8}.bad{background:#f2dede}.unk{background:#fcf8e3}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
tr.hit th,tr.hit td{background:#f2dede}code{font-size:.85em;word-break:break-all}.legend{font-size:.85em}
</style></head><body>
<h1>${escapeHtml(name)}</h1>
<p class="verdict ${cls}">${verdict}</p>
${r.error === undefined ? '' : `<p><b>harness error:</b> ${escapeHtml(r.error)}</p>`}
${r.interrupted === true ? '<p><b>interrupted</b>: results are from a partial history.</p>' : ''}
<h2>Timeline</h2>
${timelineSvg(history, r.availability)}
${linSection(r)}
<h2>Anomalies</h2>
<table><tr><th>type</th><th>count</th><th>examples</th></tr>${anomalyRows}</table>
<h2>Stats</h2>
${table(statsRows)}
<h2>Availability and latency</h2>
${table([
  ['overall (acked / attempted)', fmt(avail?.overall)],
  ['during faults', fmt(avail?.faulted)],
  ['quiet', fmt(avail?.quiet)],
  ['longest unavailability (ms)', fmt(avail?.maxUnavailableMs)],
  ...Object.entries((r.latencyMs ?? {}) as Record<string, unknown>).map(([k, v]) => [`latency of ${k} (ms)`, fmt(v)] as [string, string]),
])}
<h2>Phases</h2>
${table(Object.entries(r.phases ?? {}).map(([k, v]) => [k, fmt(v)] as [string, string]))}
<h2>Options</h2>
${table(optionRows)}
<h2>Nodes</h2>
<ul>${links}</ul>
</body></html>
`;
}
