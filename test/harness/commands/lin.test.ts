/**
 * `faultline lin`: flags are validated with messages naming what is allowed; exit codes are 0/1/2;
 * `--json` prints exactly one JSON object; `--html` writes the view.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseLinArgs, run } from '../../../harness/commands/lin.ts';
import { UsageError } from '../../../harness/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'faultline-lin-'));
const good = join(dir, 'good.log');
const bad = join(dir, 'bad.log');
writeFileSync(good, 'INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:ok\t:read\t1\n');
writeFileSync(bad, 'INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:ok\t:read\t2\n');

function capture(): { out: () => string } {
  let text = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  return { out: () => text };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('parseLinArgs', () => {
  it('parses the documented flags', () => {
    const a = parseLinArgs(['--model', 'kv', '--format', 'edn', 'h.edn', '--json', '--time-limit', '2.5', '--unpartitioned', '--initial', '0']);
    expect(a).toMatchObject({ model: 'kv', format: 'edn', file: 'h.edn', json: true, timeLimitMs: 2500, partitioned: false, initial: 0 });
  });
  it('names what is allowed', () => {
    expect(() => parseLinArgs(['--model', 'set', '--format', 'edn', 'f'])).toThrow(/register, cas-register, kv, fifo-queue, log/);
    expect(() => parseLinArgs(['--model', 'kv', '--format', 'xml', 'f'])).toThrow(/edn, jepsen-log, jsonl/);
    expect(() => parseLinArgs(['--model', 'kv', '--format', 'edn'])).toThrow(/FILE/);
    expect(() => parseLinArgs(['--model', 'kv', '--format', 'edn', 'f', '--bogus'])).toThrow(UsageError);
    expect(() => parseLinArgs(['--model', 'kv', '--format', 'edn', 'f', '--time-limit', '-1'])).toThrow(/--time-limit must be a number of seconds from 0.001 to 86400; got '-1'/);
  });
});

describe('run', () => {
  it('exit 0 and one JSON object for a linearizable history', async () => {
    const c = capture();
    expect(await run(['--model', 'register', '--format', 'jepsen-log', good, '--json'])).toBe(0);
    const lines = c.out().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ valid: true, model: 'register', ops: 2 });
  });
  it('exit 1, the failing window, and an HTML file for a non-linearizable history', async () => {
    const c = capture();
    const html = join(dir, 'view.html');
    expect(await run(['--model', 'register', '--format', 'jepsen-log', bad, '--json', '--html', html])).toBe(1);
    const res = JSON.parse(c.out());
    expect(res.valid).toBe(false);
    expect(res.failure.linearized.map((s: { op: number }) => s.op)).toEqual([0]);
    expect(res.failure.blockingOp).toBe(1);
    expect(res.failureOps['1'].op).toBe('read -> 2');
    expect(readFileSync(html, 'utf8')).toContain('<svg');
  });
  it('exit 2 when a bound is hit or the input cannot be read as the model', async () => {
    capture();
    expect(await run(['--model', 'fifo-queue', '--format', 'jepsen-log', good, '--json'])).toBe(2);
    await expect(run(['--model', 'register', '--format', 'jepsen-log', join(dir, 'missing.log')])).rejects.toThrow(UsageError);
  });
  it('--help prints the usage and exits 0', async () => {
    const c = capture();
    expect(await run(['--help'])).toBe(0);
    expect(c.out()).toMatch(/^usage: faultline lin --model/);
  });
  it('prints a readable summary without --json', async () => {
    const c = capture();
    await run(['--model', 'register', '--format', 'jepsen-log', bad]);
    expect(c.out()).toMatch(/NOT linearizable[\s\S]*longest linearizable prefix: 1 ops[\s\S]*cannot be placed next/);
  });
});
