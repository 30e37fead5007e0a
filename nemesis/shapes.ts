/**
 * Partition shapes as pure functions from node names (and an rng) to a grudge: node -> nodes whose
 * traffic it drops (Jepsen `nemesis/combined.clj` and `nemesis.clj`).
 *
 * Invariants every shape keeps: no node drops itself; only given names appear; a node with nothing to
 * drop is absent from the grudge.
 * - `one`, `leader`, `controller`: the chosen node and everyone else drop each other (the node is isolated).
 * - `halves`: a random split into floor(n/2) and ceil(n/2) nodes; each side drops the other (n >= 2).
 * - `majorities-ring`: nodes in a random ring; node at position i sees the m = floor(n/2)+1 nodes from i
 *   onwards (itself included) and drops the rest. Every node sees a majority and no two nodes see the
 *   same one (n >= 3; asymmetric like Jepsen's).
 * - `bridge`: a random split into two sides plus one bridge node that sees everyone; the sides drop
 *   each other (n >= 3).
 */
import type { Grudge } from '../harness/backend.ts';
import type { Rng } from '../harness/rng.ts';

export function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Nodes in different components drop each other. */
export function completeGrudge(components: readonly (readonly string[])[]): Grudge {
  const grudge: Grudge = {};
  for (const [i, comp] of components.entries()) {
    const others = components.filter((_, j) => j !== i).flat();
    if (others.length === 0) continue;
    for (const node of comp) grudge[node] = [...others];
  }
  return grudge;
}

export function isolate(node: string, nodes: readonly string[]): Grudge {
  if (!nodes.includes(node)) throw new Error(`cannot isolate '${node}': not one of ${nodes.join(', ')}`);
  return completeGrudge([[node], nodes.filter((n) => n !== node)]);
}

export function halves(nodes: readonly string[], rng: Rng): Grudge | null {
  if (nodes.length < 2) return null;
  const s = shuffle(nodes, rng);
  const cut = Math.floor(s.length / 2);
  return completeGrudge([s.slice(0, cut), s.slice(cut)]);
}

export function majoritiesRing(nodes: readonly string[], rng: Rng): Grudge | null {
  const n = nodes.length;
  if (n < 3) return null;
  const ring = shuffle(nodes, rng);
  const m = Math.floor(n / 2) + 1;
  const grudge: Grudge = {};
  for (let i = 0; i < n; i++) {
    const sees = new Set<string>();
    for (let k = 0; k < m; k++) sees.add(ring[(i + k) % n]!);
    grudge[ring[i]!] = ring.filter((x) => !sees.has(x));
  }
  return grudge;
}

export function bridge(nodes: readonly string[], rng: Rng): Grudge | null {
  if (nodes.length < 3) return null;
  const s = shuffle(nodes, rng);
  const middle = Math.floor(s.length / 2);
  const a = s.slice(0, middle);
  const b = s.slice(middle + 1);
  return completeGrudge([a, b]);
}
