/**
 * The reduced hunt CI runs: two of the planted bugs the harness catches fastest, under the fault that
 * shows them (a leader cut off by a partition), each within a short budget, and the clean broker for
 * one run of the same fault. Exit 0 means both bugs were caught and the clean broker was valid; the
 * test also checks hunt.json's shape and the JUnit file (one testcase per bug plus the clean broker).
 * The full hunt (every bug, 300 s each, ~50 clean runs) is one command: docs/bugs.md.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { detectLocalMode } from '../../../harness/backends/local.ts';

const bin = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'faultline.mjs');
const netns = (await detectLocalMode()).mode === 'netns';

describe('faultline hunt (reduced budget)', () => {
  it.skipIf(!netns)('catches ack-before-replication and consumer-reads-past-hw under partition-leader; the clean broker stays valid', { timeout: 300_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-hunt-'));
    const junit = join(out, 'junit.xml');
    const r = await execa(
      'node',
      [bin, 'hunt', '--bugs', 'ack-before-replication,consumer-reads-past-hw', '--budget', '60', '--clean-budget', '1', '--nemesis', 'partition-leader',
        '--time-limit', '10', '--seed', '2', '--json', '--junit', junit, '--out', out],
      { reject: false, timeout: 280_000 },
    );
    expect(r.stderr).toMatch(/bug\s+caught\s+runs\s+seconds\s+anomalies\s+fault mix/);
    const s = JSON.parse(r.stdout.trim()) as {
      budgetS: number;
      exitCode: number;
      bugs: Array<{ name: string; caught: boolean; runs: number; secondsToDetection: number | null; anomalies: Record<string, number>; nemesis: string; runDir: string }>;
      clean: { runs: number; invalid: number; unknown: number };
    };
    expect(s.budgetS).toBe(60);
    expect(s.bugs.map((b) => [b.name, b.caught])).toEqual([['ack-before-replication', true], ['consumer-reads-past-hw', true]]);
    for (const b of s.bugs) {
      expect(b.nemesis).toBe('partition-leader');
      expect(Object.keys(b.anomalies).length).toBeGreaterThan(0);
      expect(b.secondsToDetection).toBeGreaterThan(0);
      const test = JSON.parse(readFileSync(join(b.runDir, 'test.json'), 'utf8')) as { bug: string };
      expect(test.bug).toBe(b.name);
      expect(readFileSync(join(b.runDir, 'nodes', 'n1', 'broker.log'), 'utf8')).toContain(`planted bug '${b.name}' is active`);
    }
    expect(s.clean).toEqual({ runs: 1, invalid: 0, unknown: 0, elapsedS: expect.any(Number), invalidRunDirs: [] });
    expect(r.exitCode).toBe(0);
    expect(s.exitCode).toBe(0);
    const hunts = readdirSync(join(out, 'hunts'));
    expect(hunts).toHaveLength(1);
    expect(existsSync(join(out, 'hunts', hunts[0]!, 'hunt.json'))).toBe(true);
    // hunt.json's options are the run flags in their own units (seconds), as test.json stores them
    const stored = JSON.parse(readFileSync(join(out, 'hunts', hunts[0]!, 'hunt.json'), 'utf8')) as { options: Record<string, unknown> };
    expect(stored.options).toMatchObject({ timeLimit: 10, nemesisInterval: 3 });
    expect(stored.options).not.toHaveProperty('timeLimitMs');
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<testcase /g)).toHaveLength(3);
    expect(xml).not.toContain('<failure');
  });
});
