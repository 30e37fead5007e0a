/**
 * The `local` backend: broker nodes as child processes of this machine.
 *
 * Two modes, chosen once by `detectLocalMode()`:
 * - `netns` (root, with `ip` and `iptables`): every node in its own network namespace behind a bridge
 *   (layout in netns.ts), Kafka on <node address>:9092 and the controller on :9093. Implements
 *   `Partitioner` (iptables DROP inside the receiving namespace). Class `LocalNetnsBackend`.
 * - `loopback` (otherwise): plain processes on 127.0.0.1 with distinct free ports; kill, pause and
 *   restart only. Class `LocalBackend`, which deliberately has no `partition` method, so
 *   `canPartition()` is false and `limitations` says what is missing.
 *
 * Invariants:
 * - What runs on a node comes from the system definition (system.ts; default systems/faultline.json):
 *   its local command (or `spec.brokerCommand`), its rendered args, env and config files, its ports
 *   (inside namespaces; loopback mode picks free ports) and extra log files.
 * - Node k is spawned detached (its own process group) as `<command> <system args>` (for Faultline's broker `--id k --listen ...`) with
 *   env FAULTLINE_PARENT_PID (this process: the broker exits when we die), FAULTLINE_RUN_ID and
 *   FAULTLINE_NODE; stdout and stderr append to `<workDir>/<node>/broker.log`; data in
 *   `<workDir>/<node>/data`, kept across restarts.
 * - kill = SIGKILL to the group, then a bounded wait for exit; pause/resume = SIGSTOP/SIGCONT to the group;
 *   restart = spawn again and wait (bounded by startTimeoutMs) until the Kafka port accepts connections.
 * - With `spec.clock`, every node runs under libfaketime (faketime.ts: wall clock only) reading its offset
 *   from `<workDir>/<node>/faketime`; setClockOffset/strobeClock rewrite that file (a strobe is a timer
 *   of this process, ended by the next setClockOffset or by stop()). The file outlives restarts, so a
 *   node restarted while its clock is off comes back with the same clock.
 * - addNode/removeNode (MembershipChanger, the `membership` fault): node n<k+1>, k the highest index
 *   the run used (names are never reused), started as a broker only (the system's `brokerOnly` args;
 *   `{{voters}}` stay the nodes the cluster started with), in its own namespace and veth on the run's
 *   bridge (netns mode; partitions and heals cover it) or on free loopback ports, with the run's disk
 *   and clock layers. removeNode stops it (SIGTERM, then SIGKILL) and removes its namespace, veth and
 *   mount; its files stay in the work dir. The cluster's own nodes (the voters) are never removed.
 * - Cleanup is total: `stop()`, a failed `start()`, SIGINT/SIGTERM (handlers installed once per process;
 *   when another handler listens, such as the run orchestrator, the signal is left to it) and process exit (synchronous best effort) all remove every process, namespace, veth, bridge and
 *   rule of the run. The state file (state.ts) is written before anything is created, and
 *   `cleanupLeftovers()` (called at every start) removes what runs with dead owners left behind.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, fstatSync, renameSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { Backend, ClockSkewer, ClusterSpec, Collected, DataCorrupter, DiskFiller, ExecResult, Grudge, LinkDegradation, LinkDegrader, LinkScope, MembershipChanger, NodeAccess, NodeInfo, NodeStopper, Partitioner, PowerLosser } from '../backend.ts';
import { collectLocalFiles } from './collect.ts';
import { defaultSystem, localCommand, nodeValues, renderLaunch, SystemError, type NodeContext, type SystemDefinition } from './system.ts';
import { faketimeEnv, faketimeSupport, writeClockOffset } from './faketime.ts';
import { clearUnsynced, lazyfsSupport, mountLazyfs, setDiskFull, unmountLazyfs, type LazyMount } from './lazyfs/lazyfs.ts';
import { hasExecutable, runCommand, runCommandSync } from '../proc/exec.ts';
import { freePorts, splitHostPort, waitForPort } from '../proc/net.ts';
import { isAlive, signalGroup, terminate, waitForExit, waitForState } from '../proc/process.ts';
import { cleanupLeftovers } from './cleanup.ts';
import {
  addNodeNetwork,
  planNodeNet,
  applyGrudge,
  claimSubnet,
  createNetwork,
  destroyNetwork,
  destroyNetworkSync,
  applyDegradation,
  healNetwork,
  forwardRuleFor,
  planNetwork,
  releaseSubnet,
  type NetworkPlan,
} from './netns.ts';
import { processStartTicks, removeState, writeState, type RunState } from './state.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `node bin/faultline.mjs broker` of this checkout. */
export function defaultBrokerCommand(): string[] {
  return [process.execPath, join(repoRoot, 'bin', 'faultline.mjs'), 'broker'];
}

