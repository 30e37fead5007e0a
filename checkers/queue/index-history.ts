/**
 * The queue checker's indexing pass: one walk over the history that validates each op it uses and
 * gathers the facts every rule (rules.ts) reads, so each rule is a small function over this index and
 * none re-parses the history. Pure; throws only on more than MAX_KEYS keys (checkQueue turns that into
 * `unknown`).
 *
 * What it gathers:
 * - sends by value: key, verdict (`ok`, `fail`, `info`; invoked and never completed counts as `info`),
 *   acknowledged offset, process, lines and ack time. A completion pairs with the pending invoke of the
 *   same process and `f`.
 * - the version order: per key, what `ok` polls read and then what `ok` acks say sits at each offset,
 *   with every value found at more than one position (duplicates) and every position holding more than
 *   one value (conflicts), each with the line of its first evidence.
 * - the first read of every value (line and time) and each key's highest offset read.
 * - consumer events in history order: `ok` polls (their reads), `ok` assigns, `reposition`s.
 * - commits (`{key: offset}` invoke, completion verdict and lines), harness `phase` lines.
 * - node downtimes from the nemesis ops (`nodeDowns`): a node is down from a kill, stop, power-loss,
 *   corrupt or pause op that did not fail (each is recorded after its action, so the node is down by
 *   then) until the start of the restart or resume that ends it: that op's time minus its `tookMs` and
 *   1 ms more (the action began at most that long before it was recorded). An end op without `tookMs`
 *   (another tool's, or one recorded inside a fault) proves no downtime; a node never brought back is
 *   down to the end of the history. A history with a nemesis op outside the known faults that leave
 *   replicas in place (a reassignment, a membership change) has no downtimes. With every send's invoke time, and whether that time is the
 *   invoke's own (the writer raises a late-arriving client stamp to the previous line's time).
 * - what it could not use: malformed ops (with line and why, after the parser's own malformed lines)
 *   and `index` gaps (lines missing between ops).
 *
 * A poll pair's value is an integer (a value some send may have carried) or, when the workload read a
 * payload that is not an integer, any other JSON value: such a payload is kept as a `Val` string (its
 * JSON text with a leading `~`, so it cannot equal an integer), never dropped.
 */
import type { History, MalformedLine, Op, Process } from '../history.ts';
import { notAnOp } from '../history.ts';

/** A value as read: an integer, or `~` + the JSON text of a payload that is not one. */
export type Val = number | string;

/** Offsets are encoded with the key's index into one number: keyIndex * OFFSET_SPAN + offset. */
export const OFFSET_SPAN = 2 ** 36;
const MAX_KEYS = 2 ** 16;

export type Status = 'ok' | 'fail' | 'info';

export interface SendRec {
  key: number;
  status: Status;
  /** the acknowledged offset, -1 when none */
  offset: number;
  process: Process;
  invokeLine: number;
  /** the completion's line (the invoke's when never completed) */
  line: number;
  /** the `ok` completion's time */
  ackNs: number | null;
  /** the invoke's time */
  invokeNs: number;
  /** the invoke's time is its own stamp: later than the line before it (not raised to that line's) */
  invokeOwnTime: boolean;
}

/** A node known to be down (killed, stopped, paused) throughout [fromNs, toNs). */
export interface NodeDown {
  node: string;
  fromNs: number;
  toNs: number;
  /** the line of the op that took it down */
  line: number;
}

/** The ops that take a node down, and those that bring it back (recorded after their action). */
const DOWN_FS: ReadonlySet<string> = new Set(['kill', 'stop', 'power-loss', 'corrupt', 'pause']);
const UP_FS: ReadonlySet<string> = new Set(['restart', 'resume']);
/**
 * Every other nemesis op these downtimes stay right under: faults that leave each node's replicas where
 * they were. Any other op (moving replicas, adding or removing nodes) may change which nodes replicate
 * a partition, so a history with one proves no downtime (`nodeDowns` is empty).
 */
