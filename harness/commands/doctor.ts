/**
 * `faultline doctor [--json]`: what this machine supports, each check a clear yes/no with what to do
 * about a no. Checks really try things where that is cheap and safe (a namespace and a bridge are
 * created and removed again under names unique to this process); every probe is time-bounded.
 * Exit code 0 always (it reports; it does not judge). `--json` prints one object on stdout:
 * { checks: [{ name, ok, detail, fix? }], local: { mode, partitions }, faults: [{ faults, ok, why }] }
 * (`faults`: each family of the nemesis registry and whether the local backend offers it here, and why).
 */
import { createServer } from 'node:net';
import { faults } from '../../nemesis/faults.ts';
import { faketimeSupport } from '../backends/faketime.ts';
import { lazyfsSupport } from '../backends/lazyfs/lazyfs.ts';
import { boolOf, helpText, parseCommandLine } from '../../broker/flags.ts';
import type { CommandTable } from '../../broker/flags.ts';
import { runCommand } from '../proc/exec.ts';
import { freePorts } from '../proc/net.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export const doctorTable: CommandTable = {
  command: 'faultline doctor',
  summary: 'what this machine supports (root, namespaces, iptables, docker, fuse, ...), each no with what to do about it; exit 0 always',
  flags: { json: { kind: { type: 'boolean' }, help: 'print one JSON object on stdout: checks, local backend, faults' } },
};

