/**
 * One function per queue anomaly (Jepsen's `lost-write-cases` style), each over the index that
 * `indexHistory` built, each with its rule in its doc. Every function returns `{ count, examples }`
 * with at most `max` examples; examples name the history lines (1-based) they come from. What each
 * anomaly means for the verdict is data in anomalies.ts.
 */
import type { Process } from '../history.ts';
import type { ConsumerEvent, NodeDown, QueueIndex, Val } from './index-history.ts';
import { knownBetween, OFFSET_SPAN } from './index-history.ts';
import { KeyCommits } from './commits.ts';
import type { KeyCommit } from './commits.ts';

export interface Anomaly {
  count: number;
  examples: unknown[];
}

class Bounded {
  count = 0;
  readonly examples: unknown[] = [];
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  add(example: () => unknown): void {
    this.count++;
    if (this.examples.length < this.#max) this.examples.push(example());
  }
  done(): Anomaly {
    return { count: this.count, examples: this.examples };
  }
}

/** A read value as it appears in examples: the integer, or the payload the workload recorded. */
export function shown(v: Val): unknown {
  if (typeof v === 'number') return v;
  try {
    return JSON.parse(v.slice(1)) as unknown;
  } catch {
    return v.slice(1);
  }
}

function decode(ix: QueueIndex, pos: number): { key: string; offset: number } {
  const k = Math.floor(pos / OFFSET_SPAN);
  return { key: ix.keyNames[k] ?? '?', offset: pos - k * OFFSET_SPAN };
}

const byVal = (a: Val, b: Val): number =>
  typeof a === 'number' && typeof b === 'number' ? a - b : typeof a === 'number' ? -1 : typeof b === 'number' ? 1 : a < b ? -1 : a > b ? 1 : 0;

/**
 * lost-write (values): an `ok` send's value that no `ok` poll ever read, whose acknowledged offset is
 * strictly below the highest offset of its key that some `ok` poll read. A later offset was visible,
 * so this one should have been.
 */
export function lostWrites(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  for (const [value, s] of ix.sends) {
    if (s.status !== 'ok' || ix.firstRead.has(value)) continue;
    const m = ix.maxRead[s.key];
    if (s.offset >= 0 && m !== undefined && m > s.offset) {
      out.add(() => ({ key: ix.keyNames[s.key], value, offset: s.offset, maxReadOffset: m, sendLine: s.line }));
    }
  }
  return out.done();
}

/**
 * unseen (values): an `ok` send's value never read that is not a lost-write: no `ok` poll read a higher
 * offset of its key (lost at the tail, or never drained), or the ack carried no offset (acks=0), so
 * there is nothing to compare. lost-write and unseen are disjoint and together are exactly the
 * acknowledged values never read.
 */
export function unseen(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  for (const [value, s] of ix.sends) {
    if (s.status !== 'ok' || ix.firstRead.has(value)) continue;
    const m = ix.maxRead[s.key];
    if (s.offset >= 0 && m !== undefined && m > s.offset) continue;
    out.add(() => ({ key: ix.keyNames[s.key], value, offset: s.offset >= 0 ? s.offset : null, maxReadOffset: m ?? null, sendLine: s.line }));
  }
  return out.done();
}

/**
 * duplicate (values): a value found at two or more distinct (key, offset) positions, counting both what
 * polls read and what its own ack said. Payloads that are not integers carry no identity and are never
 * duplicates (they are unexpected reads).
 */
export function duplicates(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  for (const [value, at] of ix.morePositions) {
    out.add(() => ({ value: shown(value), at: [...at].sort((x, y) => x[0] - y[0]).map(([pos, line]) => ({ ...decode(ix, pos), line })) }));
  }
  return out.done();
}

/**
 * inconsistent-offsets (key-offsets): one offset of a key at which the version order holds two or more
 * distinct values (from polls or acks): replicas diverged, or an acknowledged write was replaced.
 */
export function inconsistentOffsets(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  for (const pos of [...ix.conflicts.keys()].sort((x, y) => x - y)) {
    const m = ix.conflicts.get(pos)!;
    out.add(() => {
      const vals = [...m.keys()].sort(byVal);
      return { ...decode(ix, pos), values: vals.map(shown), lines: vals.map((v) => m.get(v)!) };
    });
  }
  return out.done();
}

/** aborted-read (values): a value that some `ok` poll returned whose send completed `fail`. */
export function abortedReads(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  for (const [value, s] of ix.sends) {
    if (s.status !== 'fail') continue;
    const r = ix.firstRead.get(value);
    if (r === undefined) continue;
    out.add(() => ({ key: ix.keyNames[r.key], value, offset: r.offset, sendLine: s.line, pollLine: r.line }));
  }
  return out.done();
}

/**
 * nonmonotonic-send (sends): an `ok` send whose acknowledged offset is strictly lower than the highest
 * offset of an earlier `ok` send by the same process to the same key (the process's own op order). An
 * equal offset for another value shows up as inconsistent-offsets instead.
 */
export function nonmonotonicSends(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  const high = new Map<Process, Map<number, number>>();
  // ix.sends is in invoke order; a process has one send in flight, so that is its completion order too.
  for (const [value, s] of ix.sends) {
    if (s.status !== 'ok' || s.offset < 0) continue;
    let perKey = high.get(s.process);
    if (perKey === undefined) {
      perKey = new Map();
      high.set(s.process, perKey);
    }
    const h = perKey.get(s.key);
    if (h !== undefined && s.offset < h) {
      out.add(() => ({ process: s.process, key: ix.keyNames[s.key], value, offset: s.offset, previousOffset: h, line: s.line }));
    }
    if (h === undefined || s.offset > h) perKey.set(s.key, s.offset);
  }
  return out.done();
}

/** Two successive reads of one key by one consumer, with no boundary between them. */
export interface Jump {
  process: Process;
  key: number;
  from: number;
  to: number;
  line: number;
}

/**
 * The consumer walk feeding poll-skip and nonmonotonic-poll: each consumer process's reads of a key in
 * history order, within a poll (in the order returned) and across its successive `ok` polls. An `ok`
 * `assign` by the process is a boundary for every key (its positions are forgotten); a `reposition` by
 * it is a boundary for that key. Each pair of successive reads with no boundary between is one jump.
 */
export function consumerJumps(ix: QueueIndex, visit: (j: Jump) => void): void {
  const positions = new Map<Process, Map<number, number>>();
  for (const e of ix.events) {
    if (e.kind === 'assign') {
      positions.delete(e.process);
      continue;
    }
    if (e.kind === 'reposition') {
      positions.get(e.process)?.delete(e.key);
      continue;
    }
    let pos = positions.get(e.process);
    if (pos === undefined) {
      pos = new Map();
      positions.set(e.process, pos);
    }
    for (let i = 0; i < e.reads.length; i += 2) {
      const key = e.reads[i]!;
      const offset = e.reads[i + 1]!;
      const a = pos.get(key);
      if (a !== undefined) visit({ process: e.process, key, from: a, to: offset, line: e.line });
      pos.set(key, offset);
    }
  }
}

/**
 * poll-skip (jumps): a jump from offset `a` to `b > a + 1` with at least one offset of the version order
 * strictly between them (gaps with no known offset, such as transaction markers, are fine).
 */
export function pollSkips(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  consumerJumps(ix, (j) => {
    if (j.to <= j.from + 1) return;
    const skipped = knownBetween(ix, j.key, j.from + 1, j.to);
    if (skipped > 0) out.add(() => ({ process: j.process, key: ix.keyNames[j.key], fromOffset: j.from, toOffset: j.to, skipped, line: j.line }));
  });
  return out.done();
}

/** nonmonotonic-poll (jumps): a jump whose next read is at or before the previous one (`b <= a`). */
export function nonmonotonicPolls(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  consumerJumps(ix, (j) => {
    if (j.to <= j.from) out.add(() => ({ process: j.process, key: ix.keyNames[j.key], fromOffset: j.from, toOffset: j.to, line: j.line }));
  });
  return out.done();
}

/**
 * unexpected-read (values): a value that an `ok` poll returned and no send in the history carried (an
 * integer no send invoked, or a payload that is not an integer at all): corruption, or a writer outside
 * the test. Counted once per distinct value; the example names its first read.
 */
export function unexpectedReads(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  for (const [value, r] of ix.firstRead) {
    if (typeof value === 'number' && ix.sends.has(value)) continue;
    out.add(() => ({ key: ix.keyNames[r.key], offset: r.offset, value: shown(value), integer: typeof value === 'number', line: r.line }));
  }
  return out.done();
}

/**
 * reposition (repositions): a consumer moved itself on a key after the broker answered its fetch with
 * OFFSET_OUT_OF_RANGE (`reposition` info op). A boundary for the consumer walk on that key; reported,
 * never breaking validity by itself.
 */
export function repositions(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  for (const e of ix.events) {
    if (e.kind !== 'reposition') continue;
    out.add(() => ({ process: e.process, key: ix.keyNames[e.key], from: e.from, to: e.to, reason: e.reason, line: e.line }));
  }
  return out.done();
}

function commitsByKey(ix: QueueIndex): Map<number, KeyCommits> {
  const lists = new Map<number, KeyCommit[]>();
  for (const c of ix.commits) {
    for (const [k, offset] of c.offsets) {
      let l = lists.get(k);
      if (l === undefined) {
        l = [];
        lists.set(k, l);
      }
      l.push({ offset, status: c.status, process: c.process, invokeLine: c.invokeLine, line: c.line });
    }
  }
  return new Map([...lists].map(([k, l]) => [k, new KeyCommits(l)]));
}

/**
 * commit-regress (key-commits): an `ok` commit c whose offset for a key is lower than every value the
 * key's committed offset could hold just before c was applied. Those values are: the offset of `last`,
 * the `ok` commit for the key that completed latest before c was invoked, and the offsets of the commits
 * that may have been applied between `last` and c (`ok` or indeterminate, invoked before c completed, and
 * not completed before `last` was invoked). Only real-time precedence counts: commits in flight together
 * may be applied in either order, whatever order their acknowledgements came in; a client that commits
 * lower and then higher again regressed once. Cost: O(log n + processes) per commit (commits.ts).
 */
export function commitRegressions(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  for (const [k, commits] of commitsByKey(ix)) {
    for (const c of commits.list) {
      if (c.status !== 'ok') continue;
      const last = commits.lastOkBefore(c.invokeLine);
      if (last === undefined) continue;
      const low = commits.lowestMaybeAppliedAfter(last, c.line, c);
      if (c.offset < low.offset) {
        out.add(() => ({ process: c.process, key: ix.keyNames[k], offset: c.offset, previousOffset: low.offset, previousLine: low.line === -1 ? low.invokeLine : low.line, line: c.line }));
      }
    }
  }
  return out.done();
}

/**
 * resume-mismatch (resumptions): only processes that commit are members of the run's consumer group
 * (all committing consumers of a run are in one group; a consumer that never commits, such as the final
 * drain, reads from where it likes). After an `ok` assign that gives such a process p key k, p's first read of k
 * (at offset r, in the poll completing at line L) does not start where the group's committed offset
 * allows. With the commits for k (`fail` commits never happened; `info` and never-completed ones may
 * have):
 * - regress: let hc be the `ok` commit for k, completed before the assign, with the highest offset H.
 *   The committed offset at the assign is H or the offset of some commit that may have been applied
 *   after hc (invoked before L, and not completed before hc was invoked), so its lowest possible value
 *   is B = min(H, those offsets). r < B: the coordinator lost or regressed the commit.
 * - skip: let U be the highest offset for k of the commits invoked before L. r > U with an offset of the
 *   version order in [U, r): the consumer started past a committed position that holds data.
 * Not a mismatch: no commit for k bounds it (the reset policy decides, which the history does not
 * say); a reposition of k by p between the assign and the read (the broker said out of range); r is
 * where p's own reads of k had left it before the assign (the next known offset after its last read:
 * a client that keeps its position for a partition it keeps).
 */
export function resumeMismatches(ix: QueueIndex, max: number): Anomaly {
  const out = new Bounded(max);
  const byKey = commitsByKey(ix);
  const last = new Map<Process, Map<number, number>>();
  const awaiting = new Map<Process, Map<number, { assignLine: number; carried: number | undefined }>>();
  const members = new Set(ix.commits.map((c) => c.process));
  const check = (e: Extract<ConsumerEvent, { kind: 'poll' }>, k: number, r: number, w: { assignLine: number; carried: number | undefined }): void => {
    if (w.carried !== undefined && r > w.carried && knownBetween(ix, k, w.carried + 1, r) === 0) return;
    const commits = byKey.get(k);
    if (commits === undefined) return;
    const hc = commits.highestOkBefore(w.assignLine);
    const u = commits.highestInvokedBefore(e.line);
    const example = (direction: 'regress' | 'skip', committed: KeyCommit, bound: number) => () => ({
      process: e.process, key: ix.keyNames[k], offset: r, direction, committedOffset: bound, commitLine: committed.line === -1 ? committed.invokeLine : committed.line,
      assignLine: w.assignLine, line: e.line,
    });
    if (hc !== undefined) {
      const low = commits.lowestMaybeAppliedAfter(hc, e.line);
      if (r < low.offset) {
        out.add(example('regress', low, low.offset));
        return;
      }
    }
    if (u !== undefined && r > u.offset && knownBetween(ix, k, u.offset, r) > 0) out.add(example('skip', u, u.offset));
  };
  for (const e of ix.events) {
    let lastP = last.get(e.process);
    if (lastP === undefined) {
      lastP = new Map();
      last.set(e.process, lastP);
    }
    let wait = awaiting.get(e.process);
    if (wait === undefined) {
      wait = new Map();
      awaiting.set(e.process, wait);
    }
    if (e.kind === 'assign') {
      if (!members.has(e.process)) continue;
      const next = new Map<number, { assignLine: number; carried: number | undefined }>();
      for (const k of e.keys) next.set(k, { assignLine: e.line, carried: lastP.get(k) });
      awaiting.set(e.process, next);
      continue;
    }
    if (e.kind === 'reposition') {
      wait.delete(e.key);
      // The consumer's next read of the key is at `to`: as if it had last read `to - 1`.
      if (e.to !== null) lastP.set(e.key, e.to - 1);
      else lastP.delete(e.key);
      continue;
    }
    for (let i = 0; i < e.reads.length; i += 2) {
      const key = e.reads[i]!;
      const offset = e.reads[i + 1]!;
      const w = wait.get(key);
      if (w !== undefined) {
        wait.delete(key);
        check(e, key, offset, w);
      }
      lastP.set(key, offset);
    }
  }
  return out.done();
}

/** What the underreplicated-ack rule knows of the run's replication (from test.json). */
export interface ReplicationContext {
  /** the producers' acks */
  acks?: '0' | '1' | 'all';
  /** nodes, topic replication factor and min.insync.replicas of the run, when known */
  replication?: { nodes: number; replicationFactor: number; minInsync: number };
}

/**
 * underreplicated-ack (values): an `ok` acks=all send that fewer than min.insync.replicas replicas of
 * its partition could have stored before it was acknowledged. Judged only when every node is a
 * replica of every partition (replication factor = nodes), so the replicas that could hold the record
 * are the nodes up while it was in flight. The send counts when its invoke time is its own stamp
 * (index-history.ts), and some set of nodes was down (`nodeDowns`: killed, stopped or paused and not
 * yet being brought back) from before the invoke until after the ack, leaving fewer than min.insync
 * nodes up throughout. Its record was appended after the invoke, so only the nodes up then could
 * have fetched it, and acks=all must wait for min.insync of them (design.md "Broker semantics": the
 * high watermark does not advance while the ISR is below min.insync.replicas). Cost: sends x downs.
 */
export function underreplicatedAcks(ix: QueueIndex, max: number, ctx: ReplicationContext = {}): Anomaly {
  const out = new Bounded(max);
  const r = ctx.replication;
  if (ctx.acks !== 'all' || r === undefined || r.replicationFactor !== r.nodes || ix.nodeDowns.length === 0) return out.done();
  for (const [value, s] of ix.sends) {
    if (s.status !== 'ok' || s.ackNs === null || !s.invokeOwnTime) continue;
    const ackNs = s.ackNs;
    const down = new Map<string, NodeDown>();
    for (const d of ix.nodeDowns) if (d.fromNs < s.invokeNs && ackNs < d.toNs) down.set(d.node, d);
    if (r.nodes - down.size >= r.minInsync) continue;
    out.add(() => ({
      key: ix.keyNames[s.key], value, offset: s.offset, invokeLine: s.invokeLine, sendLine: s.line,
      down: [...down.values()].map((d) => ({ node: d.node, line: d.line })), minInsync: r.minInsync,
    }));
  }
  return out.done();
}
