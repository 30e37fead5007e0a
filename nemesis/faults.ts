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
 * - corrupt, corrupt-<target>: the nodes killed, a data file of each corrupted (corruptFault below), end `restart`.
 * - disk-full, disk-full-<target>: the nodes' disks full (ENOSPC) until `disk-free` (diskFullFault below).
 * - rolling-restart: every node stopped (SIGTERM) and started in turn, waiting for recovery between
 *   (rollingRestart below); start `rolling-restart`, end `rolling-restart-end`. Needs a NodeStopper.
 * - clock, clock-<target>: a node's wall clock bumped or strobed (clockFault below), end `clock-reset`.
 *   Needs a ClockSkewer and a cluster started with `clock` (`needsClockLayer`).
 * - partition-controller-link: the active controller's controller-listener links cut, broker traffic flows.
 * - packet-loss, bandwidth: every link between nodes degraded; packet-loss-<role>, bandwidth-<role>: only
 *   the links of the node of that role (linkFault below); end `heal`.
 * - reassign: one workload partition's replicas moved during load; membership: a broker-only node added
 *   (and given a partition), then decommissioned (nemesis/cluster-ops.ts).
 * - partition: start `partition` with a grudge, end `heal`. Needs a Partitioner; at most one grudge is in
 *   force at a time (a grudge replaces the previous one), so its final generator ends with one heal.
 * Packages never touch processes or rules directly: only Backend / Partitioner methods.
 */
import { canChangeMembership, canCorrupt, canDegrade, canFillDisk, canPartition, canPowerLoss, canSkewClock, canStopNode, type Backend, type Roles } from '../harness/backend.ts';
import { membershipFault, realTime, reassignFault } from './cluster-ops.ts';
import { UsageError } from '../harness/errors.ts';
import { chooseFile, corruptModes, planCorruption } from './corrupt.ts';
import { bridge, halves, isolate, majoritiesRing, shuffle } from './shapes.ts';
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
 * Rates for one slow node's links (`bandwidth-<role>`): below what replicating the workload takes, so
 * the node lags while it stays connected, as a sick NIC or a saturated link does. Measured here: a
 * follower catching up fetched about 500 of the workload's records a second through 128 kbit/s (records
 * travel in batches, about 30 bytes each), so the untargeted fault's rates would only slow it.
 */
const oneNodeRatesKbit = [8, 16, 32] as const;

/**
 * Link faults between nodes (never the harness's clients): `packet-loss` drops each packet with a drawn
 * probability (iptables statistic), `bandwidth` limits traffic to a drawn rate (tc htb). Without a
 * target every link between two nodes is degraded; `packet-loss-<role>` and `bandwidth-<role>` degrade
 * only the links of the one node of that role, both ways (a slow or lossy node among healthy ones: a
 * follower that lags without being cut off, a leader whose followers fall behind). Like an isolation,
 * the target may be killed or paused by another lane meanwhile: a node restarting behind a slow link is
 * the point. Both end with `heal`, so they share the network lane with partitions.
 */
