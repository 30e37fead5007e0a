/**
 * The queue checker (design.md "history.jsonl" and "results.json"; Jepsen's `tests/kafka.clj` is the
 * anchor). `checkQueue(history, opts)` is pure and never throws (an exception inside becomes
 * `valid: 'unknown'` with `error`; malformed ops are skipped, counted and described in `malformed`).
 * Cost: two passes over the history plus one over the sends, with Maps keyed by key, offset and value;
 * a re-read costs one Map lookup; a binary search over a key's known offsets only when a consumer's
 * reads jump by more than one; a third pass over the polls only to name examples of aborted reads.
 *
 * Inputs it looks at: client `send` (invoke + completion), `poll` (`ok` completions only) and `assign`
 * ops; everything else (nemesis ops, unknown `f`s) is ignored. Keys are topic-partitions; values are
 * unique integers. A send's verdict is its completion's `type`; a send invoked but never completed (a
 * crashed run) counts as indeterminate, like `info`. A completion pairs with the pending invoke of the
 * same process and `f`.
 *
 * Version order: for each key, the offsets and values that `ok` polls read plus the offsets that `ok`
 * send acknowledgements report (an `ok` send without an offset, as under acks=0, adds nothing). It is
 * the set of "offsets known to exist" below.
 *
 * Anomalies, each `{ count, examples }` with at most `maxExamples` examples, all present even when 0:
 * - `lost-write` (values): an `ok` send's value that no `ok` poll ever read, whose acknowledged offset
 *   is below the highest offset of its key that some `ok` poll read. A later offset was visible, so this
 *   one should have been.
 * - `unseen` (values): an `ok` send's value never read that is not a lost-write: no `ok` poll read a
 *   higher offset of its key (lost at the tail, or never drained), or the ack carried no offset
 *   (acks=0), in which case there is nothing to compare. lost-write and unseen are disjoint and together
 *   are exactly the acknowledged values never read.
 * - `duplicate` (values): a value found at two or more distinct (key, offset) positions, counting both
 *   what polls read and what its own ack said.
 * - `inconsistent-offsets` (key-offsets): one offset of a key at which the version order holds two or
 *   more distinct values (from polls or acks).
 * - `aborted-read` (values): a value that some `ok` poll returned whose send completed `fail`.
 * - `nonmonotonic-send` (sends): an `ok` send whose acknowledged offset is strictly lower than the
 *   highest offset of an earlier `ok` send by the same process to the same key (the process's own op
 *   order). An equal offset for another value shows up as `inconsistent-offsets` instead.
 * - `poll-skip` (jumps) and `nonmonotonic-poll` (jumps): each consumer process's reads of a key are
 *   walked in history order, within a poll (in the order returned) and across its successive `ok`
 *   polls; an `ok` `assign` by that process forgets its positions for every key, so the next read of a
 *   key starts fresh. For two successive reads at offsets `a` then `b`: `b <= a` is a nonmonotonic-poll;
 *   `b > a + 1` with at least one offset of the version order strictly between them is a poll-skip
 *   (gaps with no known offset, such as transaction markers, are fine).
 *
 * Validity (design.md): `false` when any of lost-write, unseen, inconsistent-offsets, aborted-read,
 * poll-skip or nonmonotonic-poll has a count above zero, or, when `opts.idempotent`, duplicate or
 * nonmonotonic-send does; otherwise `'unknown'` when the history has no send at all (nothing was
 * tested) or some op was malformed, and `true` otherwise.
 *
 * Stats: sends (invoked), acked, sendFailed, sendIndeterminate (`info` or never completed), recovered
 * (indeterminate sends whose value some `ok` poll read), ackedWithoutOffset, polls (`ok`), pollsFailed
 * (`fail`/`info`), valuesRead (distinct), readsTotal (pairs read), readsOfUnknownValues (values read
 * that no send in the history carried), assigns, keys, malformedOps.
 */
import type { History, Op, Process } from './history.ts';
import { checkSafe } from './result.ts';
import type { Validity } from './result.ts';

