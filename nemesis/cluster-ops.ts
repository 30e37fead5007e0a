/**
 * Cluster operations as faults (design.md "Nemesis names": `reassign`, `membership`): what an operator
 * does to a running cluster, done during the load, through the Kafka admin APIs (ClusterAdmin) and,
 * for membership, the backend's MembershipChanger. Each runs on its own lane.
 *
 * `reassign` (Kafka's AlterPartitionReassignments, KIP-455): one partition of the workload topic
 * (drawn) gets a new replica list of the same length, drawn among the live brokers (nodes under another
 * lane's node fault are left out, so the move can complete). With more live brokers than replicas the
 * new list holds a broker outside the old one; otherwise only the order changes (`note` says so).
 *   start `reassign` {nodes, ids: the new list, reassignment: {key, from, to, accepted}}
 *   the fault's period is the move itself: it waits (bounded by reassignTimeoutMs) until the
 *   controller lists no reassignment of the partition and the metadata shows the new replica list;
 *   end `reassign-done` {..., reassignment.observed: replicas, ISR and leader then}. The end is
 *   recorded only once the move is complete (an end action that cannot see it complete within the
 *   bound fails and is recorded with `error`; the fault then stays active and the final generator
 *   waits again). A reassignment the cluster refused (the start's `error`) ends at once, observed as is.
 *
 * `membership` (Kafka: a new broker registers with the controller as a broker-only node; decommission
 * = move its replicas away, shut it down, unregister it):
 *   start `add-broker` {nodes: [new node], ids: [its id], reassignment}: the backend starts a
 *   broker-only node with a fresh id; once the cluster lists it as a live broker, one workload partition
 *   (drawn) is moved onto it, replacing its leader, with the new broker first, so the new broker ends
 *   up leading it: it takes writes and serves reads for the rest of the fault;
 *   end `decommission` {nodes, ids, moves}: every partition (of every topic) with a replica on the
 *   broker is moved to a live broker that holds none of it (waiting for each move), the node is
 *   stopped (SIGTERM: controlled shutdown) and removed, and the broker is unregistered
 *   (UnregisterBroker); done once the cluster no longer lists it.
 *   The added node counts as busy for other lanes' node faults for the whole fault (they never kill a
 *   node that is being decommissioned).
 */
import type { NodeInfo } from '../harness/backend.ts';
import type { ClusterAdmin, PartitionInfo } from '../harness/backends/admin.ts';
import { sleep } from '../harness/util/time.ts';
import { shuffle } from './shapes.ts';
import type { FaultPackage, NemesisEnv, NemesisOp, NemesisTime, PlanContext, PlannedFault, Reassignment } from './types.ts';

/** The real clock and sleep (NemesisEnv.time's default). */
export const realTime: NemesisTime = { nowMs: () => performance.now(), sleep: (ms, signal) => sleep(ms, signal) };
const timeOf = (env: NemesisEnv): NemesisTime => env.time ?? realTime;

/** How long a move may take before the nemesis calls it stuck (a partition's new replica catching up under load). */
export const reassignTimeoutMs = 20_000;
/** How long an added broker may take to show up as live in the cluster's metadata. */
export const joinTimeoutMs = 30_000;
const pollMs = 200;

