/**
 * The simulated world: N complete broker nodes (broker/node.ts's BrokerNode, the class
 * `faultline broker` starts: Raft controller, metadata loader, replica manager, fetchers, group
 * coordinator, partition logs) in one process on one seed, over the simulated network, disks and
 * clocks (net.ts, fs.ts, host.ts, runtime.ts), driven by the deterministic scheduler
 * (scheduler.ts). Only I/O is simulated; every line of broker logic that runs is production code.
 *
 * One seed decides everything: clock drift and offsets, link delays, the fault schedule, which
 * client does what when. `runSeed(seed)` returns the verdict and a trace hash; the same seed gives
 * the same hash (test/sim/node/determinism.test.ts).
 *
 * Phases (virtual time): boot (the quorum elects a controller, brokers register); load (clients,
 * clients.ts, and the fault schedule, faults.ts); heal (every fault undone, every node up); recover
 * (time to converge); drain (a consumer reads every partition from 0 to the high watermark); then
 * the properties (properties.ts) and the harness's queue checker judge the run.
 */
import { loadConfig, type BrokerConfig } from '../broker/config.ts';
import { createLogger, type Logger } from '../broker/logger.ts';
import type { BrokerOptions } from '../broker/main.ts';
import { BrokerNode } from '../broker/node.ts';
import { SimHost } from './host.ts';
import { SimNetwork, type LinkOptions } from './net.ts';
import { Prng } from './prng.ts';
import { simRuntime } from './runtime.ts';
import { Scheduler } from './scheduler.ts';

export const KAFKA_PORT = 9092;
export const CONTROLLER_PORT = 9093;

/**
 * Broker settings of the simulated cluster: Kafka's durability promise for acks=all made strict
 * (`log.flush.interval.messages=1`, so an acknowledged write is on every ISR member's disk), and
 * timeouts short enough that a failover fits in a few simulated seconds.
 */
export const SIM_BROKER_SETTINGS: Record<string, string> = {
  'min.insync.replicas': '2',
  'default.replication.factor': '3',
  'log.flush.interval.messages': '1',
  'replica.lag.time.max.ms': '2000',
  'replica.fetch.wait.max.ms': '200',
  'replica.fetch.backoff.ms': '100',
  'replica.socket.timeout.ms': '2000',
  'replica.high.watermark.checkpoint.interval.ms': '500',
  'broker.heartbeat.interval.ms': '200',
  'broker.session.timeout.ms': '1500',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1000',
  'controller.quorum.request.timeout.ms': '1000',
  'controlled.shutdown.enable': 'false',
  'auto.leader.rebalance.enable': 'false',
  'offsets.topic.replication.factor': '3',
  'offsets.topic.num.partitions': '1',
};

export interface WorldOptions {
  seed: number;
  nodes: number;
  settings: Record<string, string>;
  link: LinkOptions;
  /** Largest clock drift, as a fraction (0.01: 1 %). */
  maxDrift: number;
  /** Keep the last lines of each node's log (printed for a failing seed with --verbose). */
  logLines: number;
}

export const defaultWorldOptions = (seed: number): WorldOptions => ({
  seed,
  nodes: 3,
  settings: SIM_BROKER_SETTINGS,
  link: { minDelayMs: 1, maxDelayMs: 5, resetRate: 0 },
  maxDrift: 0.01,
  logLines: 0,
});

export interface SimNode {
  readonly index: number;
  readonly id: number;
  readonly host: SimHost;
  broker: BrokerNode | null;
  /** The node's last log lines (when WorldOptions.logLines > 0). */
  readonly log: string[];
}

/** What a node failing to start or run looks like to the world (a property: a node that cannot start is a bug). */
export interface NodeFailure {
  node: number;
  atMs: number;
  error: string;
}

export class SimWorld {
  readonly opts: WorldOptions;
  readonly sched = new Scheduler();
  readonly prng: Prng;
  readonly net: SimNetwork;
  readonly nodes: SimNode[] = [];
  readonly config: BrokerConfig;
  readonly failures: NodeFailure[] = [];
  /** Crashes and restarts so far (a run checks its own power: did the faults happen?). */
  readonly counts = { kills: 0, powerLosses: 0, restarts: 0, partitions: 0, pauses: 0, clockJumps: 0 };

  constructor(opts: WorldOptions) {
    this.opts = opts;
    this.prng = new Prng(opts.seed);
    this.net = new SimNetwork(this.sched, new Prng(this.prng.int(0, 2 ** 31)), { ...opts.link });
    this.config = loadConfig({ sets: Object.entries(opts.settings).map(([k, v]) => `${k}=${v}`) });
    for (let i = 0; i < opts.nodes; i++) {
      const host = new SimHost(`n${i + 1}`, this.prng, opts.maxDrift);
      this.net.addHost(host);
      this.nodes.push({ index: i, id: i + 1, host, broker: null, log: [] });
    }
  }

  /** The links' reset rate outside `lossy` fault steps. */
  get baseResetRate(): number {
    return this.opts.link.resetRate;
  }

  /** A client machine (never crashed by the schedule). */
  addClientHost(name: string): SimHost {
    const h = new SimHost(name, this.prng, this.opts.maxDrift);
    h.state = 'up';
    this.net.addHost(h);
    return h;
  }

