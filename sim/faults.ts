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
 * runs nothing, its timers and packets wait), `clock` (the wall clock of `nodes` steps by `jumpMs`).
 */
import type { Prng } from './prng.ts';
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
export const FAULT_KINDS = [...NODE_FAULT_KINDS, ...ROLE_FAULT_KINDS, ...LINK_FAULT_KINDS] as const;
/** Per delivery, the chance a connection resets during a `lossy` step (one in twenty deliveries). */
export const LOSSY_RESET_RATE = 0.05;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The partitions `leader-churn` aims at (sim/run.ts creates them). */
export const CHURN_TARGETS: readonly string[] = ['strong-0', 'strong-1', 'weak-0', 'weak-1'];
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
  /** `leader-churn`: the partition (`topic-index`) whose leaders it isolates. */
  partition?: string;
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
    if (kind === 'leader-churn') step.partition = prng.pick(o.churnTargets ?? CHURN_TARGETS);
    steps.push(step);
    t += step.durationMs + prng.int(o.minGapMs, o.maxGapMs);
  }
  return steps;
}

export function describeStep(s: FaultStep): string {
  const who = s.nodes.map((i) => `n${i + 1}`).join('+');
  if (s.kind === 'isolate-controller') return `${(s.atMs / 1000).toFixed(1)}s isolate-controller for ${s.durationMs}ms`;
  if (s.kind === 'leader-churn') return `${(s.atMs / 1000).toFixed(1)}s leader-churn ${s.partition ?? '?'} for ${s.durationMs}ms`;
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
          targets.forEach((n) => world.restart(n));
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