export const ANOMALY_TYPES = [
  'lost-write',
  'unseen',
  'duplicate',
  'inconsistent-offsets',
  'aborted-read',
  'nonmonotonic-send',
  'poll-skip',
  'nonmonotonic-poll',
] as const;
export type AnomalyType = (typeof ANOMALY_TYPES)[number];

/** Anomalies that break the guarantee whatever the producer settings. */
export const ALWAYS_BAD: readonly AnomalyType[] = ['lost-write', 'unseen', 'inconsistent-offsets', 'aborted-read', 'poll-skip', 'nonmonotonic-poll'];
/** Anomalies that break it only when the producer is idempotent. */
export const IDEMPOTENT_BAD: readonly AnomalyType[] = ['duplicate', 'nonmonotonic-send'];

export interface Anomaly {
  count: number;
  examples: unknown[];
}

export type Anomalies = Record<AnomalyType, Anomaly>;

export interface QueueStats {
  sends: number;
  acked: number;
  sendFailed: number;
  sendIndeterminate: number;
  recovered: number;
  ackedWithoutOffset: number;
  polls: number;
  pollsFailed: number;
  valuesRead: number;
  readsTotal: number;
  readsOfUnknownValues: number;
  assigns: number;
  keys: number;
  malformedOps: number;
}

export interface QueueOptions {
  idempotent: boolean;
  acks?: '0' | '1' | 'all';
  /** examples kept per anomaly type (default 16) */
  maxExamples?: number;
}

export type QueueResult = {
  valid: Validity;
  acks?: '0' | '1' | 'all';
  idempotent: boolean;
  stats: QueueStats;
  anomalies: Anomalies;
  /** the first malformed op's description, when there was one */
  malformed?: string;
  error?: string;
};

export const DEFAULT_MAX_EXAMPLES = 16;

/** Offsets are encoded with the key's index into one number: keyIndex * OFFSET_SPAN + offset. */
const OFFSET_SPAN = 2 ** 36;
const MAX_KEYS = 2 ** 16;

const SEND_OK = 1;
const SEND_FAIL = 2;
const SEND_INFO = 3; // info, or invoked and never completed

interface SendRec {
  key: number;
  status: number;
  /** the acknowledged offset, -1 when none */
  offset: number;
  process: Process;
  /** index of the completion op (or the invoke when never completed) */
  index: number;
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
}

function isOffset(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < OFFSET_SPAN;
}

