/**
 * A cluster backend (style.md item 1): starts and stops broker nodes and injects faults into them.
 * Optional abilities are separate small interfaces so a backend that cannot partition (the local
 * backend without root) simply does not implement `Partitioner`, and callers get a clear refusal.
 */
import type { SystemDefinition } from './backends/system.ts';

/** One broker node as the harness sees it. `name` is `n1`, `n2`, ... and `id` the broker id. */
export interface NodeInfo {
  name: string;
  id: number;
  /** host:port that Kafka clients use (in the node's namespace address when namespaces are on). */
  kafkaAddress: string;
  /** host:port of the node's Raft/controller listener. */
  controllerAddress: string;
  dataDir: string;
  logFile: string;
}

export interface ClusterSpec {
  nodes: number;
  /** Kafka-named broker settings passed to every node with `--set key=value`. */
  brokerSettings: Record<string, string>;
  /** where node data dirs and logs go (the run directory's `nodes/`). */
  workDir: string;
  /** a prefix unique to this run, used to name namespaces, bridges and processes for cleanup. */
  runId: string;
  /**
   * The command that starts one node, before its `--id N --listen ...` flags. Default: this checkout's
   * `node bin/faultline.mjs broker`. Tests substitute small servers that take the same flags.
   */
  brokerCommand?: string[];
  /** A planted bug every node starts with (`--bug NAME`, broker/bugs.ts); absent for the clean broker. */
  bug?: string;
  /** How long start/restart wait for a node's Kafka port to accept connections (default: the system's readiness timeout, 30000 for Faultline's broker). */
  startTimeoutMs?: number;
  /**
   * What runs on each node (systems/*.json, harness/backends/system.ts); default Faultline's own broker.
   * `brokerCommand`, when given, replaces only the system's local command.
   */
  system?: SystemDefinition;
  /**
   * Put every node's data directory behind a layer that can lose unsynced writes (PowerLosser), so
   * `power-loss` faults can run. Off by default: the layer costs a little speed.
   */
  powerLoss?: boolean;
  /**
   * Start every node under the clock layer (libfaketime, wall clock only), so `clock` faults can run
   * (ClockSkewer). Off by default: each wall-clock read costs a little more.
   */
  clock?: boolean;
  /**
   * Put every node's data directory behind the layer that can fill its disk (DiskFiller), so
   * `disk-full` faults can run (the same layer as powerLoss).
   */
  diskFull?: boolean;
}

/** A grudge: node name -> names of nodes whose traffic it drops (Jepsen's `net/drop-all!`). */
export type Grudge = Record<string, string[]>;

export interface Backend {
  readonly name: BackendName;
  /** Start every node and wait until each accepts Kafka connections. */
  start(spec: ClusterSpec): Promise<NodeInfo[]>;
  /** Stop every node (SIGTERM, then SIGKILL after a bound) and remove every namespace, bridge and rule. */
  stop(): Promise<void>;
  nodes(): NodeInfo[];
  /** SIGKILL one node's process. */
  kill(node: string): Promise<void>;
  /** Restart a killed or stopped node with its data dir intact. */
  restart(node: string): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(node: string): Promise<void>;
  resume(node: string): Promise<void>;
  /** Node log tail, for reports and errors. */
  logs(node: string, maxBytes?: number): Promise<string>;
}

/** The backends of the registry (harness/backends/registry.ts). */
export type BackendName = 'local' | 'docker';

/** What `collect` brought into the run directory for one node. */
export interface Collected {
  /** the node's data, copied (or already) under `dest/data`, for the replica-log reader and `faultline check` */
  dataDir: string;
  /** files written under dest (relative names: broker.log, data-listing.txt, extra log files) */
  files: string[];
}

/** What `exec` returns: the command's exit code and output (bounded by the backend). */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Optional: reach into a node wherever it runs. `collect` copies what the run directory keeps of a node
 * (its logs, a listing of its data and the data itself) to `dest`, so nothing after the run reads a
 * backend's own paths; `exec` runs argv in the node's environment (its namespace, or its container),
 * for faults that act on a node's clock, files or disk.
 */
export interface NodeAccess {
  collect(node: string, dest: string): Promise<Collected>;
  exec(node: string, argv: string[], timeoutMs?: number): Promise<ExecResult>;
}

export function canAccess(b: Backend): b is Backend & NodeAccess {
  return typeof (b as Partial<NodeAccess>).collect === 'function' && typeof (b as Partial<NodeAccess>).exec === 'function';
}

/** Which traffic a grudge cuts: everything, or only the controller (Raft) listeners' links. */
export type LinkScope = 'all' | 'controller';

export interface Partitioner {
  /**
   * Drop traffic as the grudge says (silently, like a real partition); replaces any earlier grudge and
   * any link degradation. `scope: 'controller'` cuts only the controller listeners' links, so broker
   * (Kafka and replication) traffic still flows.
   */
  partition(grudge: Grudge, scope?: LinkScope): Promise<void>;
  /** Remove every drop rule and every link degradation. */
  heal(): Promise<void>;
}

/**
 * A degradation of the links between nodes (never the harness's clients' links): every such link, or
 * with `nodes` only the links with one of those nodes at either end.
 */
export type LinkDegradation = ({ kind: 'packet-loss'; probability: number } | { kind: 'bandwidth'; rateKbit: number }) & { nodes?: readonly string[] };

/** Optional: degrade the links between nodes; `Partitioner.heal()` undoes it. */
export interface LinkDegrader {
  degrade(d: LinkDegradation): Promise<void>;
}

