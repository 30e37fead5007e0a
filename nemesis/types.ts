/**
 * Nemesis vocabulary shared by the fault packages, the schedule and the tests.
 *
 * A nemesis op is what goes into history.jsonl (process "nemesis", type "info"): `f` names the action,
 * `value` the nodes acted on, the role they were chosen by and, for partitions, the shape and grudge.
 * A fault is a pair: a start op and the end op that undoes it (kill/restart, pause/resume,
 * partition/heal). A package (style.md item 3) is `{ nemesis, generator, finalGenerator }`:
 * - `generator(ctx)` decides the next fault (pure given the rng, the nodes and the roles), or null
 *   when it cannot act now (e.g. too few nodes for the shape);
 * - `nemesis(op, env)` carries out one op through the Backend / Partitioner interfaces only;
 * - `finalGenerator(active)` returns the ops that undo every fault of this package still in force.
 * Cluster operations (reassign, membership) act through a ClusterAdmin (the Kafka admin APIs) and, to
 * add and remove nodes, a MembershipChanger; a fault's start and end ops share the sub-objects of their
 * values that the start fills in (`reassignment`, `nodes` and `ids` of an added broker), so the end acts
 * on what the start did.
 */
import type { Backend, ClockSkewer, DataCorrupter, DiskFiller, Grudge, LinkDegrader, MembershipChanger, NodeInfo, NodeStopper, Partitioner, PowerLosser, Roles } from '../harness/backend.ts';
import type { ClusterAdmin } from '../harness/backends/admin.ts';
import type { Rng } from '../harness/rng.ts';

/** Single-node roles: the one node a fault hits is chosen by what it does in the cluster. */
export const roles = ['leader', 'controller', 'follower', 'random'] as const;
/**
 * Group targets (Jepsen's :minority, :majority, :all): `minority` = a random floor((n-1)/2) nodes (at
 * least 1), `majority` = a random floor(n/2)+1 nodes, `all` = every node. Drawn among the free nodes.
 */
export const groupTargets = ['minority', 'majority', 'all'] as const;
export type GroupTarget = (typeof groupTargets)[number];
export type Role = (typeof roles)[number] | GroupTarget;

/**
 * Partition shapes and targets (design.md "Nemesis names": `partition` with targets leader, controller,
 * follower, random and shapes one, halves, majorities-ring, bridge, controller-link). A target isolates
 * the one node chosen by that role (`random` as `one` does). `partition` alone draws from `shapes`;
 * `follower` and `random` joined later are kept out of that draw, so a seed draws what it drew before.
 */
export const shapes = ['one', 'leader', 'controller', 'halves', 'majorities-ring', 'bridge', 'controller-link'] as const;
export const partitionTargets = ['follower', 'random'] as const;
export type Shape = (typeof shapes)[number] | (typeof partitionTargets)[number];

export type NemesisF =
  | 'kill' | 'stop' | 'power-loss' | 'restart' | 'pause' | 'resume' | 'partition' | 'packet-loss' | 'bandwidth' | 'heal'
  | 'clock-bump' | 'clock-strobe' | 'clock-reset' | 'rolling-restart' | 'rolling-restart-end' | 'disk-full' | 'disk-free' | 'corrupt'
  | 'reassign' | 'reassign-done' | 'add-broker' | 'decommission';

/** A partition's replica move: drawn by the schedule (key, from, to), then filled in by the actions. */
export interface Reassignment {
  /** "<topic>-<partition>" */
  key: string;
  /** the replica list before the move, as the schedule saw it */
  from: number[];
  /** the replica list asked for (AlterPartitionReassignments) */
  to: number[];
  /** membership: the number that chose the partition moved onto the added broker */
  pick?: number;
  /** set by the start action: the cluster accepted the reassignment */
  accepted?: boolean;
  /** set by the end action once the move completed: what the cluster's metadata showed then */
  observed?: { replicas: number[]; isr: number[]; leader: number };
}