function linkFault(kind: 'packet-loss' | 'bandwidth', role: Role | null): FaultPackage {
  return {
    handles: [kind, 'heal'],
    needsPartitioner: true,
    needsDegrader: true,
    generator(ctx: PlanContext): PlannedFault | null {
      const names = ctx.nodes.map((n) => n.name);
      if (names.length < 2) return null;
      const drawn = kind === 'packet-loss' ? { probability: ctx.rng.pick(lossProbabilities) } : { rateKbit: ctx.rng.pick(role === null ? ratesKbit : oneNodeRatesKbit) };
      if (role === null) return { start: { f: kind, value: { nodes: names, ...drawn } }, end: { f: 'heal', value: { nodes: names } } };
      const t = pickTarget(role, ctx.roles, ctx.nodes, ctx.topic, new Set(), ctx.rng);
      if (t === null) return null;
      const value = { nodes: [t.node], role: t.role, ...drawn, ...(t.note === undefined ? {} : { note: t.note }) };
      return { start: { f: kind, value }, end: { f: 'heal', value: { nodes: [t.node], role: t.role } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      if (op.f === 'heal') {
        if (env.partitioner === null) throw new Error('this backend cannot heal the network');
        await env.partitioner.heal();
        return;
      }
      if (env.degrader === null) throw new Error(`this backend cannot degrade links (${kind})`);
      // a targeted fault degrades its node's links only; an untargeted one every link (on docker also nodes added meanwhile)
      const only = op.value.role === undefined ? {} : { nodes: op.value.nodes };
      if (op.f === 'packet-loss') await env.degrader.degrade({ kind: 'packet-loss', probability: op.value.probability ?? 0.2, ...only });
      else if (op.f === 'bandwidth') await env.degrader.degrade({ kind: 'bandwidth', rateKbit: op.value.rateKbit ?? 128, ...only });
      else throw new Error(`${kind} nemesis cannot do '${op.f}'`);
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.some((op) => op.f === 'heal') ? [{ f: 'heal', value: { nodes: [...new Set(active.flatMap((op) => op.value.nodes))].sort() } }] : [];
    },
  };
}

/** Offsets a clock fault draws from (ms; each with either sign): small skews up to an hour's jump. */
const clockDeltasMs = [250, 2_000, 15_000, 120_000, 3_600_000] as const;
/** How often a strobed clock flips (Jepsen's strobe-time flips every few ms to a second). */
const strobePeriodsMs = [20, 200, 1_000] as const;

/**
 * Clock faults (Jepsen's bump-time and strobe-time), on the target nodes' wall clocks only (the
 * monotonic clock, and so every timer, runs on: harness/backends/faketime.ts says why):
 * - `clock-bump`: the wall clock jumps by deltaMs (either sign) and stays off;
 * - `clock-strobe`: the wall clock flips between real time and real time + deltaMs every periodMs.
 * Both end with `clock-reset` (the true time again). The mode, delta and period are drawn by the rng
 * and recorded in the op. A node whose clock is off stays free for node faults of other lanes
 * (`sharesNodes`): a skewed node may also be killed, and it restarts with its clock still off. Two
 * clock lanes (`clock+clock-leader`) never skew one node at once (`PlanContext.shared`).
 */
function clockFault(role: Role | null): FaultPackage {
  return {
    handles: ['clock-bump', 'clock-strobe', 'clock-reset'],
    needsPartitioner: false,
    needsClock: true,
    sharesNodes: true,
    generator(ctx: PlanContext): PlannedFault | null {
      const wanted = role ?? ctx.rng.pick(singleRoles);
      // other lanes' killed or paused nodes are fair game; a node another clock lane holds off is not
      const t = planNodeTargets(wanted, { ...ctx, busy: ctx.shared });
      if (t === null) return null;
      const strobe = ctx.rng.next() < 0.5;
      const deltaMs = ctx.rng.pick(clockDeltasMs) * (ctx.rng.next() < 0.5 ? -1 : 1);
      const value = { nodes: t.nodes, role: t.role, deltaMs, ...(strobe ? { periodMs: ctx.rng.pick(strobePeriodsMs) } : {}), ...(t.note === undefined ? {} : { note: t.note }) };
      return { start: { f: strobe ? 'clock-strobe' : 'clock-bump', value }, end: { f: 'clock-reset', value: { nodes: t.nodes, role: t.role } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      const clock = env.clock;
      if (clock === null) throw new Error('this backend cannot change a node\'s clock');
      // a node decommissioned meanwhile (membership) took its clock with it: nothing to reset there
      const present = new Set(env.backend.nodes().map((n) => n.name));
      await Promise.all(
        op.value.nodes.filter((node) => op.f !== 'clock-reset' || present.has(node)).map(async (node) => {
          if (op.f === 'clock-bump') await clock.setClockOffset(node, op.value.deltaMs ?? 0);
          else if (op.f === 'clock-strobe') await clock.strobeClock(node, op.value.deltaMs ?? 0, op.value.periodMs ?? 200);
          else if (op.f === 'clock-reset') await clock.setClockOffset(node, 0);
          else throw new Error(`clock nemesis cannot do '${op.f}'`);
        }),
      );
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.filter((op) => op.f === 'clock-reset');
    },
  };
}

/**
 * `disk-full`, `disk-full-<target>`: the target nodes' data directories run out of space (every write
 * that needs space fails with ENOSPC; the backend's disk layer) until `disk-free`, which frees it and
 * starts again a broker that exited meanwhile (the op's note says so). A broker must not acknowledge
 * what it could not write. Needs a DiskFiller and a cluster started with `diskFull` (`needsDiskLayer`).
 */
function diskFullFault(role: Role | null): FaultPackage {
  return {
    handles: ['disk-full', 'disk-free'],
    needsPartitioner: false,
    needsDiskFull: true,
    generator(ctx: PlanContext): PlannedFault | null {
      const t = planNodeTargets(role ?? ctx.rng.pick(singleRoles), ctx);
      if (t === null) return null;
      const value = { nodes: t.nodes, role: t.role, ...(t.note === undefined ? {} : { note: t.note }) };
      return { start: { f: 'disk-full', value }, end: { f: 'disk-free', value: { nodes: t.nodes, role: t.role } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      const disk = env.disk;
      if (disk === null) throw new Error('this backend cannot fill a node\'s disk');
      if (op.f === 'disk-full') await Promise.all(op.value.nodes.map((n) => disk.fillDisk(n)));
      else if (op.f === 'disk-free') {
        const again = await Promise.all(op.value.nodes.map(async (n) => ((await disk.freeDisk(n)) ? n : null)));
        const back = again.filter((n): n is string => n !== null);
        // recorded with the op: which brokers had exited while their disk was full
        if (back.length > 0) op.value.note = `restarted ${back.join(',')} (exited while the disk was full)`;
      } else throw new Error(`disk-full nemesis cannot do '${op.f}'`);
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.filter((op) => op.f === 'disk-free');
    },
  };
}

/**
 * `corrupt`, `corrupt-<target>`: each target node is killed (SIGKILL, so it writes nothing more), one of
 * its data files is corrupted (bit flips or a truncation, chosen from the drawn numbers by
 * nemesis/corrupt.ts, so the same schedule hits the same bytes), and it restarts at the fault's end on
 * the corrupted data. The action records in `corruption.files` which file of each node it changed and
 * how. A correct broker detects the damage (CRCs, index sanity checks, checkpoint parsing) and repairs it
 * from its replicas; acknowledged acks=all writes survive one corrupted replica.
 */
function corruptFault(role: Role | null): FaultPackage {
  return {
    handles: ['corrupt', 'restart'],
    needsPartitioner: false,
    needsCorrupter: true,
    generator(ctx: PlanContext): PlannedFault | null {
      const t = planNodeTargets(role ?? ctx.rng.pick(singleRoles), ctx);
      if (t === null) return null;
      const corruption = { mode: ctx.rng.pick(corruptModes), classPick: ctx.rng.int(0x7fffffff), filePick: ctx.rng.int(0x7fffffff), pick: ctx.rng.int(0x7fffffff) };
      const value = { nodes: t.nodes, role: t.role, corruption, ...(t.note === undefined ? {} : { note: t.note }) };
      return { start: { f: 'corrupt', value }, end: { f: 'restart', value: { nodes: t.nodes, role: t.role } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      if (op.f === 'restart') {
        await Promise.all(op.value.nodes.map((n) => env.backend.restart(n)));
        return;
      }
      if (op.f !== 'corrupt') throw new Error(`corrupt nemesis cannot do '${op.f}'`);
      const corrupter = env.corrupter;
      const c = op.value.corruption;
      if (corrupter === null) throw new Error('this backend cannot change a node\'s data files');
      if (c === undefined) throw new Error('a corrupt op needs its drawn corruption');
      const files: Record<string, string> = {};
      await Promise.all(
        op.value.nodes.map(async (node) => {
          await env.backend.kill(node);
          const file = chooseFile(await corrupter.dataFiles(node), c.classPick, c.filePick);
          if (file === null) {
            files[node] = 'no data file to corrupt';
            return;
          }
          const plan = planCorruption(file.sizeBytes, c.mode, c.pick);
          if (plan.mode === 'truncate') {
            await corrupter.truncateFile(node, file.path, plan.toBytes);
            files[node] = `${file.path} (${file.class}) truncated ${file.sizeBytes} -> ${plan.toBytes} bytes`;
          } else {
            await corrupter.flipBits(node, file.path, plan.flips);
            files[node] = `${file.path} (${file.class}, ${file.sizeBytes} bytes) bits flipped at ${plan.flips.map((f) => `${f.offset}.${f.bit}`).join(' ')}`;
          }
        }),
      );
      c.files = files; // recorded with the op (exec records the value after the action)
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.filter((op) => op.f === 'restart');
    },
  };
}

/** How long a rolling restart waits for a restarted node to rejoin every ISR before it halts the roll. */
const rollRecoverTimeoutMs = 30_000;
const rollPollMs = 250;

/**
 * Pure: whether node `id` has recovered: every partition of `topic` has a leader, and every partition
 * it replicates has it in the ISR again. Unknown roles are not recovered.
 */
export function rejoined(roles: Roles | null, id: number, topic: string): boolean {
  if (roles === null) return false;
  const keys = Object.keys(roles.replicas).filter((k) => k.startsWith(`${topic}-`) && /^\d+$/.test(k.slice(topic.length + 1)));
  if (keys.length === 0) return false;
  return keys.every((k) => (roles.leaders[k] ?? -1) >= 0 && (!roles.replicas[k]!.replicas.includes(id) || roles.replicas[k]!.isr.includes(id)));
}

/**
 * `rolling-restart` (an operator's deploy): every node in turn, in an order drawn by the rng, is stopped
 * gracefully (SIGTERM: the broker's controlled shutdown moves its leaderships away first) and started
 * again, and the roll waits until it has recovered (rejoined above, bounded by rollRecoverTimeoutMs)
 * before the next node; a node that does not recover halts the roll, as an operator would. The start op
 * `rolling-restart` {nodes: the order} and the end op `rolling-restart-end` bracket the roll, each
 * node's `stop` and `restart` are recorded as they happen (note: `rolling-restart k/n`). Every node is
 * busy for other lanes' node faults during the roll, and the roll waits for a moment when none is.
 */
function rollingRestart(): FaultPackage {
  return {
    handles: ['rolling-restart', 'rolling-restart-end'],
    needsPartitioner: false,
    needsStopper: true,
    generator(ctx: PlanContext): PlannedFault | null {
      if (ctx.nodes.some((n) => ctx.busy.has(n.name))) return null;
      const order = shuffle(ctx.nodes.map((n) => n.name), ctx.rng);
      return { start: { f: 'rolling-restart', value: { nodes: order, role: 'all' } }, end: { f: 'rolling-restart-end', value: { nodes: order, role: 'all' } } };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      if (op.f !== 'rolling-restart' && op.f !== 'rolling-restart-end') throw new Error(`rolling-restart nemesis cannot do '${op.f}'`);
      if (env.stopper === null) throw new Error('this backend cannot stop one node gracefully');
    },
    async during(start: NemesisOp, env: NemesisEnv, signal: AbortSignal): Promise<void> {
      const stopper = env.stopper;
      if (stopper === null) throw new Error('this backend cannot stop one node gracefully');
      const order = start.value.nodes;
      for (const [i, node] of order.entries()) {
        if (signal.aborted) return;
        const note = `rolling-restart ${i + 1}/${order.length}`;
        await stopper.stopNode(node);
        env.record({ f: 'stop', value: { nodes: [node], role: 'all', note } });
        // once stopped, the node is started again even when the schedule is ending: the roll never leaves a node down.
        // The restart is recorded even when it threw (a readiness timeout leaves the process starting, so
        // the node may be up after all): a history that keeps it down would judge acks against a wrong count.
        try {
          await env.backend.restart(node);
        } catch (err) {
          env.record({ f: 'restart', value: { nodes: [node], role: 'all', note, error: err instanceof Error ? err.message : String(err) } });
          throw err;
        }
        env.record({ f: 'restart', value: { nodes: [node], role: 'all', note } });
        const id = env.backend.nodes().find((n) => n.name === node)?.id ?? -1;
        const time = env.time ?? realTime;
        const deadline = time.nowMs() + rollRecoverTimeoutMs;
        while (!rejoined(await env.roles(), id, env.topic)) {
          if (signal.aborted) return;
          if (time.nowMs() > deadline) throw new Error(`${node} did not rejoin every ISR of ${env.topic} within ${rollRecoverTimeoutMs} ms; roll halted after ${i + 1} of ${order.length} nodes`);
          await time.sleep(rollPollMs, signal);
        }
      }
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.filter((op) => op.f === 'rolling-restart-end');
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
  'rolling-restart': rollingRestart(),
  corrupt: corruptFault(null),
  ...(Object.fromEntries(nodeTargets.map((t) => [`corrupt-${t}`, corruptFault(t)])) as Record<`corrupt-${(typeof nodeTargets)[number]}`, FaultPackage>),
  'disk-full': diskFullFault(null),
  ...(Object.fromEntries(nodeTargets.map((t) => [`disk-full-${t}`, diskFullFault(t)])) as Record<`disk-full-${(typeof nodeTargets)[number]}`, FaultPackage>),
  clock: clockFault(null),
  ...(Object.fromEntries(nodeTargets.map((t) => [`clock-${t}`, clockFault(t)])) as Record<`clock-${(typeof nodeTargets)[number]}`, FaultPackage>),
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
  'packet-loss': linkFault('packet-loss', null),
  ...(Object.fromEntries(singleRoles.map((t) => [`packet-loss-${t}`, linkFault('packet-loss', t)])) as Record<`packet-loss-${(typeof singleRoles)[number]}`, FaultPackage>),
  bandwidth: linkFault('bandwidth', null),
  ...(Object.fromEntries(singleRoles.map((t) => [`bandwidth-${t}`, linkFault('bandwidth', t)])) as Record<`bandwidth-${(typeof singleRoles)[number]}`, FaultPackage>),
  reassign: reassignFault(),
  membership: membershipFault(),
} as const satisfies Record<string, FaultPackage>;

export type FaultName = keyof typeof faults;

/** Validate fault names (the `--nemesis` list; `none` or empty means no faults). */
/** Fault names, validated; a repeat is dropped (one lane per fault) unless `keepRepeats` (a sequence). */
export function parseFaults(names: readonly string[], keepRepeats = false): FaultName[] {
  const out: FaultName[] = [];
  for (const raw of names) {
    const name = raw.trim();
    if (name === '' || name === 'none') continue;
    if (!Object.hasOwn(faults, name)) throw new UsageError(`unknown nemesis fault '${name}'; allowed: none, ${Object.keys(faults).join(', ')}`);
    if (keepRepeats || !out.includes(name as FaultName)) out.push(name as FaultName);
  }
  return out;
}

/** Whether these faults need the cluster started with its power-loss layer (ClusterSpec.powerLoss). */
export function needsPowerLossLayer(names: readonly string[]): boolean {
  return names.some((n) => Object.hasOwn(faults, n) && (faults[n as FaultName] as FaultPackage).needsPowerLoss === true);
}

/** Whether these faults need the cluster started with its disk layer (ClusterSpec.diskFull). */
export function needsDiskLayer(names: readonly string[]): boolean {
  return names.some((n) => Object.hasOwn(faults, n) && (faults[n as FaultName] as FaultPackage).needsDiskFull === true);
}

/** Whether these faults need the cluster started with its clock layer (ClusterSpec.clock). */
export function needsClockLayer(names: readonly string[]): boolean {
  return names.some((n) => Object.hasOwn(faults, n) && (faults[n as FaultName] as FaultPackage).needsClock === true);
}

/** Whether these faults add nodes to the running cluster (a system definition needs `brokerOnly`). */
export function needsMembership(names: readonly string[]): boolean {
  return names.some((n) => Object.hasOwn(faults, n) && (faults[n as FaultName] as FaultPackage).needsMembership === true);
}

/** Refuse faults this backend cannot inject, naming what is missing. */
export function checkFaultsSupported(names: readonly FaultName[], backend: Backend): void {
  const needPower = names.filter((n) => (faults[n] as FaultPackage).needsPowerLoss === true);
  if (needPower.length > 0 && !canPowerLoss(backend)) {
    const missing = (backend as { powerLossMissing?: readonly string[] }).powerLossMissing;
    throw new UsageError(`nemesis ${needPower.join(', ')} cannot run: ${missing !== undefined && missing.length > 0 ? `power-loss needs ${missing.join(', ')}` : `the ${backend.name} backend cannot cut a node's power`} (faultline doctor shows what this machine supports)`);
  }
  const needCorrupt = names.filter((n) => (faults[n] as FaultPackage).needsCorrupter === true);
  if (needCorrupt.length > 0 && !canCorrupt(backend)) throw new UsageError(`nemesis ${needCorrupt.join(', ')} cannot run: the ${backend.name} backend cannot change a node's data files`);
  const needDisk = names.filter((n) => (faults[n] as FaultPackage).needsDiskFull === true);
  if (needDisk.length > 0 && !canFillDisk(backend)) {
    const missing = (backend as { diskFullMissing?: readonly string[] }).diskFullMissing;
    throw new UsageError(`nemesis ${needDisk.join(', ')} cannot run: ${missing !== undefined && missing.length > 0 ? `disk-full needs ${missing.join(', ')}` : `the ${backend.name} backend cannot fill a node's disk`} (faultline doctor shows what this machine supports)`);
  }
  const needClock = names.filter((n) => (faults[n] as FaultPackage).needsClock === true);
  if (needClock.length > 0 && !canSkewClock(backend)) {
    const missing = (backend as { clockMissing?: readonly string[] }).clockMissing;
    throw new UsageError(`nemesis ${needClock.join(', ')} cannot run: ${missing !== undefined && missing.length > 0 ? `clock faults need ${missing.join(', ')}` : `the ${backend.name} backend cannot change a node's clock`} (faultline doctor shows what this machine supports)`);
  }
  const needMembers = names.filter((n) => (faults[n] as FaultPackage).needsMembership === true);
  if (needMembers.length > 0 && !canChangeMembership(backend)) {
    throw new UsageError(`nemesis ${needMembers.join(', ')} cannot run: the ${backend.name} backend cannot add or remove nodes of a running cluster (the local backend can; faultline doctor shows what this machine supports)`);
  }
  const needStop = names.filter((n) => (faults[n] as FaultPackage).needsStopper === true);
  if (needStop.length > 0 && !canStopNode(backend)) {
    throw new UsageError(`nemesis ${needStop.join(', ')} cannot run: the ${backend.name} backend cannot stop one node gracefully`);
  }
  const needDegrade = names.filter((n) => (faults[n] as FaultPackage).needsDegrader === true);
  if (needDegrade.length > 0 && canPartition(backend)) {
    const offered = (backend as { linkDegradations?: readonly string[] }).linkDegradations;
    // a targeted name (bandwidth-follower) needs what its kind needs
    const missing = canDegrade(backend) ? needDegrade.filter((n) => offered !== undefined && !offered.includes(n.startsWith('bandwidth') ? 'bandwidth' : 'packet-loss')) : needDegrade;
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