function splitKey(key: string): { topic: string; partition: number } {
  const dash = key.lastIndexOf('-');
  return { topic: key.slice(0, dash), partition: Number(key.slice(dash + 1)) };
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function topicKeys(ctx: PlanContext): string[] {
  const r = ctx.roles;
  if (r === null) return [];
  const t = ctx.topic;
  return Object.keys(r.replicas)
    .filter((k) => k.startsWith(`${t}-`) && /^\d+$/.test(k.slice(t.length + 1)))
    .sort((a, b) => Number(a.slice(t.length + 1)) - Number(b.slice(t.length + 1)));
}

/**
 * Pure: the move a `reassign` fault makes now, or null when it cannot act (roles unknown, fewer free
 * brokers than replicas). Deterministic given the rng state, roles, nodes and busy set.
 */
export function planReassignment(ctx: PlanContext): { reassignment: Reassignment; nodes: string[]; note?: string } | null {
  const keys = topicKeys(ctx);
  if (keys.length === 0 || ctx.roles === null) return null;
  const key = ctx.rng.pick(keys);
  const from = [...ctx.roles.replicas[key]!.replicas];
  const live = ctx.nodes.filter((n) => !ctx.busy.has(n.name)).map((n) => n.id).sort((a, b) => a - b);
  if (from.length === 0 || live.length < from.length) return null;
  let to = shuffle(live, ctx.rng).slice(0, from.length);
  if (sameList(to, from)) {
    if (to.length < 2) return null;
    to = [...to.slice(1), to[0]!];
  }
  const names = to.map((id) => ctx.nodes.find((n) => n.id === id)!.name);
  const sameSet = to.every((id) => from.includes(id));
  return { reassignment: { key, from, to }, nodes: names, ...(sameSet ? { note: 'same brokers in a new order: no live broker outside the replica list' } : {}) };
}

function adminOf(env: NemesisEnv): ClusterAdmin {
  if (env.admin === undefined) throw new Error('this nemesis has no admin client for cluster operations');
  return env.admin;
}

/**
 * Waits (bounded) until `key` has no reassignment in progress in the controller's view and the
 * metadata shows exactly `to` as its replica list; returns what the metadata showed, or null on timeout
 * or abort (errors while asking count as "not yet").
 */
export async function waitForMove(admin: ClusterAdmin, key: string, to: readonly number[], timeoutMs: number, signal?: AbortSignal, time: NemesisTime = realTime): Promise<PartitionInfo | null> {
  const { topic, partition } = splitKey(key);
  const deadline = time.nowMs() + timeoutMs;
  for (;;) {
    try {
      const ongoing = (await admin.reassignments()).some((r) => r.topic === topic && r.partition === partition);
      if (!ongoing) {
        const p = (await admin.describe([topic])).partitions.find((x) => x.topic === topic && x.partition === partition);
        if (p !== undefined && sameList(p.replicas, to)) return p;
      }
    } catch {
      // a node or the controller unreachable right now: ask again until the deadline
    }
    if (signal?.aborted === true || time.nowMs() >= deadline) return null;
    await time.sleep(pollMs, signal);
  }
}

/** What the cluster shows for `key` now (for the record), or undefined when nobody answers. */
async function observe(admin: ClusterAdmin, key: string): Promise<PartitionInfo | undefined> {
  const { topic, partition } = splitKey(key);
  try {
    return (await admin.describe([topic])).partitions.find((x) => x.topic === topic && x.partition === partition);
  } catch {
    return undefined;
  }
}

const observed = (p: PartitionInfo): NonNullable<Reassignment['observed']> => ({ replicas: [...p.replicas], isr: [...p.isr], leader: p.leader });

/** Starts the move and waits for it; throws (with what the cluster shows) when it does not complete in time. */
async function moveAndWait(admin: ClusterAdmin, r: Reassignment, timeoutMs: number, time: NemesisTime): Promise<void> {
  const { topic, partition } = splitKey(r.key);
  await admin.reassign(topic, partition, r.to);
  r.accepted = true;
  const p = await waitForMove(admin, r.key, r.to, timeoutMs, undefined, time);
  if (p === null) throw await stuck(admin, r, timeoutMs);
  r.observed = observed(p);
}

async function stuck(admin: ClusterAdmin, r: Reassignment, timeoutMs: number): Promise<Error> {
  const now = await observe(admin, r.key);
  return new Error(`${r.key} not moved to [${r.to.join(',')}] within ${timeoutMs} ms${now === undefined ? '' : `: replicas [${now.replicas.join(',')}], isr [${now.isr.join(',')}], leader ${now.leader}`}`);
}

export function reassignFault(): FaultPackage {
  return {
    handles: ['reassign', 'reassign-done'],
    needsPartitioner: false,
    // moving a partition does not take its brokers away: other lanes may still kill or pause them
    sharesNodes: true,
    generator(ctx: PlanContext): PlannedFault | null {
      const p = planReassignment(ctx);
      if (p === null) return null;
      const r = p.reassignment; // shared by both ops: the end acts on what the start did
      return {
        start: { f: 'reassign', value: { nodes: p.nodes, ids: [...r.to], reassignment: r, ...(p.note === undefined ? {} : { note: p.note }) } },
        end: { f: 'reassign-done', value: { nodes: p.nodes, ids: [...r.to], reassignment: r } },
      };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      const admin = adminOf(env);
      const r = op.value.reassignment;
      if (r === undefined) throw new Error(`a ${op.f} op needs its reassignment`);
      const { topic, partition } = splitKey(r.key);
      if (op.f === 'reassign') {
        await admin.reassign(topic, partition, r.to);
        r.accepted = true;
      } else if (op.f === 'reassign-done') {
        if (r.accepted !== true) {
          const now = await observe(admin, r.key);
          if (now !== undefined) r.observed = observed(now);
          op.value.note = 'the reassignment was not started (its start failed)';
          return;
        }
        const p = await waitForMove(admin, r.key, r.to, reassignTimeoutMs, undefined, timeOf(env));
        if (p === null) throw await stuck(admin, r, reassignTimeoutMs);
        r.observed = observed(p);
      } else throw new Error(`reassign nemesis cannot do '${op.f}'`);
    },
    async during(start: NemesisOp, env: NemesisEnv, signal: AbortSignal): Promise<void> {
      // the move is the fault's period: the end op follows its completion, not a drawn time
      const r = start.value.reassignment;
      if (r?.accepted === true && env.admin !== undefined) await waitForMove(env.admin, r.key, r.to, reassignTimeoutMs, signal, timeOf(env));
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.filter((op) => op.f === 'reassign-done');
    },
  };
}

/** Pure: a live broker to take `gone`'s place in `replicas`: the lowest id holding none of it, or null. */
export function replacementFor(replicas: readonly number[], gone: number, live: readonly number[]): number | null {
  return [...live].sort((a, b) => a - b).find((id) => id !== gone && !replicas.includes(id)) ?? null;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, time: NemesisTime): Promise<boolean> {
  const deadline = time.nowMs() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (time.nowMs() >= deadline) return false;
    await time.sleep(pollMs);
  }
}

