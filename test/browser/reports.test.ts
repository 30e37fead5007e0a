/**
 * The reports as a reader opens them, in Debian's chromium: a real short campaign (acks 1 and all
 * under kill, two ~3 s runs on the local backend) writes two run reports and a campaign report, and
 * each must open with no console error, plots that really drew points (points counted by the page's
 * script and data pixels on its canvases), and the verdict and anomaly counts of its results.json.
 * The run report opens the same over HTTP as from file://.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, openReport, pageErrors, paintedPixels, plotState } from './chromium.ts';
import type { Browser } from './chromium.ts';

const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'faultline.mjs');

interface Summary {
  cells: Array<{ acks: string; nemesis: string; lost: number; unseen: number; duplicates: number }>;
  runs: Array<{ runDir: string; valid: unknown }>;
}

let out = '';
let summary: Summary;
let campaignPage = '';
let browser: Browser;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'fl-browser-'));
  const r = await execa('node', [bin, 'campaign', '--acks', '1,all', '--nemesis', 'kill', '--nemesis-interval', '1', '--time-limit', '3', '--seed', '7', '--json', '--out', out], { reject: false, timeout: 280_000 });
  if (r.stdout.trim() === '') throw new Error(`the campaign printed no summary (exit ${r.exitCode}): ${r.stderr.slice(-2000)}`);
  summary = JSON.parse(r.stdout.trim()) as Summary;
  const m = /campaign: (\S+)campaign\.json, (\S+report\.html)/.exec(r.stderr);
  if (m === null) throw new Error(`the campaign did not say where its report is: ${r.stderr.slice(-2000)}`);
  campaignPage = m[2]!;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (out !== '') rmSync(out, { recursive: true, force: true });
});

const verdictWord = (v: unknown): string => (v === true ? 'valid' : v === false ? 'invalid' : 'unknown');
const num = (s: string | null): number => Number((s ?? '').replace(/,/g, ''));

const RUN_PLOTS = ['latency', 'throughput', 'lag', 'orders', 'timeline'] as const;

/** What a run report must show: its results.json's verdict and counts, and plots that drew. */
async function checkRunReport(page: Page, runDir: string): Promise<void> {
  const results = JSON.parse(readFileSync(join(runDir, 'results.json'), 'utf8')) as { valid: unknown; stats: { acked: number }; anomalies: Record<string, { count: number }> };
  expect(await page.getAttribute('[data-verdict]', 'data-verdict')).toBe(verdictWord(results.valid));
  const shown: Record<string, number> = {};
  for (const el of await page.locator('[data-anomaly-count]').all()) shown[(await el.getAttribute('data-anomaly-count'))!] = num(await el.textContent());
  expect(shown).toEqual(Object.fromEntries(Object.entries(results.anomalies).map(([t, a]) => [t, a.count])));
  // every example line link lands on an excerpted line of the page
  for (const href of await page.locator('a.line').evaluateAll((as) => as.map((a) => (a as unknown as { getAttribute(name: string): string | null }).getAttribute('href')))) expect(await page.locator(href!).count()).toBe(1);
  expect(results.stats.acked).toBeGreaterThan(0);
  const st = await plotState(page);
  expect(st.errors).toEqual([]);
  for (const p of RUN_PLOTS) {
    const points = Object.values(st.plots[p]?.series ?? {}).reduce((a, b) => a + b, 0);
    expect({ plot: p, drew: points > 0 }).toEqual({ plot: p, drew: true });
  }
  const pixels = await paintedPixels(page);
  for (const p of RUN_PLOTS) expect({ plot: p, painted: (pixels[`plot-${p}`] ?? 0) > 0 }).toEqual({ plot: p, painted: true });
}

describe('reports in chromium', () => {
  it('each run report: no console errors, plots drawn, verdict and anomaly counts as in results.json', async () => {
    expect(summary.runs).toHaveLength(2);
    for (const run of summary.runs) {
      const page = await browser.context.newPage();
      const errors = pageErrors(page);
      await openReport(page, pathToFileURL(join(run.runDir, 'report.html')).href);
      await checkRunReport(page, run.runDir);
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it('a run report opens the same over HTTP', async () => {
    const server: Server = createServer((req, res) => {
      const path = join(out, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (relative(out, path).startsWith('..')) {
        res.writeHead(403).end();
        return;
      }
      let body: Buffer;
      try {
        body = readFileSync(path);
      } catch {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': path.endsWith('.html') ? 'text/html; charset=utf-8' : 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const run = summary.runs[1]!;
      const page = await browser.context.newPage();
      const errors = pageErrors(page);
      await openReport(page, `http://127.0.0.1:${port}/${relative(out, run.runDir)}/report.html`);
      await checkRunReport(page, run.runDir);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('the campaign report: no console errors, charts drawn, cells as in campaign.json, every run linked', async () => {
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await openReport(page, pathToFileURL(campaignPage).href);
    expect(await page.getAttribute('[data-runs]', 'data-runs')).toBe(String(summary.runs.length));
    for (const c of summary.cells) {
      const row = page.locator(`tr[data-cell="acks=${c.acks} ${c.nemesis}"]`);
      expect([num(await row.locator('[data-cell-lost]').textContent()), num(await row.locator('[data-cell-unseen]').textContent()), num(await row.locator('[data-cell-duplicates]').textContent())]).toEqual([c.lost, c.unseen, c.duplicates]);
    }
    const st = await plotState(page);
    expect(st.errors).toEqual([]);
    expect(Object.values(st.plots['anomalies']!.series)).toEqual([2, 2, 2, 2]);
    expect(st.plots['availability']!.series['availability']).toBe(2);
    expect((await paintedPixels(page))['plot-availability']).toBeGreaterThan(0);
    // every run's report is linked, and the link opens it
    const links = await page.locator('a[href$="report.html"]').evaluateAll((as) => as.map((a) => (a as unknown as { href: string }).href));
    expect(links.map((l) => decodeURIComponent(new URL(l).pathname))).toEqual(summary.runs.map((r) => join(r.runDir, 'report.html')));
    await openReport(page, links[0]!);
    expect(await page.getAttribute('[data-verdict]', 'data-verdict')).toBe(verdictWord(summary.runs[0]!.valid));
    expect(errors).toEqual([]);
    await page.close();
  });
});
