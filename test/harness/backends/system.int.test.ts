/**
 * A campaign through a system definition that is not the built-in one: Faultline's broker behind a
 * wrapper script (fixtures/wrapped) that takes its node id and data dir from the environment, its
 * listeners and voters from a properties file, and broker settings as `setting.<key>=` lines of that
 * file. So every template path (args, env, config files, settings lines) runs for real, on the local
 * backend, and the run must still be valid under acks=all with a leader killed.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..', '..');
const bin = join(root, 'bin', 'faultline.mjs');
const system = join(root, 'test', 'harness', 'backends', 'fixtures', 'wrapped', 'system.json');

describe('--system with another convention', () => {
  it('runs a campaign of the wrapped broker, valid under acks=all', { timeout: 300_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-system-'));
    const r = await execa(process.execPath, [bin, 'campaign', '--system', system, '--acks', 'all', '--nemesis', 'kill-leader', '--nemesis-interval', '2', '--time-limit', '5', '--concurrency', '2', '--consumers', '1', '--seed', '3', '--json', '--out', out], {
      reject: false,
      timeout: 280_000,
    });
    const summary = JSON.parse(r.stdout.trim()) as { runs: Array<{ valid: unknown; runDir: string; acked: number }> };
    expect(summary.runs).toHaveLength(1);
    const run = summary.runs[0]!;
    expect({ valid: run.valid, dir: run.runDir }).toEqual({ valid: true, dir: run.runDir });
    expect(run.acked).toBeGreaterThan(0);
    const log = readFileSync(join(run.runDir, 'nodes', 'n2', 'broker.log'), 'utf8');
    expect(log).toMatch(/^wrapped-broker: node 2 listening on \S+:9092, data in \S+\/nodes\/n2\/data$/m);
    const props = readFileSync(join(run.runDir, 'nodes', 'n2', 'wrapped.properties'), 'utf8');
    expect(props).toMatch(/^setting\.min\.insync\.replicas=2$/m);
    const test = JSON.parse(readFileSync(join(run.runDir, 'test.json'), 'utf8')) as { system: string };
    expect(test.system).toBe(system);
    expect(r.exitCode).toBe(0);
  });
});