/** add-broker: start the node, wait until it is a live broker, move the drawn partition onto it. */
async function addBroker(op: NemesisOp, env: NemesisEnv): Promise<void> {
  const admin = adminOf(env);
  const changer = env.membership;
  if (changer === undefined || changer === null) throw new Error('this backend cannot add or remove nodes');
  const r = op.value.reassignment;
  if (r === undefined) throw new Error('an add-broker op needs its reassignment');
  const info: NodeInfo = await changer.addNode();
  // filled in place: the end op shares these arrays, and other lanes see the node as busy from now on
  op.value.nodes.splice(0, op.value.nodes.length, info.name);
  (op.value.ids ??= []).splice(0, op.value.ids.length, info.id);
  if (!(await waitUntil(async () => (await admin.describe([env.topic])).brokers.includes(info.id), joinTimeoutMs, timeOf(env)))) {
    throw new Error(`${info.name} (broker ${info.id}) started but the cluster did not list it as a live broker within ${joinTimeoutMs} ms`);
  }
  const parts = (await admin.describe([env.topic])).partitions.filter((p) => p.topic === env.topic);
  if (parts.length === 0) throw new Error(`no partition of ${env.topic} to move onto ${info.name}`);
  const p = parts[(r.pick ?? 0) % parts.length]!;
  r.key = `${p.topic}-${p.partition}`;
  r.from = [...p.replicas];
  // the new broker replaces the leader and comes first: when the move completes it is elected leader
  r.to = [info.id, ...p.replicas.filter((x) => x !== p.leader && x !== info.id)].slice(0, Math.max(1, p.replicas.length));
  await moveAndWait(admin, r, reassignTimeoutMs, timeOf(env));
}

