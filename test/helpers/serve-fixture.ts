/**
 * A real `faultline serve` process over a copy of test/fixtures/serve/results (a real run, copied from
 * `faultline run --nodes 1 --time-limit 1 --nemesis none`, its data files left out) plus a campaign
 * (invalid, two runs) and a hunt (one of two bugs caught), for the HTTP and the browser tests of serve.
 *
 * `prepare(root, base)` adds what one test needs before the server starts (a re-rendered report, a file
 * outside the served directory, symlinks). The wait for the server's URL is bounded (`urlTimeoutMs`);
 * `stop()` ends the server and removes the copy.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = new URL('../../', import.meta.url).pathname;
export const faultlineBin = join(repoRoot, 'bin/faultline.mjs');
/** the fixture's run, relative to the served root */
export const servedRunPath = 'queue-acksall-none/20261201T121556.575Z';
export const servedCampaignPath = 'campaigns/20261201T130000.000Z';
export const servedHuntPath = 'hunts/20261201T120000.000Z';

const urlTimeoutMs = 60_000;

export interface ServedFixture {
  /** the temporary directory holding `root` (and whatever `prepare` put beside it) */
  base: string;
  /** the served results directory */
  root: string;
  /** the server's URL, `http://127.0.0.1:PORT/` */
  url: string;
  server: ChildProcess;
  stop(): void;
}

export async function serveFixture(prefix: string, prepare: (root: string, base: string) => void = () => {}): Promise<ServedFixture> {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const root = join(base, 'results');
  cpSync(join(repoRoot, 'test/fixtures/serve/results'), root, { recursive: true });
  mkdirSync(join(root, servedCampaignPath), { recursive: true });
  writeFileSync(join(root, servedCampaignPath, 'campaign.json'), JSON.stringify({ valid: false, runs: [{}, {}] }));
  mkdirSync(join(root, servedHuntPath), { recursive: true });
  writeFileSync(join(root, servedHuntPath, 'hunt.json'), JSON.stringify({ bugs: [{ caught: true }, { caught: false }] }));
  prepare(root, base);
  const server = spawn(process.execPath, [faultlineBin, 'serve', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = (): void => {
    server.kill('SIGTERM');
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`serve did not print its URL within ${urlTimeoutMs} ms: ${err}`)), urlTimeoutMs);
      server.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
        const m = /faultline serve: (http:\/\/\S+\/)/.exec(err);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      server.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited ${String(code)}: ${err}`));
      });
    });
    return { base, root, url, server, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