export function canDegrade(b: Backend): b is Backend & Partitioner & LinkDegrader {
  return canPartition(b) && typeof (b as Partial<LinkDegrader>).degrade === 'function';
}

/** Optional: a graceful stop of one node (SIGTERM, so the broker's controlled shutdown runs). */
export interface NodeStopper {
  /** SIGTERM one node and wait (bounded) until it exits; SIGKILL after the grace period. */
  stopNode(node: string): Promise<void>;
}

/** Optional: a power failure of one node: SIGKILL, and every write it had not fsynced is lost. */
export interface PowerLosser {
  /** what this machine lacks for power loss (empty when it can do it); needs `powerLoss` in the spec too */
  readonly powerLossMissing: readonly string[];
  powerLoss(node: string): Promise<void>;
}

export function canPowerLoss(b: Backend): b is Backend & PowerLosser {
  return typeof (b as Partial<PowerLosser>).powerLoss === 'function' && ((b as Partial<PowerLosser>).powerLossMissing ?? ['?']).length === 0;
}

/**
 * Optional: move one node's wall clock (Jepsen's bump-time and strobe-time). Only the wall clock: the
 * node's monotonic clock (its timers) runs on, as under a real clock step.
 */
export interface ClockSkewer {
  /** what this machine lacks for clock faults (empty when it can do them); needs `clock` in the spec too */
  readonly clockMissing: readonly string[];
  /** From now on the node's wall clock reads real time + offsetMs (0: the true time); ends a strobe of the node. */
  setClockOffset(node: string, offsetMs: number): Promise<void>;
  /** Flip the node's wall clock between real and real + deltaMs every periodMs, until the next setClockOffset. */
  strobeClock(node: string, deltaMs: number, periodMs: number): Promise<void>;
}

/** Optional: fill a node's disk (writes that need space fail with ENOSPC) and free it again. */
export interface DiskFiller {
  /** what this machine lacks for disk-full (empty when it can do it); needs `diskFull` in the spec too */
  readonly diskFullMissing: readonly string[];
  fillDisk(node: string): Promise<void>;
  /** Free the node's disk; a node whose broker exited while its disk was full is started again (true). */
  freeDisk(node: string): Promise<boolean>;
}

export function canFillDisk(b: Backend): b is Backend & DiskFiller {
  return typeof (b as Partial<DiskFiller>).fillDisk === 'function' && ((b as Partial<DiskFiller>).diskFullMissing ?? ['?']).length === 0;
}

/**
 * Optional: change the data files of a stopped node (the `corrupt` fault). Paths are relative to the
 * node's data dir; every change is made durable (fsynced) before the call returns.
 */
export interface DataCorrupter {
  /** Every regular file under the node's data dir, with its size; refused while the node runs. */
  dataFiles(node: string): Promise<Array<{ path: string; sizeBytes: number }>>;
  /** Flip the given bits (bit 0 = least significant) of the file; refused while the node runs. */
  flipBits(node: string, path: string, flips: ReadonlyArray<{ offset: number; bit: number }>): Promise<void>;
  /** Cut the file to toBytes; refused while the node runs. */
  truncateFile(node: string, path: string, toBytes: number): Promise<void>;
}

export function canCorrupt(b: Backend): b is Backend & DataCorrupter {
  return typeof (b as Partial<DataCorrupter>).flipBits === 'function';
}

/**
 * Optional: grow and shrink the running cluster (the `membership` fault). An added node is a broker
 * only: it is not a Raft voter (the voters stay the nodes the cluster started with), it gets a fresh
 * id and name (never one used before in this run) and its own data dir and, with namespaces, its own
 * namespace on the run's bridge. Cleanup (stop(), a crashed harness's leftovers) removes added nodes
 * like the others.
 */
export interface MembershipChanger {
  /** Start one more node, broker only, and wait until it accepts Kafka connections. */
  addNode(): Promise<NodeInfo>;
  /**
   * Stop an added node (SIGTERM: its controlled shutdown; SIGKILL after a grace) and remove it and
   * what was made for it (process, namespace, veth, disk and clock layers); its files stay in the work
   * dir. The nodes the cluster started with (the voters) are refused.
   */
  removeNode(node: string): Promise<void>;
}

export function canChangeMembership(b: Backend): b is Backend & MembershipChanger {
  return typeof (b as Partial<MembershipChanger>).addNode === 'function' && typeof (b as Partial<MembershipChanger>).removeNode === 'function';
}

export function canSkewClock(b: Backend): b is Backend & ClockSkewer {
  return typeof (b as Partial<ClockSkewer>).setClockOffset === 'function' && ((b as Partial<ClockSkewer>).clockMissing ?? ['?']).length === 0;
}

export function canStopNode(b: Backend): b is Backend & NodeStopper {
  return typeof (b as Partial<NodeStopper>).stopNode === 'function';
}

export function canPartition(b: Backend): b is Backend & Partitioner {
  return typeof (b as Partial<Partitioner>).partition === 'function';
}

/** Who does what right now, learned from the cluster's own Metadata answers. */
export interface Roles {
  /** broker id of the active controller (Raft leader), or null when unknown. */
  controller: number | null;
  /** "<topic>-<partition>" -> leader broker id (-1 when leaderless). */
  leaders: Record<string, number>;
  /** "<topic>-<partition>" -> replica ids and ISR. */
  replicas: Record<string, { replicas: number[]; isr: number[] }>;
}