export interface NemesisValue {
  nodes: string[];
  role?: Role;
  shape?: Shape;
  grudge?: Grudge;
  /** packet-loss: the probability that each packet between two nodes is dropped */
  probability?: number;
  /** bandwidth: the rate every link between nodes is limited to */
  rateKbit?: number;
  /** clock-bump: the wall clock's offset from real time; clock-strobe: the offset it flips to and back */
  deltaMs?: number;
  /** clock-strobe: how often the clock flips between real time and real time + deltaMs */
  periodMs?: number;
  /**
   * corrupt: what the schedule drew (mode and three numbers that choose the file class, the file and the
   * bytes: nemesis/corrupt.ts) and, filled in by the action, what it did to each node's file
   */
  corruption?: { mode: 'bitflip' | 'truncate'; classPick: number; filePick: number; pick: number; files?: Record<string, string> };
  /** reassign, add-broker, decommission: the broker ids of `nodes`, in the same order */
  ids?: number[];
  /** reassign: the partition moved; add-broker: the partition moved onto the added broker */
  reassignment?: Reassignment;
  /** decommission: every partition moved off the broker before it was shut down and unregistered */
  moves?: Reassignment[];
  /** why the requested role or shape was not used as asked (e.g. roles unknown -> random node) */
  note?: string;
  /** set on the recorded op when the backend action failed */
  error?: string;
  /**
   * set on the recorded op: how long the backend action took, rounded up to whole ms. The op is recorded
   * after its action, so the action began `tookMs` or less before the op's `timeNs`: a restart's or
   * resume's node was still down until then (the queue checker's underreplicated-ack needs that bound)
   */
  tookMs?: number;
}

export interface NemesisOp {
  f: NemesisF;
  value: NemesisValue;
}

export interface PlannedFault {
  start: NemesisOp;
  end: NemesisOp;
}

export interface PlanContext {
  rng: Rng;
  nodes: readonly NodeInfo[];
  /** null when the cluster's roles could not be learned right now */
  roles: Roles | null;
  topic: string;
  /** nodes already under some fault (killed, paused): targets avoid them */
  busy: ReadonlySet<string>;
  /**
   * nodes under a fault that leaves them free for node faults (`sharesNodes`: a clock fault): another
   * such fault avoids them, since both would act on the same per-node state (one clock offset file:
   * the first one's reset would end the second's skew)
   */
  shared: ReadonlySet<string>;
}

/**
 * The nemesis's clock (monotonic ms) and sleep, for the bounded waits inside a fault (a move completing,
 * a node rejoining): the real ones by default; a schedule test injects a virtual pair, so a wait that
 * runs to its bound costs no real time.
 */
export interface NemesisTime {
  nowMs(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface NemesisEnv {
  backend: Backend;
  partitioner: Partitioner | null;
  degrader: LinkDegrader | null;
  powerLosser: PowerLosser | null;
  stopper: NodeStopper | null;
  clock: ClockSkewer | null;
  disk: DiskFiller | null;
  corrupter: DataCorrupter | null;
  /** the cluster's roles now (null when unknown), for packages that wait on the cluster (rolling-restart) */
  roles: () => Promise<Roles | null>;
  /** the workload topic, whose partitions' ISRs tell when a restarted node has recovered */
  topic: string;
  /** the cluster's Kafka admin APIs (reassign, membership; startNemesis always sets it) */
  admin?: ClusterAdmin;
  /** adds and removes broker-only nodes (membership); absent or null when the backend cannot */
  membership?: MembershipChanger | null;
  /** record a step of a long fault (a rolling restart's stop and restart of each node) as it happens */
  record: (op: NemesisOp) => void;
  /** default: performance.now and a real sleep */
  time?: NemesisTime;
}

export interface FaultPackage {
  generator(ctx: PlanContext): PlannedFault | null;
  nemesis(op: NemesisOp, env: NemesisEnv): Promise<void>;
  finalGenerator(active: readonly NemesisOp[]): NemesisOp[];
  /** the `f` values this package's nemesis handles */
  handles: readonly NemesisF[];
  needsPartitioner: boolean;
  /** needs a NodeStopper (graceful SIGTERM of one node) */
  needsStopper?: boolean;
  /** needs a LinkDegrader (packet loss, bandwidth) */
  needsDegrader?: boolean;
  /** needs a PowerLosser and a cluster started with its power-loss layer */
  needsPowerLoss?: boolean;
  /**
   * The fault's work, done between its start and end ops instead of a drawn fault period (a rolling
   * restart rolls the cluster there); it returns early once `signal` aborts, leaving the cluster as whole
   * as it can (the node in hand restarted).
   */
  during?(start: NemesisOp, env: NemesisEnv, signal: AbortSignal): Promise<void>;
  /** needs a DataCorrupter */
  needsCorrupter?: boolean;
  /** needs a DiskFiller and a cluster started with its disk layer */
  needsDiskFull?: boolean;
  /** needs a ClockSkewer and a cluster started with its clock layer */
  needsClock?: boolean;
  /** needs a MembershipChanger (add and remove broker-only nodes) */
  needsMembership?: boolean;
  /**
   * Nodes under this package's faults stay free for node faults of other lanes (a node whose clock is
   * off may still be killed); default false: they are busy until the fault ends.
   */
  sharesNodes?: boolean;
}
