/**
 * report.html of a campaign (`<out>/campaigns/<stamp>/`) and of a hunt (`<out>/hunts/<stamp>/`): one
 * self-contained page each (uPlot and the page script inlined, as the run report), comparing the cells
 * side by side and linking every run's own report.html by a path relative to the page, so the links
 * work from file:// and over HTTP as long as the results folder is kept together.
 *
 * Campaign: the verdict and exit code; per nemesis, each acks setting side by side (lost, unseen,
 * duplicates, availability, p99 send latency); charts of those per cell; every cell; every run.
 * Hunt: per planted bug whether it was caught, in how many runs and seconds, by which anomalies and
 * fault mix; the clean broker's false alarms; a chart of seconds to detection; every run.
 *
 * Invariant: the page is a pure function of the summary (campaign.json / hunt.json) and the page's
 * own directory; every string from it is HTML-escaped.
 */
import { relative } from 'node:path';
import type { Validity } from '../../checkers/result.ts';
import type { CellRow, Expectation, RunRow } from '../run/campaign.ts';
import type { BugOutcome, CleanOutcome } from '../run/hunt.ts';
import { inlineScripts, pageCss } from './assets.ts';
import { fmtCount, fmtPct, fmtMs, fmtS } from './format.ts';
import { escapeHtml, scriptJson } from './html.ts';

export interface CampaignReportInput {
  /** true, false or 'unknown' (anything else shows as unknown) */
  valid: unknown;
  exitCode: number;
  gate: boolean;
  seed: number;
  startedAt: string;
  planned: number;
  interrupted: boolean;
  cells: CellRow[];
  runs: RunRow[];
}

/** `runDir/report.html` as a link from the page in `pageDir`. */
export function reportLink(pageDir: string, runDir: string): string {
  const rel = relative(pageDir, runDir).split('\\').join('/');
  return `${rel.split('/').map(encodeURIComponent).join('/')}/report.html`;
}

function verdictBadge(v: Validity): string {
  const [word, cls] = v === true ? ['valid', 'ok'] : v === false ? ['INVALID', 'bad'] : ['unknown', 'unk'];
  return `<span class="badge ${cls}">${word}</span>`;
}

function expectationBadge(e: Expectation): string {
  const cls = e === 'met' ? 'ok' : e === 'failed' ? 'bad' : 'unk';
  return `<span class="badge ${cls}">${e}</span>`;
}

const CSS = `
.badge{padding:0 .4em;border-radius:3px;font-size:.9em}
table.pivot td,table.pivot th{text-align:right}table.pivot th.l,table.pivot td.l{text-align:left}
th.group{text-align:center;border-bottom:2px solid #bbb}td.hitcell{background:#f8e1e1}
`;

