/**
 * The fault packages and the registry that validates `--nemesis` names.
 *
 * Registry keys (`faults`): `kill`, `pause` (target role drawn by the rng from leader, controller,
 * follower, random), `kill-<role>`, `pause-<role>` (fixed role), `partition` (shape drawn by the rng),
 * `partition-<shape>` for every shape in shapes.ts. Each key maps to a package (types.ts).
 *
 * - kill: start `kill` (SIGKILL) of one node, end `restart` (same data dir).
 * - pause: start `pause` (SIGSTOP), end `resume` (SIGCONT).
 * - partition: start `partition` with a grudge, end `heal`. Needs a Partitioner; at most one grudge is in
 *   force at a time (a grudge replaces the previous one), so its final generator ends with one heal.
 * Packages never touch processes or rules directly: only Backend / Partitioner methods.
 */
import { canPartition, type Backend } from '../harness/backend.ts';
import { UsageError } from '../harness/errors.ts';
import { bridge, halves, isolate, majoritiesRing } from './shapes.ts';
import { pickTarget } from './targets.ts';
import { roles as allRoles, shapes as allShapes, type FaultPackage, type NemesisEnv, type NemesisOp, type PlanContext, type PlannedFault, type Role, type Shape } from './types.ts';

function processFault(kind: 'kill' | 'pause', role: Role | null): FaultPackage {
  const endF = kind === 'kill' ? 'restart' : 'resume';
  return {
    handles: [kind, endF],
    needsPartitioner: false,
    generator(ctx: PlanContext): PlannedFault | null {
      const wanted = role ?? ctx.rng.pick(allRoles);
      const t = pickTarget(wanted, ctx.roles, ctx.nodes, ctx.topic, ctx.busy, ctx.rng);
      if (t === null) return null;
      const value = { nodes: [t.node], role: t.role, ...(t.note === undefined ? {} : { note: t.note }) };
      return { start: { f: kind, value }, end: { f: endF, value: { nodes: [t.node], role: t.role } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      for (const node of op.value.nodes) {
        if (op.f === 'kill') await env.backend.kill(node);
        else if (op.f === 'restart') await env.backend.restart(node);
        else if (op.f === 'pause') await env.backend.pause(node);
        else if (op.f === 'resume') await env.backend.resume(node);
        else throw new Error(`${kind} nemesis cannot do '${op.f}'`);
      }
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.filter((op) => op.f === endF);
    },
  };
}

/** Pure: the grudge for a shape, or null (with the reason) when the shape cannot apply now. */
export function planPartition(shape: Shape, ctx: PlanContext): { grudge: NonNullable<ReturnType<typeof halves>>; nodes: string[]; role?: Role; note?: string } | { skip: string } {
  const names = ctx.nodes.map((n) => n.name);
  if (names.length < 2) return { skip: 'a partition needs at least 2 nodes' };
  if (shape === 'one' || shape === 'leader' || shape === 'controller') {
    const role: Role = shape === 'one' ? 'random' : shape;
    // isolating a node does not care whether it is busy (killed or paused) elsewhere
    const t = pickTarget(role, ctx.roles, ctx.nodes, ctx.topic, new Set(), ctx.rng);
    if (t === null) return { skip: 'no node to isolate' };
    return { grudge: isolate(t.node, names), nodes: [t.node], role: t.role, ...(t.note === undefined ? {} : { note: t.note }) };
  }
  const g = shape === 'halves' ? halves(names, ctx.rng) : shape === 'majorities-ring' ? majoritiesRing(names, ctx.rng) : bridge(names, ctx.rng);
  if (g === null) return { skip: `shape ${shape} needs more nodes than ${names.length}` };
  return { grudge: g, nodes: Object.keys(g).sort() };
}

function partitionFault(shape: Shape | null): FaultPackage {
  return {
    handles: ['partition', 'heal'],
    needsPartitioner: true,
    generator(ctx: PlanContext): PlannedFault | null {
      const s = shape ?? ctx.rng.pick(allShapes);
      const p = planPartition(s, ctx);
      if ('skip' in p) return null;
      const value = { nodes: p.nodes, shape: s, grudge: p.grudge, ...(p.role === undefined ? {} : { role: p.role }), ...(p.note === undefined ? {} : { note: p.note }) };
      return { start: { f: 'partition', value }, end: { f: 'heal', value: { nodes: p.nodes, shape: s } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      if (env.partitioner === null) throw new Error('this backend cannot partition the network');
      if (op.f === 'partition') await env.partitioner.partition(op.value.grudge ?? {});
      else if (op.f === 'heal') await env.partitioner.heal();
      else throw new Error(`partition nemesis cannot do '${op.f}'`);
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      const heals = active.filter((op) => op.f === 'heal');
      if (heals.length === 0) return [];
      return [{ f: 'heal', value: { nodes: [...new Set(heals.flatMap((h) => h.value.nodes))].sort(), shape: heals[heals.length - 1]!.value.shape ?? 'one' } }];
    },
  };
}

export const faults = {
  kill: processFault('kill', null),
  'kill-leader': processFault('kill', 'leader'),
  'kill-controller': processFault('kill', 'controller'),
  'kill-follower': processFault('kill', 'follower'),
  'kill-random': processFault('kill', 'random'),
  pause: processFault('pause', null),
  'pause-leader': processFault('pause', 'leader'),
  'pause-controller': processFault('pause', 'controller'),
  'pause-follower': processFault('pause', 'follower'),
  'pause-random': processFault('pause', 'random'),
  partition: partitionFault(null),
  'partition-one': partitionFault('one'),
  'partition-leader': partitionFault('leader'),
  'partition-controller': partitionFault('controller'),
  'partition-halves': partitionFault('halves'),
  'partition-majorities-ring': partitionFault('majorities-ring'),
  'partition-bridge': partitionFault('bridge'),
} as const satisfies Record<string, FaultPackage>;

export type FaultName = keyof typeof faults;

/** Validate fault names (the `--nemesis` list; `none` or empty means no faults). */
export function parseFaults(names: readonly string[]): FaultName[] {
  const out: FaultName[] = [];
  for (const raw of names) {
    const name = raw.trim();
    if (name === '' || name === 'none') continue;
    if (!Object.hasOwn(faults, name)) throw new UsageError(`unknown nemesis fault '${name}'; allowed: none, ${Object.keys(faults).join(', ')}`);
    if (!out.includes(name as FaultName)) out.push(name as FaultName);
  }
  return out;
}

/** Refuse faults this backend cannot inject, naming what is missing. */
export function checkFaultsSupported(names: readonly FaultName[], backend: Backend): void {
  const needPart = names.filter((n) => faults[n].needsPartitioner);
  if (needPart.length === 0 || canPartition(backend)) return;
  const limits = (backend as { limitations?: unknown }).limitations;
  const why = Array.isArray(limits) && limits.length > 0 ? limits.join('; ') : `the ${backend.name} backend cannot partition the network here`;
  throw new UsageError(`nemesis ${needPart.join(', ')} cannot run: ${why} (faultline doctor shows what this machine supports); allowed here: ${Object.keys(faults).filter((n) => !faults[n as FaultName].needsPartitioner).join(', ')}`);
}

