/**
 * The fault schedule: a plain list of steps drawn from the seed before the run (so it can be
 * printed, stored, edited and replayed on its own: `runSeed(seed, { schedule })`). Each step starts
 * at `atMs` and is undone `durationMs` later; node and role faults never overlap one another (one
 * at a time, then a quiet gap), link faults run on their own lane and overlap them, and the final
 * heal undoes anything left.
 *
 * kinds: `kill` (SIGKILL, restart after the duration), `power` (power loss of `nodes`, all at
 * once: unsynced writes lost or torn; restart after), `partition` (`nodes` cut from the rest, both
 * ways), `one-way` (only `nodes`' outbound traffic is lost), `pause` (SIGSTOP-like: the process
 * runs nothing, its timers and packets wait), `clock` (the wall clock of `nodes` steps by `jumpMs`);
 * disk faults (`DISK_FAULT_KINDS`): `disk-error` (the node's disk fails writes with `errno`; a
 * broker that stops over it is restarted after the duration), `corrupt` (power off, one sector of a
 * partition log segment damaged, restart after; the sector is chosen when the step runs and
 * recorded in `corruption`).
 * Admin kinds (`ADMIN_FAULT_KINDS`, a lane of their own): `reassign` (`partition` moved to
 * `replicas`, then to `thenReplicas` at the step's end) and `recreate` (the `churn` topic deleted,
 * then created again with the same name at the step's end).
 */
import { Prng } from './prng.ts';
import type { DiskErrorCode } from './fs.ts';
import type { SimNode, SimWorld } from './world.ts';

/** The first six kinds, the ones seeds drew before the leader-aimed kinds existed (regression seeds pin them). */
export const NODE_FAULT_KINDS = ['kill', 'power', 'partition', 'one-way', 'pause', 'clock'] as const;
/**
 * Faults aimed at a role, resolved when they start (the target is whoever holds the role then):
 * `isolate-controller` cuts the Raft leader off both ways while it may hold uncommitted entries
 * (an isolated controller still fences brokers it stops hearing from), then half-way through
 * reconnects it and cuts off the leader elected meanwhile (Raft figure 8, vote up-to-date checks);
 * `leader-churn` does the same to a partition's leader (two leader changes while followers
 * truncate: KIP-279's ask-again step);
 * `bounce` power-cycles one node after 50 to 400 ms, well inside the session timeout (it
 * re-registers with a new broker epoch while leaders still count its old fetches: KIP-903).
 */
export const ROLE_FAULT_KINDS = ['isolate-controller', 'leader-churn', 'bounce'] as const;
/**
 * `lossy`: every link resets connections at `LOSSY_RESET_RATE` per delivery for the duration (what
 * persistent packet loss does to TCP: connections die with requests and answers in flight, and
 * clients retry on new ones, so a broker that appended a batch meets its retry).
 */
export const LINK_FAULT_KINDS = ['lossy'] as const;
/**
 * Admin operations during load, through an admin client over the real codec (sim/clients.ts
 * `Admin`), on a lane of their own that overlaps node and link faults (a reassignment while a
 * replica is killed or cut off):
 * `reassign` moves a partition of the acks=all topic to `replicas` (AlterPartitionReassignments,
 * then ListPartitionReassignments until it is done, bounded) and at the step's end to
 * `thenReplicas`. Shapes: shrink to two replicas and grow back to three (the re-added replica
 * starts from an empty log and must catch up before it joins the ISR), or reorder the three (the
 * preferred leader changes; a reorder alone moves no data).
 * `recreate` deletes the `churn` topic (DeleteTopics) and at the step's end creates it again with
 * the same name (CreateTopics): a new incarnation with a new topic id (KIP-516).
 */
export const ADMIN_FAULT_KINDS = ['reassign', 'recreate'] as const;
/** Every kind but the admin ones: the default list before they existed (regression seeds pin it). */
export const PRE_ADMIN_FAULT_KINDS = [...NODE_FAULT_KINDS, ...ROLE_FAULT_KINDS, ...LINK_FAULT_KINDS] as const;
/**
 * Disk faults, one node at a time on the node lane:
 * `disk-error` makes every write of the node's disk fail for the duration (`errno`: EIO, a broken
 * disk, every mutating call; ENOSPC, a full one, writes and creations), as a failing log directory
 * does; the broker must stop (Kafka halts when its only log directory fails) or refuse the write,
 * never acknowledge what it could not write. The node is restarted at the end if it stopped.
 * `corrupt` powers the node off, damages one sector of the active segment of one of its partition
 * logs (`corruption`: file and byte offset), and restarts it after the duration: recovery must find
 * the damage (batch CRC), cut the log there and fetch the rest from the leader again. Only a
 * partition whose ISR (in the controller's image) holds another member is fair game, so the cluster
 * still holds everything committed; the Raft log, the metadata snapshots and the checkpoints are not
 * (one voter's damaged Raft log is outside Raft's fault model unless the node detects it), nor are
 * older segments, which recovery trusts below the recovery point as Kafka does (docs/simulation.md).
 */
