import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseClusterArgs, readClusterFile } from '../../../harness/commands/cluster.ts';
import { statePath } from '../../../harness/backends/state.ts';
import { UsageError } from '../../../harness/errors.ts';
import { runCommand } from '../../../harness/proc/exec.ts';
import { splitHostPort, tryConnect } from '../../../harness/proc/net.ts';
import { isAlive } from '../../../harness/proc/process.ts';

const bin = new URL('../../../bin/faultline.mjs', import.meta.url).pathname;
const echoServer = new URL('../backends/fixtures/echo-server.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'fl-cluster-'));
afterAll(async () => {
  await execa(process.execPath, [bin, 'cluster', 'down', '--dir', dir], { reject: false, timeout: 60_000 });
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => execa(process.execPath, [bin, 'cluster', ...args], { reject: false, timeout: 150_000 });

describe('faultline cluster', () => {
  it('validates its arguments with messages that say what is allowed', () => {
    expect(() => parseClusterArgs([])).toThrow(/missing ACTION; allowed: up, down, status/);
    expect(() => parseClusterArgs(['sideways'])).toThrow(UsageError);
    expect(() => parseClusterArgs(['up', '--nodes', '0'])).toThrow(/--nodes must be an integer from 1 to 99; got '0'/);
    expect(parseClusterArgs(['up', '--backend', 'docker']).backend).toBe('docker');
    expect(() => parseClusterArgs(['up', '--backend', 'k8s'])).toThrow(/allowed: local, docker/);
    expect(() => parseClusterArgs(['up', '--broker-command', 'node x'])).toThrow(/JSON array of strings/);
    expect(() => parseClusterArgs(['up', '--frobnicate'])).toThrow(/unknown flag --frobnicate/);
    expect(parseClusterArgs(['status', '--nodes', '5', '--dir', '/x', '--json'])).toMatchObject({ action: 'status', nodes: 5, dir: '/x', json: true });
  });

  it('up starts a cluster that outlives the command, status shows it, down removes every trace', async () => {
    const upRun = await cli('up', '--dir', dir, '--nodes', '2', '--broker-command', JSON.stringify([process.execPath, echoServer]));
    expect(upRun.stderr).toBe('');
    expect(upRun.exitCode).toBe(0);
    expect(upRun.stdout).toMatch(/^bootstrap: \S+:\d+,\S+:\d+$/m);
    const f = readClusterFile(dir)!;
    expect(f.status).toBe('up');
    expect(isAlive(f.supervisorPid)).toBe(true);
    for (const a of f.bootstrap) {
      const { host, port } = splitHostPort(a);
      expect(await tryConnect(host, port, 2_000)).toBe(true);
    }
    const again = await cli('up', '--dir', dir);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/already up/);

    const st = await cli('status', '--dir', dir, '--json');
    expect(st.exitCode).toBe(0);
    const status = JSON.parse(st.stdout) as { up: boolean; nodes: Array<{ name: string; status: string; pid: number }> };
    expect(status.up).toBe(true);
    expect(status.nodes.map((n) => [n.name, n.status])).toEqual([['n1', 'running'], ['n2', 'running']]);

    const downRun = await cli('down', '--dir', dir);
    expect(downRun.exitCode).toBe(0);
    expect(downRun.stdout).toMatch(/cluster down/);
    expect(isAlive(f.supervisorPid)).toBe(false);
    for (const n of status.nodes) expect(isAlive(n.pid)).toBe(false);
    expect(existsSync(statePath(f.runId))).toBe(false);
    expect(readClusterFile(dir)).toBeNull();
    const netns = (await runCommand('ip', ['netns', 'list'])).stdout;
    expect(netns).not.toContain(f.runId);
    const st2 = await cli('status', '--dir', dir);
    expect(st2.stdout).toMatch(/no cluster/);
  });
});
