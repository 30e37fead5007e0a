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
import type { DiskErrorCode } from './fs.ts';
import { SimHost } from './host.ts';
import { SimNetwork, type LinkOptions } from './net.ts';
import { Prng } from './prng.ts';
import { simRuntime } from './runtime.ts';
import { Scheduler } from './scheduler.ts';

/** Sector size of the simulated disks (what a torn write keeps whole, what `corrupt` damages). */
export const SECTOR_BYTES = 512;
/** Salt of the stream `powerOffAndCorrupt` draws damaged bytes from (apart from its choice of sector). */
const DAMAGE_STREAM = 0x9e3779b9;
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
  /** Sector size a power loss may tear an unsynced write at (fs.ts); 0: unsynced contents are kept or lost whole. */
  tornSectorBytes: number;
}

export const defaultWorldOptions = (seed: number): WorldOptions => ({
  seed,
  nodes: 3,
  settings: SIM_BROKER_SETTINGS,
  link: { minDelayMs: 1, maxDelayMs: 5, resetRate: 0 },
  maxDrift: 0.01,
  logLines: 0,
  tornSectorBytes: SECTOR_BYTES,
});

/** Why a broker process stopped itself (its fail-stop callbacks, as broker/main.ts wires them to exit code 1). */
export interface NodeExit {
  node: number;
  atMs: number;
  error: string;
  /** The error the node's disk was injecting then (null: none, so the stop was not asked for). */
  diskError: DiskErrorCode | null;
}

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
  /** Every fail-stop exit of a broker process. */
  readonly exits: NodeExit[] = [];
  readonly #exiting: { n: SimNode; inc: number }[] = [];
  /** Crashes and restarts so far (a run checks its own power: did the faults happen?). */
  readonly counts = { kills: 0, powerLosses: 0, restarts: 0, partitions: 0, pauses: 0, clockJumps: 0, diskErrors: 0, exits: 0, corruptions: 0 };

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
    // Registered first, so the step properties see a process that exited as gone.
    this.sched.onStep(() => this.#endExited());
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
      // Fail-stop, as broker/main.ts wires it: a metadata log I/O error, or a partition log write
      // that failed after its append was accepted, ends the process (exit code 1).
      n.broker.metadata.onFatal((err) => this.#exit(n, inc, err));
      n.broker.onLogWriteFailure((err) => this.#exit(n, inc, err));
      n.broker.start().catch((err: unknown) => this.#failed(n, inc, err));
    });
  }

  #failed(n: SimNode, inc: number, err: unknown): void {
    if (n.host.incarnation !== inc) return; // a crash interrupted it: expected
    this.failures.push({ node: n.id, atMs: this.sched.nowMs, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }

  /**
   * The process stops itself over `err` (exit code 1): recorded now, and the process ends once the
   * current event and its microtasks are done, as `process.exit` from a promise callback ends it
   * (the kernel keeps its page cache). A stop while the disk injected no error is a failure of the
   * node: nothing else in the simulation asks for one.
   */
  #exit(n: SimNode, inc: number, err: Error): void {
    if (n.host.incarnation !== inc || n.host.state !== 'up' || this.#exiting.some((e) => e.n === n)) return;
    const diskError = n.host.disk.failingWith;
    this.exits.push({ node: n.id, atMs: this.sched.nowMs, error: err.message, diskError });
    if (diskError === null) this.failures.push({ node: n.id, atMs: this.sched.nowMs, error: `stopped itself with no disk fault: ${err.stack ?? err.message}` });
    this.#exiting.push({ n, inc });
  }

  /** Ends the processes that asked to exit during the step just run. */
  #endExited(): void {
    for (const { n, inc } of this.#exiting.splice(0)) {
      if (n.host.incarnation !== inc || n.host.state !== 'up') continue;
      this.counts.exits++;
      this.#down(n, 'down');
    }
  }

  /** The node's disk fails writes with `code` (fs.ts failWrites) until healDisk. */
  failDisk(n: SimNode, code: DiskErrorCode): void {
    this.counts.diskErrors++;
    n.host.disk.failWrites(code);
  }

  /** The disk works again; a process that stopped over it is started again (its supervisor's job). */
  healDisk(n: SimNode): void {
    n.host.disk.failWrites(null);
    if (n.host.state === 'down') this.restart(n);
  }

  /**
   * Powers `n` off and damages one sector of the active segment of one of its partition logs
   * (fs.ts corruptSector), chosen by `prng` among `candidates` whose ISR in the controller's image
   * (the Raft leader's, read before the power goes) holds another member; `given` (a recorded
   * choice) replaces the choice. The choice and the damaged bytes draw from two streams of `pick`,
   * so a replay of a recorded choice (which draws no choice) damages the sector the same way.
   * Returns what was damaged, null when nothing was fair game.
   */
  powerOffAndCorrupt(n: SimNode, candidates: readonly [string, number][], given: { file: string; offset: number } | null | undefined, pick: number): { file: string; offset: number } | null {
    const prng = new Prng(pick);
    const image = (this.raftLeader() ?? n).broker?.metadata.image;
    const fair = candidates.filter(([t, p]) => {
      const st = image?.partition(t, p);
      return st !== undefined && st.replicas.includes(n.id) && st.isr.some((id) => id !== n.id);
    });
    this.powerOff(n);
    let target = given;
    if (target === undefined) {
      const segments = fair
        .map(([t, p]) => n.host.disk.filesUnder(`${this.brokerOptions(n).dataDir}/partitions/${t}-${p}`).filter((f) => f.path.endsWith('.log') && f.size > 0).at(-1))
        .filter((f) => f !== undefined);
      const seg = segments.length > 0 ? prng.pick(segments) : undefined;
      target = seg === undefined ? null : { file: seg.path, offset: prng.int(0, seg.size - 1) };
    }
    if (target === null) return null;
    this.counts.corruptions++;
    n.host.disk.corruptSector(target.file, target.offset, SECTOR_BYTES, new Prng((pick ^ DAMAGE_STREAM) >>> 0));
    return target;
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
    n.host.disk.crash(new Prng(this.prng.int(0, 2 ** 31)), { tornSectorBytes: this.opts.tornSectorBytes });
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

  /** Undoes every fault: network healed, disks working, every node resumed and running. */
  healAll(): void {
    this.healNetwork();
    this.net.link.resetRate = this.baseResetRate;
    for (const n of this.nodes) {
      n.host.disk.failWrites(null);
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