function page(title: string, body: string, data: unknown): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${pageCss()}${CSS}</style></head><body>
${body}
<script type="application/json" id="faultline-data">${scriptJson(data)}</script>
${inlineScripts('campaign.js')}
</body></html>
`;
}

function cellLabel(c: { acks: string; nemesis: string }): string {
  return `acks=${c.acks} ${c.nemesis}`;
}

/** Per nemesis, one group of columns per acks setting: the side-by-side comparison. */
function pivot(cells: CellRow[]): string {
  const acks = [...new Set(cells.map((c) => c.acks))];
  const nemeses = [...new Set(cells.map((c) => c.nemesis))];
  const metrics: Array<[string, (c: CellRow) => string]> = [
    ['lost', (c) => fmtCount(c.lost)],
    ['unseen', (c) => fmtCount(c.unseen)],
    ['dup', (c) => fmtCount(c.duplicates)],
    ['avail', (c) => fmtPct(c.availability)],
    ['p99', (c) => fmtMs(c.p99Ms)],
  ];
  const head1 = `<tr><th class="l" rowspan="2">nemesis</th>${acks.map((a) => `<th class="group" colspan="${metrics.length}">acks=${escapeHtml(a)}</th>`).join('')}</tr>`;
  const head2 = `<tr>${acks.map(() => metrics.map(([m]) => `<th>${m}</th>`).join('')).join('')}</tr>`;
  const rows = nemeses
    .map((n) => {
      const tds = acks
        .map((a) => {
          const c = cells.find((x) => x.acks === a && x.nemesis === n);
          return c === undefined ? metrics.map(() => '<td>-</td>').join('') : metrics.map(([m, f]) => `<td class="num${m === 'lost' || m === 'unseen' || m === 'dup' ? ((m === 'lost' ? c.lost : m === 'unseen' ? c.unseen : c.duplicates) > 0 ? ' hitcell' : '') : ''}">${f(c)}</td>`).join('');
        })
        .join('');
      return `<tr><td class="l">${escapeHtml(n)}</td>${tds}</tr>`;
    })
    .join('');
  return `<table class="pivot">${head1}${head2}${rows}</table>`;
}

function cellsTable(cells: CellRow[], gate: boolean): string {
  const rows = cells
    .map(
      (c) => `<tr data-cell="${escapeHtml(cellLabel(c))}"><td>${escapeHtml(c.acks)}</td><td>${escapeHtml(c.nemesis)}</td><td class="num">${fmtCount(c.runs)}</td><td class="num">${fmtCount(c.valid)}</td><td class="num">${fmtCount(c.invalid)}</td><td class="num">${fmtCount(c.unknown)}</td><td class="num">${fmtCount(c.acked)}</td><td class="num" data-cell-lost>${fmtCount(c.lost)}</td><td class="num" data-cell-unseen>${fmtCount(c.unseen)}</td><td class="num" data-cell-duplicates>${fmtCount(c.duplicates)}</td><td class="num">${fmtCount(c.inconsistentOffsets)}</td><td class="num">${fmtPct(c.availability)}</td><td class="num">${fmtMs(c.p99Ms)}</td>${gate ? `<td>${expectationBadge(c.expectation)}</td>` : ''}</tr>`,
    )
    .join('');
  return `<table><tr><th>acks</th><th>nemesis</th><th>runs</th><th>valid</th><th>invalid</th><th>unknown</th><th>acknowledged</th><th>lost</th><th>unseen</th><th>duplicates</th><th>inconsistent offsets</th><th>availability</th><th>p99 send</th>${gate ? '<th>gate</th>' : ''}</tr>${rows}</table>`;
}

function runsTable(runs: RunRow[], pageDir: string, gate: boolean): string {
  const rows = runs
    .map(
      (r, i) => `<tr><td class="num">${i + 1}</td><td><a href="${escapeHtml(reportLink(pageDir, r.runDir))}">${escapeHtml(r.name)}</a></td><td class="num">${fmtCount(r.repeat)}</td><td class="num">${r.seed}</td><td>${verdictBadge(r.valid)}</td>${gate ? `<td>${expectationBadge(r.expectation)}</td>` : ''}<td class="num">${fmtCount(r.acked)}</td><td class="num">${fmtCount(r.lost)}</td><td class="num">${fmtCount(r.unseen)}</td><td class="num">${fmtCount(r.duplicates)}</td><td class="num">${fmtPct(r.availability)}</td><td class="num">${fmtMs(r.p99Ms)}</td><td class="num">${fmtS(r.durationS)}</td><td>${r.error === undefined ? '' : escapeHtml(r.error)}</td></tr>`,
    )
    .join('');
  return `<table><tr><th>#</th><th>run (its report)</th><th>repeat</th><th>seed</th><th>verdict</th>${gate ? '<th>gate</th>' : ''}<th>acknowledged</th><th>lost</th><th>unseen</th><th>duplicates</th><th>availability</th><th>p99 send</th><th>took</th><th>error</th></tr>${rows}</table>`;
}

