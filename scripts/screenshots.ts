/**
 * `npm run screenshots`: small PNGs of a run report and a campaign report for the README, made in
 * Debian's chromium (test/browser/chromium.ts) into docs/img/ (report-run.png, report-campaign.png).
 *
 *   npm run screenshots                          run a short campaign (acks 1,all x kill, 10 s each) in a
 *                                                temporary directory and shoot its first run and itself
 *   npm run screenshots -- --run RUN_DIR --campaign CAMPAIGN_DIR
 *                                                shoot stored reports instead
 *
 * Each shot is the top 1500 px of the page at 1200 px wide (verdict, anomalies with their examples
 * folded, the first plots). docs/img/live.png (the live view) is made elsewhere.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { launchChromium, openReport, pageErrors } from '../test/browser/chromium.ts';

const root = resolve(import.meta.dirname, '..');
const imgDir = join(root, 'docs', 'img');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function shortCampaign(out: string): Promise<{ run: string; campaign: string }> {
  process.stderr.write(`running a short campaign in ${out}\n`);
  const r = await execa('node', [join(root, 'bin', 'faultline.mjs'), 'campaign', '--acks', '1,all', '--nemesis', 'kill', '--nemesis-interval', '2', '--time-limit', '10', '--seed', '3', '--json', '--out', out], { reject: false, stderr: 'inherit' });
  const summary = JSON.parse(r.stdout.trim()) as { runs: Array<{ runDir: string }>; startedAt: string };
  const run = summary.runs[0]?.runDir;
  if (run === undefined) throw new Error('the campaign made no run');
  return { run, campaign: join(out, 'campaigns', summary.startedAt.replace(/[-:]/g, '')) };
}

async function main(): Promise<void> {
  let run = flag('run');
  let campaign = flag('campaign');
  let scratch: string | null = null;
  if (run === undefined || campaign === undefined) {
    scratch = mkdtempSync(join(tmpdir(), 'faultline-screenshots-'));
    ({ run, campaign } = await shortCampaign(scratch));
  }
  mkdirSync(imgDir, { recursive: true });
  const browser = await launchChromium({ width: 1200, height: 1500 });
  try {
    for (const [dir, name] of [[run, 'report-run.png'], [campaign, 'report-campaign.png']] as const) {
      const page = await browser.context.newPage();
      const errors = pageErrors(page);
      await openReport(page, pathToFileURL(join(dir, 'report.html')).href);
      if (errors.length > 0) throw new Error(`${dir}/report.html: ${errors.join('; ')}`);
      const file = join(imgDir, name);
      // the anomaly examples folded, as a reader may fold them, so the plots show in the shot
      await page.evaluate('document.querySelectorAll("details.anomaly").forEach((d) => { d.open = false; })');
      await page.screenshot({ path: file, clip: { x: 0, y: 0, width: 1200, height: 1500 }, scale: 'css', type: 'png' });
      process.stderr.write(`${file}: ${Math.round(statSync(file).size / 1024)} KB\n`);
      await page.close();
    }
  } finally {
    await browser.close();
    if (scratch !== null) rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
