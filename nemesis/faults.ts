/**
 * The fault packages and the registry that validates `--nemesis` names.
 *
 * Registry keys (`faults`): `kill`, `stop`, `pause`, `power-loss` (target role drawn by the rng from leader,
 * controller, follower, random), `kill-<target>`, `stop-<target>`, `pause-<target>`, `power-loss-<target>` for every single
 * role and group target (minority, majority, all: types.ts), `partition` (shape drawn by the rng),
 * `partition-<shape>` for every shape and target in types.ts (`partition-follower`, `partition-random` isolate
 * the node of that role). Each key maps to a package (types.ts).
 *
 * - kill: start `kill` (SIGKILL) of the target nodes, end `restart` (same data dir).
 * - stop: start `stop` (SIGTERM, so the broker's controlled shutdown runs; SIGKILL after a grace), end
 *   `restart`. Needs a NodeStopper.
 * - pause: start `pause` (SIGSTOP), end `resume` (SIGCONT).
 * - power-loss: start `power-loss` (SIGKILL, and every write the node had not fsynced is lost: its data
 *   dir sits on the backend's lazyfs layer), end `restart`. Needs a PowerLosser and a cluster started
 *   with `powerLoss` (`needsPowerLossLayer`).
 * A group target's nodes are acted on together (concurrently), as a power cut or bad deploy would.
 * - partition-controller-link: the active controller's controller-listener links cut, broker traffic flows.
 * - packet-loss, bandwidth: every link between nodes degraded (linkFault below); end `heal`.
 * - partition: start `partition` with a grudge, end `heal`. Needs a Partitioner; at most one grudge is in
 *   force at a time (a grudge replaces the previous one), so its final generator ends with one heal.
 * Packages never touch processes or rules directly: only Backend / Partitioner methods.
 */
import { canDegrade, canPartition, canPowerLoss, canStopNode, type Backend } from '../harness/backend.ts';
import { UsageError } from '../harness/errors.ts';
import { bridge, halves, isolate, majoritiesRing } from './shapes.ts';
import { isGroupTarget, pickGroup, pickTarget } from './targets.ts';
import { groupTargets, roles as singleRoles, shapes as allShapes, type FaultPackage, type NemesisEnv, type NemesisOp, type PlanContext, type PlannedFault, type Role, type Shape } from './types.ts';

type NodeFaultKind = 'kill' | 'stop' | 'pause' | 'power-loss';
const endOf = { kill: 'restart', stop: 'restart', pause: 'resume', 'power-loss': 'restart' } as const;

/** Pure: the nodes a node fault hits now, or null when every node is busy. */
export function planNodeTargets(wanted: Role, ctx: PlanContext): { nodes: string[]; role: Role; note?: string } | null {
  if (isGroupTarget(wanted)) {
    const g = pickGroup(wanted, ctx.nodes, ctx.busy, ctx.rng);
    return g === null ? null : { nodes: g.nodes, role: wanted, ...(g.note === undefined ? {} : { note: g.note }) };
  }
  const t = pickTarget(wanted, ctx.roles, ctx.nodes, ctx.topic, ctx.busy, ctx.rng);
  return t === null ? null : { nodes: [t.node], role: t.role, ...(t.note === undefined ? {} : { note: t.note }) };
}

