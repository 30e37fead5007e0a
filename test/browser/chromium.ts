/**
 * Debian's chromium, driven by playwright-core (which downloads no browser of its own), for the
 * browser tests, `npm run bench:report` and `npm run screenshots`. Each launch gets a fresh user data
 * directory and the flags without which chromium here tries (and is refused) network connections of
 * its own: background networking, component updates, sync, QUIC. `pageErrors` collects every console
 * error and uncaught exception of a page, so a test can assert there were none.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';

export const chromiumPath = process.env['FAULTLINE_CHROMIUM'] ?? '/usr/bin/chromium';

export const chromiumFlags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(viewport = { width: 1200, height: 900 }): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new Error(`no chromium at ${chromiumPath}: install Debian's package (apt-get install chromium; .ci/run does), or set FAULTLINE_CHROMIUM`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'faultline-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: chromiumPath, headless: true, args: chromiumFlags, viewport, timeout: 60_000 });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Console errors and uncaught exceptions of the page, from now on. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

/** Time from navigation to the report's script having drawn every plot (window.faultlineReport.ready). */
export async function openReport(page: Page, url: string, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  await page.goto(url, { timeout: timeoutMs });
  await page.waitForFunction('window.faultlineReport !== undefined && window.faultlineReport.ready === true', undefined, { timeout: timeoutMs });
  // uPlot draws in a microtask after construction; wait one frame so every draw hook has run.
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => r(null)))');
  return performance.now() - t0;
}

export interface PlotState {
  ready: boolean;
  plots: Record<string, { series: Record<string, number>; drawn: boolean }>;
  errors: string[];
  renderMs: number | null;
}

export async function plotState(page: Page): Promise<PlotState> {
  return (await page.evaluate('window.faultlineReport')) as PlotState;
}

/**
 * Per plot container id: how many canvas pixels show data: opaque and saturated (axes, grid and labels
 * are grey or black, the fault shading is translucent, so only drawn series count).
 */
export async function paintedPixels(page: Page): Promise<Record<string, number>> {
  return (await page.evaluate(`(() => {
    const out = {};
    for (const el of document.querySelectorAll('.plot')) {
      const c = el.querySelector('canvas');
      if (c === null) { out[el.id] = 0; continue; }
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) n++;
      out[el.id] = n;
    }
    return out;
  })()`)) as Record<string, number>;
}
