import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { canPartition } from '../../../harness/backend.ts';
import { cleanupLeftovers } from '../../../harness/backends/cleanup.ts';
import { lazyfsSupport } from '../../../harness/backends/lazyfs/lazyfs.ts';
import { createLocalBackend, detectLocalMode, LocalNetnsBackend, type LocalBackend } from '../../../harness/backends/local.ts';
import { dropSources } from '../../../harness/backends/netns.ts';
import { statePath, type RunState } from '../../../harness/backends/state.ts';
import { runCommand } from '../../../harness/proc/exec.ts';
import { createRng } from '../../../harness/rng.ts';
import { startNemesis } from '../../../nemesis/index.ts';
import { splitHostPort, tryConnect } from '../../../harness/proc/net.ts';
import { isAlive, processState } from '../../../harness/proc/process.ts';

const echoServer = new URL('./fixtures/echo-server.mjs', import.meta.url).pathname;
const ownerRun = new URL('./fixtures/owner-run.ts', import.meta.url).pathname;
const mode = await detectLocalMode();
const lazy = await lazyfsSupport();
// the namespace tests need root, ip and iptables; without them they are reported as not run, with the reason
const netnsPossible = mode.mode === 'netns';
const workRoot = mkdtempSync(join(tmpdir(), 'fl-backend-'));
afterAll(() => rmSync(workRoot, { recursive: true, force: true }));

function spec(runId: string, nodes: number) {
  return {
    nodes,
    brokerSettings: { 'min.insync.replicas': '2' },
    workDir: join(workRoot, runId),
    runId,
    brokerCommand: [process.execPath, echoServer],
    startTimeoutMs: 10_000,
  };
}

/** Send bytes and expect them echoed within timeoutMs. */
function echoes(address: string, timeoutMs = 3_000): Promise<boolean> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('ping'));
    socket.on('data', (d) => {
      if (d.toString().includes('ping')) done(true);
    });
  });
}