const REPLICA_NEUTRAL_FS: ReadonlySet<string> = new Set([
  ...DOWN_FS, ...UP_FS, 'partition', 'packet-loss', 'bandwidth', 'heal', 'clock-bump', 'clock-strobe', 'clock-reset', 'rolling-restart', 'rolling-restart-end', 'disk-full', 'disk-free',
]);

export type ConsumerEvent =
  /** `reads`: key, offset, key, offset, ... in the order returned (flat, to keep a big history's garbage small) */
  | { kind: 'poll'; process: Process; line: number; reads: number[] }
  | { kind: 'assign'; process: Process; line: number; keys: number[] }
  | { kind: 'reposition'; process: Process; line: number; key: number; from: number | null; to: number | null; reason: string | null };

export interface CommitRec {
  process: Process;
  status: Status;
  /** key -> committed offset (the next offset to consume) */
  offsets: Map<number, number>;
  invokeLine: number;
  /** the completion's line; -1 when never completed */
  line: number;
}

export interface PhaseEvent {
  name: string;
  status: string;
  line: number;
}

export interface FirstRead {
  line: number;
  timeNs: number;
  key: number;
  offset: number;
}

export interface QueueIndex {
  keyNames: string[];
  keyIds: Map<string, number>;
  sends: Map<number, SendRec>;
  /** per key: offset -> first value placed there */
  versions: Array<Map<number, Val>>;
  /** sorted known offsets per key (the version order's positions) */
  known: Float64Array[];
  /** position -> every value found there (with the line of its first evidence), when more than one */
  conflicts: Map<number, Map<Val, number>>;
  /** value -> every position it was found at (with the line), when more than one */
  morePositions: Map<Val, Map<number, number>>;
  firstRead: Map<Val, FirstRead>;
  maxRead: number[];
  events: ConsumerEvent[];
  commits: CommitRec[];
  phases: PhaseEvent[];
  nodeDowns: NodeDown[];
  malformed: MalformedLine[];
  missingLines: number;
  /** the last op's time: the end of the history */
  endNs: number;
  counts: {
    sends: number; acked: number; sendFailed: number; sendIndeterminate: number; ackedWithoutOffset: number;
    polls: number; emptyPolls: number; pollsFailed: number; readsTotal: number; assigns: number;
    commits: number; commitsOk: number; commitsFailed: number; commitsIndeterminate: number;
  };
}

export function isOffset(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < OFFSET_SPAN;
}

function isSendValue(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x);
}

/** A read payload as a Val: integers stay numbers; anything else becomes `~` + its JSON text. */
export function readVal(x: unknown): Val {
  if (isSendValue(x)) return x;
  let text: string;
  try {
    text = JSON.stringify(x) ?? String(x);
  } catch {
    text = String(x);
  }
  return `~${text}`;
}

/** An op's 1-based line in history.jsonl. */
export const lineOf = (op: Op): number => op.index + 1;