export interface LocalMode {
  mode: 'netns' | 'loopback';
  /** what is missing for netns mode (empty in netns mode) */
  missing: string[];
  /** `tc` (iproute2) is there, for bandwidth limits */
  tc?: boolean;
  /** what power loss (the lazyfs layer) lacks here; empty when it works */
  powerLossMissing?: string[];
  /** what clock faults (libfaketime) lack here; empty when they work */
  clockMissing?: string[];
}

/** Root, `ip` and `iptables` -> netns; otherwise loopback with the reasons. */
export async function detectLocalMode(): Promise<LocalMode> {
  const missing: string[] = [];
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) missing.push('root (run as root: namespaces and iptables need CAP_NET_ADMIN)');
  if (!(await hasExecutable('ip'))) missing.push('ip (Debian package iproute2)');
  if (!(await hasExecutable('iptables'))) missing.push('iptables (Debian package iptables)');
  const lazy = await lazyfsSupport();
  const clock = faketimeSupport();
  return { mode: missing.length === 0 ? 'netns' : 'loopback', missing, tc: await hasExecutable('tc'), powerLossMissing: lazy.ok ? [] : lazy.missing, clockMissing: clock.ok ? [] : clock.missing };
}

interface NodeRuntime {
  info: NodeInfo;
  /** the command that starts the node (the system's local command, or spec.brokerCommand) */
  command: string[];
  /** argv after the command */
  args: string[];
  /** the system's environment for this node */
  env: Record<string, string>;
  /** the system's log files besides stdout/stderr (collected into the run directory) */
  extraLogs: string[];
  /** namespace to exec in (netns mode) */
  namespace: string | null;
  pid: number | null;
  exited: boolean;
  paused: boolean;
}

const stopGraceMs = 3_000;
/** A `stop` fault's grace: long enough for a controlled shutdown to move leaderships away first. */
const stopNodeGraceMs = 10_000;
const killWaitMs = 5_000;
const stopAllBoundMs = 20_000;
const signalWaitMs = 2_000;

// ---- process-wide cleanup on signals and exit (installed once) ----
const liveBackends = new Set<LocalBackend>();
let handlersInstalled = false;

