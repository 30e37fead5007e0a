/**
 * `faultline serve` in Debian's chromium: a real `faultline serve` process over a results directory
 * holding a real run (test/fixtures/serve, its report.html re-rendered by `faultline check` so it is
 * the current report), a campaign with its own report.html and a hunt. The listing page must load
 * without console errors, show every entry newest first with its verdict, filter as the user types
 * (and keep the filter in the URL), and open a run's report, which must draw its plots when served.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openReport, pageErrors, plotState, type Browser } from './chromium.ts';
import { faultlineBin, serveFixture, servedCampaignPath as campaignPath, servedHuntPath as huntPath, servedRunPath as runPath } from '../helpers/serve-fixture.ts';
import type { ServedFixture } from '../helpers/serve-fixture.ts';

let served: ServedFixture;
let root: string;
let url: string;
let browser: Browser;

beforeAll(async () => {
  served = await serveFixture('fl-serve-browser-', (r) => {
    // the fixture's report.html predates the current report: re-render it from the stored history
    execFileSync(process.execPath, [faultlineBin, 'check', join(r, runPath)], { stdio: 'ignore' });
    writeFileSync(join(r, campaignPath, 'report.html'), '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>campaign</title></head><body><h1 id="campaign">campaign</h1></body></html>');
  });
  ({ root, url } = served);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  served?.stop();
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