function first(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

async function probe(file: string, args: string[], timeoutMs = 5_000): Promise<{ ok: boolean; out: string }> {
  const r = await runCommand(file, args, timeoutMs);
  return { ok: r.exitCode === 0 && !r.timedOut, out: r.exitCode === 0 ? r.stdout : r.timedOut ? `timed out after ${timeoutMs} ms` : first(r.stderr) || `exit ${r.exitCode}` };
}

function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

export async function runChecks(): Promise<Check[]> {
  const checks: Check[] = [];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  checks.push({
    name: 'root',
    ok: isRoot,
    detail: isRoot ? 'running as root' : `running as uid ${process.getuid?.() ?? '?'}`,
    ...(isRoot ? {} : { fix: 'run as root (sudo) for namespaces and partitions; without it the local backend offers kill and pause only' }),
  });
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', ok: major >= 20, detail: `node ${process.version}`, ...(major >= 20 ? {} : { fix: 'install Node 20 or newer' }) });

  const ipv = await probe('ip', ['-V']);
  checks.push({ name: 'ip (iproute2)', ok: ipv.ok, detail: ipv.ok ? first(ipv.out) : `not usable: ${ipv.out}`, ...(ipv.ok ? {} : { fix: 'apt-get install iproute2' }) });
  const tag = `fld${process.pid % 100000}`;
  if (ipv.ok && isRoot) {
    const add = await probe('ip', ['netns', 'add', tag]);
    const lo = add.ok ? await probe('ip', ['-n', tag, 'link', 'set', 'lo', 'up']) : add;
    if (add.ok) await runCommand('ip', ['netns', 'del', tag], 5_000);
    checks.push({ name: 'ip netns', ok: lo.ok, detail: lo.ok ? 'created and removed a namespace' : `cannot create a namespace: ${lo.out}`, ...(lo.ok ? {} : { fix: 'a kernel with network namespaces and CAP_SYS_ADMIN (not inside an unprivileged container)' }) });
    const ns = add.ok ? await probe('ip', ['netns', 'add', `${tag}t`]) : add;
    const htb = ns.ok ? await probe('ip', ['netns', 'exec', `${tag}t`, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb']) : ns;
    if (ns.ok) await runCommand('ip', ['netns', 'del', `${tag}t`], 5_000);
    checks.push({ name: 'tc htb', ok: htb.ok, detail: htb.ok ? 'added an htb qdisc in a namespace (bandwidth faults)' : `cannot shape traffic: ${htb.out}`, ...(htb.ok ? {} : { fix: 'apt-get install iproute2 and a kernel with sch_htb' }) });
    const br = await probe('ip', ['link', 'add', `${tag}b`, 'type', 'bridge']);
    if (br.ok) await runCommand('ip', ['link', 'del', `${tag}b`], 5_000);
    checks.push({ name: 'bridge', ok: br.ok, detail: br.ok ? 'created and removed a bridge' : `cannot create a bridge: ${br.out}`, ...(br.ok ? {} : { fix: 'a kernel with the bridge module (modprobe bridge) and CAP_NET_ADMIN' }) });
  } else {
    checks.push({ name: 'ip netns', ok: false, detail: 'not tried (needs root and ip)', fix: 'run as root with iproute2 installed' });
    checks.push({ name: 'tc htb', ok: false, detail: 'not tried (needs root and ip)', fix: 'run as root with iproute2 installed' });
    checks.push({ name: 'bridge', ok: false, detail: 'not tried (needs root and ip)', fix: 'run as root with iproute2 installed' });
  }
  const ipt = await probe('iptables', ['-V']);
  let iptOk = ipt.ok;
  let iptDetail = ipt.ok ? first(ipt.out) : `not usable: ${ipt.out}`;
  if (ipt.ok && isRoot) {
    const list = await probe('iptables', ['-w', '5', '-S', 'FORWARD']);
    iptOk = list.ok;
    if (!list.ok) iptDetail = `${first(ipt.out)}, but listing rules fails: ${list.out}`;
    else if (/^-P FORWARD DROP/m.test(list.out)) iptDetail += '; FORWARD policy is DROP (the local backend adds an ACCEPT rule for its bridge)';
  }
  checks.push({ name: 'iptables', ok: iptOk, detail: iptDetail, ...(iptOk ? {} : { fix: 'apt-get install iptables (partitions need it, and root)' }) });

  const dockerClient = await probe('docker', ['--version']);
  checks.push({ name: 'docker client', ok: dockerClient.ok, detail: dockerClient.ok ? first(dockerClient.out) : `not usable: ${dockerClient.out}`, ...(dockerClient.ok ? {} : { fix: 'apt-get install docker.io' }) });
  if (dockerClient.ok) {
    const engine = await probe('docker', ['info', '--format', '{{.ServerVersion}}'], 8_000);
    checks.push({ name: 'docker engine', ok: engine.ok, detail: engine.ok ? `server ${first(engine.out)}` : `not reachable: ${engine.out}`, ...(engine.ok ? {} : { fix: 'apt-get install docker.io, then start dockerd as root' }) });
    checks.push(engine.ok ? await dockerImageCheck() : { name: 'docker image', ok: false, detail: 'not checked (no engine)', fix: 'start an engine, then faultline image build' });
  } else {
    checks.push({ name: 'docker engine', ok: false, detail: 'no docker client', fix: 'apt-get install docker.io, then start dockerd as root' });
    checks.push({ name: 'docker image', ok: false, detail: 'not checked (no engine)', fix: 'start an engine, then faultline image build' });
  }
  const lazy = await lazyfsSupport();
  checks.push({
    name: 'fuse',
    ok: lazy.ok,
    detail: lazy.ok ? '/dev/fuse, fusermount3, gcc and libfuse3 headers (power-loss layer)' : `power-loss unavailable: missing ${lazy.missing.join(', ')}`,
    ...(lazy.ok ? {} : { fix: 'apt-get install fuse3 libfuse3-dev pkg-config gcc, and run as root' }),
  });
  const ft = faketimeSupport();
  checks.push({
    name: 'faketime',
    ok: ft.ok,
    detail: ft.ok ? `${ft.library} (clock faults, wall clock only)` : `clock faults unavailable: missing ${ft.missing.join(', ')}`,
    ...(ft.ok ? {} : { fix: 'apt-get install libfaketime' }),
  });
  const kcat = await probe('kcat', ['-V']);
  checks.push({ name: 'kcat', ok: kcat.ok, detail: kcat.ok ? first(kcat.out) : `not usable: ${kcat.out}`, ...(kcat.ok ? {} : { fix: 'apt-get install kcat (optional: a second, librdkafka-based client)' }) });

  let ephemeral = false;
  try {
    ephemeral = (await freePorts(6)).length === 6;
  } catch {
    ephemeral = false;
  }
  const busy: number[] = [];
  for (const p of [9092, 9093]) if (!(await portFree(p))) busy.push(p);
  checks.push({
    name: 'free ports',
    ok: ephemeral,
    detail: `${ephemeral ? 'loopback ports can be bound' : 'cannot bind loopback ports'}; 127.0.0.1:9092/9093 ${busy.length === 0 ? 'free' : `in use: ${busy.join(', ')}`} (the local backend picks free ports on loopback, and 9092/9093 inside namespaces)`,
    ...(ephemeral ? {} : { fix: 'free some loopback ports' }),
  });
  return checks;
}

/** The broker image this checkout needs on the engine: present and current, stale, or missing. */
async function dockerImageCheck(): Promise<Check> {
  try {
    const { dockerClient } = await import('../backends/docker/engine.ts');
    const { imageStatus } = await import('../backends/docker/image.ts');
    const st = await imageStatus(dockerClient());
    if (st.present) return { name: 'docker image', ok: true, detail: `${st.ref} (current: built from this checkout's broker code)` };
    return { name: 'docker image', ok: false, detail: st.stale === null ? `${st.ref} not built yet` : `${st.stale} is stale (the broker's code changed; this checkout needs ${st.ref})`, fix: 'faultline image build (a docker run builds it too, on demand)' };
  } catch (err) {
    return { name: 'docker image', ok: false, detail: `cannot check: ${(err as Error).message.split('\n')[0]}`, fix: 'faultline image build' };
  }
}

export function localSummary(checks: Check[]): { mode: 'netns' | 'loopback'; partitions: boolean } {
  const ok = (n: string): boolean => checks.find((c) => c.name === n)?.ok === true;
  const netns = ok('root') && ok('ip (iproute2)') && ok('ip netns') && ok('bridge') && ok('iptables');
  return { mode: netns ? 'netns' : 'loopback', partitions: netns };
}

/** Pure: which fault families of the registry the local backend offers on a machine with these checks, and why not. */
export function faultSupport(checks: Check[]): Array<{ faults: string; ok: boolean; why: string }> {
  const ok = (n: string): boolean => checks.find((c) => c.name === n)?.ok === true;
  const { partitions } = localSummary(checks);
  const netWhy = partitions ? 'network namespaces and iptables' : 'needs root, ip netns, a bridge and iptables';
  const family = (prefix: string): string => {
    const names = Object.keys(faults).filter((f) => f === prefix || f.startsWith(`${prefix}-`));
    return names.length > 3 ? `${prefix}, ${prefix}-{${names.filter((f) => f !== prefix).map((f) => f.slice(prefix.length + 1)).join(',')}}` : names.join(', ');
  };
  return [
    { faults: family('kill'), ok: true, why: 'SIGKILL, restart later' },
    { faults: family('stop'), ok: true, why: 'SIGTERM (controlled shutdown), restart later' },
    { faults: family('pause'), ok: true, why: 'SIGSTOP / SIGCONT' },
    { faults: 'rolling-restart', ok: true, why: 'each node SIGTERMed and started in turn, waiting until it is back in every ISR' },
    { faults: family('power-loss'), ok: ok('fuse'), why: ok('fuse') ? 'SIGKILL and unsynced writes dropped (lazyfs layer)' : 'needs root and FUSE (fuse3, libfuse3-dev, gcc)' },
    { faults: family('corrupt'), ok: true, why: 'a data file of a killed node: bits flipped or truncated, then restart' },
    { faults: family('disk-full'), ok: ok('fuse'), why: ok('fuse') ? 'writes that need space fail with ENOSPC (the lazyfs layer)' : 'needs root and FUSE (fuse3, libfuse3-dev, gcc)' },
    { faults: family('clock'), ok: ok('faketime'), why: ok('faketime') ? 'wall clock bumped or strobed through libfaketime (LD_PRELOAD at start)' : 'needs libfaketime (Debian package libfaketime)' },
    { faults: family('partition'), ok: partitions, why: netWhy },
    { faults: family('packet-loss'), ok: partitions, why: partitions ? 'iptables -m statistic between nodes (a target: only that node\'s links)' : netWhy },
    { faults: family('bandwidth'), ok: partitions && ok('tc htb'), why: partitions && ok('tc htb') ? 'tc htb between nodes (a target: only that node\'s links, both ways)' : partitions ? 'needs tc with htb' : netWhy },
    { faults: 'reassign', ok: true, why: "a workload partition's replicas moved during load (AlterPartitionReassignments; any cluster with the Kafka admin APIs)" },
    {
      faults: 'membership',
      ok: true,
      why: `a broker-only node added ${partitions ? 'in its own namespace' : 'on loopback ports'}, given a partition, then decommissioned (replicas moved off, stopped, UnregisterBroker); the docker backend refuses it`,
    },
  ];
}

export function formatChecks(checks: Check[]): string {
  const lines = checks.map((c) => `${c.ok ? 'yes' : 'no '}  ${c.name.padEnd(15)} ${c.detail}${c.ok || c.fix === undefined ? '' : `\n     ${''.padEnd(15)} -> ${c.fix}`}`);
  const s = localSummary(checks);
  lines.push('');
  lines.push(s.partitions ? 'local backend: network namespaces per node' : 'local backend: plain processes on 127.0.0.1');
  lines.push('faults on the local backend:');
  for (const f of faultSupport(checks)) lines.push(`${f.ok ? 'yes' : 'no '}  ${f.faults}  (${f.why})`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parseCommandLine(doctorTable, argv);
  if (help) {
    process.stdout.write(`${helpText(doctorTable)}\n`);
    return 0;
  }
  const json = boolOf(values, 'json');
  const checks = await runChecks();
  if (json) process.stdout.write(JSON.stringify({ checks, local: localSummary(checks), faults: faultSupport(checks) }) + '\n');
  else process.stdout.write(formatChecks(checks) + '\n');
  return 0;
}
