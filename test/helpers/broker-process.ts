/**
 * Starts real broker processes (`node bin/faultline.mjs broker ...`) for integration tests: free ports,
 * temp data dirs, wait until the Kafka port serves, SIGKILL / SIGTERM / restart, and cleanup that
 * never leaves a process behind (every spawned process is killed in `stopAll`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../harness/proc/net.ts';

const BIN = fileURLToPath(new URL('../../bin/faultline.mjs', import.meta.url));
/** Extra node flags for every broker process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (Node refuses those in NODE_OPTIONS). */
const BROKER_NODE_ARGS = (process.env.FAULTLINE_BROKER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/** A free loopback port for a broker to bind later (see harness/proc/net.ts for why not port 0). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

export interface BrokerProc {
  id: number;
  port: number;
  controllerPort: number;
  dataDir: string;
  logFile: string;
  child: ChildProcess | null;
  /** Exit code and signal of the last process that ended. */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** A Raft voter, or a broker-only observer. */
  voter: boolean;
}

/** Test timeouts: short, so failovers happen within a test's patience (every one is a broker setting). */
export const fastSettings: Record<string, string> = {
  'broker.heartbeat.interval.ms': '100',
  'broker.session.timeout.ms': '600',
  'controller.quorum.election.timeout.ms': '250',
  'controller.quorum.fetch.timeout.ms': '400',
  'replica.lag.time.max.ms': '1500',
  'replica.fetch.backoff.ms': '50',
  'replica.fetch.wait.max.ms': '200',
  'replica.socket.timeout.ms': '2000',
};

export class TestCluster {
  readonly brokers: BrokerProc[] = [];
  readonly dir: string;
  private readonly settings: Record<string, string>;

  private constructor(dir: string, settings: Record<string, string>) {
    this.dir = dir;
    this.settings = settings;
  }

  /** Allocates ports and dirs for `n` nodes and starts them all. */
  static async start(n: number, settings: Record<string, string> = {}): Promise<TestCluster> {
    const c = new TestCluster(mkdtempSync(join(tmpdir(), 'fl-cluster-')), settings);
    for (let i = 1; i <= n; i++) {
      c.brokers.push(await c.newBroker(i, true));
    }
    await Promise.all(c.brokers.map((b) => c.launch(b)));
    return c;
  }

  private async newBroker(id: number, voter: boolean): Promise<BrokerProc> {
    return { id, port: await freePort(), controllerPort: await freePort(), dataDir: join(this.dir, `n${id}`), logFile: join(this.dir, `n${id}.log`), child: null, lastExit: null, voter };
  }

  /** Adds and starts a broker-only node (not a Raft voter), as one adds brokers to a running cluster. */
  async addBroker(): Promise<BrokerProc> {
    const b = await this.newBroker(Math.max(...this.brokers.map((x) => x.id)) + 1, false);
    this.brokers.push(b);
    await this.launch(b);
    return b;
  }

  get bootstrap(): string[] {
    return this.brokers.filter((b) => b.child).map((b) => `127.0.0.1:${b.port}`);
  }

  broker(id: number): BrokerProc {
    const b = this.brokers.find((x) => x.id === id);
    if (!b) throw new Error(`no broker ${id}`);
    return b;
  }

  private async launch(b: BrokerProc): Promise<void> {
    const voters = this.brokers.filter((x) => x.voter).map((x) => `${x.id}@127.0.0.1:${x.controllerPort}`).join(',');
    const args = [BIN, 'broker', '--id', String(b.id), '--listen', `127.0.0.1:${b.port}`, '--data-dir', b.dataDir, '--voters', voters];
    if (b.voter) args.push('--controller-listen', `127.0.0.1:${b.controllerPort}`);
    for (const [k, v] of Object.entries({ ...fastSettings, ...this.settings })) args.push('--set', `${k}=${v}`);
    const out = createWriteStream(b.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [...BROKER_NODE_ARGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FAULTLINE_PARENT_PID: String(process.pid) } });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    b.child = child;
    child.once('exit', (code, signal) => {
      b.lastExit = { code, signal };
      if (b.child === child) b.child = null;
    });
    await waitForPort(b.port, 30_000);
  }

  async restart(id: number): Promise<void> {
    const b = this.broker(id);
    if (b.child) throw new Error(`broker ${id} is running`);
    await this.launch(b);
  }

  kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const b = this.broker(id);
    const child = b.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.brokers.map((b) => this.kill(b.id, 'SIGKILL')));
  }
}
