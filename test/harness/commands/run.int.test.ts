/**
 * End to end: a short real `faultline run` on 3 local nodes with `--nemesis kill` leaves a complete run
 * directory, prints exactly one JSON object with --json, exits by its verdict, leaves no broker process
 * behind, and `faultline check` on that directory reaches the same verdict and anomaly counts; and a
 * run interrupted with SIGINT mid-load still stops the cluster, writes results from the partial history
 * and exits 2 (or 1 if the partial history already proves a violation).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const bin = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'faultline.mjs');

async function processesMentioning(s: string): Promise<string[]> {
  const ps = await execa('ps', ['-eo', 'pid,args'], { reject: false });
  return ps.stdout.split('\n').filter((l) => l.includes(s) && !l.includes('ps -eo'));
}

describe('faultline run + check', () => {
  it('runs with kill faults, stores a checkable run and re-checks to the same verdict', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-run-'));
    const r = await execa('node', [bin, 'run', '--nemesis', 'kill', '--nemesis-interval', '3', '--time-limit', '12', '--acks', 'all', '--seed', '5', '--json', '--out', out], {
      reject: false,
      timeout: 200_000,
    });
    expect(r.stderr).toMatch(/seed 5/);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const results = JSON.parse(lines[0]!) as { valid: unknown; runDir: string; anomalies: Record<string, { count: number }>; stats: Record<string, number>; phases: Record<string, string> };
    expect(r.exitCode).toBe(results.valid === true ? 0 : results.valid === false ? 1 : 2);
    expect(results.phases['drain']).toBe('done');
    expect(results.stats['acked']).toBeGreaterThan(100);
    const dir = results.runDir;
    expect(dir.startsWith(join(out, 'queue-acksall-kill'))).toBe(true);
    for (const f of ['history.jsonl', 'results.json', 'test.json', 'report.html', 'nodes/n1/broker.log', 'nodes/n1/data-listing.txt']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(resolve(out, readlinkSync(join(out, 'latest')))).toBe(dir);
    const history = readFileSync(join(dir, 'history.jsonl'), 'utf8');
    expect(history).toMatch(/"process":"nemesis","type":"info","f":"kill"/);
    // --time-limit 12 is 12 s of load in the history (not 12 ms, not 12000 s: a unit slip at the CLI
    // boundary), ended within the bounded in-flight wait; test.json keeps the flags' seconds
    const ops = history.trim().split('\n').map((l) => JSON.parse(l) as { timeNs: number; f: string; type: string; value: { name?: string; status?: string } | null });
    const loadAt = (status: string): number => ops.find((op) => op.f === 'phase' && op.value?.name === 'load' && op.value.status === status)!.timeNs;
    const loadMs = (loadAt('done') - loadAt('start')) / 1e6;
    expect(loadMs).toBeGreaterThanOrEqual(12_000);
    expect(loadMs).toBeLessThan(12_000 + 15_000 + 5_000);
    const sends = ops.filter((op) => op.f === 'send' && op.type === 'invoke');
    expect((sends[sends.length - 1]!.timeNs - loadAt('start')) / 1e6).toBeGreaterThan(11_000);
    const test = JSON.parse(readFileSync(join(dir, 'test.json'), 'utf8')) as Record<string, unknown>;
    expect(test).toMatchObject({ timeLimit: 12, nemesisInterval: 3 });
    expect(test).not.toHaveProperty('timeLimitMs');
    expect(await processesMentioning(out)).toEqual([]);

    const c = await execa('node', [bin, 'check', dir, '--json'], { reject: false, timeout: 60_000 });
    const again = JSON.parse(c.stdout) as typeof results;
    expect(c.exitCode).toBe(r.exitCode);
    expect(again.valid).toEqual(results.valid);
    for (const [t, a] of Object.entries(results.anomalies)) expect(again.anomalies[t]?.count, t).toBe(a.count);
    expect(again.stats).toEqual(results.stats);
  });

  it('on SIGINT stops the load and the cluster, writes partial results and exits 2 or 1', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-sigint-'));
    const child = execa('node', [bin, 'run', '--nemesis', 'kill', '--nemesis-interval', '3', '--time-limit', '60', '--seed', '6', '--out', out], {
      reject: false,
      timeout: 120_000,
    });
    const started = Date.now();
    const maxWaitMs = 60_000;
    while (Date.now() - started < maxWaitMs && !sendsStarted(out)) await new Promise((r) => setTimeout(r, 250));
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGINT');
    const r = await child;
    expect(Date.now() - started).toBeLessThan(90_000);
    expect(r.stderr).toMatch(/SIGINT: stopping the load/);
    const results = JSON.parse(readFileSync(join(out, 'latest', 'results.json'), 'utf8')) as { valid: unknown; interrupted: boolean; stats: Record<string, number> };
    expect(results.interrupted).toBe(true);
    expect(results.valid).not.toBe(true);
    expect(r.exitCode).toBe(results.valid === false ? 1 : 2);
    expect(results.stats['sends']).toBeGreaterThan(0);
    expect(await processesMentioning(out)).toEqual([]);

    function sendsStarted(dir: string): boolean {
      const testDir = join(dir, 'queue-acksall-kill');
      if (!existsSync(testDir)) return false;
      return readdirSync(testDir).some((d) => {
        const h = join(testDir, d, 'history.jsonl');
        return existsSync(h) && readFileSync(h, 'utf8').includes('"f":"send"');
      });
    }
  });
});