export function renderCampaignReport(s: CampaignReportInput, pageDir: string): string {
  const verdict = s.valid === true ? ['valid', 'ok'] : s.valid === false ? ['INVALID', 'bad'] : ['unknown', 'unk'];
  const strictFailed = s.runs.filter((r) => r.strict && r.valid === false).length;
  const body = `<h1>Campaign</h1>
<p class="verdict ${verdict[1]}" data-verdict="${verdict[0]!.toLowerCase()}">${verdict[0]}</p>
<p class="headline">seed ${s.seed} &middot; started ${escapeHtml(s.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} &middot; <span data-runs="${s.runs.length}">${fmtCount(s.runs.length)}</span> of ${fmtCount(s.planned)} runs${s.interrupted ? ' (interrupted)' : ''} &middot; exit code ${s.exitCode}${s.gate ? ' (gate: expectations per acks setting)' : ''}</p>
<p class="summary">${fmtCount(s.runs.filter((r) => r.valid === true).length)} valid, ${fmtCount(s.runs.filter((r) => r.valid === false).length)} invalid, ${fmtCount(s.runs.filter((r) => r.valid === 'unknown').length)} unknown.${strictFailed > 0 ? ` <b>${fmtCount(strictFailed)} invalid under acks=all with min.insync &ge; 2 and RF &ge; 3, where a correct broker loses nothing.</b>` : ''} Under acks=0 or 1 loss is expected and shown, not failed.</p>
<h2>Side by side</h2>
<p class="dim">Per nemesis, each acks setting: values lost (lost-write) and never read (unseen), duplicates, mean availability of sends, worst p99 send latency over the cell's runs.</p>
${pivot(s.cells)}
<h2>Charts</h2>
<h3>Anomalies per cell</h3>
<div class="plot" id="plot-anomalies"></div>
<h3>Availability and p99 send latency per cell</h3>
<div class="plot" id="plot-availability"></div>
<h2>Cells</h2>
${cellsTable(s.cells, s.gate)}
<h2>Runs</h2>
${runsTable(s.runs, pageDir, s.gate)}`;
  const data = {
    kind: 'campaign',
    labels: s.cells.map(cellLabel),
    bars: [
      { label: 'lost', values: s.cells.map((c) => c.lost), color: '#d62728' },
      { label: 'unseen', values: s.cells.map((c) => c.unseen), color: '#ff9f0e' },
      { label: 'duplicates', values: s.cells.map((c) => c.duplicates), color: '#9467bd' },
      { label: 'inconsistent offsets', values: s.cells.map((c) => c.inconsistentOffsets), color: '#8c564b' },
    ],
    availability: s.cells.map((c) => (c.availability === null ? null : c.availability * 100)),
    p99Ms: s.cells.map((c) => c.p99Ms),
  };
  return page(`campaign ${s.startedAt}: ${verdict[0]}`, body, data);
}

export interface HuntReportInput {
  budgetS: number;
  cleanBudgetS: number;
  seed: number;
  startedAt: string;
  bugs: BugOutcome[];
  clean: CleanOutcome;
  exitCode: number;
  interrupted?: boolean;
  /** every run of the hunt, in order (commands/hunt.ts records them) */
  runs?: HuntRunRow[];
}

export interface HuntRunRow {
  /** the planted bug, or null for the clean broker */
  bug: string | null;
  nemesis: string;
  seed: number;
  valid: Validity;
  runDir: string;
}