function installHandlersOnce(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    // Someone else handles this signal (the run orchestrator): it stops its clients first and then the
    // backend. Stopping the nodes here too would pull the cluster from under live kafkajs consumers,
    // which can spin the event loop; the 'exit' handler below stays the backstop.
    if (process.listenerCount(signal) > 1) return;
    const all = [...liveBackends].map((b) => b.stop());
    const bound = new Promise<void>((r) => setTimeout(r, stopAllBoundMs).unref());
    // nobody else handles this signal: behave as the default action would have, after cleaning up
    void Promise.race([Promise.allSettled(all), bound]).then(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('exit', () => {
    for (const b of liveBackends) b.stopSync();
  });
}

function tailFile(path: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, Math.max(0, maxBytes));
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The command exists here: an absolute path that is executable, or a name on PATH. Otherwise a clear
 * error that says which system wanted it (definitions not tested here say so in their description).
 */
async function assertRunnable(system: SystemDefinition, command: string[]): Promise<void> {
  const file = command[0]!;
  const found = file.includes('/') ? existsSync(file) : await hasExecutable(file);
  if (!found) {
    throw new SystemError(
      `system '${system.name}' starts nodes with ${file}, which is not installed on this machine${system.testedHere ? '' : ` (the ${system.name} definition is untested here: no such package on this project's machines)`}`,
    );
  }
}

export class LocalBackend implements Backend, NodeStopper, PowerLosser, NodeAccess, ClockSkewer, DiskFiller, DataCorrupter, MembershipChanger {
  readonly name = 'local' as const;
  readonly mode: 'netns' | 'loopback';
  /** Why faults are unavailable in this mode (empty when every fault is offered). */
  readonly limitations: string[];
  protected spec: ClusterSpec | null = null;
  protected runtimes = new Map<string, NodeRuntime>();
  protected state: RunState | null = null;
  protected plan: NetworkPlan | null = null;
  private stopping: Promise<void> | null = null;
  protected readonly localMode: LocalMode;
  /** node name -> its power-loss layer (when the spec asked for power loss) */
  private readonly mounts = new Map<string, LazyMount>();
  /** which port says a node is up, and for how long to wait (the system's readiness) */
  private readiness: SystemDefinition['readiness'] = { port: 'kafka', timeoutMs: 30_000 };
  /** the system that runs on the nodes, every node's addresses (index k-1 for node k) and the highest k used */
  private system: SystemDefinition | null = null;
  private addresses: Array<{ host: string; kafkaPort: number; controllerPort: number; namespace: string | null }> = [];
  private lastIndex = 0;
  /** the preload library and each node's clock control file (when the spec asked for clock faults) */
  private clockLayer: { library: string; files: Map<string, string> } | null = null;
  /** node name -> the timer flipping its clock (a strobe in force) */
  private readonly strobes = new Map<string, NodeJS.Timeout>();

  /** Faults after stop() would act on a torn-down cluster (or start a broker nobody stops): refuse them. */
  protected assertNotStopped(action: string): void {
    if (this.stopping !== null) throw new Error(`local backend is stopped: cannot ${action}`);
  }

  get powerLossMissing(): readonly string[] {
    return this.localMode.powerLossMissing ?? [];
  }

  get diskFullMissing(): readonly string[] {
    return this.localMode.powerLossMissing ?? [];
  }

  get clockMissing(): readonly string[] {
    return this.localMode.clockMissing ?? [];
  }

  constructor(mode: LocalMode) {
    this.localMode = mode;
    this.mode = mode.mode;
    this.limitations = mode.mode === 'loopback' ? [`network partitions need ${mode.missing.join(', ')}`] : [];
  }

  nodes(): NodeInfo[] {
    return [...this.runtimes.values()].map((r) => ({ ...r.info }));
  }

  /** Pid of a node's current process (null when not running). */
  pidOf(node: string): number | null {
    const r = this.runtime(node);
    return r.exited ? null : r.pid;
  }

  /** The run's state (names of everything created), for status displays and tests. */
  runState(): RunState | null {
    return this.state === null ? null : structuredClone(this.state);
  }

  async start(spec: ClusterSpec): Promise<NodeInfo[]> {
    if (this.spec !== null) throw new Error('local backend: start() called twice; one backend object runs one cluster');
    if (!Number.isInteger(spec.nodes) || spec.nodes < 1 || spec.nodes > 99) throw new RangeError(`nodes must be 1..99, got ${spec.nodes}`);
    this.spec = spec;
    await cleanupLeftovers();
    installHandlersOnce();
    liveBackends.add(this);
    try {
      await this.prepare(spec);
      await Promise.all([...this.runtimes.values()].map((r) => this.spawnAndWait(r)));
      return this.nodes();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async prepare(spec: ClusterSpec): Promise<void> {
    const state: RunState = {
      version: 1,
      runId: spec.runId,
      ownerPid: process.pid,
      ownerStartTicks: processStartTicks(process.pid),
      createdAt: new Date().toISOString(),
      mode: this.mode,
      subnetIndex: null,
      bridge: null,
      namespaces: [],
      vethHost: [],
      forwardRule: null,
      pids: {},
    };
    const system = spec.system ?? defaultSystem();
    let addresses: Array<{ host: string; kafkaPort: number; controllerPort: number; namespace: string | null }>;
    if (this.mode === 'netns') {
      const subnetIndex = await claimSubnet(spec.runId);
      const plan = planNetwork(spec.runId, subnetIndex, spec.nodes, system.ports.controller);
      const existing = (await runCommand('ip', ['netns', 'list'], 5_000)).stdout;
      const clash = plan.nodes.find((n) => new RegExp(`^${n.namespace}(\\s|$)`, 'm').test(existing));
      if (clash !== undefined) {
        releaseSubnet(subnetIndex);
        throw new Error(`namespace ${clash.namespace} already exists: another live run uses run id '${spec.runId}'`);
      }
      this.plan = plan;
      Object.assign(state, {
        subnetIndex,
        bridge: plan.bridge,
        namespaces: plan.nodes.map((n) => n.namespace),
        vethHost: plan.nodes.map((n) => n.vethHost),
        forwardRule: forwardRuleFor(plan),
      });
      this.state = state;
      writeState(state); // before anything exists
      await createNetwork(plan, true);
      addresses = plan.nodes.map((n) => ({ host: n.address, kafkaPort: system.ports.kafka, controllerPort: system.ports.controller, namespace: n.namespace }));
    } else {
      this.state = state;
      writeState(state);
      const ports = await freePorts(spec.nodes * 2);
      addresses = [];
      for (let k = 0; k < spec.nodes; k++) {
        addresses.push({ host: '127.0.0.1', kafkaPort: ports[2 * k]!, controllerPort: ports[2 * k + 1]!, namespace: null });
      }
    }
    this.system = system;
    this.addresses = addresses;
    this.lastIndex = spec.nodes;
    this.readiness = system.readiness;
    for (let k = 1; k <= spec.nodes; k++) {
      const r = this.makeRuntime(spec, system, k);
      if (k === 1) await assertRunnable(system, r.command);
      this.runtimes.set(r.info.name, r);
    }
    if (spec.powerLoss === true || spec.diskFull === true) await this.mountPowerLossLayers(spec);
    if (spec.clock === true) this.prepareClockLayer(spec);
  }

  /** Node k's directories, rendered launch (its config files written) and runtime, not started. */
  private makeRuntime(spec: ClusterSpec, system: SystemDefinition, k: number): NodeRuntime {
    const a = this.addresses[k - 1]!;
    const name = `n${k}`;
    const nodeDir = join(spec.workDir, name);
    const dataDir = join(nodeDir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const ctx: NodeContext = {
      id: k,
      node: name,
      runId: spec.runId,
      cluster: this.addresses,
      // the nodes the cluster started with are the voters; a node added later is a broker only
      voterCount: spec.nodes,
      dataDir,
      nodeDir,
      settings: spec.brokerSettings,
      nodeBinary: process.execPath,
      repoRoot,
      ...(spec.bug === undefined ? {} : { bug: spec.bug }),
    };
    const launch = renderLaunch(system, ctx);
    const command = spec.brokerCommand ?? localCommand(system, nodeValues(ctx));
    for (const f of launch.files) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(f.path, f.content);
    }
    const info: NodeInfo = { name, id: k, kafkaAddress: `${a.host}:${a.kafkaPort}`, controllerAddress: `${a.host}:${a.controllerPort}`, dataDir, logFile: join(nodeDir, 'broker.log') };
    return { info, command, args: launch.args, env: launch.env, extraLogs: launch.logFiles, namespace: a.namespace, pid: null, exited: true, paused: false };
  }

  /**
   * MembershipChanger: node n<k+1> (k = the highest index this run ever used, so a name is never reused),
   * a broker only, with its own namespace on the run's bridge (netns mode) or two free loopback ports,
   * and the disk and clock layers the cluster was started with. The state file lists its namespace, veth
   * and mount before they exist, so cleanup removes them like the others'.
   */
  async addNode(): Promise<NodeInfo> {
    this.assertNotStopped('add a node');
    const spec = this.spec;
    const state = this.state;
    const system = this.system;
    if (spec === null || state === null || system === null) throw new Error('local backend: not started');
    const k = this.lastIndex + 1;
    if (k > 99) throw new RangeError('local backend: at most 99 nodes per run');
    this.lastIndex = k;
    if (this.plan !== null) {
      const net = planNodeNet(spec.runId, this.plan.subnetIndex, k);
      state.namespaces.push(net.namespace);
      state.vethHost.push(net.vethHost);
      writeState(state); // before anything exists
      await addNodeNetwork(this.plan, net);
      this.plan.nodes.push(net);
      this.addresses[k - 1] = { host: net.address, kafkaPort: system.ports.kafka, controllerPort: system.ports.controller, namespace: net.namespace };
    } else {
      const [kafkaPort, controllerPort] = await freePorts(2);
      this.addresses[k - 1] = { host: '127.0.0.1', kafkaPort: kafkaPort!, controllerPort: controllerPort!, namespace: null };
    }
    const r = this.makeRuntime(spec, system, k);
    this.runtimes.set(r.info.name, r);
    try {
      if (this.mounts.size > 0) await this.mountLayer(spec, r);
      if (this.clockLayer !== null) {
        const file = join(spec.workDir, r.info.name, 'faketime');
        writeClockOffset(file, 0);
        this.clockLayer.files.set(r.info.name, file);
      }
      await this.spawnAndWait(r);
    } catch (err) {
      await this.removeNode(r.info.name).catch(() => undefined);
      throw err;
    }
    return { ...r.info };
  }

  /** MembershipChanger: stop an added node gracefully and remove everything made for it (its files stay). */
  async removeNode(node: string): Promise<void> {
    const spec = this.spec;
    const state = this.state;
    if (spec === null || state === null) throw new Error('local backend: not started');
    const r = this.runtime(node);
    if (r.info.id <= spec.nodes) throw new Error(`${node} is one of the nodes the cluster started with (a voter): only added nodes are removed`);
    this.endStrobe(node);
    if (r.pid !== null && isAlive(r.pid)) {
      if (!(await terminate(r.pid, stopNodeGraceMs, killWaitMs))) throw new Error(`node ${node} (pid ${r.pid}) would not stop`);
    }
    r.exited = true;
    const m = this.mounts.get(node);
    if (m !== undefined) {
      await unmountLazyfs(m.mountpoint);
      await waitForExit(m.pid, killWaitMs);
      this.mounts.delete(node);
      try {
        rmdirSync(m.mountpoint);
        renameSync(m.backing, m.mountpoint);
      } catch {
        // still busy: the data stays in `<node>/data.durable`
      }
      state.mounts = (state.mounts ?? []).filter((x) => x !== m.mountpoint);
      delete state.pids[`lazyfs-${node}`];
    }
    this.clockLayer?.files.delete(node);
    const net = this.plan?.nodes.find((n) => n.node === node);
    if (net !== undefined && this.plan !== null) {
      await destroyNetwork({ namespaces: [net.namespace], vethHost: [net.vethHost], bridge: null, forwardRule: null });
      this.plan.nodes = this.plan.nodes.filter((n) => n !== net);
      state.namespaces = state.namespaces.filter((x) => x !== net.namespace);
      state.vethHost = state.vethHost.filter((x) => x !== net.vethHost);
    }
    delete state.pids[node];
    this.runtimes.delete(node);
    writeState(state);
  }

  /** Every node gets a clock control file at `<node>/faketime` reading +0 (the true time) before it starts. */
  private prepareClockLayer(spec: ClusterSpec): void {
    const support = faketimeSupport();
    if (!support.ok) throw new Error(`clock faults need ${support.missing.join(', ')}`);
    const files = new Map<string, string>();
    for (const r of this.runtimes.values()) {
      const file = join(spec.workDir, r.info.name, 'faketime');
      writeClockOffset(file, 0);
      files.set(r.info.name, file);
    }
    this.clockLayer = { library: support.library, files };
  }

  private clockFile(node: string): string {
    this.runtime(node);
    const file = this.clockLayer?.files.get(node);
    if (file === undefined) throw new Error(`node ${node} has no clock layer (the cluster was started without clock)`);
    return file;
  }

  private endStrobe(node: string): void {
    const t = this.strobes.get(node);
    if (t !== undefined) clearInterval(t);
    this.strobes.delete(node);
  }

  async setClockOffset(node: string, offsetMs: number): Promise<void> {
    this.assertNotStopped(`set the clock of ${node}`);
    const file = this.clockFile(node);
    this.endStrobe(node);
    writeClockOffset(file, offsetMs);
  }

  async strobeClock(node: string, deltaMs: number, periodMs: number): Promise<void> {
    this.assertNotStopped(`strobe the clock of ${node}`);
    if (!(periodMs >= 10)) throw new RangeError(`strobe period must be >= 10 ms, got ${periodMs}`);
    const file = this.clockFile(node);
    this.endStrobe(node);
    let skewed = true;
    writeClockOffset(file, deltaMs);
    const t = setInterval(() => {
      skewed = !skewed;
      try {
        writeClockOffset(file, skewed ? deltaMs : 0);
      } catch {
        // the run dir is going away (teardown); the next setClockOffset or stop ends the timer
      }
    }, periodMs);
    t.unref();
    this.strobes.set(node, t);
  }

  /**
   * Each node's data dir becomes a lazyfs mount over `<node>/data.durable` (what survives a power cut).
   * The state file lists the mountpoints before any exists, so a crashed harness's mounts get removed.
   */
  private async mountPowerLossLayers(spec: ClusterSpec): Promise<void> {
    if (this.powerLossMissing.length > 0) throw new Error(`power-loss needs ${this.powerLossMissing.join(', ')}`);
    const s = this.state!;
    s.mounts = [...this.runtimes.values()].map((r) => r.info.dataDir);
    writeState(s);
    for (const r of this.runtimes.values()) await this.mountLayer(spec, r, false);
  }

  /** One node's lazyfs mount (listed in the state file first, unless the caller did). */
  private async mountLayer(spec: ClusterSpec, r: NodeRuntime, list = true): Promise<void> {
    const s = this.state!;
    if (list) {
      s.mounts = [...(s.mounts ?? []), r.info.dataDir];
      writeState(s);
    }
    const m = await mountLazyfs(`${r.info.dataDir}.durable`, r.info.dataDir, { ...process.env, FAULTLINE_RUN_ID: spec.runId, FAULTLINE_NODE: r.info.name } as Record<string, string>);
    this.mounts.set(r.info.name, m);
    s.pids[`lazyfs-${r.info.name}`] = m.pid;
    writeState(s);
  }

  /** A power cut: SIGKILL, then every write the node had not fsynced is gone. restart() reboots it. */
  async powerLoss(node: string): Promise<void> {
    const m = this.mounts.get(node);
    if (m === undefined) throw new Error(`node ${node} has no power-loss layer (the cluster was started without powerLoss)`);
    await this.kill(node);
    clearUnsynced(m);
  }

  private layer(node: string, what: string): LazyMount {
    this.runtime(node);
    const m = this.mounts.get(node);
    if (m === undefined) throw new Error(`node ${node} has no disk layer for ${what} (the cluster was started without powerLoss or diskFull)`);
    return m;
  }

  /** From now on writes to the node's data dir that need space fail with ENOSPC. */
  async fillDisk(node: string): Promise<void> {
    this.assertNotStopped(`fill the disk of ${node}`);
    setDiskFull(this.layer(node, 'disk-full'), true);
  }

  /** Free the node's disk; a broker that exited meanwhile (e.g. on a failed write) is started again. */
  async freeDisk(node: string): Promise<boolean> {
    setDiskFull(this.layer(node, 'disk-full'), false);
    const r = this.runtime(node);
    if (this.stopping !== null || (r.pid !== null && !r.exited)) return false;
    await this.spawnAndWait(r);
    return true;
  }

  /** A file of a stopped node's data dir, for the corrupt fault: refused while it runs or outside the dir. */
  private stoppedDataPath(node: string, path: string): string {
    const r = this.runtime(node);
    if (r.pid !== null && !r.exited) throw new Error(`node ${node} is running: its data files are changed only while it is stopped`);
    const full = resolve(r.info.dataDir, path);
    if (full !== r.info.dataDir && !full.startsWith(r.info.dataDir + sep)) throw new Error(`'${path}' is not inside the data dir of ${node}`);
    return full;
  }

  async dataFiles(node: string): Promise<Array<{ path: string; sizeBytes: number }>> {
    const root = this.runtime(node).info.dataDir;
    this.stoppedDataPath(node, '.');
    const out: Array<{ path: string; sizeBytes: number }> = [];
    const walk = (dir: string, depth: number): void => {
      if (depth > 8) return;
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, e.name);
        if (e.isDirectory()) walk(full, depth + 1);
        else if (e.isFile()) {
          const fd = openSync(full, 'r');
          try {
            out.push({ path: relative(root, full), sizeBytes: fstatSync(fd).size });
          } finally {
            closeSync(fd);
          }
        }
      }
    };
    walk(root, 0);
    return out.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  async flipBits(node: string, path: string, flips: ReadonlyArray<{ offset: number; bit: number }>): Promise<void> {
    const fd = openSync(this.stoppedDataPath(node, path), 'r+');
    try {
      const b = Buffer.alloc(1);
      for (const { offset, bit } of flips) {
        if (readSync(fd, b, 0, 1, offset) !== 1) throw new Error(`${path} of ${node} has no byte at ${offset}`);
        b[0] = b[0]! ^ (1 << bit);
        writeSync(fd, b, 0, 1, offset);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  async truncateFile(node: string, path: string, toBytes: number): Promise<void> {
    const fd = openSync(this.stoppedDataPath(node, path), 'r+');
    try {
      ftruncateSync(fd, toBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Unmount the layers (a clean unmount writes everything through), then put the data back at dataDir. */
  private async unmountPowerLossLayers(): Promise<void> {
    for (const [, m] of this.mounts) {
      await unmountLazyfs(m.mountpoint);
      await waitForExit(m.pid, killWaitMs);
      try {
        rmdirSync(m.mountpoint);
        renameSync(m.backing, m.mountpoint);
      } catch {
        // still busy or already moved: the data stays in `<node>/data.durable`
      }
    }
    this.mounts.clear();
  }

  private runtime(node: string): NodeRuntime {
    const r = this.runtimes.get(node);
    if (r === undefined) throw new Error(`unknown node '${node}'; nodes are ${[...this.runtimes.keys()].join(', ') || '(none: not started)'}`);
    return r;
  }

  private spawn(r: NodeRuntime): void {
    const spec = this.spec;
    if (spec === null || this.state === null) throw new Error('local backend: not started');
    const command = [...r.command, ...r.args];
    const argv = r.namespace === null ? command : ['ip', 'netns', 'exec', r.namespace, ...command];
    const logFd = openSync(r.info.logFile, 'a');
    try {
      const child = execa(argv[0]!, argv.slice(1), {
        detached: true,
        cleanup: false,
        reject: false,
        stdin: 'ignore',
        // execa's types accept only the literal fds 3..9; at run time any open fd is passed through as is
        stdout: logFd as 3,
        stderr: logFd as 3,
        env: {
          ...r.env,
          FAULTLINE_PARENT_PID: String(process.pid),
          FAULTLINE_RUN_ID: spec.runId,
          FAULTLINE_NODE: r.info.name,
          ...(this.clockLayer === null ? {} : faketimeEnv(this.clockLayer.library, this.clockFile(r.info.name))),
        },
      });
      const pid = child.pid;
      if (pid === undefined) throw new Error(`could not spawn ${argv[0]} for node ${r.info.name}`);
      r.pid = pid;
      r.exited = false;
      r.paused = false;
      child.once('exit', () => {
        if (r.pid === pid) r.exited = true;
      });
      void child.catch(() => {});
      this.state.pids[r.info.name] = pid;
      writeState(this.state);
    } finally {
      closeSync(logFd);
    }
  }

  private async spawnAndWait(r: NodeRuntime): Promise<void> {
    this.spawn(r);
    const { host, port } = splitHostPort(this.readiness.port === 'kafka' ? r.info.kafkaAddress : r.info.controllerAddress);
    const timeoutMs = this.spec?.startTimeoutMs ?? this.readiness.timeoutMs;
    const result = await waitForPort(host, port, { timeoutMs, shouldGiveUp: () => r.exited });
    if (result !== 'up') {
      const why = result === 'gave-up' ? 'exited before accepting connections' : `did not accept connections within ${timeoutMs} ms`;
      throw new Error(`node ${r.info.name} (${r.info.kafkaAddress}) ${why}; log tail:\n${tailFile(r.info.logFile, 2_000)}`);
    }
  }

  async kill(node: string): Promise<void> {
    this.assertNotStopped(`kill ${node}`);
    const r = this.runtime(node);
    if (r.pid === null || r.exited) return;
    signalGroup(r.pid, 'SIGKILL');
    if (!(await waitForExit(r.pid, killWaitMs))) throw new Error(`node ${node} (pid ${r.pid}) survived SIGKILL for ${killWaitMs} ms`);
    r.exited = true;
    r.paused = false;
  }

  /** SIGTERM (the broker's controlled shutdown), then SIGKILL after stopGraceMs; restart() brings it back. */
  async stopNode(node: string): Promise<void> {
    this.assertNotStopped(`stop ${node}`);
    const r = this.runtime(node);
    if (r.pid === null || r.exited) return;
    if (!(await terminate(r.pid, stopNodeGraceMs, killWaitMs))) throw new Error(`node ${node} (pid ${r.pid}) would not stop`);
    r.exited = true;
    r.paused = false;
  }

  async restart(node: string): Promise<void> {
    this.assertNotStopped(`restart ${node}`);
    const r = this.runtime(node);
    if (r.pid !== null && !r.exited) {
      if (!(await terminate(r.pid, stopGraceMs, killWaitMs))) throw new Error(`node ${node} (pid ${r.pid}) would not stop for a restart`);
      r.exited = true;
    }
    await this.spawnAndWait(r);
  }

  async pause(node: string): Promise<void> {
    this.assertNotStopped(`pause ${node}`);
    const r = this.runtime(node);
    if (r.pid === null || r.exited) throw new Error(`cannot pause node ${node}: it is not running`);
    signalGroup(r.pid, 'SIGSTOP');
    r.paused = true;
    // signals are delivered asynchronously: return only once the process is really stopped
    if (!(await waitForState(r.pid, (st) => st === 'T' || st === 't' || st === null, signalWaitMs))) {
      throw new Error(`node ${node} (pid ${r.pid}) did not stop within ${signalWaitMs} ms of SIGSTOP`);
    }
  }

  async resume(node: string): Promise<void> {
    const r = this.runtime(node);
    if (r.pid === null || r.exited) return;
    signalGroup(r.pid, 'SIGCONT');
    r.paused = false;
    if (!(await waitForState(r.pid, (st) => st !== 'T' && st !== 't', signalWaitMs))) {
      throw new Error(`node ${node} (pid ${r.pid}) still stopped ${signalWaitMs} ms after SIGCONT`);
    }
  }

  async logs(node: string, maxBytes = 64 * 1024): Promise<string> {
    return tailFile(this.runtime(node).info.logFile, maxBytes);
  }

  /** The node's data, log and extra log files into dest (for the run directory, usually its own `nodes/<node>/`). */
  async collect(node: string, dest: string): Promise<Collected> {
    const r = this.runtime(node);
    return collectLocalFiles({ dataDir: r.info.dataDir, logFile: r.info.logFile, extraLogs: r.extraLogs }, dest);
  }

  /** argv in the node's network namespace (netns mode) or as a plain process (loopback), bounded. */
  async exec(node: string, argv: string[], timeoutMs = 10_000): Promise<ExecResult> {
    const r = this.runtime(node);
    if (argv.length === 0) throw new Error('exec needs a command');
    const full = r.namespace === null ? argv : ['ip', 'netns', 'exec', r.namespace, ...argv];
    const res = await runCommand(full[0]!, full.slice(1), timeoutMs);
    return { exitCode: res.timedOut ? -1 : res.exitCode, stdout: res.stdout, stderr: res.stderr };
  }

  /** Idempotent; concurrent calls share one teardown. */
  stop(): Promise<void> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    for (const node of [...this.strobes.keys()]) this.endStrobe(node);
    try {
      await Promise.all(
        [...this.runtimes.values()].map(async (r) => {
          if (r.pid !== null && isAlive(r.pid)) await terminate(r.pid, stopGraceMs, killWaitMs);
          r.exited = true;
        }),
      );
      await this.unmountPowerLossLayers();
      const s = this.state;
      if (s !== null) {
        if (s.mode === 'netns') {
          await destroyNetwork({ namespaces: s.namespaces, vethHost: s.vethHost, bridge: s.bridge, forwardRule: s.forwardRule });
          if (s.subnetIndex !== null) releaseSubnet(s.subnetIndex);
        }
        removeState(s.runId);
      }
    } finally {
      liveBackends.delete(this);
    }
  }

  /** Synchronous best-effort teardown for process exit. */
  stopSync(): void {
    for (const node of [...this.strobes.keys()]) this.endStrobe(node);
    for (const r of this.runtimes.values()) if (r.pid !== null && !r.exited) signalGroup(r.pid, 'SIGKILL');
    for (const [, m] of this.mounts) runCommandSync('fusermount3', ['-u', '-z', m.mountpoint], 3_000);
    const s = this.state;
    if (s !== null) {
      if (s.mode === 'netns') {
        destroyNetworkSync({ namespaces: s.namespaces, vethHost: s.vethHost, bridge: s.bridge, forwardRule: s.forwardRule });
        if (s.subnetIndex !== null) releaseSubnet(s.subnetIndex);
      }
      removeState(s.runId);
    }
    liveBackends.delete(this);
  }
}

/** The local backend with namespaces: adds partitions (Partitioner) and link degradation (LinkDegrader). */
export class LocalNetnsBackend extends LocalBackend implements Partitioner, LinkDegrader {
  /** the grudge in force, or null when healed */
  private grudge: Grudge | null = null;

  /** the link degradations this machine can do (bandwidth needs tc) */
  get linkDegradations(): ReadonlyArray<LinkDegradation['kind']> {
    return this.localMode.tc === false ? ['packet-loss'] : ['packet-loss', 'bandwidth'];
  }

  async partition(grudge: Grudge, scope: LinkScope = 'all'): Promise<void> {
    this.assertNotStopped('partition');
    if (this.plan === null) throw new Error('local backend: not started');
    await applyGrudge(this.plan, grudge, scope);
    this.grudge = structuredClone(grudge);
  }

  async degrade(d: LinkDegradation): Promise<void> {
    this.assertNotStopped(d.kind);
    if (this.plan === null) throw new Error('local backend: not started');
    await applyDegradation(this.plan, d);
    this.grudge = null;
  }

  async heal(): Promise<void> {
    if (this.plan === null) return;
    await healNetwork(this.plan);
    this.grudge = null;
  }

  currentGrudge(): Grudge | null {
    return this.grudge === null ? null : structuredClone(this.grudge);
  }

  /** The run's network plan (addresses of the bridge and of each node). */
  network(): NetworkPlan | null {
    return this.plan === null ? null : structuredClone(this.plan);
  }
}

/**
 * Build the local backend for this machine: namespaces and partitions when possible, otherwise loopback.
 * `force` pins a mode (loopback is always possible; netns throws if something is missing).
 */
export async function createLocalBackend(opts: { force?: 'netns' | 'loopback' } = {}): Promise<LocalBackend> {
  const detected = await detectLocalMode();
  if (opts.force === 'netns' && detected.mode !== 'netns') throw new Error(`the local backend cannot use namespaces here: missing ${detected.missing.join(', ')}`);
  if (opts.force === 'loopback' || detected.mode === 'loopback') {
    return new LocalBackend(opts.force === 'loopback' && detected.mode === 'netns' ? { mode: 'loopback', missing: ['namespaces (loopback mode was forced)'] } : detected);
  }
  return new LocalNetnsBackend(detected);
}
