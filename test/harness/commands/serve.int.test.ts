/**
 * `faultline serve` over HTTP: a real `faultline serve` process over a results directory holding a real
 * run (test/fixtures/serve: copied from `faultline run --nodes 1 --time-limit 1 --nemesis none`, its
 * data files left out), a campaign and a hunt, plus a symlink and a file outside the directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFixture, servedRunPath as runPath } from '../../helpers/serve-fixture.ts';
import type { ServedFixture } from '../../helpers/serve-fixture.ts';

const secret = 'top secret outside the served directory';

let served: ServedFixture;
let base: string;
let root: string;
let url: string;

/** A raw GET whose path is sent exactly as written (fetch would normalise `..` away). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  served = await serveFixture('fl-serve-', (r, b) => {
    writeFileSync(join(b, 'secret.txt'), secret);
    symlinkSync(b, join(r, 'outside'));
    symlinkSync(join(b, 'secret.txt'), join(r, runPath, 'leak.txt'));
  });
  ({ base, root, url } = served);
});

afterAll(() => {
  served?.stop();
});

describe('faultline serve', () => {
  it('binds 127.0.0.1 by default and prints the URL of the free port it got', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(url).not.toMatch(/:0\/$/);
  });

  it('lists runs, campaigns and hunts newest first, coloured by verdict, each linking its report', async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    const order = ['campaigns/20261201T130000.000Z', runPath, 'hunts/20261201T120000.000Z'].map((p) => html.indexOf(p));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(html).toMatch(new RegExp(`<tr class="v-valid"[^>]*>.*href="/files/${runPath}/report.html"`));
    expect(html).toMatch(/<tr class="v-invalid"[^>]*>.*campaign/);
    expect(html).toMatch(/<tr class="v-unknown"[^>]*>.*hunt.*1 of 2 bugs caught/);
    expect(html).toContain('<input id="q"');
    expect(html).not.toMatch(/<script src=|<link [^>]*href="http|https?:\/\/(?!127)/);
  });

  it('filters by the q query parameter, server side', async () => {
    const entries = (await (await fetch(`${url}api/entries?q=invalid`)).json()) as Array<{ kind: string }>;
    expect(entries.map((e) => e.kind)).toEqual(['campaign']);
    const html = await (await fetch(`${url}?q=queue-acksall`)).text();
    expect(html).toContain(runPath);
    expect(html).not.toContain('campaigns/20261201T130000.000Z');
    expect(html).toContain('value="queue-acksall"');
  });

  it("serves a run's report.html and its files", async () => {
    const res = await fetch(`${url}files/${runPath}/report.html`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(readFileSync(join(root, runPath, 'report.html'), 'utf8'));
    const results = (await (await fetch(`${url}files/${runPath}/results.json`)).json()) as { valid: unknown };
    expect(results.valid).toBe(true);
  });

  it('downloads a run directory as one .tar.gz that tar extracts to the same files', async () => {
    const res = await fetch(`${url}archive/${runPath}.tar.gz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    const file = join(base, 'run.tar.gz');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const out = join(base, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', file, '-C', out]);
    const top = 'queue-acksall-none_20261201T121556.575Z';
    for (const f of ['history.jsonl', 'results.json', 'test.json', 'report.html', 'nodes/n1/data-listing.txt']) {
      expect(readFileSync(join(out, top, f), 'utf8'), f).toBe(readFileSync(join(root, runPath, f), 'utf8'));
    }
    const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' });
    expect(listing).not.toContain('leak.txt');
  });

  it('refuses every path outside the directory: .., encoded .., absolute paths, symlinks out', async () => {
    const attempts = [
      '/files/../secret.txt',
      '/files/%2e%2e/secret.txt',
      '/files/%2E%2E%2Fsecret.txt',
      `/files/${runPath}/../../../secret.txt`,
      '/files/..%5csecret.txt',
      '/files//etc/passwd',
      '/files/%2Fetc%2Fpasswd',
      `/files/${encodeURIComponent(join(base, 'secret.txt'))}`,
      '/files/outside/secret.txt',
      `/files/${runPath}/leak.txt`,
      '/files/%zz',
      '/files/a%00b',
      '/archive/outside.tar.gz',
      '/archive/%2e%2e.tar.gz',
      '/archive/..%2f.tar.gz',
    ];
    for (const path of attempts) {
      const r = await rawGet(path);
      expect(r.status, path).toBe(403);
      expect(r.body, path).not.toContain(secret);
      expect(r.body, path).not.toContain('root:');
    }
    expect((await rawGet('/files/no-such-run/report.html')).status).toBe(404);
  });
});