export const DISK_FAULT_KINDS = ['disk-error', 'corrupt'] as const;
export const FAULT_KINDS = [...PRE_ADMIN_FAULT_KINDS, ...DISK_FAULT_KINDS, ...ADMIN_FAULT_KINDS] as const;
/**
 * What a seed draws from unless `--kinds` says otherwise: every kind. (`recreate` joined on
 * 2026-12-02, once followers fetched by topic id (Fetch v13, KIP-516) and seeds 35 and 45 passed;
 * before that the default was every kind but `recreate`, and the regression seeds name the kinds of
 * their day, so they replay as they failed.)
 */
export const DEFAULT_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS;
/** Per delivery, the chance a connection resets during a `lossy` step (one in twenty deliveries). */
export const LOSSY_RESET_RATE = 0.05;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The partitions `leader-churn` aims at (sim/run.ts creates them). */
export const CHURN_TARGETS: readonly string[] = ['strong-0', 'strong-1', 'weak-0', 'weak-1'];
/** The partitions `reassign` moves (the acks=all topic's, judged by every property and the queue checker). */
export const REASSIGN_TARGETS = ['strong-0', 'strong-1'] as const;
/**
 * The offsets partition (`__consumer_offsets-0`: the simulation runs one), which `leader-churn` also
 * aims at when the run has consumer groups: the group coordinator moves twice while commits wait
 * for their append (run.ts adds it only then, so older seeds keep their picks).
 */
export const OFFSETS_CHURN_TARGET = '__consumer_offsets-0';

export interface FaultStep {
  atMs: number;
  kind: FaultKind;
  /** node indexes (0-based) */
  nodes: number[];
  durationMs: number;
  jumpMs?: number;
  /** `leader-churn`: the partition (`topic-index`) whose leaders it isolates; `reassign`: the one it moves. */
  partition?: string;
  /** `reassign`: the broker ids (1-based, preferred leader first) the partition moves to at the start. */
  replicas?: number[];
  /** `reassign`: the broker ids it moves to at the step's end. */
  thenReplicas?: number[];
  /** `disk-error`: the error every failing call gets. */
  errno?: DiskErrorCode;
  /** `corrupt`: seeds the choice of partition, sector and damage when the step runs. */
  pick?: number;
  /**
   * `corrupt`: the sector damaged (path on the node's disk, a byte offset inside the sector), or
   * null when no partition was fair game; written when the step runs, so a replay of the recorded
   * schedule damages the same bytes. Absent until then.
   */
  corruption?: { file: string; offset: number } | null;
}

/**
 * What the admin fault kinds need of the run (sim/run.ts implements it with an admin client). Each
 * call starts the operation and returns at once; the operation itself is bounded.
 */
export interface AdminFaults {
  reassign(topic: string, partition: number, replicas: readonly number[]): void;
  deleteChurnTopic(): void;
  createChurnTopic(): void;
}

export interface FaultPlanOptions {
  startMs: number;
  endMs: number;
  nodes: number;
  kinds: readonly FaultKind[];
  /** The partitions `leader-churn` picks from (default `CHURN_TARGETS`). */
  churnTargets?: readonly string[];
  /** Quiet time between one fault's end and the next one's start. */
  minGapMs: number;
  maxGapMs: number;
  minDurationMs: number;
  maxDurationMs: number;
}

/** Distinct node indexes, `count` of them. */
function pickNodes(prng: Prng, nodes: number, count: number): number[] {
  const all = Array.from({ length: nodes }, (_, i) => i);
  const out: number[] = [];
  while (out.length < count && all.length > 0) out.push(all.splice(prng.int(0, all.length - 1), 1)[0]!);
  return out.sort((a, b) => a - b);
}

/**
 * The schedule: node and role faults one at a time (a lane), and, when `kinds` has link faults, those
 * on a lane of their own drawn after it (so they overlap node faults, as the harness's faults joined
 * with `+` do: a lossy network while a leader is killed or cut off).
 */