function isValue(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Index of the first element of sorted `arr` that is > x. */
function upperBound(arr: Float64Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function check(history: History, opts: QueueOptions): QueueResult {
  const maxExamples = opts.maxExamples ?? DEFAULT_MAX_EXAMPLES;
  const stats: QueueStats = {
    sends: 0,
    acked: 0,
    sendFailed: 0,
    sendIndeterminate: 0,
    recovered: 0,
    ackedWithoutOffset: 0,
    polls: 0,
    pollsFailed: 0,
    valuesRead: 0,
    readsTotal: 0,
    readsOfUnknownValues: 0,
    assigns: 0,
    keys: 0,
    malformedOps: 0,
  };
  let malformed: string | undefined;
  const bad = (op: Op, why: string): void => {
    stats.malformedOps++;
    malformed ??= `op ${op.index}: ${why}`;
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

  // Version order: per key, offset -> first value seen; extra values per encoded position.
  const versions: Array<Map<number, number>> = [];
  const conflicts = new Map<number, Set<number>>();
  // Positions per value: the first one, then all of them for values found at more than one.
  const firstPos = new Map<number, number>();
  const morePos = new Map<number, Set<number>>();
  const maxRead: number[] = [];
  const read = new Set<number>();
  const sends = new Map<number, SendRec>();

  const place = (k: number, offset: number, value: number): void => {
    let vk = versions[k];
    if (vk === undefined) {
      vk = new Map();
      versions[k] = vk;
    }
    const cur = vk.get(offset);
    const pos = k * OFFSET_SPAN + offset;
    if (cur === undefined) vk.set(offset, value);
    else if (cur !== value) {
      let s = conflicts.get(pos);
      if (s === undefined) {
        s = new Set([cur]);
        conflicts.set(pos, s);
      }
      s.add(value);
    }
    const fp = firstPos.get(value);
    if (fp === undefined) firstPos.set(value, pos);
    else if (fp !== pos) {
      let s = morePos.get(value);
      if (s === undefined) {
        s = new Set([fp]);
        morePos.set(value, s);
      }
      s.add(pos);
    }
  };

  const nonmonoSend = new Bounded(maxExamples);
  const sendHigh = new Map<Process, Map<number, number>>();
  const pendingSend = new Map<Process, Op>();

  // Pass 1: sends, version order, what was read.
  for (const op of history) {
    if (op === null || typeof op !== 'object') continue;
    if (op.f === 'send') {
      if (op.type === 'invoke') {
        const v = op.value as { key?: unknown; value?: unknown } | null;
        if (v === null || typeof v !== 'object' || typeof v.key !== 'string' || !isValue(v.value)) {
          bad(op, 'send invoke without {key, value}');
          continue;
        }
        stats.sends++;
        if (pendingSend.has(op.process)) bad(op, `process ${String(op.process)} invoked a send with one in flight`);
        pendingSend.set(op.process, op);
        if (sends.has(v.value)) bad(op, `value ${v.value} sent twice`);
        else sends.set(v.value, { key: keyId(v.key), status: SEND_INFO, offset: -1, process: op.process, index: op.index });
        continue;
      }
      const inv = pendingSend.get(op.process);
      if (inv === undefined) {
        bad(op, 'send completion without an invoke');
        continue;
      }
      pendingSend.delete(op.process);
      const iv = inv.value as { key: string; value: number };
      const rec = sends.get(iv.value);
      if (rec === undefined || rec.index !== inv.index) continue; // a repeated value: reported above
      rec.index = op.index;
      if (op.type === 'ok') {
        rec.status = SEND_OK;
        stats.acked++;
        const cv = op.value as { offset?: unknown } | null;
        const off = cv !== null && typeof cv === 'object' ? cv.offset : undefined;
        if (isOffset(off)) {
          rec.offset = off; // placed in the version order after all reads (below)
          let perKey = sendHigh.get(op.process);
          if (perKey === undefined) {
            perKey = new Map();
            sendHigh.set(op.process, perKey);
          }
          const high = perKey.get(rec.key);
          if (high !== undefined && off < high) {
            nonmonoSend.add(() => ({ process: op.process, key: iv.key, value: iv.value, offset: off, previousOffset: high, index: op.index }));
          }
          if (high === undefined || off > high) perKey.set(rec.key, off);
        } else {
          if (off !== undefined && off !== null) bad(op, `send ack offset ${String(off)} is not a non-negative integer`);
          stats.ackedWithoutOffset++;
        }
      } else if (op.type === 'fail') {
        rec.status = SEND_FAIL;
        stats.sendFailed++;
      } else {
        stats.sendIndeterminate++;
      }
    } else if (op.f === 'poll') {
      if (op.type === 'invoke') continue;
      if (op.type !== 'ok') {
        stats.pollsFailed++;
        continue;
      }
      stats.polls++;
      const pv = op.value;
      if (pv === null || typeof pv !== 'object') {
        bad(op, 'ok poll without a key -> pairs object');
        continue;
      }
      const reads = pv as Record<string, unknown>;
      for (const name in reads) {
        const pairs = reads[name];
        if (!Array.isArray(pairs)) {
          bad(op, `poll value for ${name} is not a list`);
          continue;
        }
        const k = keyId(name);
        const vk = versions[k];
        for (const pair of pairs as unknown[]) {
          if (!Array.isArray(pair) || !isOffset(pair[0]) || !isValue(pair[1])) {
            bad(op, `poll pair for ${name} is not [offset, value]`);
            continue;
          }
          const off = pair[0];
          const value = pair[1];
          stats.readsTotal++;
          // Only reads place values so far: the same value at the same offset again is a re-read.
          if (vk !== undefined && vk.get(off) === value) continue;
          place(k, off, value);
          read.add(value);
          const m = maxRead[k];
          if (m === undefined || off > m) maxRead[k] = off;
        }
      }
    } else if (op.f === 'assign' && op.type === 'ok') {
      stats.assigns++;
    }
  }
  // Sends still pending at the end never completed: indeterminate.
  stats.sendIndeterminate += pendingSend.size;
  stats.keys = keyNames.length;
  stats.valuesRead = read.size;

  // Acknowledged offsets join the version order now, after the reads (so pass 1 could tell re-reads).
  for (const [value, rec] of sends) if (rec.status === SEND_OK && rec.offset >= 0) place(rec.key, rec.offset, value);

  // Sorted known offsets per key, for poll-skip.
  const known: Float64Array[] = keyNames.map((_, k) => {
    const vk = versions[k];
    const arr = vk === undefined ? new Float64Array(0) : Float64Array.from(vk.keys());
    return arr.sort();
  });

  // Pass 2: consumer order (poll-skip, nonmonotonic-poll).
  const pollSkip = new Bounded(maxExamples);
  const nonmonoPoll = new Bounded(maxExamples);
  const positions = new Map<Process, Map<number, number>>();
  for (const op of history) {
    if (op === null || typeof op !== 'object' || op.type !== 'ok') continue;
    if (op.f === 'assign') {
      positions.delete(op.process);
      continue;
    }
    if (op.f !== 'poll' || op.value === null || typeof op.value !== 'object') continue;
    let pos = positions.get(op.process);
    if (pos === undefined) {
      pos = new Map();
      positions.set(op.process, pos);
    }
    const reads = op.value as Record<string, unknown>;
    for (const name in reads) {
      const pairs = reads[name];
      if (!Array.isArray(pairs)) continue;
      const k = keyIds.get(name);
      if (k === undefined) continue;
      const offsets = known[k]!;
      let a = pos.get(k);
      for (const pair of pairs as unknown[]) {
        if (!Array.isArray(pair) || !isOffset(pair[0]) || !isValue(pair[1])) continue;
        const b = pair[0];
        if (a !== undefined) {
          const from = a;
          if (b <= from) {
            nonmonoPoll.add(() => ({ process: op.process, key: name, fromOffset: from, toOffset: b, index: op.index }));
          } else if (b > from + 1) {
            const between = upperBound(offsets, b - 1) - upperBound(offsets, from);
            if (between > 0) pollSkip.add(() => ({ process: op.process, key: name, fromOffset: from, toOffset: b, skipped: between, index: op.index }));
          }
        }
        a = b;
      }
      if (a !== undefined) pos.set(k, a);
    }
  }

  // Aborted reads: failed sends whose value was read; examples name the first poll that read it.
  const aborted = new Bounded(maxExamples);
  const abortedAt = new Map<number, SendRec>();
  for (const [value, s] of sends) if (s.status === SEND_FAIL && read.has(value)) abortedAt.set(value, s);
  if (abortedAt.size > 0) {
    const wanted = new Set([...abortedAt.keys()].slice(0, maxExamples));
    const examples = new Map<number, unknown>();
    for (const op of history) {
      if (wanted.size === 0) break;
      if (op === null || typeof op !== 'object' || op.type !== 'ok' || op.f !== 'poll' || op.value === null || typeof op.value !== 'object') continue;
      const reads = op.value as Record<string, unknown>;
      for (const name in reads) {
        const pairs = reads[name];
        if (!Array.isArray(pairs)) continue;
        for (const pair of pairs as unknown[]) {
          if (!Array.isArray(pair) || typeof pair[1] !== 'number' || !wanted.has(pair[1])) continue;
          const value = pair[1];
          wanted.delete(value);
          examples.set(value, { key: name, value, offset: pair[0], sendIndex: abortedAt.get(value)!.index, pollIndex: op.index });
        }
      }
    }
    for (const value of abortedAt.keys()) aborted.add(() => examples.get(value));
  }

  // Acknowledged values never read: lost-write or unseen. Indeterminate values read: recovered.
  const lost = new Bounded(maxExamples);
  const unseen = new Bounded(maxExamples);
  for (const [value, s] of sends) {
    if (read.has(value)) {
      if (s.status === SEND_INFO) stats.recovered++;
      continue;
    }
    if (s.status !== SEND_OK) continue;
    const m = maxRead[s.key];
    const key = keyNames[s.key];
    if (s.offset >= 0 && m !== undefined && m > s.offset) {
      lost.add(() => ({ key, value, offset: s.offset, maxReadOffset: m, sendIndex: s.index }));
    } else {
      unseen.add(() => ({ key, value, offset: s.offset >= 0 ? s.offset : null, maxReadOffset: m ?? null, sendIndex: s.index }));
    }
  }
  for (const value of read) if (!sends.has(value)) stats.readsOfUnknownValues++;

  const decode = (pos: number): [string, number] => {
    const k = Math.floor(pos / OFFSET_SPAN);
    return [keyNames[k] ?? '?', pos - k * OFFSET_SPAN];
  };
  const duplicate = new Bounded(maxExamples);
  for (const [value, set] of morePos) {
    duplicate.add(() => ({ value, at: [...set].sort((x, y) => x - y).map((p) => { const [key, offset] = decode(p); return { key, offset }; }) }));
  }
  const inconsistent = new Bounded(maxExamples);
  const conflictPositions = [...conflicts.keys()].sort((x, y) => x - y);
  for (const pos of conflictPositions) {
    const [key, offset] = decode(pos);
    inconsistent.add(() => ({ key, offset, values: [...conflicts.get(pos)!].sort((x, y) => x - y) }));
  }

  const pack = (b: Bounded): Anomaly => ({ count: b.count, examples: b.examples });
  const anomalies: Anomalies = {
    'lost-write': pack(lost),
    unseen: pack(unseen),
    duplicate: pack(duplicate),
    'inconsistent-offsets': pack(inconsistent),
    'aborted-read': pack(aborted),
    'nonmonotonic-send': pack(nonmonoSend),
    'poll-skip': pack(pollSkip),
    'nonmonotonic-poll': pack(nonmonoPoll),
  };
  const result: QueueResult = {
    valid: queueValidity(anomalies, opts.idempotent, stats),
    idempotent: opts.idempotent,
    stats,
    anomalies,
  };
  if (opts.acks !== undefined) result.acks = opts.acks;
  if (malformed !== undefined) result.malformed = malformed;
  return result;
}

/** The design's validity rule over counted anomalies (see the module docstring). */
export function queueValidity(anomalies: Anomalies, idempotent: boolean, stats: Pick<QueueStats, 'sends' | 'malformedOps'>): Validity {
  const breaking = idempotent ? [...ALWAYS_BAD, ...IDEMPOTENT_BAD] : ALWAYS_BAD;
  if (breaking.some((t) => anomalies[t].count > 0)) return false;
  if (stats.sends === 0 || stats.malformedOps > 0) return 'unknown';
  return true;
}

/** An anomaly table with every type at count 0 (what an unknown verdict still reports). */
export function emptyAnomalies(): Anomalies {
  const out = {} as Anomalies;
  for (const t of ANOMALY_TYPES) out[t] = { count: 0, examples: [] };
  return out;
}

/** Check a history as a queue; never throws (an exception becomes `valid: 'unknown'`). */
export function checkQueue(history: History, opts: QueueOptions): QueueResult {
  const r = checkSafe((h: History) => check(h, opts), history);
  if ('stats' in r) return r;
  return {
    valid: 'unknown',
    idempotent: opts.idempotent,
    ...(opts.acks !== undefined ? { acks: opts.acks } : {}),
    stats: {
      sends: 0, acked: 0, sendFailed: 0, sendIndeterminate: 0, recovered: 0, ackedWithoutOffset: 0, polls: 0,
      pollsFailed: 0, valuesRead: 0, readsTotal: 0, readsOfUnknownValues: 0, assigns: 0, keys: 0, malformedOps: 0,
    },
    anomalies: emptyAnomalies(),
    error: r.error,
  };
}
