/**
 * The fault schedule: a plain list of steps drawn from the seed before the run (so it can be
 * printed, stored, edited and replayed on its own: `runSeed(seed, { schedule })`). Each step starts
 * at `atMs` and is undone `durationMs` later; steps never overlap (one fault at a time, then a
 * quiet gap), and the final heal undoes anything left.
 *
 * kinds: `kill` (SIGKILL, restart after the duration), `power` (power loss of `nodes`, all at
 * once: unsynced writes lost or torn; restart after), `partition` (`nodes` cut from the rest, both
 * ways), `one-way` (only `nodes`' outbound traffic is lost), `pause` (SIGSTOP-like: the process
 * runs nothing, its timers and packets wait), `clock` (the wall clock of `nodes` steps by `jumpMs`).
 */
import type { Prng } from './prng.ts';
import type { SimNode, SimWorld } from './world.ts';

export const FAULT_KINDS = ['kill', 'power', 'partition', 'one-way', 'pause', 'clock'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultStep {
  atMs: number;
  kind: FaultKind;
  /** node indexes (0-based) */
  nodes: number[];
  durationMs: number;
  jumpMs?: number;
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

export function planFaults(prng: Prng, o: FaultPlanOptions): FaultStep[] {
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
    steps.push(step);
    t += durationMs + prng.int(o.minGapMs, o.maxGapMs);
  }
  return steps;
}

export function describeStep(s: FaultStep): string {
  const who = s.nodes.map((i) => `n${i + 1}`).join('+');
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
      }
    });
    world.sched.at(s.atMs + s.durationMs, null, `undo ${s.kind}`, () => {
      switch (s.kind) {
        case 'kill':
        case 'power':
          targets.forEach((n) => world.restart(n));
          break;
        case 'partition':
        case 'one-way':
          world.healNetwork();
          break;
        case 'pause':
          targets.forEach((n) => world.resume(n));
          break;
        case 'clock':
          break;
      }
    });
  }
}