export function planFaults(prng: Prng, o: FaultPlanOptions): FaultStep[] {
  const isLink = (k: FaultKind) => (LINK_FAULT_KINDS as readonly string[]).includes(k);
  const isAdmin = (k: FaultKind) => (ADMIN_FAULT_KINDS as readonly string[]).includes(k);
  const nodeKinds = o.kinds.filter((k) => !isLink(k) && !isAdmin(k));
  const linkKinds = o.kinds.filter(isLink);
  const adminKinds = o.kinds.filter(isAdmin);
  const steps = nodeKinds.length > 0 ? planLane(prng, { ...o, kinds: nodeKinds }) : [];
  if (linkKinds.length > 0) steps.push(...planLane(prng, { ...o, kinds: linkKinds }));
  // Drawn last, so the node and link lanes of a seed are the ones it drew before admin kinds existed.
  if (adminKinds.length > 0) steps.push(...planLane(prng, { ...o, kinds: adminKinds }));
  return steps.sort((a, b) => a.atMs - b.atMs);
}

/** A random order of `ids`. */
function shuffled(prng: Prng, ids: readonly number[]): number[] {
  const rest = [...ids];
  const out: number[] = [];
  while (rest.length > 0) out.push(rest.splice(prng.int(0, rest.length - 1), 1)[0]!);
  return out;
}

/**
 * A `reassign` step's two replica sets (broker ids): half the time shrink to all but one replica
 * and grow back to all of them (in a new order), else two reorders of all of them whose preferred
 * leaders differ from each other's.
 */
function drawReassignment(prng: Prng, nodes: number): { replicas: number[]; thenReplicas: number[] } {
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  if (nodes > 1 && prng.int(0, 1) === 0) return { replicas: shuffled(prng, ids).slice(0, nodes - 1), thenReplicas: shuffled(prng, ids) };
  const replicas = shuffled(prng, ids);
  let thenReplicas = shuffled(prng, ids);
  if (nodes > 1 && thenReplicas[0] === replicas[0]) thenReplicas = [...thenReplicas.slice(1), thenReplicas[0]!];
  return { replicas, thenReplicas };
}

/** One lane: steps of `o.kinds` one after the other, each followed by a quiet gap. */
function planLane(prng: Prng, o: FaultPlanOptions): FaultStep[] {
  const steps: FaultStep[] = [];
  let t = o.startMs;
  for (;;) {
    const kind = prng.pick(o.kinds);
    const durationMs = prng.int(o.minDurationMs, o.maxDurationMs);
    if (t + durationMs > o.endMs) break;
    const minority = Math.max(1, Math.floor((o.nodes - 1) / 2));
    const count = kind === 'power' ? prng.int(1, o.nodes) : kind === 'partition' || kind === 'one-way' ? prng.int(1, minority) : 1;
    const step: FaultStep = { atMs: t, kind, nodes: pickNodes(prng, o.nodes, count), durationMs };
    if (kind === 'clock') step.jumpMs = prng.pick([-1, 1]) * prng.int(1_000, 60_000);
    if (kind === 'bounce') step.durationMs = 50 + (durationMs % 351);
    if (kind === 'leader-churn') step.partition = prng.pick(o.churnTargets ?? CHURN_TARGETS);
    if (kind === 'reassign') {
      step.partition = prng.pick(REASSIGN_TARGETS);
      Object.assign(step, drawReassignment(prng, o.nodes));
    }
    if (kind === 'disk-error') step.errno = prng.chance(1 / 3) ? 'ENOSPC' : 'EIO';
    if (kind === 'corrupt') step.pick = prng.int(0, 2 ** 31);
    steps.push(step);
    t += step.durationMs + prng.int(o.minGapMs, o.maxGapMs);
  }
  return steps;
}

export function describeStep(s: FaultStep): string {
  const who = s.nodes.map((i) => `n${i + 1}`).join('+');
  if (s.kind === 'isolate-controller') return `${(s.atMs / 1000).toFixed(1)}s isolate-controller for ${s.durationMs}ms`;
  if (s.kind === 'leader-churn') return `${(s.atMs / 1000).toFixed(1)}s leader-churn ${s.partition ?? '?'} for ${s.durationMs}ms`;
  if (s.kind === 'reassign') return `${(s.atMs / 1000).toFixed(1)}s reassign ${s.partition ?? '?'} to ${JSON.stringify(s.replicas ?? [])}, after ${s.durationMs}ms to ${JSON.stringify(s.thenReplicas ?? [])}`;
  if (s.kind === 'recreate') return `${(s.atMs / 1000).toFixed(1)}s recreate (delete the churn topic, create it again after ${s.durationMs}ms)`;
  if (s.kind === 'disk-error') return `${(s.atMs / 1000).toFixed(1)}s disk-error ${who} ${s.errno ?? 'EIO'} for ${s.durationMs}ms`;
  if (s.kind === 'corrupt') return `${(s.atMs / 1000).toFixed(1)}s corrupt ${who}${s.corruption ? ` ${s.corruption.file}@${s.corruption.offset}` : s.corruption === null ? ' (nothing fair game)' : ''} for ${s.durationMs}ms`;
  return `${(s.atMs / 1000).toFixed(1)}s ${s.kind} ${who}${s.jumpMs !== undefined ? ` ${s.jumpMs > 0 ? '+' : ''}${s.jumpMs}ms` : ''} for ${s.durationMs}ms`;
}