  brokerOptions(n: SimNode): BrokerOptions {
    return {
      id: n.id,
      listen: { host: n.host.name, port: KAFKA_PORT },
      advertise: { host: n.host.name, port: KAFKA_PORT },
      dataDir: '/data',
      controllerListen: { host: n.host.name, port: CONTROLLER_PORT },
      voters: this.nodes.map((m) => ({ id: m.id, host: m.host.name, port: CONTROLLER_PORT })),
      config: this.config,
      logLevel: 'warn',
      bug: null,
    };
  }

  #logger(n: SimNode): Logger {
    const keep = this.opts.logLines;
    const sink = keep > 0 ? (line: string) => {
      n.log.push(line.trimEnd());
      if (n.log.length > keep) n.log.shift();
    } : () => undefined;
    return createLogger(`n${n.id}`, keep > 0 ? 'info' : 'error', sink, () => n.host.wallMs(this.sched.nowMs));
  }

  /** Starts the node's process (a fresh BrokerNode on the node's disk). */
  start(n: SimNode): void {
    if (n.host.state === 'up') return;
    n.host.state = 'up';
    n.host.paused = false;
    const rt = simRuntime(this.sched, this.net, n.host, this.prng.int(0, 2 ** 31));
    const inc = n.host.incarnation;
    this.sched.after(0, n.host, 'boot', () => {
      try {
        n.broker = new BrokerNode(this.brokerOptions(n), this.#logger(n), rt);
      } catch (err) {
        this.#failed(n, inc, err);
        return;
      }
      n.broker.start().catch((err: unknown) => this.#failed(n, inc, err));
    });
  }

  #failed(n: SimNode, inc: number, err: unknown): void {
    if (n.host.incarnation !== inc) return; // a crash interrupted it: expected
    this.failures.push({ node: n.id, atMs: this.sched.nowMs, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }

  /** Kills the process (SIGKILL): the page cache survives, connections are reset. */
  kill(n: SimNode): void {
    if (n.host.state !== 'up') return;
    this.counts.kills++;
    this.#down(n, 'down');
  }

  /** Power loss: only what was fsynced survives (a torn or lost unsynced write, per the seed). */
  powerOff(n: SimNode): void {
    if (n.host.state === 'off') return;
    this.counts.powerLosses++;
    this.#down(n, 'off');
    n.host.disk.crash(new Prng(this.prng.int(0, 2 ** 31)));
  }

  #down(n: SimNode, state: 'down' | 'off'): void {
    n.host.incarnation++;
    n.host.state = state;
    n.host.paused = false;
    n.host.held.length = 0;
    this.net.hostDown(n.host, state === 'off');
    n.broker = null;
  }

  restart(n: SimNode): void {
    if (n.host.state === 'up') return;
    this.counts.restarts++;
    this.start(n);
  }

  pause(n: SimNode): void {
    if (n.host.state !== 'up' || n.host.paused) return;
    this.counts.pauses++;
    n.host.paused = true;
  }

  resume(n: SimNode): void {
    if (!n.host.paused) return;
    n.host.paused = false;
    this.sched.release(n.host);
  }

  /** Steps the node's wall clock (monotonic time is unaffected, as with an NTP step). */
  jumpClock(n: SimNode, byMs: number): void {
    this.counts.clockJumps++;
    n.host.wallOffsetMs += byMs;
  }

  /** Cuts the links between `side` and everyone else, both ways or only from `side` outwards. */
  isolate(side: SimNode[], oneWay: boolean, others: readonly SimHost[]): void {
    this.counts.partitions++;
    const names = new Set(side.map((n) => n.host.name));
    for (const a of side) {
      for (const b of others) {
        if (names.has(b.name)) continue;
        this.net.cut(a.host.name, b.name);
        if (!oneWay) this.net.cut(b.name, a.host.name);
      }
    }
  }

  healNetwork(): void {
    this.net.healAll();
  }

  /** Undoes every fault: network healed, every node resumed and running. */
  healAll(): void {
    this.healNetwork();
    this.net.link.resetRate = this.baseResetRate;
    for (const n of this.nodes) {
      this.resume(n);
      if (n.host.state !== 'up') this.restart(n);
    }
  }

  /** The node whose Raft core is leader now (the newest term's, if two think so), read-only; null if none. */
  raftLeader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const n of this.nodes) {
      const v = n.host.state === 'up' ? n.broker?.metadata.raftState : null;
      if (v && v.role === 'leader' && v.term > bestTerm) {
        best = n;
        bestTerm = v.term;
      }
    }
    return best;
  }

  /** The live node leading `topic`-`partition` now (the highest leader epoch's), read-only; null if none. */
  partitionLeader(topic: string, partition: number): SimNode | null {
    let best: SimNode | null = null;
    let bestEpoch = -1;
    for (const n of this.nodes) {
      const r = n.host.state === 'up' ? n.broker?.replicas.get(topic, partition) : undefined;
      if (r && r.role === 'leader' && r.leaderEpoch > bestEpoch) {
        best = n;
        bestEpoch = r.leaderEpoch;
      }
    }
    return best;
  }

  allHosts(): SimHost[] {
    return [...this.nodes.map((n) => n.host)];
  }
}
