/**
 * The CI campaign: acks 1 and all x kill and a network fault, one ~15 s run each, with --gate and
 * --junit. acks=all (min.insync 2, RF 3, clean election) must be valid; loss under acks=1 is reported,
 * not failed, so the gate passes exactly when the broker keeps its acks=all guarantee. The network fault
 * is `partition` where the local backend has namespaces (root, ip, iptables) and `pause` otherwise,
 * since without namespaces the backend cannot partition.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { detectLocalMode } from '../../../harness/backends/local.ts';

const bin = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'faultline.mjs');

describe('faultline campaign (CI gate)', () => {
  it('runs acks 1,all x kill,partition and passes the gate', { timeout: 420_000 }, async () => {
    const netFault = (await detectLocalMode()).mode === 'netns' ? 'partition' : 'pause';
    const out = mkdtempSync(join(tmpdir(), 'fl-int-campaign-'));
    const junit = join(out, 'junit.xml');
    const r = await execa(
      'node',
      [bin, 'campaign', '--acks', '1,all', '--nemesis', `kill,${netFault}`, '--nemesis-interval', '3', '--time-limit', '15', '--seed', '21',
        '--gate', '--junit', junit, '--json', '--out', out],
      { reject: false, timeout: 400_000 },
    );
    const summary = JSON.parse(r.stdout.trim()) as {
      exitCode: number;
      cells: Array<{ acks: string; nemesis: string; runs: number; expectation: string }>;
      runs: Array<{ acks: string; valid: unknown; strict: boolean; expectation: string; runDir: string; acked: number }>;
    };
    expect(r.stderr).toMatch(/acks\s+nemesis\s+runs/);
    expect(summary.runs).toHaveLength(4);
    expect(summary.cells.map((c) => `${c.acks}/${c.nemesis}`).sort()).toEqual([`1/${netFault}`, '1/kill', `all/${netFault}`, 'all/kill'].sort());
    for (const run of summary.runs) {
      expect(existsSync(join(run.runDir, 'results.json'))).toBe(true);
      expect(run.acked).toBeGreaterThan(0);
      if (run.acks === 'all') expect({ dir: run.runDir, valid: run.valid }).toEqual({ dir: run.runDir, valid: true });
    }
    expect(r.exitCode).toBe(summary.exitCode);
    expect(r.exitCode).toBe(0);
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<testcase /g)).toHaveLength(4);
    expect(xml).toContain('failures="0"');
    expect(existsSync(join(out, 'campaigns'))).toBe(true);
  });
});
