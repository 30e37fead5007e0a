/**
 * The log workload end to end: a real `faultline run --workload log` on 3 local nodes checks the
 * partition logs for linearizability (model `log`) on top of the queue anomalies; a clean acks=all run
 * is linearizable, and `faultline check` re-checks it the same way.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'faultline.mjs');

describe('faultline run --workload log', () => {
  it('checks the partition logs for linearizability and finds a clean run linearizable', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-log-'));
    const r = await execa('node', [bin, 'run', '--workload', 'log', '--nemesis', 'kill-follower', '--nemesis-interval', '3', '--time-limit', '10', '--acks', 'all', '--idempotence', '--seed', '9', '--json', '--out', out], {
      reject: false,
      timeout: 200_000,
    });
    const results = JSON.parse(r.stdout) as { valid: unknown; runDir: string; linearizability?: { valid: unknown; partitions?: unknown[] }; test: { workload: string } };
    expect(results.test.workload).toBe('log');
    expect(results.linearizability?.valid).toBe(true);
    expect(results.linearizability?.partitions?.length).toBeGreaterThan(0);
    expect(results.valid).toBe(true);
    expect(r.exitCode).toBe(0);
    const c = await execa('node', [bin, 'check', results.runDir, '--json'], { reject: false, timeout: 120_000 });
    expect((JSON.parse(c.stdout) as typeof results).linearizability?.valid).toBe(true);
  });
});