export function renderHuntReport(s: HuntReportInput, pageDir: string): string {
  const caught = s.bugs.filter((b) => b.caught).length;
  const ok = s.exitCode === 0;
  const link = (dir: string | null, text: string): string => (dir === null ? escapeHtml(text) : `<a href="${escapeHtml(reportLink(pageDir, dir))}">${escapeHtml(text)}</a>`);
  const anomalyText = (a: Record<string, number>): string => {
    const e = Object.entries(a);
    return e.length === 0 ? '-' : e.map(([t, n]) => `${escapeHtml(t)} ${fmtCount(n)}`).join(', ');
  };
  const bugRows = s.bugs
    .map(
      (b) => `<tr data-bug="${escapeHtml(b.name)}" class="${b.caught ? '' : 'hit'}"><th>${escapeHtml(b.name)}</th><td>${b.caught ? '<span class="badge ok">caught</span>' : '<span class="badge bad">not caught</span>'}</td><td class="num">${fmtCount(b.runs)}</td><td class="num">${b.caught ? fmtS(b.secondsToDetection) : `- (${fmtS(b.elapsedS)} spent)`}</td><td>${anomalyText(b.anomalies)}</td><td>${escapeHtml(b.nemesis)}</td><td>${b.runDir === null ? '-' : link(b.runDir, b.caught ? 'detecting run' : 'last run')}</td><td>${b.needs === undefined ? '' : escapeHtml(`needs ${b.needs}`)}${b.error === undefined ? '' : escapeHtml(b.error)}</td></tr>`,
    )
    .join('');
  const cleanRow = `<tr class="${s.clean.invalid > 0 ? 'hit' : ''}"><th>(clean broker)</th><td>${s.clean.invalid === 0 ? '<span class="badge ok">no false alarm</span>' : `<span class="badge bad">${fmtCount(s.clean.invalid)} invalid</span>`}</td><td class="num">${fmtCount(s.clean.runs)}</td><td class="num">${fmtS(s.clean.elapsedS)}</td><td>unknown ${fmtCount(s.clean.unknown)}</td><td></td><td>${s.clean.invalidRunDirs.map((d, i) => link(d, `invalid run ${i + 1}`)).join(', ')}</td><td></td></tr>`;
  const runs = s.runs ?? [];
  const runRows = runs
    .map((r, i) => `<tr><td class="num">${i + 1}</td><td>${escapeHtml(r.bug ?? '(clean broker)')}</td><td>${escapeHtml(r.nemesis)}</td><td class="num">${r.seed}</td><td>${verdictBadge(r.valid)}</td><td>${link(r.runDir, 'report')}</td></tr>`)
    .join('');
  const body = `<h1>Hunt</h1>
<p class="verdict ${ok ? 'ok' : 'bad'}" data-verdict="${ok ? 'valid' : 'invalid'}">${ok ? 'every bug caught, no false alarm' : 'NOT every bug caught, or a false alarm'}</p>
<p class="headline">seed ${s.seed} &middot; started ${escapeHtml(s.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} &middot; budget ${fmtS(s.budgetS)} per bug, ${fmtS(s.cleanBudgetS)} for the clean broker &middot; exit code ${s.exitCode}${s.interrupted === true ? ' (interrupted)' : ''}</p>
<p class="summary"><span data-caught="${caught}">${fmtCount(caught)}</span> of ${fmtCount(s.bugs.length)} planted bugs caught; the clean broker ran ${fmtCount(s.clean.runs)} times with ${fmtCount(s.clean.invalid)} invalid verdicts.</p>
<h2>Bugs</h2>
<table><tr><th>bug</th><th>caught</th><th>runs</th><th>time to detection</th><th>anomalies that showed it</th><th>fault mix</th><th>report</th><th></th></tr>${bugRows}${cleanRow}</table>
<h2>Chart</h2>
<h3>Seconds to detection (not caught: the seconds spent)</h3>
<div class="plot" id="plot-anomalies"></div>
${runs.length === 0 ? '' : `<h2>Runs</h2><table><tr><th>#</th><th>target</th><th>fault mix</th><th>seed</th><th>verdict</th><th>report</th></tr>${runRows}</table>`}`;
  const data = {
    kind: 'hunt',
    labels: s.bugs.map((b) => b.name),
    bars: [
      { label: 'caught after (s)', values: s.bugs.map((b) => (b.caught ? b.secondsToDetection : null)), color: '#2e9e44' },
      { label: 'not caught in (s)', values: s.bugs.map((b) => (b.caught ? null : b.elapsedS)), color: '#d62728' },
    ],
  };
  return page(`hunt ${s.startedAt}: ${ok ? 'all caught' : 'not all caught'}`, body, data);
}