/** Can namespace `fromNs` open a TCP connection to address? (bash /dev/tcp, bounded by `timeout`) */
async function nsConnects(fromNs: string, address: string, expected: boolean): Promise<boolean> {
  const { host, port } = splitHostPort(address);
  // a dropped SYN hangs until the timeout; a reachable peer answers at once unless the machine is loaded
  const timeoutS = expected ? '5' : '1';
  const r = await runCommand('ip', ['netns', 'exec', fromNs, 'timeout', timeoutS, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`], 10_000);
  return r.exitCode === 0;
}

async function leftovers(state: RunState): Promise<string[]> {
  const found: string[] = [];
  const netns = (await runCommand('ip', ['netns', 'list'])).stdout;
  for (const ns of state.namespaces) if (new RegExp(`^${ns}(\\s|$)`, 'm').test(netns)) found.push(`netns ${ns}`);
  const links = (await runCommand('ip', ['-o', 'link', 'show'])).stdout;
  for (const l of [...state.vethHost, ...(state.bridge === null ? [] : [state.bridge])]) if (new RegExp(`: ${l}[@:]`).test(links)) found.push(`link ${l}`);
  if (state.forwardRule !== null) {
    const rules = (await runCommand('iptables', ['-w', '5', '-S', 'FORWARD'])).stdout;
    if (rules.includes(`-i ${state.bridge} -o ${state.bridge}`)) found.push('forward rule');
  }
  for (const [node, pid] of Object.entries(state.pids)) if (isAlive(pid)) found.push(`process ${node} ${pid}`);
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  for (const m of state.mounts ?? []) if (mounts.split('\n').some((line) => line.split(' ')[1] === m)) found.push(`mount ${m}`);
  if (existsSync(statePath(state.runId))) found.push('state file');
  return found;
}


/** Start fixtures/owner-run.ts (a harness owning a 2-node run) and wait for its READY line. */
async function startOwner(runId: string, mode: 'netns' | 'loopback', then = 'wait', layer = 'plain') {
  const child = execa(process.execPath, ['--import', 'tsx', ownerRun, runId, join(workRoot, runId), mode, then, layer], { reject: false, timeout: 60_000 });
  const state = await new Promise<RunState>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^READY (.*)$/m.exec(out);
      if (m !== null) resolve(JSON.parse(m[1]!) as RunState);
    });
    void child.then((r) => reject(new Error(`owner run ended before READY: ${r.stderr}`)));
  });
  return { child, state };
}

describe('local backend, loopback mode (any user)', () => {
  it('starts, kills, pauses, resumes, restarts and stops plain processes; offers no partitions', async () => {
    const b = await createLocalBackend({ force: 'loopback' });
    expect(canPartition(b)).toBe(false);
    expect(b.limitations.join(' ')).toMatch(/partitions need/);
    await expect(startNemesis({ backend: b, faults: ['kill', 'partition-halves'], intervalMs: 100, rng: createRng(1), topic: 't', record: () => {} })).rejects.toThrow(
      /nemesis partition-halves cannot run: network partitions need .*faultline doctor/,
    );
    try {
      const nodes = await b.start(spec(`lb${process.pid}`, 2));
      expect(nodes.map((n) => n.kafkaAddress.startsWith('127.0.0.1:'))).toEqual([true, true]);
      expect(new Set(nodes.flatMap((n) => [n.kafkaAddress, n.controllerAddress])).size).toBe(4);
      const n1 = nodes[0]!;
      expect(await echoes(n1.kafkaAddress)).toBe(true);
      const pid1 = b.pidOf('n1')!;
      await b.pause('n1');
      expect(processState(pid1)).toBe('T');
      expect(await echoes(n1.kafkaAddress, 300)).toBe(false);
      await b.resume('n1');
      expect(await echoes(n1.kafkaAddress)).toBe(true);
      await b.kill('n1');
      expect(isAlive(pid1)).toBe(false);
      // (Not asserting the port is closed: a free port can be taken by another process at once.)
      await b.restart('n1');
      expect(b.pidOf('n1')).not.toBe(pid1);
      expect(await echoes(n1.kafkaAddress)).toBe(true);
      expect(await b.logs('n1')).toMatch(/echo-server id=1[\s\S]*echo-server id=1/); // appended, not truncated
      const state = b.runState()!;
      await b.stop();
      expect(await leftovers(state)).toEqual([]);
      // A late nemesis action cannot act on (or restart) a stopped cluster.
      await expect(b.restart('n1')).rejects.toThrow(/stopped: cannot restart n1/);
      await expect(b.kill('n2')).rejects.toThrow(/stopped/);
      expect(await leftovers(state)).toEqual([]);
    } finally {
      await b.stop();
    }
  });

  it.each(netnsPossible ? (['loopback', 'netns'] as const) : (['loopback'] as const))(
    'SIGTERM or SIGINT to the harness removes everything of its run (%s mode), with no cleanupLeftovers',
    async (m) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const { child, state } = await startOwner(`sig${m}${signal}${process.pid}`, m);
        expect((await leftovers(state)).filter((x) => x.startsWith('process')).length).toBe(2);
        child.kill(signal);
        const r = await child;
        expect(r.signal ?? r.exitCode).toBe(signal === 'SIGTERM' ? 143 : 130);
        expect(await leftovers(state)).toEqual([]);
      }
    },
  );

  it.each(netnsPossible ? (['loopback', 'netns'] as const) : (['loopback'] as const))(
    'an uncaught exception in the harness still removes everything of its run (%s mode)',
    async (m) => {
      const { child, state } = await startOwner(`exc${m}${process.pid}`, m, 'throw');
      const r = await child;
      expect(r.stderr).toContain('simulated harness crash');
      expect(r.exitCode).toBe(1);
      expect(await leftovers(state)).toEqual([]);
    },
  );

  it('reports a node that exits at start, with its log tail, and cleans up', async () => {
    const b = await createLocalBackend({ force: 'loopback' });
    const s = { ...spec(`lbfail${process.pid}`, 1), brokerCommand: ['sh', '-c', 'echo boom at start >&2; exit 3', 'sh'] };
    await expect(b.start(s)).rejects.toThrow(/exited before accepting connections[\s\S]*boom at start/);
    expect(existsSync(statePath(s.runId))).toBe(false);
  });
});

describe.runIf(netnsPossible)('local backend, namespaces (root with ip and iptables)', () => {
  it('builds one namespace per node behind a bridge; partitions drop peer traffic only; heal restores', async () => {
    const b = await createLocalBackend();
    expect(b).toBeInstanceOf(LocalNetnsBackend);
    if (!canPartition(b)) throw new Error('netns backend must partition');
    let state: RunState | null = null;
    try {
      const nodes = await b.start(spec(`ns${process.pid}`, 3));
      state = b.runState()!;
      const net = (b as LocalNetnsBackend).network()!;
      const netnsList = (await runCommand('ip', ['netns', 'list'])).stdout;
      for (const ns of state.namespaces) expect(netnsList).toMatch(new RegExp(`^${ns}(\\s|$)`, 'm'));
      for (const n of nodes) expect(await echoes(n.kafkaAddress)).toBe(true); // root ns reaches every node
      const [n1, n2, n3] = net.nodes;
      const [a1, a2, a3] = nodes.map((n) => n.controllerAddress);
      expect(await nsConnects(n2!.namespace, a1!, true)).toBe(true);

      await b.partition({ n1: ['n2'], n2: ['n1'] });
      expect(await nsConnects(n2!.namespace, a1!, false)).toBe(false);
      expect(await nsConnects(n1!.namespace, a2!, false)).toBe(false);
      expect(await nsConnects(n3!.namespace, a1!, true)).toBe(true);
      expect(await nsConnects(n1!.namespace, a3!, true)).toBe(true);
      for (const n of nodes) expect(await echoes(n.kafkaAddress)).toBe(true); // clients unaffected
      expect(await dropSources(n1!.namespace)).toEqual([n2!.address]);

      await b.partition({ n3: ['n1'] }); // replaces: old rules gone
      expect(await dropSources(n1!.namespace)).toEqual([]);
      expect(await dropSources(n3!.namespace)).toEqual([n1!.address]);
      expect(await nsConnects(n2!.namespace, a1!, true)).toBe(true);
      expect(await nsConnects(n1!.namespace, a3!, false)).toBe(false);

      await b.heal();
      for (const n of net.nodes) expect(await dropSources(n.namespace)).toEqual([]);
      expect(await nsConnects(n1!.namespace, a3!, true)).toBe(true);
      await expect(b.partition({ n9: ['n1'] })).rejects.toThrow(/unknown node 'n9'/);

      const pid2 = b.pidOf('n2')!;
      await b.pause('n2');
      expect(processState(pid2)).toBe('T');
      expect(await echoes(nodes[1]!.kafkaAddress, 300)).toBe(false);
      await b.resume('n2');
      expect(await echoes(nodes[1]!.kafkaAddress)).toBe(true);
      await b.kill('n2');
      expect(isAlive(pid2)).toBe(false);
      await b.restart('n2');
      // Bounded retries: on a loaded machine the first echo of a fresh process can take a while.
      let echoed = false;
      for (let i = 0; i < 5 && !echoed; i++) echoed = await echoes(nodes[1]!.kafkaAddress);
      expect(echoed).toBe(true);
      state = b.runState()!;
      await b.stop();
      expect(await leftovers(state)).toEqual([]);
    } finally {
      await b.stop();
      if (state !== null) expect(await leftovers(state)).toEqual([]);
    }
  });

  it('cleanupLeftovers removes the namespaces, links, rules and processes of a run whose owner was SIGKILLed', async () => {
    const runId = `crash${process.pid}`;
    const { child, state } = await startOwner(runId, 'netns');
    expect((await leftovers(state)).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await child;
    // the leftovers are still there: no one cleaned up after the SIGKILLed owner
    const left = await leftovers(state);
    expect(left.filter((x) => x.startsWith('netns')).length).toBe(2);
    expect(left.filter((x) => x.startsWith('process')).length).toBe(2);
    expect(left).toContain('state file');
    const report = await cleanupLeftovers();
    expect(report.runs).toContain(runId);
    expect(await leftovers(state)).toEqual([]);
  });

  it.runIf(lazy.ok)('the power-loss layers of a SIGKILLed owner are unmounted by cleanupLeftovers', async () => {
    const runId = `crashpl${process.pid}`;
    const { child, state } = await startOwner(runId, 'netns', 'wait', 'power-loss');
    expect(state.mounts?.length).toBe(2);
    child.kill('SIGKILL');
    await child;
    const left = await leftovers(state);
    expect(left.filter((x) => x.startsWith('mount')).length).toBe(2);
    expect(left.filter((x) => x.startsWith('process lazyfs')).length).toBe(2);
    await cleanupLeftovers();
    expect(await leftovers(state)).toEqual([]);
  });
});

describe.runIf(!netnsPossible)('local backend without namespaces (not root, or ip/iptables missing)', () => {
  it(`offers no partitions and the nemesis refuses them, naming what is missing: ${mode.missing.join(', ')}`, async () => {
    const b = await createLocalBackend();
    expect(b.mode).toBe('loopback');
    expect(canPartition(b)).toBe(false);
    expect(b.limitations.join(' ')).toContain(mode.missing[0]!);
    await expect(startNemesis({ backend: b, faults: ['partition'], intervalMs: 100, rng: createRng(1), topic: 't', record: () => {} })).rejects.toThrow(
      new RegExp(`partition cannot run: network partitions need ${mode.missing[0]!.replace(/[()]/g, '\\$&')}`),
    );
  });
});
