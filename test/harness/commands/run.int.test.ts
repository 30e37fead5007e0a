/**
 * End to end: a short real `faultline run` on 3 local nodes with `--nemesis kill` leaves a complete run
 * directory, prints exactly one JSON object with --json, exits by its verdict, leaves no broker process
 * behind, and `faultline check` on that directory reaches the same verdict and anomaly counts.
 */
import { existsSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
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
    expect(await processesMentioning(out)).toEqual([]);

    const c = await execa('node', [bin, 'check', dir, '--json'], { reject: false, timeout: 60_000 });
    const again = JSON.parse(c.stdout) as typeof results;
    expect(c.exitCode).toBe(r.exitCode);
    expect(again.valid).toEqual(results.valid);
    for (const [t, a] of Object.entries(results.anomalies)) expect(again.anomalies[t]?.count, t).toBe(a.count);
    expect(again.stats).toEqual(results.stats);
  });
});