export function indexHistory(history: History, parserMalformed: readonly MalformedLine[] = []): QueueIndex {
  const counts: QueueIndex['counts'] = {
    sends: 0, acked: 0, sendFailed: 0, sendIndeterminate: 0, ackedWithoutOffset: 0, polls: 0, emptyPolls: 0, pollsFailed: 0,
    readsTotal: 0, assigns: 0, commits: 0, commitsOk: 0, commitsFailed: 0, commitsIndeterminate: 0,
  };
  const malformed: MalformedLine[] = [...parserMalformed];
  const skippedLines = new Set(parserMalformed.map((m) => m.line - 1));
  const bad = (op: Op, why: string): void => {
    malformed.push({ line: lineOf(op), why });
  };

  const keyNames: string[] = [];
  const keyIds = new Map<string, number>();
  const keyId = (name: string): number => {
    let id = keyIds.get(name);
    if (id === undefined) {
      if (keyNames.length >= MAX_KEYS) throw new RangeError(`more than ${MAX_KEYS} keys`);
      id = keyNames.length;
      keyNames.push(name);
      keyIds.set(name, id);
    }
    return id;
  };

  const versions: Array<Map<number, Val>> = [];
  const firstLines: Array<Map<number, number>> = []; // per key: offset -> line of its first value
  const conflicts = new Map<number, Map<Val, number>>();
  const firstPos = new Map<Val, [number, number]>(); // value -> [position, line]
  const morePositions = new Map<Val, Map<number, number>>();
  const place = (k: number, offset: number, value: Val, line: number): void => {
    let vk = versions[k];
    if (vk === undefined) {
      vk = new Map();
      versions[k] = vk;
    }
    const cur = vk.get(offset);
    const pos = k * OFFSET_SPAN + offset;
    if (cur === undefined) {
      vk.set(offset, value);
      let fl = firstLines[k];
      if (fl === undefined) {
        fl = new Map();
        firstLines[k] = fl;
      }
      fl.set(offset, line);
    } else if (cur !== value) {
      let m = conflicts.get(pos);
      if (m === undefined) {
        m = new Map([[cur, firstLines[k]!.get(offset)!]]);
        conflicts.set(pos, m);
      }
      if (!m.has(value)) m.set(value, line);
    }
    if (typeof value === 'string') return; // payloads that are not values have no identity to duplicate
    const fp = firstPos.get(value);
    if (fp === undefined) firstPos.set(value, [pos, line]);
    else if (fp[0] !== pos) {
      let m = morePositions.get(value);
      if (m === undefined) {
        m = new Map([[fp[0], fp[1]]]);
        morePositions.set(value, m);
      }
      if (!m.has(pos)) m.set(pos, line);
    }
  };

  const sends = new Map<number, SendRec>();
  const firstRead = new Map<Val, FirstRead>();
  const maxRead: number[] = [];
  const events: ConsumerEvent[] = [];
  const commits: CommitRec[] = [];
  const phases: PhaseEvent[] = [];
  // Pending invokes by process, one map per f (a completion pairs with its process's invoke of that f).
  const pendingSends = new Map<Process, { op: Op; rec: SendRec | null }>();
  const pendingCommits = new Map<Process, { op: Op; rec: CommitRec | null }>();
  const nodeDowns: NodeDown[] = [];
  const downSince = new Map<string, { fromNs: number; line: number }>();
  let missingLines = 0;
  let nextIndex = 0;
  let endNs = 0;
  let prevNs = -1;
  let replicasMoved = false;

  for (const op of history as unknown[]) {
    const why = notAnOp(op);
    if (why !== null) {
      malformed.push({ line: 0, why: `not an op: ${why}` });
      continue;
    }
    const o = op as Op;
    // Index continuity: every line from 0 is an op or a line the parser already reported.
    while (skippedLines.has(nextIndex)) nextIndex++;
    if (o.index > nextIndex) missingLines += o.index - nextIndex;
    else if (o.index < nextIndex) bad(o, `index ${o.index} after index ${nextIndex - 1}`);
    nextIndex = Math.max(nextIndex, o.index + 1);
    if (o.timeNs > endNs) endNs = o.timeNs;
    const line = lineOf(o);
    const ownTime = o.timeNs > prevNs;
    prevNs = o.timeNs;

    if (o.f === 'phase') {
      const v = o.value as { name?: unknown; status?: unknown } | null;
      if (v === null || typeof v !== 'object' || typeof v.name !== 'string' || typeof v.status !== 'string') bad(o, 'phase without {name, status}');
      else phases.push({ name: v.name, status: v.status, line });
      continue;
    }
    if (o.process === 'nemesis') {
      if (!REPLICA_NEUTRAL_FS.has(o.f)) replicasMoved = true;
      nodeAvailability(o, line, downSince, nodeDowns);
      continue;
    }
    if (typeof o.process !== 'number') continue; // other non-client ops

    if (o.f === 'send') {
      if (o.type === 'invoke') {
        const v = o.value as { key?: unknown; value?: unknown } | null;
        if (v === null || typeof v !== 'object' || typeof v.key !== 'string' || !isSendValue(v.value)) {
          bad(o, 'send invoke without {key, value} (value an integer)');
          continue;
        }
        counts.sends++;
        if (pendingSends.has(o.process)) bad(o, `process ${o.process} invoked a send with one in flight`);
        let rec: SendRec | null = null;
        if (sends.has(v.value)) bad(o, `value ${v.value} sent twice`);
        else {
          rec = { key: keyId(v.key), status: 'info', offset: -1, process: o.process, invokeLine: line, line, ackNs: null, invokeNs: o.timeNs, invokeOwnTime: ownTime };
          sends.set(v.value, rec);
        }
        pendingSends.set(o.process, { op: o, rec });
        continue;
      }
      const inv = pendingSends.get(o.process);
      if (inv === undefined) {
        bad(o, 'send completion without an invoke');
        continue;
      }
      pendingSends.delete(o.process);
      const rec = inv.rec;
      if (rec === null) continue; // a repeated value: reported at its invoke
      rec.line = line;
      if (o.type === 'ok') {
        rec.status = 'ok';
        rec.ackNs = o.timeNs;
        counts.acked++;
        const cv = o.value as { offset?: unknown } | null;
        const off = cv !== null && typeof cv === 'object' ? cv.offset : undefined;
        if (isOffset(off)) rec.offset = off; // placed in the version order after all reads (below)
        else {
          if (off !== undefined && off !== null) bad(o, `send ack offset ${String(off)} is not a non-negative integer`);
          counts.ackedWithoutOffset++;
        }
      } else if (o.type === 'fail') {
        rec.status = 'fail';
        counts.sendFailed++;
      } else {
        counts.sendIndeterminate++;
      }
      continue;
    }

    if (o.f === 'poll') {
      if (o.type === 'invoke') continue;
      if (o.type !== 'ok') {
        counts.pollsFailed++;
        continue;
      }
      counts.polls++;
      const pv = o.value;
      if (pv === null || typeof pv !== 'object' || Array.isArray(pv)) {
        bad(o, 'ok poll without a key -> pairs object');
        continue;
      }
      const reads: number[] = [];
      for (const [name, pairs] of Object.entries(pv as Record<string, unknown>)) {
        if (!Array.isArray(pairs)) {
          bad(o, `poll value for ${name} is not a list`);
          continue;
        }
        const k = keyId(name);
        for (const pair of pairs as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2 || !isOffset(pair[0])) {
            bad(o, `poll pair for ${name} is not [offset, value]`);
            continue;
          }
          const offset = pair[0];
          const value = readVal(pair[1]);
          counts.readsTotal++;
          reads.push(k, offset);
          // Only reads place values so far: the same value at the same offset again is a re-read.
          if (versions[k]?.get(offset) !== value) place(k, offset, value, line);
          if (!firstRead.has(value)) firstRead.set(value, { line, timeNs: o.timeNs, key: k, offset });
          const m = maxRead[k];
          if (m === undefined || offset > m) maxRead[k] = offset;
        }
      }
      if (reads.length === 0) counts.emptyPolls++;
      events.push({ kind: 'poll', process: o.process, line, reads });
      continue;
    }

    if (o.f === 'assign') {
      if (o.type !== 'ok') continue;
      const v = o.value as { keys?: unknown } | null;
      if (v === null || typeof v !== 'object' || !Array.isArray(v.keys) || !v.keys.every((k) => typeof k === 'string')) {
        bad(o, 'assign without {keys: [key, ...]}');
        continue;
      }
      counts.assigns++;
      events.push({ kind: 'assign', process: o.process, line, keys: (v.keys as string[]).map(keyId) });
      continue;
    }

    if (o.f === 'reposition') {
      const v = o.value as { key?: unknown; from?: unknown; to?: unknown; reason?: unknown } | null;
      if (v === null || typeof v !== 'object' || typeof v.key !== 'string') {
        bad(o, 'reposition without {key, from, to}');
        continue;
      }
      events.push({
        kind: 'reposition', process: o.process, line, key: keyId(v.key),
        from: isOffset(v.from) ? v.from : null, to: isOffset(v.to) ? v.to : null, reason: typeof v.reason === 'string' ? v.reason : null,
      });
      continue;
    }

    if (o.f === 'commit') {
      if (o.type === 'invoke') {
        const v = o.value as Record<string, unknown> | null;
        const offsets = new Map<number, number>();
        if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every(isOffset)) {
          bad(o, 'commit invoke without {key: offset, ...}');
          pendingCommits.set(o.process, { op: o, rec: null });
          continue;
        }
        for (const [name, off] of Object.entries(v)) offsets.set(keyId(name), off as number);
        if (pendingCommits.has(o.process)) bad(o, `process ${o.process} invoked a commit with one in flight`);
        const rec: CommitRec = { process: o.process, status: 'info', offsets, invokeLine: line, line: -1 };
        counts.commits++;
        commits.push(rec);
        pendingCommits.set(o.process, { op: o, rec });
        continue;
      }
      const inv = pendingCommits.get(o.process);
      if (inv === undefined) {
        bad(o, 'commit completion without an invoke');
        continue;
      }
      pendingCommits.delete(o.process);
      const rec = inv.rec;
      if (rec === null) continue;
      rec.line = line;
      rec.status = o.type === 'ok' ? 'ok' : o.type === 'fail' ? 'fail' : 'info';
      if (o.type === 'ok') counts.commitsOk++;
      else if (o.type === 'fail') counts.commitsFailed++;
      else counts.commitsIndeterminate++;
      continue;
    }
    // other client fs (the log workload's, future ones) are not the queue checker's
  }
  // Sends and commits still pending at the end never completed: indeterminate.
  for (const { rec } of pendingSends.values()) if (rec !== null) counts.sendIndeterminate++;
  for (const { rec } of pendingCommits.values()) if (rec !== null) counts.commitsIndeterminate++;

  for (const [node, d] of downSince) nodeDowns.push({ node, fromNs: d.fromNs, toNs: Infinity, line: d.line });
  if (replicasMoved) nodeDowns.length = 0;

  // Acknowledged offsets join the version order now, after the reads (so the reads could tell re-reads).
  for (const [value, rec] of sends) if (rec.status === 'ok' && rec.offset >= 0) place(rec.key, rec.offset, value, rec.line);

  const known: Float64Array[] = keyNames.map((_, k) => {
    const vk = versions[k];
    return (vk === undefined ? new Float64Array(0) : Float64Array.from(vk.keys())).sort();
  });

  return {
    keyNames, keyIds, sends, versions, known, conflicts, morePositions, firstRead, maxRead, events, commits, phases,
    nodeDowns, malformed, missingLines, endNs, counts,
  };
}

