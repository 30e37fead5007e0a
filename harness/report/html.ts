/**
 * report.html: one self-contained page per run that a person reads afterwards (docs/report.md). It needs
 * no network and no server: the plotting library (uPlot), its CSS, the page's script and the plot data
 * are all inlined, so the page opens the same from file:// and over HTTP, wherever the run directory
 * is copied (links to node logs are relative paths inside the run directory).
 *
 * Content: the verdict and why; every anomaly type with its count and its examples, each example's
 * history lines linked to an excerpt of those very lines further down; plots of latency of every op
 * over time (ok/fail/info, Jepsen's latency-raw), throughput per op type, consumer lag and unseen over
 * time (all three with the fault windows shaded), a per-key offset view (Jepsen's orders) and an op
 * timeline per process; then fault windows, stats, availability and latency, replicas, phases, options
 * and nodes, every number formatted for people (format.ts). The plot data is bounded (series.ts), so a
 * 1M-op history makes a page that opens in a second or two (`npm run bench:report`).
 *
 * Invariants: every string from the run is HTML-escaped, and the embedded JSON cannot close its script
 * element (`<` is written as \u003c); the page is a pure function of its inputs (and the inlined assets).
 */
import type { History, Op } from '../../checkers/history.ts';
import { ANOMALIES, ANOMALY_TYPES } from '../../checkers/queue/anomalies.ts';
import type { AnomalyType } from '../../checkers/queue/anomalies.ts';
import { inlineScripts, pageCss } from './assets.ts';
import { fmtCount, fmtMs, fmtPct } from './format.ts';
import { endMsOf, latencySeries, orders, pairOps, throughput, timeline } from './series.ts';

export interface ReportInput {
  valid: unknown;
  checkerValid?: unknown;
  test: Record<string, unknown>;
  stats?: unknown;
  anomalies?: Record<string, { count: number; examples: unknown[] }>;
  breaking?: readonly string[];
  availability?: unknown;
  latencyMs?: unknown;
  lag?: unknown;
  phases?: Record<string, string>;
  error?: string;
  errors?: readonly string[];
  malformed?: string;
  interrupted?: boolean;
  replicas?: unknown;
}

/** Lines of history excerpted at most (the lines anomaly examples name). */
export const MAX_EXCERPT_LINES = 600;
/** Line links shown per example field (a `lines` list may be long). */
export const MAX_LINKS_PER_FIELD = 8;
/** Fault windows listed in the table (all are shaded in the plots). */
export const MAX_WINDOW_ROWS = 200;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export interface WindowLike {
  fault: string;
  nodes?: string[];
  startMs: number;
  endMs: number;
  closed?: boolean;
  attempted?: number;
  acked?: number;
  ratio?: number | null;
  longestUnavailableMs?: number;
}

/** The checker's fault windows (results.availability.faultWindows), tolerating their absence. */
export function faultWindowsOf(availability: unknown): WindowLike[] {
  const ws = (availability as { faultWindows?: unknown } | undefined)?.faultWindows;
  if (!Array.isArray(ws)) return [];
  return ws.filter((w): w is WindowLike => typeof w === 'object' && w !== null && typeof (w as WindowLike).fault === 'string' && typeof (w as WindowLike).startMs === 'number' && typeof (w as WindowLike).endMs === 'number');
}

