import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { faultSupport, formatChecks, localSummary, run, runChecks, type Check } from '../../../harness/commands/doctor.ts';
import { faults } from '../../../nemesis/faults.ts';
import { UsageError } from '../../../harness/errors.ts';
import { runCommand } from '../../../harness/proc/exec.ts';

const isRoot = process.getuid?.() === 0;
const bin = new URL('../../../bin/faultline.mjs', import.meta.url).pathname;

const check = (name: string, ok: boolean): Check => ({ name, ok, detail: `${name} detail`, ...(ok ? {} : { fix: `install ${name}` }) });
const allOk = ['root', 'node', 'ip (iproute2)', 'ip netns', 'bridge', 'iptables'].map((n) => check(n, true));

describe('faultline doctor', () => {
  it('netns mode only when root, ip, ip netns, a bridge and iptables all work', () => {
    expect(localSummary(allOk)).toEqual({ mode: 'netns', partitions: true });
    for (const missing of ['root', 'ip netns', 'bridge', 'iptables']) {
      const checks = allOk.map((c) => (c.name === missing ? check(missing, false) : c));
      expect(localSummary(checks)).toEqual({ mode: 'loopback', partitions: false });
      const text = formatChecks(checks);
      expect(text).toMatch(new RegExp(`^no +${missing.replace(/[()]/g, '\\$&')} `, 'm'));
      expect(text).toContain(`-> install ${missing}`);
      expect(text).toMatch(/^no +partition, .*needs root, ip netns, a bridge and iptables/m);
      expect(text).toMatch(/^yes +kill, /m);
    }
  });

  it('fault support follows the checks: bandwidth needs tc htb, partitions and packet loss need namespaces', () => {
    const withTc = [...allOk, check('tc htb', true), check('fuse', true), check('faketime', true)];
    const by = (cs: Check[]) => Object.fromEntries(faultSupport(cs).map((f) => [f.faults.split(',')[0], f.ok]));
    expect(by(withTc)).toEqual({ kill: true, stop: true, pause: true, 'rolling-restart': true, 'power-loss': true, corrupt: true, 'disk-full': true, clock: true, partition: true, 'packet-loss': true, bandwidth: true, reassign: true, membership: true });
    expect(by(allOk)).toMatchObject({ partition: true, 'packet-loss': true, bandwidth: false, 'power-loss': false, clock: false });
    expect(by(allOk.map((c) => (c.name === 'root' ? check('root', false) : c)))).toEqual({ kill: true, stop: true, pause: true, 'rolling-restart': true, 'power-loss': false, corrupt: true, 'disk-full': false, clock: false, partition: false, 'packet-loss': false, bandwidth: false, reassign: true, membership: true });
    // every registered fault is in some family
    const listed = faultSupport(withTc).map((f) => f.faults).join(', ');
    for (const name of Object.keys(faults)) expect(listed.includes(name.split('-')[0]!)).toBe(true);
  });

  it('--json prints one object with every check, exit 0; bad flags are a usage error', async () => {
    const r = await execa(process.execPath, [bin, 'doctor', '--json'], { reject: false, timeout: 60_000 });
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as { checks: Check[]; local: { mode: string } };
    expect(out.checks.map((c) => c.name)).toEqual(['root', 'node', 'ip (iproute2)', 'ip netns', 'tc htb', 'bridge', 'iptables', 'docker client', 'docker engine', 'docker image', 'fuse', 'faketime', 'kcat', 'free ports']);
    for (const c of out.checks) {
      expect(typeof c.ok).toBe('boolean');
      if (!c.ok) expect(c.fix).toBeTruthy();
    }
    expect(out.checks[0]!.ok).toBe(isRoot);
    await expect(run(['--bogus'])).rejects.toThrow(UsageError);
  });

  it.runIf(isRoot)('as root, really creates and removes a namespace and a bridge, leaving neither behind', async () => {
    const checks = await runChecks();
    const ipOk = checks.find((c) => c.name === 'ip (iproute2)')!.ok;
    if (ipOk) {
      expect(checks.find((c) => c.name === 'ip netns')!.detail).toMatch(/created and removed/);
      expect(checks.find((c) => c.name === 'bridge')!.detail).toMatch(/created and removed/);
    }
    const tag = `fld${process.pid % 100000}`;
    expect((await runCommand('ip', ['netns', 'list'])).stdout).not.toMatch(new RegExp(`^${tag}(\\s|$)`, 'm'));
    expect((await runCommand('ip', ['-o', 'link', 'show'])).stdout).not.toContain(`${tag}b`);
  });
});
