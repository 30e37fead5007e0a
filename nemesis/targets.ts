/**
 * Choosing the node a fault hits by its role, from the cluster's own metadata (Roles).
 *
 * Spec (`pickTarget`): `leader` = the leader of one of the workload topic's partitions (chosen by rng
 * among partitions with a live leader); `controller` = the active controller; `follower` = a replica of a
 * topic partition that is not its leader; `random` = any node. Nodes in `busy` (already killed or
 * paused) are never chosen. When the role cannot be resolved (roles unknown, leaderless, the holder busy)
 * the target falls back to a random free node and `note` says why. Null only when every node is busy.
 * Deterministic: the same rng state, roles and nodes give the same choice.
 */
import type { NodeInfo, Roles } from '../harness/backend.ts';
import type { Rng } from '../harness/rng.ts';
import { shuffle } from './shapes.ts';
import type { GroupTarget, Role } from './types.ts';

export interface Target {
  node: string;
  role: Role;
  note?: string;
}

function nameOf(nodes: readonly NodeInfo[], id: number): string | undefined {
  return nodes.find((n) => n.id === id)?.name;
}

function topicKeys(roles: Roles, topic: string): string[] {
  return Object.keys(roles.leaders)
    .filter((k) => k.startsWith(`${topic}-`) && /^\d+$/.test(k.slice(topic.length + 1)))
    .sort((a, b) => Number(a.slice(topic.length + 1)) - Number(b.slice(topic.length + 1)));
}

/** How many nodes a group target takes out of n (Jepsen's minority/majority/all). */
export function groupSize(target: GroupTarget, n: number): number {
  if (target === 'all') return n;
  if (target === 'majority') return Math.floor(n / 2) + 1;
  return Math.max(1, Math.floor((n - 1) / 2));
}

export function isGroupTarget(role: Role): role is GroupTarget {
  return role === 'minority' || role === 'majority' || role === 'all';
}

/**
 * The nodes a group target hits: `groupSize` nodes drawn at random among the free ones (sorted), or
 * null when no node is free. When fewer are free than the target asks, all free ones, and `note` says so.
 */
export function pickGroup(target: GroupTarget, nodes: readonly NodeInfo[], busy: ReadonlySet<string>, rng: Rng): { nodes: string[]; note?: string } | null {
  const free = nodes.map((n) => n.name).filter((n) => !busy.has(n));
  if (free.length === 0) return null;
  const want = groupSize(target, nodes.length);
  const chosen = shuffle(free, rng).slice(0, want).sort();
  return chosen.length < want ? { nodes: chosen, note: `${target} wants ${want} nodes but only ${free.length} are free` } : { nodes: chosen };
}

/** Candidate node names for a single-node role (before excluding busy nodes), or a reason there are none. */
export function candidates(role: Role, roles: Roles | null, nodes: readonly NodeInfo[], topic: string): string[] | string {
  if (role === 'random' || isGroupTarget(role)) return nodes.map((n) => n.name);
  if (roles === null) return `${role} unknown (cluster metadata unavailable)`;
  if (role === 'controller') {
    const name = roles.controller === null ? undefined : nameOf(nodes, roles.controller);
    return name === undefined ? 'no active controller known' : [name];
  }
  const keys = topicKeys(roles, topic);
  if (keys.length === 0) return `topic ${topic} has no partitions in the metadata`;
  const out = new Set<string>();
  for (const k of keys) {
    const leader = roles.leaders[k] ?? -1;
    if (role === 'leader') {
      const name = leader >= 0 ? nameOf(nodes, leader) : undefined;
      if (name !== undefined) out.add(name);
    } else {
      for (const id of roles.replicas[k]?.replicas ?? []) {
        const name = id !== leader ? nameOf(nodes, id) : undefined;
        if (name !== undefined) out.add(name);
      }
    }
  }
  return out.size === 0 ? `no ${role} of ${topic} known` : [...out].sort();
}

export function pickTarget(role: Role, roles: Roles | null, nodes: readonly NodeInfo[], topic: string, busy: ReadonlySet<string>, rng: Rng): Target | null {
  const free = nodes.map((n) => n.name).filter((n) => !busy.has(n));
  if (free.length === 0) return null;
  const c = candidates(role, roles, nodes, topic);
  if (typeof c !== 'string') {
    const ok = c.filter((n) => !busy.has(n));
    if (ok.length > 0) return { node: rng.pick(ok), role };
    return { node: rng.pick(free), role: 'random', note: `every ${role} is already under a fault; random node instead` };
  }
  return { node: rng.pick(free), role: 'random', note: `${c}; random node instead` };
}