function table(rows: Array<[string, string]>, cls = ''): string {
  return `<table class="kv ${cls}">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

/** A value from the run shown as text for people: numbers grouped, lists joined, objects as `k: v`. */
export function fmtValue(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return escapeHtml(fmtCount(v));
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return escapeHtml(v);
  if (depth > 2) return '&hellip;';
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.map((x) => fmtValue(x, depth + 1)).join(', ');
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '(none)';
  return entries.map(([k, x]) => `${escapeHtml(k)}: ${fmtValue(x, depth + 1)}`).join('; ');
}

function verdictOf(v: unknown): { word: string; cls: string } {
  return v === true ? { word: 'valid', cls: 'ok' } : v === false ? { word: 'INVALID', cls: 'bad' } : { word: 'unknown', cls: 'unk' };
}

/** Is this example field a history line number (or a list of them)? */
function isLineField(name: string): boolean {
  return name === 'line' || name === 'lines' || name.endsWith('Line');
}

function linesOf(v: unknown): number[] {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x > 0);
  return [];
}

/** Every history line the anomaly examples name, in order, at most `MAX_EXCERPT_LINES`. */
export function exampleLines(anomalies: ReportInput['anomalies']): number[] {
  const out = new Set<number>();
  for (const a of Object.values(anomalies ?? {})) {
    for (const ex of a.examples) {
      if (ex === null || typeof ex !== 'object') continue;
      for (const [k, v] of Object.entries(ex as Record<string, unknown>)) if (isLineField(k)) for (const l of linesOf(v).slice(0, MAX_LINKS_PER_FIELD)) out.add(l);
    }
  }
  return [...out].sort((a, b) => a - b).slice(0, MAX_EXCERPT_LINES);
}

function lineLink(l: number, excerpted: ReadonlySet<number>): string {
  return excerpted.has(l) ? `<a class="line" href="#L${l}">line ${fmtCount(l)}</a>` : `line ${fmtCount(l)}`;
}

function exampleCell(field: string, v: unknown, excerpted: ReadonlySet<number>): string {
  if (!isLineField(field)) return fmtValue(v);
  const ls = linesOf(v);
  if (ls.length === 0) return fmtValue(v);
  const shown = ls.slice(0, MAX_LINKS_PER_FIELD).map((l) => lineLink(l, excerpted)).join(', ');
  return ls.length > MAX_LINKS_PER_FIELD ? `${shown} and ${fmtCount(ls.length - MAX_LINKS_PER_FIELD)} more` : shown;
}

const FIELD_NAMES: Record<string, string> = {
  maxReadOffset: 'highest offset read',
  sendLine: 'send',
  pollLine: 'poll',
  commitLine: 'commit',
  assignLine: 'assign',
  previousLine: 'previous',
  previousOffset: 'previous offset',
  fromOffset: 'from offset',
  toOffset: 'to offset',
  committedOffset: 'committed offset',
  line: 'line',
  lines: 'lines',
};

function examplesTable(examples: unknown[], excerpted: ReadonlySet<number>): string {
  const objs = examples.filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object' && !Array.isArray(e));
  if (objs.length === 0) return examples.length === 0 ? '' : `<p>${examples.map((e) => fmtValue(e)).join('<br>')}</p>`;
  const fields = [...new Set(objs.flatMap((o) => Object.keys(o)))];
  // line fields last, where the eye looks for the link
  fields.sort((a, b) => Number(isLineField(a)) - Number(isLineField(b)));
  const head = fields.map((f) => `<th>${escapeHtml(FIELD_NAMES[f] ?? f)}</th>`).join('');
  const rows = objs.map((o) => `<tr>${fields.map((f) => `<td>${exampleCell(f, o[f], excerpted)}</td>`).join('')}</tr>`).join('');
  return `<table class="examples"><tr>${head}</tr>${rows}</table>`;
}

function breaksText(t: string, idempotent: boolean): string {
  const rule = ANOMALIES[t as AnomalyType];
  if (rule === undefined) return '';
  if (rule.breaksValidity === 'always') return 'breaks validity';
  if (rule.breaksValidity === 'when-idempotent') return idempotent ? 'breaks validity (idempotent producer)' : 'breaks validity only for an idempotent producer';
  return 'reported; does not break validity';
}

function anomalySection(r: ReportInput, excerpted: ReadonlySet<number>): string {
  const anomalies = r.anomalies ?? {};
  const known = ANOMALY_TYPES as readonly string[];
  const types = [...known.filter((t) => t in anomalies), ...Object.keys(anomalies).filter((t) => !known.includes(t))];
  const idempotent = r.test['idempotence'] === true;
  const breaking = new Set(r.breaking ?? []);
  const rows = types
    .map((t) => {
      const a = anomalies[t]!;
      const unit = ANOMALIES[t as AnomalyType]?.unit ?? '';
      const name = a.count > 0 ? `<a href="#anomaly-${escapeHtml(t)}">${escapeHtml(t)}</a>` : escapeHtml(t);
      return `<tr class="${a.count > 0 ? (breaking.has(t) ? 'hit' : 'seen') : ''}" data-anomaly="${escapeHtml(t)}"><th>${name}</th><td class="num" data-anomaly-count="${escapeHtml(t)}">${fmtCount(a.count)}</td><td>${escapeHtml(unit)}</td><td>${breaksText(t, idempotent)}${breaking.has(t) ? ' &mdash; <b>made this run invalid</b>' : ''}</td></tr>`;
    })
    .join('');
  const details = types
    .filter((t) => anomalies[t]!.count > 0)
    .map((t) => {
      const a = anomalies[t]!;
      const shown = a.examples.length < a.count ? ` (${fmtCount(a.examples.length)} of ${fmtCount(a.count)} shown)` : '';
      return `<details class="anomaly" id="anomaly-${escapeHtml(t)}" open><summary><h3>${escapeHtml(t)}: ${fmtCount(a.count)}${shown}</h3></summary>${examplesTable(a.examples, excerpted)}</details>`;
    })
    .join('\n');
  return `<h2 id="anomalies">Anomalies</h2>
<table class="anomalies"><tr><th>type</th><th>count</th><th>counts</th><th>meaning for the verdict</th></tr>${rows}</table>
${details}`;
}

function verdictReasons(r: ReportInput): string[] {
  const out: string[] = [];
  const breaking = r.breaking ?? [];
  if (breaking.length > 0) out.push(`Anomalies that break the guarantee: ${breaking.map((t) => `<a href="#anomaly-${escapeHtml(t)}">${escapeHtml(t)}</a>`).join(', ')}.`);
  if (r.checkerValid !== undefined && r.checkerValid !== r.valid) out.push(`The checkers said ${verdictOf(r.checkerValid).word}; the run did not complete, so its verdict is ${verdictOf(r.valid).word}.`);
  if (r.error !== undefined) out.push(`Harness error: ${escapeHtml(r.error)}`);
  if (r.interrupted === true) out.push('Interrupted: the results are from a partial history.');
  if (r.malformed !== undefined) out.push(`History: ${escapeHtml(r.malformed)} (a verdict that lost data could explain is unknown).`);
  for (const e of r.errors ?? []) out.push(`A checker could not decide: ${escapeHtml(e)}`);
  return out;
}

function ratioText(x: unknown): string {
  const r = x as { attempted?: number; acked?: number; ratio?: number | null } | undefined;
  if (r === undefined || typeof r.attempted !== 'number') return '-';
  return `${fmtPct(r.ratio)} <span class="dim">(${fmtCount(r.acked)} of ${fmtCount(r.attempted)} sends acknowledged)</span>`;
}

function latencyTable(l: unknown): string {
  const lat = (l ?? {}) as Record<string, { count?: number; p50?: number | null; p90?: number | null; p99?: number | null; max?: number | null }>;
  const rows = Object.entries(lat)
    .map(([f, p]) => `<tr><th>${escapeHtml(f)}</th><td class="num">${fmtCount(p.count)}</td><td class="num">${fmtMs(p.p50)}</td><td class="num">${fmtMs(p.p90)}</td><td class="num">${fmtMs(p.p99)}</td><td class="num">${fmtMs(p.max)}</td></tr>`)
    .join('');
  return `<table><tr><th>ok ops</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>${rows}</table>`;
}

function windowsTable(ws: WindowLike[]): string {
  if (ws.length === 0) return '<p>No faults were injected.</p>';
  const rows = ws
    .slice(0, MAX_WINDOW_ROWS)
    .map((w) => `<tr><td>${escapeHtml(w.fault)}</td><td>${fmtValue(w.nodes ?? [])}</td><td class="num">${fmtMs(w.startMs)}</td><td class="num">${fmtMs(w.endMs - w.startMs)}${w.closed === false ? ' (never healed)' : ''}</td><td class="num">${typeof w.attempted === 'number' ? ratioText(w) : '-'}</td><td class="num">${fmtMs(w.longestUnavailableMs)}</td></tr>`)
    .join('');
  const more = ws.length > MAX_WINDOW_ROWS ? `<p class="dim">${fmtCount(ws.length - MAX_WINDOW_ROWS)} more windows not listed (all are shaded in the plots).</p>` : '';
  return `<table><tr><th>fault</th><th>nodes</th><th>start</th><th>duration</th><th>availability</th><th>longest unavailability</th></tr>${rows}</table>${more}`;
}

function replicasSection(replicas: unknown): string {
  const r = replicas as { divergent?: number; lostOnNode?: number; nodes?: Array<{ node: string; keys: number; records: number; divergent: { count: number }; lostOnNode: { count: number }; error?: string }> } | undefined;
  if (r === undefined || !Array.isArray(r.nodes)) return '';
  const rows = r.nodes
    .map((n) => `<tr><th>${escapeHtml(n.node)}</th><td class="num">${fmtCount(n.keys)}</td><td class="num">${fmtCount(n.records)}</td><td class="num">${fmtCount(n.divergent?.count)}</td><td class="num">${fmtCount(n.lostOnNode?.count)}</td><td>${n.error === undefined ? '' : escapeHtml(n.error)}</td></tr>`)
    .join('');
  return `<h2>Replicas (each node's own log, read after the run)</h2>
<table><tr><th>node</th><th>keys</th><th>records</th><th>divergent offsets</th><th>acknowledged values missing</th><th></th></tr>${rows}</table>`;
}

function excerptSection(history: History, lines: readonly number[]): string {
  if (lines.length === 0) return '';
  const want = new Set(lines);
  const byLine = new Map<number, Op>();
  for (const op of history) if (want.has(op.index + 1)) byLine.set(op.index + 1, op);
  const rows = lines
    .map((l) => {
      const op = byLine.get(l);
      const text = op === undefined ? '(not in the history that was read: malformed or missing)' : JSON.stringify(op);
      return `<div class="hl" id="L${l}"><a class="ln" href="#L${l}">${l}</a><code>${escapeHtml(text)}</code></div>`;
    })
    .join('\n');
  return `<h2 id="history-lines">History lines named by the examples</h2>
<p class="dim">The lines of history.jsonl (1-based, as <code>sed -n Np</code> counts) that the anomaly examples above name.</p>
<div class="excerpt">${rows}</div>`;
}

/** The JSON for a script element: `<` escaped so no string from the run can end the element. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The plot data the page's script reads (bounded; series.ts). */
export function plotData(r: ReportInput, history: History): Record<string, unknown> {
  const endMs = endMsOf(history);
  const ops = pairOps(history);
  const lagPoints = (r.lag as { overTime?: { points?: unknown } } | undefined)?.overTime?.points;
  return {
    endMs,
    faults: faultWindowsOf(r.availability).map((w) => ({ fault: w.fault, nodes: w.nodes ?? [], startMs: w.startMs, endMs: w.endMs })),
    latency: latencySeries(ops, endMs),
    throughput: throughput(ops, endMs),
    lag: Array.isArray(lagPoints) ? lagPoints : [],
    orders: orders(history),
    timeline: timeline(ops, endMs),
  };
}

function faultLegend(ws: WindowLike[]): string {
  const kinds = [...new Set(ws.map((w) => w.fault))];
  if (kinds.length === 0) return '<span class="dim">no faults</span>';
  return kinds.map((k) => `<span class="swatch fault-${escapeHtml(k.split('-')[0]!)}"></span>${escapeHtml(k)} (${fmtCount(ws.filter((w) => w.fault === k).length)})`).join(' ');
}

/** The log workload's linearizability verdict, linking to its HTML view when the check did not pass. */
function linSection(r: ReportInput): string {
  const lin = (r as { linearizability?: { valid?: unknown } }).linearizability;
  if (lin === undefined) return '';
  const v = lin.valid === true ? 'linearizable' : lin.valid === false ? 'NOT linearizable' : 'unknown (bound reached)';
  const link = lin.valid === true ? '' : ' &mdash; <a href="linearizability.html">failing history, partial linearization and the op that cannot be placed</a>';
  return `<h2>Linearizability (log model)</h2><p>${v}${link}</p>`;
}

function headline(t: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof t['seed'] === 'number') parts.push(`seed ${t['seed']}`);
  if (t['acks'] !== undefined) parts.push(`acks=${fmtValue(t['acks'])}`);
  if (t['nemesis'] !== undefined) parts.push(`nemesis ${Array.isArray(t['nemesis']) && t['nemesis'].length === 0 ? 'none' : fmtValue(t['nemesis'])}`);
  if (typeof t['timeLimit'] === 'number') parts.push(`${fmtCount(t['timeLimit'])} s of load`);
  if (typeof t['nodes'] === 'number') parts.push(`${t['nodes']} nodes (${fmtValue(t['backend'] ?? 'local')})`);
  if (typeof t['bug'] === 'string') parts.push(`planted bug ${escapeHtml(t['bug'])}`);
  if (typeof t['startedAt'] === 'string') parts.push(`started ${escapeHtml(t['startedAt'].replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}`);
  return parts.join(' &middot; ');
}

const STAT_NAMES: Record<string, string> = {
  sends: 'sends invoked',
  acked: 'acknowledged (ok)',
  sendFailed: 'failed (definitely not written)',
  sendIndeterminate: 'indeterminate (info or never completed)',
  recovered: 'indeterminate sends read back',
  ackedWithoutOffset: 'acknowledged without an offset (acks=0)',
  polls: 'polls (ok)',
  emptyPolls: 'empty polls',
  pollsFailed: 'polls failed or indeterminate',
  valuesRead: 'distinct values read',
  readsTotal: 'reads (offset, value pairs)',
  readsOfUnknownValues: 'values read that no send carried',
};

export function renderReport(r: ReportInput, history: History): string {
  const v = verdictOf(r.valid);
  const name = typeof r.test['name'] === 'string' ? r.test['name'] : 'run';
  const lines = exampleLines(r.anomalies);
  const excerpted = new Set(lines);
  const windows = faultWindowsOf(r.availability);
  const stats = (r.stats ?? {}) as Record<string, unknown>;
  const statRows = Object.entries(stats).map(([k, x]) => [STAT_NAMES[k] ?? k, fmtValue(x)] as [string, string]);
  const optionRows = Object.entries(r.test)
    .filter(([k]) => k !== 'nemesisSchedule')
    .map(([k, x]) => [k, fmtValue(x)] as [string, string]);
  const nodes = typeof r.test['nodes'] === 'number' ? r.test['nodes'] : 0;
  const links = Array.from({ length: nodes }, (_, i) => `n${i + 1}`)
    .map((n) => `<li>${n}: <a href="nodes/${n}/broker.log">broker.log</a>, <a href="nodes/${n}/data-listing.txt">data listing</a></li>`)
    .join('');
  const avail = (r.availability ?? {}) as { overall?: unknown; faulted?: unknown; quiet?: unknown; maxUnavailableMs?: number };
  const lag = r.lag as { worstMs?: number | null } | undefined;
  const reasons = verdictReasons(r);
  const hits = Object.entries(r.anomalies ?? {}).filter(([, a]) => a.count > 0);
  const data = plotData(r, history);
  const tl = data['timeline'] as ReturnType<typeof timeline>;
  const ord = data['orders'] as ReturnType<typeof orders>;
  const sampledLatency = (data['latency'] as ReturnType<typeof latencySeries>).filter((s) => s.sampled);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>${escapeHtml(name)}: ${v.word}</title>
<style>${pageCss()}</style></head><body>
<header>
<h1>${escapeHtml(name)}</h1>
<p class="verdict ${v.cls}" data-verdict="${v.word.toLowerCase()}">${v.word}</p>
<p class="headline">${headline(r.test)}</p>
${reasons.length === 0 ? '' : `<ul class="reasons">${reasons.map((x) => `<li>${x}</li>`).join('')}</ul>`}
<p class="summary">${fmtCount(stats['sends'] as number)} sends, ${fmtCount(stats['acked'] as number)} acknowledged; ${fmtCount(stats['valuesRead'] as number)} values read.
Anomalies: ${hits.length === 0 ? 'none' : hits.map(([t, a]) => `<a href="#anomaly-${escapeHtml(t)}">${escapeHtml(t)} ${fmtCount(a.count)}</a>`).join(', ')}.
Availability ${fmtPct((avail.overall as { ratio?: number | null } | undefined)?.ratio)}, longest outage ${fmtMs(avail.maxUnavailableMs)}.</p>
<nav><a href="#anomalies">anomalies</a> <a href="#plots">plots</a> <a href="#faults">faults</a> <a href="#stats">stats</a> <a href="#options">options</a>${lines.length > 0 ? ' <a href="#history-lines">history lines</a>' : ''}</nav>
</header>
${linSection(r)}
${anomalySection(r, excerpted)}
<h2 id="plots">Plots</h2>
<p class="dim">Fault windows are shaded: ${faultLegend(windows)}. Drag across a plot to zoom, double-click to zoom out.</p>
<h3>Latency of every op</h3>
<p class="dim">One point per completed client op at its invoke time (log scale)${sampledLatency.length > 0 ? `; ${sampledLatency.map((s) => `${escapeHtml(s.f)} ${s.type}: ${fmtCount(s.points.length)} of ${fmtCount(s.count)} shown (the fastest and slowest of each time slice)`).join(', ')}` : ''}.</p>
<div class="plot" id="plot-latency"></div>
<h3>Throughput per op type</h3>
<p class="dim">Completions per second, in buckets of ${fmtMs((data['throughput'] as ReturnType<typeof throughput>).bucketMs)}.</p>
<div class="plot" id="plot-throughput"></div>
<h3>Consumer lag and unseen values</h3>
<p class="dim">Acknowledged values not yet read by any consumer, and the age of the oldest of them. A late value makes the count rise and fall; a lost one keeps it up to the end. Worst lag ${fmtMs(lag?.worstMs)}.</p>
<div class="plot" id="plot-lag"></div>
<h3>Offsets per key</h3>
<p class="dim">Which value each consumer read (and each acknowledgement said) at each offset of a key: a healthy key is one rising line; two values at one offset, or one value at two offsets, stand out.${ord.keysTotal > ord.keys.length ? ` ${fmtCount(ord.keys.length)} of ${fmtCount(ord.keysTotal)} keys (those with something to see first).` : ''}</p>
<p><label>key <select id="orders-key"></select></label> <span id="orders-info" class="dim"></span></p>
<div class="plot" id="plot-orders"></div>
<h3>Ops per process</h3>
<p class="dim">Each client op from invoke to completion, coloured <span class="swatch ok"></span>ok <span class="swatch fail"></span>fail <span class="swatch info"></span>info <span class="swatch pending"></span>never completed${tl.resolutionMs > 0 ? `; ops closer than ${fmtMs(tl.resolutionMs)} with the same outcome are merged (${fmtCount(tl.bars.length)} bars for ${fmtCount(tl.ops)} ops)` : ''}${tl.lanesTruncated ? `; the first ${fmtCount(tl.lanes.length)} processes` : ''}. Hover for the op.</p>
<div class="plot" id="plot-timeline"></div>
<p id="timeline-readout" class="readout">&nbsp;</p>
<h2 id="faults">Fault windows</h2>
${windowsTable(windows)}
<h2 id="stats">Stats</h2>
<div class="cols">
<div><h3>Sends and reads</h3>${table(statRows)}</div>
<div><h3>Availability</h3>${table([
    ['overall', ratioText(avail.overall)],
    ['during faults', ratioText(avail.faulted)],
    ['quiet', ratioText(avail.quiet)],
    ['longest unavailability', fmtMs(avail.maxUnavailableMs)],
    ['worst consumer lag', fmtMs(lag?.worstMs)],
  ])}
<h3>Latency</h3>${latencyTable(r.latencyMs)}</div>
</div>
${replicasSection(r.replicas)}
<h2>Phases</h2>
${table(Object.entries(r.phases ?? {}).map(([k, x]) => [k, fmtValue(x)] as [string, string]))}
<h2 id="options">Options</h2>
${table(optionRows)}
<h2>Nodes</h2>
<ul>${links}</ul>
${excerptSection(history, lines)}
<script type="application/json" id="faultline-data">${scriptJson(data)}</script>
${inlineScripts('report.js')}
</body></html>
`;
}