function nodeFault(kind: NodeFaultKind, role: Role | null): FaultPackage {
  const endF = endOf[kind];
  return {
    handles: [kind, endF],
    needsPartitioner: false,
    needsStopper: kind === 'stop',
    needsPowerLoss: kind === 'power-loss',
    generator(ctx: PlanContext): PlannedFault | null {
      const wanted = role ?? ctx.rng.pick(singleRoles);
      const t = planNodeTargets(wanted, ctx);
      if (t === null) return null;
      const value = { nodes: t.nodes, role: t.role, ...(t.note === undefined ? {} : { note: t.note }) };
      return { start: { f: kind, value }, end: { f: endF, value: { nodes: t.nodes, role: t.role } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      // several nodes at once (minority, majority, all) are hit together, as a power cut or a bad deploy would
      await Promise.all(
        op.value.nodes.map(async (node) => {
          if (op.f === 'kill') await env.backend.kill(node);
          else if (op.f === 'power-loss') {
            if (env.powerLosser === null) throw new Error('this backend cannot cut the power of a node');
            await env.powerLosser.powerLoss(node);
          }
          else if (op.f === 'stop') {
            if (env.stopper === null) throw new Error('this backend cannot stop one node gracefully');
            await env.stopper.stopNode(node);
          } else if (op.f === 'restart') await env.backend.restart(node);
          else if (op.f === 'pause') await env.backend.pause(node);
          else if (op.f === 'resume') await env.backend.resume(node);
          else throw new Error(`${kind} nemesis cannot do '${op.f}'`);
        }),
      );
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
  if (shape === 'one' || shape === 'leader' || shape === 'controller' || shape === 'follower' || shape === 'random' || shape === 'controller-link') {
    const role: Role = shape === 'one' ? 'random' : shape === 'controller-link' ? 'controller' : shape;
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
      if (op.f === 'partition') await env.partitioner.partition(op.value.grudge ?? {}, op.value.shape === 'controller-link' ? 'controller' : 'all');
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

/** Probabilities and rates a link fault draws from (recorded in the op's value). */
const lossProbabilities = [0.05, 0.2, 0.5] as const;
const ratesKbit = [32, 128, 512] as const;

/**
 * Link faults between every pair of nodes (never the harness's clients): `packet-loss` drops each packet
 * with a drawn probability (iptables statistic), `bandwidth` limits each node's traffic to the others to
 * a drawn rate (tc htb). Both end with `heal`, so they share the network lane with partitions.
 */
function linkFault(kind: 'packet-loss' | 'bandwidth'): FaultPackage {
  return {
    handles: [kind, 'heal'],
    needsPartitioner: true,
    needsDegrader: true,
    generator(ctx: PlanContext): PlannedFault | null {
      const nodes = ctx.nodes.map((n) => n.name);
      if (nodes.length < 2) return null;
      const value = kind === 'packet-loss' ? { nodes, probability: ctx.rng.pick(lossProbabilities) } : { nodes, rateKbit: ctx.rng.pick(ratesKbit) };
      return { start: { f: kind, value }, end: { f: 'heal', value: { nodes } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      if (op.f === 'heal') {
        if (env.partitioner === null) throw new Error('this backend cannot heal the network');
        await env.partitioner.heal();
        return;
      }
      if (env.degrader === null) throw new Error(`this backend cannot degrade links (${kind})`);
      if (op.f === 'packet-loss') await env.degrader.degrade({ kind: 'packet-loss', probability: op.value.probability ?? 0.2 });
      else if (op.f === 'bandwidth') await env.degrader.degrade({ kind: 'bandwidth', rateKbit: op.value.rateKbit ?? 128 });
      else throw new Error(`${kind} nemesis cannot do '${op.f}'`);
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.some((op) => op.f === 'heal') ? [{ f: 'heal', value: { nodes: [...new Set(active.flatMap((op) => op.value.nodes))].sort() } }] : [];
    },
  };
}

const nodeTargets = [...singleRoles, ...groupTargets] as const;
type NodeFaultName = NodeFaultKind | `${NodeFaultKind}-${(typeof nodeTargets)[number]}`;

function nodeFaults(kind: NodeFaultKind): Record<NodeFaultName, FaultPackage> {
  const out: Record<string, FaultPackage> = { [kind]: nodeFault(kind, null) };
  for (const t of nodeTargets) out[`${kind}-${t}`] = nodeFault(kind, t);
  return out as Record<NodeFaultName, FaultPackage>;
}

export const faults = {
  ...nodeFaults('kill'),
  ...nodeFaults('stop'),
  ...nodeFaults('pause'),
  ...nodeFaults('power-loss'),
  partition: partitionFault(null),
  'partition-one': partitionFault('one'),
  'partition-leader': partitionFault('leader'),
  'partition-controller': partitionFault('controller'),
  'partition-follower': partitionFault('follower'),
  'partition-random': partitionFault('random'),
  'partition-halves': partitionFault('halves'),
  'partition-majorities-ring': partitionFault('majorities-ring'),
  'partition-bridge': partitionFault('bridge'),
  'partition-controller-link': partitionFault('controller-link'),
  'packet-loss': linkFault('packet-loss'),
  bandwidth: linkFault('bandwidth'),
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

/** Whether these faults need the cluster started with its power-loss layer (ClusterSpec.powerLoss). */
export function needsPowerLossLayer(names: readonly string[]): boolean {
  return names.some((n) => Object.hasOwn(faults, n) && (faults[n as FaultName] as FaultPackage).needsPowerLoss === true);
}

/** Refuse faults this backend cannot inject, naming what is missing. */
export function checkFaultsSupported(names: readonly FaultName[], backend: Backend): void {
  const needPower = names.filter((n) => (faults[n] as FaultPackage).needsPowerLoss === true);
  if (needPower.length > 0 && !canPowerLoss(backend)) {
    const missing = (backend as { powerLossMissing?: readonly string[] }).powerLossMissing;
    throw new UsageError(`nemesis ${needPower.join(', ')} cannot run: ${missing !== undefined && missing.length > 0 ? `power-loss needs ${missing.join(', ')}` : `the ${backend.name} backend cannot cut a node's power`} (faultline doctor shows what this machine supports)`);
  }
  const needStop = names.filter((n) => (faults[n] as FaultPackage).needsStopper === true);
  if (needStop.length > 0 && !canStopNode(backend)) {
    throw new UsageError(`nemesis ${needStop.join(', ')} cannot run: the ${backend.name} backend cannot stop one node gracefully`);
  }
  const needDegrade = names.filter((n) => (faults[n] as FaultPackage).needsDegrader === true);
  if (needDegrade.length > 0 && canPartition(backend)) {
    const offered = (backend as { linkDegradations?: readonly string[] }).linkDegradations;
    const missing = canDegrade(backend) ? needDegrade.filter((n) => offered !== undefined && !offered.includes(n)) : needDegrade;
    if (missing.length > 0) {
      throw new UsageError(`nemesis ${missing.join(', ')} cannot run: the ${backend.name} backend cannot ${canDegrade(backend) ? 'limit bandwidth here (tc, Debian package iproute2, is missing)' : 'degrade links between nodes'}`);
    }
  }
  const needPart = names.filter((n) => faults[n].needsPartitioner);
  if (needPart.length === 0 || canPartition(backend)) return;
  const limits = (backend as { limitations?: unknown }).limitations;
  const why = Array.isArray(limits) && limits.length > 0 ? limits.join('; ') : `the ${backend.name} backend cannot partition the network here`;
  throw new UsageError(`nemesis ${needPart.join(', ')} cannot run: ${why} (faultline doctor shows what this machine supports); allowed here: ${Object.keys(faults).filter((n) => !faults[n as FaultName].needsPartitioner).join(', ')}`);
}