/** One nemesis op's effect on which nodes are known down (the rule is in the module doc). */
function nodeAvailability(o: Op, line: number, downSince: Map<string, { fromNs: number; line: number }>, out: NodeDown[]): void {
  const v = o.value as { nodes?: unknown; error?: unknown; tookMs?: unknown } | null;
  if (v === null || typeof v !== 'object' || !Array.isArray(v.nodes)) return;
  const nodes = v.nodes.filter((n): n is string => typeof n === 'string');
  if (DOWN_FS.has(o.f)) {
    if (v.error !== undefined) return; // the action failed: the node may still be up
    for (const n of nodes) if (!downSince.has(n)) downSince.set(n, { fromNs: o.timeNs, line });
    return;
  }
  if (!UP_FS.has(o.f)) return;
  const tookMs = typeof v.tookMs === 'number' && Number.isFinite(v.tookMs) && v.tookMs >= 0 ? v.tookMs : null;
  for (const n of nodes) {
    const d = downSince.get(n);
    if (d === undefined) continue;
    downSince.delete(n);
    if (tookMs === null) continue;
    const toNs = o.timeNs - (tookMs + 1) * 1e6;
    if (toNs > d.fromNs) out.push({ node: n, fromNs: d.fromNs, toNs, line: d.line });
  }
}

/** Index of the first element of sorted `arr` that is > x. */
export function upperBound(arr: Float64Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many known offsets of key k lie in [from, to) . */
export function knownBetween(ix: QueueIndex, k: number, from: number, to: number): number {
  const offsets = ix.known[k]!;
  return upperBound(offsets, to - 1) - upperBound(offsets, from - 1);
}
