/**
 * `faultline serve` in Debian's chromium: a real `faultline serve` process over a results directory
 * holding a real run (test/fixtures/serve, its report.html re-rendered by `faultline check` so it is
 * the current report), a campaign with its own report.html and a hunt. The listing page must load
 * without console errors, show every entry newest first with its verdict, filter as the user types
 * (and keep the filter in the URL), and open a run's report, which must draw its plots when served.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openReport, pageErrors, plotState, type Browser } from './chromium.ts';

const repo = new URL('../../', import.meta.url).pathname;
const bin = join(repo, 'bin/faultline.mjs');
const runPath = 'queue-acksall-none/20261201T121556.575Z';
const campaignPath = 'campaigns/20261201T130000.000Z';
const huntPath = 'hunts/20261201T120000.000Z';

let base: string;
let root: string;
let server: ChildProcess;
let url: string;
let browser: Browser;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'fl-serve-browser-'));
  root = join(base, 'results');
  cpSync(join(repo, 'test/fixtures/serve/results'), root, { recursive: true });
  // the fixture's report.html predates the current report: re-render it from the stored history
  execFileSync(process.execPath, [bin, 'check', join(root, runPath)], { stdio: 'ignore' });
  mkdirSync(join(root, campaignPath), { recursive: true });
  writeFileSync(join(root, campaignPath, 'campaign.json'), JSON.stringify({ valid: false, runs: [{}, {}] }));
  writeFileSync(join(root, campaignPath, 'report.html'), '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>campaign</title></head><body><h1 id="campaign">campaign</h1></body></html>');
  mkdirSync(join(root, huntPath), { recursive: true });
  writeFileSync(join(root, huntPath, 'hunt.json'), JSON.stringify({ bugs: [{ caught: true }, { caught: false }] }));
  server = spawn(process.execPath, [bin, 'serve', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not print its URL within 60 s: ${err}`)), 60_000);
    server.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /faultline serve: (http:\/\/\S+\/)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    server.on('exit', (code) => reject(new Error(`serve exited ${String(code)}: ${err}`)));
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (base !== undefined) rmSync(base, { recursive: true, force: true });
});

describe('faultline serve in a browser', () => {
  it('lists every entry newest first with its verdict, and filters as the user types', async () => {
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await page.goto(url);
    const rows = page.locator('#rows tr');
    expect(await rows.count()).toBe(3);
    const links = await rows.locator('td:nth-child(3) a').evaluateAll((as) => as.map((a) => (a as unknown as { getAttribute(name: string): string | null }).getAttribute('href') ?? ''));
    expect(links).toHaveLength(3);
    expect(links[0]).toContain(campaignPath);
    expect(links[1]).toContain(runPath);
    expect(links[2]).toContain(huntPath);
    const verdicts = await rows.locator('td.verdict').allTextContents();
    const results = JSON.parse(readFileSync(join(root, runPath, 'results.json'), 'utf8')) as { valid: boolean | 'unknown' };
    expect(verdicts).toEqual(['invalid', results.valid === true ? 'valid' : results.valid === false ? 'invalid' : 'unknown', 'unknown']);

    await page.fill('#q', 'campaign');
    expect(await page.locator('#rows tr:not([hidden])').count()).toBe(1);
    expect(await page.locator('#shown').textContent()).toBe('1 of 3 shown');
    expect(new URL(page.url()).searchParams.get('q')).toBe('campaign');
    await page.fill('#q', '');
    expect(await page.locator('#rows tr:not([hidden])').count()).toBe(3);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("opens a run's report from the list, and the served report draws its plots", async () => {
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await page.goto(url);
    const href = await page.locator(`#rows tr a[href$="${runPath}/report.html"]`).getAttribute('href');
    expect(href).not.toBeNull();
    await openReport(page, new URL(href!, url).href);
    const st = await plotState(page);
    expect(st.errors).toEqual([]);
    const drawn = Object.entries(st.plots).filter(([, p]) => p.drawn).map(([name]) => name);
    expect(drawn.length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
