/**
 * Per-replica checks (the NATS suite's `lost-on-node`): each node's own log of each partition, read
 * from the node after the cluster converged (harness/run/replica-logs.ts reads the segment files of
 * stopped nodes with the broker's record decoder), compared with the history. Pure: no I/O, never throws.
 *
 * Inputs: the history, and per node, per key, the [offset, value] pairs its log holds in offset order
 * (a value that is not an integer is its text), or an error saying why the node could not be read.
 *
 * Decided, each by one function:
 * - agreed value of (key, offset) (`agreedValues`): the value that `ok` polls read at that offset, else
 *   the value an `ok` send was acknowledged at. Offsets that the history shows holding two values are
 *   the queue checker's `inconsistent-offsets` and are left out here (there is no one agreed value).
 * - `divergent` (key-offsets, per node) (`divergentOffsets`): the node's log holds a value at an offset
 *   that differs from the agreed value there: the replica diverged and was never repaired.
 * - `lost-on-node` (values, per node) (`lostOnNode`): a value acknowledged by an `ok` send to a key is
 *   absent from the log of a node that holds a replica of that key (a node with no log of the key is
 *   not a replica and is skipped). Under acks=all with min.insync >= 2 after convergence every replica
 *   holds every acknowledged value; under weaker settings loss is expected and shown.
 * `valid` is false when any node shows either, `unknown` when some node could not be read, else true.
 * The run's verdict is not changed by this section; it is additive in results.json (docs/replicas.md).
 */
import type { History, SendValue } from './history.ts';
import type { Validity } from './result.ts';

export type ReplicaPair = [number, number | string];

export interface NodeLogs {
  node: string;
  /** key -> pairs in offset order; absent keys: the node holds no replica of them */
  logs: Record<string, ReplicaPair[]>;
  /** why the node's logs could not be read (then `logs` is whatever was read) */
  error?: string;
}

export interface NodeReplicaResult {
  node: string;
  keys: number;
  records: number;
  divergent: { count: number; examples: Array<{ key: string; offset: number; agreed: number; onNode: number | string }> };
  lostOnNode: { count: number; examples: Array<{ key: string; value: number; offset?: number }> };
  error?: string;
}

export interface ReplicasResult {
  valid: Validity;
  nodes: NodeReplicaResult[];
  /** totals over the nodes */
  divergent: number;
  lostOnNode: number;
}

const MAX_EXAMPLES = 10;

/** (key, offset) -> the one value the history agrees sits there; conflicting offsets are left out. */
export function agreedValues(history: History): Map<string, Map<number, number>> {
  const read = new Map<string, Map<number, Set<number>>>();
  const acked = new Map<string, Map<number, Set<number>>>();
  const add = (m: Map<string, Map<number, Set<number>>>, k: string, o: number, v: number): void => {
    const byOffset = m.get(k) ?? new Map<number, Set<number>>();
    const s = byOffset.get(o) ?? new Set<number>();
    s.add(v);
    byOffset.set(o, s);
    m.set(k, byOffset);
  };
  for (const op of history) {
    if (op.type !== 'ok' || op.value === null || typeof op.value !== 'object') continue;
    if (op.f === 'send') {
      const v = op.value as SendValue;
      if (typeof v.offset === 'number' && typeof v.value === 'number') add(acked, v.key, v.offset, v.value);
    } else if (op.f === 'poll') {
      for (const [k, pairs] of Object.entries(op.value as Record<string, unknown>)) {
        if (!Array.isArray(pairs)) continue;
        for (const p of pairs) if (Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number') add(read, k, p[0], p[1]);
      }
    }
  }
  const out = new Map<string, Map<number, number>>();
  for (const k of new Set([...read.keys(), ...acked.keys()])) {
    const m = new Map<number, number>();
    const offsets = new Set([...(read.get(k)?.keys() ?? []), ...(acked.get(k)?.keys() ?? [])]);
    for (const o of offsets) {
      const all = new Set([...(read.get(k)?.get(o) ?? []), ...(acked.get(k)?.get(o) ?? [])]);
      if (all.size === 1) m.set(o, [...all][0]!);
    }
    out.set(k, m);
  }
  return out;
}

/** Values acknowledged by `ok` sends, per key, with the offset the ack gave (if any). */
export function acknowledged(history: History): Map<string, Map<number, number | undefined>> {
  const out = new Map<string, Map<number, number | undefined>>();
  for (const op of history) {
    if (op.f !== 'send' || op.type !== 'ok' || op.value === null || typeof op.value !== 'object') continue;
    const v = op.value as SendValue;
    if (typeof v.value !== 'number') continue;
    const m = out.get(v.key) ?? new Map<number, number | undefined>();
    m.set(v.value, v.offset);
    out.set(v.key, m);
  }
  return out;
}

/** Offsets of a node's log holding a value other than the agreed one. */
export function divergentOffsets(n: NodeLogs, agreed: Map<string, Map<number, number>>): NodeReplicaResult['divergent'] {
  const examples: NodeReplicaResult['divergent']['examples'] = [];
  let count = 0;
  for (const [key, pairs] of Object.entries(n.logs)) {
    const a = agreed.get(key);
    if (a === undefined) continue;
    for (const [offset, onNode] of pairs) {
      const want = a.get(offset);
      if (want === undefined || want === onNode) continue;
      count++;
      if (examples.length < MAX_EXAMPLES) examples.push({ key, offset, agreed: want, onNode });
    }
  }
  return { count, examples };
}

/** Acknowledged values absent from the log of a node that holds a replica of their key. */
export function lostOnNode(n: NodeLogs, acked: Map<string, Map<number, number | undefined>>): NodeReplicaResult['lostOnNode'] {
  const examples: NodeReplicaResult['lostOnNode']['examples'] = [];
  let count = 0;
  for (const [key, values] of acked) {
    const pairs = n.logs[key];
    if (pairs === undefined) continue;
    const held = new Set(pairs.map(([, v]) => v));
    for (const [value, offset] of values) {
      if (held.has(value)) continue;
      count++;
      if (examples.length < MAX_EXAMPLES) examples.push({ key, value, ...(offset === undefined ? {} : { offset }) });
    }
  }
  return { count, examples };
}

export function checkReplicas(history: History, nodes: NodeLogs[]): ReplicasResult {
  try {
    const agreed = agreedValues(history);
    const acked = acknowledged(history);
    const results = nodes.map((n): NodeReplicaResult => ({
      node: n.node,
      keys: Object.keys(n.logs).length,
      records: Object.values(n.logs).reduce((s, p) => s + p.length, 0),
      divergent: divergentOffsets(n, agreed),
      lostOnNode: lostOnNode(n, acked),
      ...(n.error === undefined ? {} : { error: n.error }),
    }));
    const divergent = results.reduce((s, r) => s + r.divergent.count, 0);
    const lost = results.reduce((s, r) => s + r.lostOnNode.count, 0);
    const valid: Validity = divergent > 0 || lost > 0 ? false : results.some((r) => r.error !== undefined) || results.length === 0 ? 'unknown' : true;
    return { valid, nodes: results, divergent, lostOnNode: lost };
  } catch (err) {
    return { valid: 'unknown', nodes: nodes.map((n) => ({ node: n.node, keys: 0, records: 0, divergent: { count: 0, examples: [] }, lostOnNode: { count: 0, examples: [] }, error: `checker error: ${String(err)}` })), divergent: 0, lostOnNode: 0 };
  }
}
