/**
 * `npm run bench:report`: how long a run report of a big history takes to make and to open.
 *
 * Builds a history of about 1,000,000 ops from the simulated broker of checkers/simulate.ts (the
 * history bench:checker uses), checks it (`checkRun`), renders report.html (`renderReport`, timed),
 * then opens the file in Debian's chromium (playwright-core, test/browser/chromium.ts) LOADS times and
 * prints, for each load, the time from navigation until every plot has drawn (window.faultlineReport
 * .ready, then one frame), and the page script's own time. Also the page's size and points per plot.
 * test/browser/big-report.test.ts asserts a generous bound on the open time (docs/report.md).
 *
 * Options (environment): BENCH_OPS (default 1000000), BENCH_SEED (default 1), BENCH_LOADS (default 3).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkRun } from '../checkers/index.ts';
import { simulateQueue } from '../checkers/simulate.ts';
import { renderReport } from '../harness/report/html.ts';
import { launchChromium, openReport, pageErrors, plotState } from '../test/browser/chromium.ts';

const targetOps = Number(process.env['BENCH_OPS'] ?? 1_000_000);
const seed = Number(process.env['BENCH_SEED'] ?? 1);
const loads = Number(process.env['BENCH_LOADS'] ?? 3);

/** The synthetic big history and its report, as the bench and the browser test make it. */
export function bigReport(ops: number, s = 1): { html: string; historyOps: number; checkMs: number; renderMs: number } {
  const { history } = simulateQueue({ seed: s, ops: Math.round(ops / 1.012), keys: 12, producers: 6, consumers: 4, acks: 'all', faultEverySteps: 50_000, failoverMs: 300 });
  const t0 = performance.now();
  const r = checkRun(history, { name: 'bench-report', acks: 'all', nodes: 3, seed: s, nemesis: ['kill-leader'] });
  const t1 = performance.now();
  const html = renderReport({ ...r, phases: { load: 'done', drain: 'done' } }, history);
  const t2 = performance.now();
  return { html, historyOps: history.length, checkMs: t1 - t0, renderMs: t2 - t1 };
}

async function main(): Promise<void> {
  const { html, historyOps, checkMs, renderMs } = bigReport(targetOps, seed);
  const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-report-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, html);
  console.log(`history: ${historyOps.toLocaleString('en-US')} ops; checkRun ${Math.round(checkMs)} ms; renderReport ${Math.round(renderMs)} ms; report.html ${(html.length / 2 ** 20).toFixed(2)} MB`);
  const browser = await launchChromium();
  try {
    for (let i = 1; i <= loads; i++) {
      const page = await browser.context.newPage();
      const errors = pageErrors(page);
      const openMs = await openReport(page, pathToFileURL(file).href);
      const st = await plotState(page);
      const points = Object.entries(st.plots).map(([name, p]) => `${name} ${Object.values(p.series).reduce((a, b) => a + b, 0).toLocaleString('en-US')}`).join(', ');
      console.log(`load ${i}: open to drawn ${Math.round(openMs)} ms (page script ${st.renderMs} ms); points: ${points}${errors.length > 0 ? `; ERRORS: ${errors.join(' | ')}` : ''}`);
      await page.close();
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`load average (1 min) ${(await import('node:os')).loadavg()[0]!.toFixed(1)} on ${(await import('node:os')).cpus().length} cores`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