/** decommission: move every replica off the broker, stop and remove the node, unregister the broker. */
async function decommission(op: NemesisOp, env: NemesisEnv): Promise<void> {
  const admin = adminOf(env);
  const name = op.value.nodes[0];
  const id = op.value.ids?.[0];
  if (name === undefined || id === undefined) {
    op.value.note = 'no broker was added (the add failed)';
    return;
  }
  const moves: Reassignment[] = (op.value.moves ??= []);
  // a topic created meanwhile may have put a replica on the broker: look again after each round (bounded)
  for (let round = 0; round < 3; round++) {
    const d = await admin.describe(null);
    const on = d.partitions.filter((p) => p.replicas.includes(id));
    if (on.length === 0) break;
    const started: Reassignment[] = [];
    for (const p of on) {
      const instead = replacementFor(p.replicas, id, d.brokers);
      const to = instead === null ? p.replicas.filter((x) => x !== id) : p.replicas.map((x) => (x === id ? instead : x));
      if (to.length === 0) throw new Error(`${p.topic}-${p.partition} has no replica but ${name}'s and no live broker to move it to`);
      const r: Reassignment = { key: `${p.topic}-${p.partition}`, from: [...p.replicas], to };
      await admin.reassign(p.topic, p.partition, to);
      r.accepted = true;
      moves.push(r);
      started.push(r);
    }
    for (const r of started) {
      const p = await waitForMove(admin, r.key, r.to, reassignTimeoutMs, undefined, timeOf(env));
      if (p === null) throw await stuck(admin, r, reassignTimeoutMs);
      r.observed = observed(p);
    }
  }
  const changer = env.membership;
  if (changer === undefined || changer === null) throw new Error('this backend cannot add or remove nodes');
  // stopped before it is unregistered: a running broker whose registration is gone registers again
  if (env.backend.nodes().some((n) => n.name === name)) await changer.removeNode(name);
  try {
    await admin.unregisterBroker(id);
  } catch (err) {
    if ((err as { kafkaError?: string }).kafkaError !== 'BROKER_ID_NOT_REGISTERED') throw err;
  }
  if (!(await waitUntil(async () => !(await admin.describe([env.topic])).brokers.includes(id), joinTimeoutMs, timeOf(env)))) {
    throw new Error(`broker ${id} still listed by the cluster ${joinTimeoutMs} ms after it was unregistered`);
  }
}

export function membershipFault(): FaultPackage {
  return {
    handles: ['add-broker', 'decommission'],
    needsPartitioner: false,
    needsMembership: true,
    generator(ctx: PlanContext): PlannedFault | null {
      if (topicKeys(ctx).length === 0) return null;
      // filled by the start action (the backend names the node); shared with the end op
      const nodes: string[] = [];
      const ids: number[] = [];
      const reassignment: Reassignment = { key: '', from: [], to: [], pick: ctx.rng.int(0x7fffffff) };
      return {
        start: { f: 'add-broker', value: { nodes, ids, reassignment } },
        end: { f: 'decommission', value: { nodes, ids } },
      };
    },
    async nemesis(op: NemesisOp, env: NemesisEnv): Promise<void> {
      if (op.f === 'add-broker') await addBroker(op, env);
      else if (op.f === 'decommission') await decommission(op, env);
      else throw new Error(`membership nemesis cannot do '${op.f}'`);
    },
    finalGenerator(active: readonly NemesisOp[]): NemesisOp[] {
      return active.filter((op) => op.f === 'decommission');
    },
  };
}
