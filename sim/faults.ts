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
export const FAULT_KINDS = [...NODE_FAULT_KINDS, ...ROLE_FAULT_KINDS, ...LINK_FAULT_KINDS, ...DISK_FAULT_KINDS] as const;

/** Per delivery, the chance a connection resets during a `lossy` step (one in twenty deliveries). */
export const LOSSY_RESET_RATE = 0.05;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The partitions `leader-churn` aims at (sim/run.ts creates them). */
export const CHURN_TARGETS = ['strong-0', 'strong-1', 'weak-0', 'weak-1'] as const;

export interface FaultStep {
  atMs: number;
  kind: FaultKind;
  /** node indexes (0-based) */
  nodes: number[];
  durationMs: number;
  jumpMs?: number;
  /** `leader-churn`: the partition (`topic-index`) whose leaders it isolates. */
  partition?: string;
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

export interface FaultPlanOptions {
  startMs: number;
  endMs: number;
  nodes: number;
  kinds: readonly FaultKind[];
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
  const nodeKinds = o.kinds.filter((k) => !(LINK_FAULT_KINDS as readonly string[]).includes(k));
  const linkKinds = o.kinds.filter((k) => (LINK_FAULT_KINDS as readonly string[]).includes(k));
  const steps = nodeKinds.length > 0 ? planLane(prng, { ...o, kinds: nodeKinds }) : [];
  if (linkKinds.length > 0) steps.push(...planLane(prng, { ...o, kinds: linkKinds }));
  return steps.sort((a, b) => a.atMs - b.atMs);
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
    if (kind === 'leader-churn') step.partition = prng.pick(CHURN_TARGETS);
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
  if (s.kind === 'disk-error') return `${(s.atMs / 1000).toFixed(1)}s disk-error ${who} ${s.errno ?? 'EIO'} for ${s.durationMs}ms`;
  if (s.kind === 'corrupt') return `${(s.atMs / 1000).toFixed(1)}s corrupt ${who}${s.corruption ? ` ${s.corruption.file}@${s.corruption.offset}` : s.corruption === null ? ' (nothing fair game)' : ''} for ${s.durationMs}ms`;
  return `${(s.atMs / 1000).toFixed(1)}s ${s.kind} ${who}${s.jumpMs !== undefined ? ` ${s.jumpMs > 0 ? '+' : ''}${s.jumpMs}ms` : ''} for ${s.durationMs}ms`;
}

/** Schedules every step (its start and its undoing) on the world's scheduler. */
export function scheduleFaults(world: SimWorld, steps: readonly FaultStep[], clientHosts: () => SimWorld['nodes'][number]['host'][]): void {
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
        case 'disk-error':
          targets.forEach((n) => world.failDisk(n, s.errno ?? 'EIO'));
          break;
        case 'corrupt':
          targets.forEach((n) => {
            s.corruption = world.powerOffAndCorrupt(n, CHURN_TARGETS.map(splitPartition), s.corruption, new Prng(s.pick ?? 0));
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