/**
 * Schedules every step (its start and its undoing) on the world's scheduler. Admin steps need
 * `admin`; without it they do nothing.
 */
export function scheduleFaults(world: SimWorld, steps: readonly FaultStep[], clientHosts: () => SimWorld['nodes'][number]['host'][], admin: AdminFaults | null = null): void {
  for (const s of steps) {
    const targets: SimNode[] = s.nodes.map((i) => world.nodes[i]!).filter((n) => n !== undefined);
    world.sched.at(s.atMs, null, `fault ${s.kind}`, () => {
      switch (s.kind) {
        case 'kill':
          targets.forEach((n) => world.kill(n));
          break;
        case 'power':
          targets.forEach((n) => world.powerOff(n));
          break;
        case 'partition':
        case 'one-way':
          world.isolate(targets, s.kind === 'one-way', [...world.allHosts(), ...clientHosts()]);
          break;
        case 'pause':
          targets.forEach((n) => world.pause(n));
          break;
        case 'clock':
          targets.forEach((n) => world.jumpClock(n, s.jumpMs ?? 0));
          break;
        case 'bounce':
          targets.forEach((n) => world.powerOff(n));
          break;
        case 'lossy':
          world.net.link.resetRate = LOSSY_RESET_RATE;
          break;
        case 'reassign': {
          const [topic, index] = splitPartition(s.partition ?? 'strong-0');
          admin?.reassign(topic, index, s.replicas ?? []);
          break;
        }
        case 'recreate':
          admin?.deleteChurnTopic();
          break;
        case 'disk-error':
          targets.forEach((n) => world.failDisk(n, s.errno ?? 'EIO'));
          break;
        case 'corrupt':
          targets.forEach((n) => {
            s.corruption = world.powerOffAndCorrupt(n, CHURN_TARGETS.map(splitPartition), s.corruption, s.pick ?? 0);
          });
          break;
        case 'isolate-controller':
        case 'leader-churn': {
          // Cut the role's holder off; half-way through, reconnect it and cut off its successor
          // (both then hold entries written while cut off, and the first one returns to a
          // cluster whose leader is gone: Raft's figure 8, KIP-279's second leader change).
          const [topic, index] = splitPartition(s.partition ?? 'strong-0');
          const holder = s.kind === 'isolate-controller' ? () => world.raftLeader() : () => world.partitionLeader(topic, index);
          const first = holder();
          if (first !== null) world.isolate([first], false, [...world.allHosts(), ...clientHosts()]);
          world.sched.at(s.atMs + Math.floor(s.durationMs / 2), null, `fault ${s.kind} move`, () => {
            const next = holder();
            if (next === null || next === first) return;
            world.healNetwork();
            world.isolate([next], false, [...world.allHosts(), ...clientHosts()]);
          });
          break;
        }
      }
    });
    world.sched.at(s.atMs + s.durationMs, null, `undo ${s.kind}`, () => {
      switch (s.kind) {
        case 'kill':
        case 'power':
        case 'bounce':
        case 'corrupt':
          targets.forEach((n) => world.restart(n));
          break;
        case 'disk-error':
          targets.forEach((n) => world.healDisk(n));
          break;
        case 'partition':
        case 'one-way':
        case 'isolate-controller':
        case 'leader-churn':
          world.healNetwork();
          break;
        case 'pause':
          targets.forEach((n) => world.resume(n));
          break;
        case 'lossy':
          world.net.link.resetRate = world.baseResetRate;
          break;
        case 'reassign': {
          const [topic, index] = splitPartition(s.partition ?? 'strong-0');
          admin?.reassign(topic, index, s.thenReplicas ?? []);
          break;
        }
        case 'recreate':
          admin?.createChurnTopic();
          break;
        case 'clock':
          break;
      }
    });
  }
}

function splitPartition(name: string): [string, number] {
  const dash = name.lastIndexOf('-');
  return [name.slice(0, dash), Number(name.slice(dash + 1))];
}
