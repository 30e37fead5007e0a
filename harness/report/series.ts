/**
 * The plot data of report.html, from a history (pure; one pass to pair ops, then per-plot passes).
 * Times are ms since the run started (`timeNs / 1e6`). Completions pair with the open invoke of the same
 * process and `f` (a process has at most one op of each `f` in flight, docs/history.md).
 *
 * Every plot has a budget, so a report of a 1M-op history stays small enough to open in a second or two;
 * each reduction keeps what a reader looks for:
 * - latency (Jepsen's latency-raw): one point per completed client op at its invoke time, a series per
 *   (f, type). A series over `LATENCY_POINTS_PER_SERIES` is cut into time buckets of which only the
 *   fastest and the slowest op are kept, so the envelope and every outlier's bucket survive.
 * - throughput: completions per second per (f, type) in at most `THROUGHPUT_MAX_BUCKETS` buckets.
 * - timeline: one bar per client op from invoke to completion (never completed: to the history's end)
 *   in its process's lane. Over `TIMELINE_MAX_BARS`, time is cut into slices of a resolution (a
 *   4000th of the run, doubled until the bars fit), and successive ops of one lane and `f` with the
 *   same outcome that start in one slice merge into one bar that counts them: at the report's width a
 *   merged bar looks as the ops would, and no bar spans more than its slice plus its last op. Past a
 *   thousandth of the run, ops of different outcomes merge too, the bar showing the worst (fail, info,
 *   pending, ok), so a failure never disappears into ok.
 * - orders (Jepsen's orders): per key, which value each consumer read (and each ack said) at each
 *   offset. Points at an offset that holds two values, or of a value at two offsets, are all kept (up
 *   to half the key's budget); the rest are sampled evenly by offset.
 * Truncation is reported (`sampled`, `mergedOps`, `keysShown`), never silent.
 */
import type { History, Op } from '../../checkers/history.ts';

export const LATENCY_POINTS_PER_SERIES = 10_000;
export const THROUGHPUT_MAX_BUCKETS = 300;
export const TIMELINE_MAX_BARS = 30_000;
export const TIMELINE_MAX_LANES = 200;
export const ORDERS_MAX_KEYS = 32;
export const ORDERS_MAX_POINTS = 40_000;

export type Outcome = 'ok' | 'fail' | 'info' | 'pending';
export const OUTCOMES: readonly Outcome[] = ['ok', 'fail', 'info', 'pending'];

/** A client op, invoke paired with completion. */
export interface PairedOp {
  process: number | string;
  f: string;
  startMs: number;
  /** null: never completed */
  endMs: number | null;
  type: Outcome;
  /** 1-based line of the completion (of the invoke when never completed) */
  line: number;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Invokes paired with their completions, in invoke order; single-line ops (assign, reposition) are left out. */
export function pairOps(history: History): PairedOp[] {
  // process -> f -> the open invoke
  const open = new Map<number | string, Map<string, PairedOp>>();
  const out: PairedOp[] = [];
  for (const op of history) {
    if (op.process === 'nemesis' || op.process === 'harness') continue;
    let byF = open.get(op.process);
    if (byF === undefined) {
      byF = new Map();
      open.set(op.process, byF);
    }
    if (op.type === 'invoke') {
      const p: PairedOp = { process: op.process, f: op.f, startMs: op.timeNs / 1e6, endMs: null, type: 'pending', line: op.index + 1 };
      byF.set(op.f, p);
      out.push(p);
      continue;
    }
    const p = byF.get(op.f);
    if (p === undefined) continue;
    byF.delete(op.f);
    p.endMs = op.timeNs / 1e6;
    p.type = op.type;
    p.line = op.index + 1;
  }
  return out;
}

export interface LatencySeries {
  f: string;
  type: Exclude<Outcome, 'pending'>;
  /** ops in the series before sampling */
  count: number;
  sampled: boolean;
  /** [invoke ms, latency ms, completion line] */
  points: Array<[number, number, number]>;
}

/** Keep the fastest and slowest point of each of `cap / 2` time buckets (points sorted by time). */
export function minMaxSample(points: Array<[number, number, number]>, cap: number, startMs: number, endMs: number): Array<[number, number, number]> {
  if (points.length <= cap) return points;
  const buckets = Math.max(1, Math.floor(cap / 2));
  const width = Math.max(1e-9, (endMs - startMs) / buckets);
  const out: Array<[number, number, number]> = [];
  let cur = -1;
  let lo: [number, number, number] | null = null;
  let hi: [number, number, number] | null = null;
  const flush = (): void => {
    if (lo === null || hi === null) return;
    if (lo === hi) out.push(lo);
    else if (lo[0] <= hi[0]) out.push(lo, hi);
    else out.push(hi, lo);
  };
  for (const p of points) {
    const b = Math.min(buckets - 1, Math.floor((p[0] - startMs) / width));
    if (b !== cur) {
      flush();
      cur = b;
      lo = p;
      hi = p;
      continue;
    }
    if (p[1] < lo![1]) lo = p;
    if (p[1] > hi![1]) hi = p;
  }
  flush();
  return out;
}

export function latencySeries(ops: readonly PairedOp[], endMs: number, cap = LATENCY_POINTS_PER_SERIES): LatencySeries[] {
  const by = new Map<string, LatencySeries>();
  for (const o of ops) {
    if (o.endMs === null || o.type === 'pending') continue;
    const k = `${o.f}\u0000${o.type}`;
    let s = by.get(k);
    if (s === undefined) {
      s = { f: o.f, type: o.type, count: 0, sampled: false, points: [] };
      by.set(k, s);
    }
    s.count++;
    s.points.push([round2(o.startMs), round2(Math.max(0, o.endMs - o.startMs)), o.line]);
  }
  const out = [...by.values()].sort((a, b) => a.f.localeCompare(b.f) || OUTCOMES.indexOf(a.type) - OUTCOMES.indexOf(b.type));
  for (const s of out) {
    if (s.points.length <= cap) continue;
    s.points = minMaxSample(s.points, cap, 0, endMs);
    s.sampled = true;
  }
  return out;
}

export interface Throughput {
  bucketMs: number;
  /** bucket start times */
  tMs: number[];
  series: Array<{ f: string; type: Exclude<Outcome, 'pending'>; count: number; opsPerS: number[] }>;
}

const NICE_BUCKETS_MS = [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 3_600_000];

export function bucketFor(endMs: number, maxBuckets: number): number {
  return NICE_BUCKETS_MS.find((b) => Math.ceil(endMs / b) <= maxBuckets) ?? Math.ceil(endMs / maxBuckets);
}

/** Completions per second per (f, type), bucketed by completion time. */
export function throughput(ops: readonly PairedOp[], endMs: number, maxBuckets = THROUGHPUT_MAX_BUCKETS): Throughput {
  const bucketMs = bucketFor(endMs, maxBuckets);
  const n = Math.max(1, Math.ceil(endMs / bucketMs));
  const by = new Map<string, Throughput['series'][number]>();
  for (const o of ops) {
    if (o.endMs === null || o.type === 'pending') continue;
    const k = `${o.f}\u0000${o.type}`;
    let s = by.get(k);
    if (s === undefined) {
      s = { f: o.f, type: o.type, count: 0, opsPerS: new Array<number>(n).fill(0) };
      by.set(k, s);
    }
    s.count++;
    const b = Math.min(n - 1, Math.floor(o.endMs / bucketMs));
    s.opsPerS[b]! += 1000 / bucketMs;
  }
  const series = [...by.values()].sort((a, b) => a.f.localeCompare(b.f) || OUTCOMES.indexOf(a.type) - OUTCOMES.indexOf(b.type));
  for (const s of series) s.opsPerS = s.opsPerS.map(round2);
  return { bucketMs, tMs: Array.from({ length: n }, (_, i) => i * bucketMs), series };
}

export interface Timeline {
  lanes: string[];
  fs: string[];
  /** [lane, start ms, end ms, outcome index (OUTCOMES), f index, first line, ops merged] */
  bars: Array<[number, number, number, number, number, number, number]>;
  /** client ops in the history */
  ops: number;
  /** the merge resolution in ms (0: every op is its own bar) */
  resolutionMs: number;
  lanesTruncated: boolean;
}

function laneOrder(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a.localeCompare(b);
}

export function timeline(ops: readonly PairedOp[], endMs: number, maxBars = TIMELINE_MAX_BARS, maxLanes = TIMELINE_MAX_LANES): Timeline {
  const procs = [...new Set(ops.map((o) => o.process))].sort(laneOrder);
  const lanesTruncated = procs.length > maxLanes;
  const shown = procs.slice(0, maxLanes);
  const laneOf = new Map(shown.map((p, i) => [p, i]));
  const fs = [...new Set(ops.map((o) => o.f))].sort();
  const fOf = new Map(fs.map((f, i) => [f, i]));
  const raw = ops.filter((o) => laneOf.has(o.process));
  let resolutionMs = 0;
  for (;;) {
    // Past a resolution of a thousandth of the run, ops of different outcomes merge too, the bar taking
    // the worst of them (fail over info over pending over ok), so a failure never disappears into ok.
    const anyType = resolutionMs >= endMs / 1000;
    const bars: Timeline['bars'] = [];
    const last: Array<Timeline['bars'][number] | undefined> = new Array(shown.length * fs.length);
    for (const o of raw) {
      const lane = laneOf.get(o.process)!;
      const t = OUTCOMES.indexOf(o.type);
      const f = fOf.get(o.f)!;
      const end = round2(o.endMs ?? endMs);
      const k = lane * fs.length + f;
      const prev = last[k];
      if (resolutionMs > 0 && prev !== undefined && (prev[3] === t || anyType) && Math.floor(o.startMs / resolutionMs) === Math.floor(prev[1] / resolutionMs)) {
        prev[2] = Math.max(prev[2], end);
        prev[3] = WORST_FIRST.indexOf(OUTCOMES[prev[3]]!) <= WORST_FIRST.indexOf(o.type) ? prev[3] : t;
        prev[6]++;
        continue;
      }
      const bar: Timeline['bars'][number] = [lane, round2(o.startMs), end, t, f, o.line, 1];
      bars.push(bar);
      last[k] = bar;
    }
    // At a resolution of the whole run every lane and f is one bar: nothing further to merge.
    if (bars.length <= maxBars || endMs <= 0 || resolutionMs > endMs) return { lanes: shown.map(String), fs, bars, ops: raw.length, resolutionMs, lanesTruncated };
    resolutionMs = resolutionMs === 0 ? endMs / 4000 : resolutionMs * 2;
  }
}

const WORST_FIRST: readonly Outcome[] = ['fail', 'info', 'pending', 'ok'];

export interface KeyOrders {
  key: string;
  /** where the points come from: "ack" (ok send acknowledgements) or "process N" */
  sources: string[];
  /** [offset, value, source index], sorted by offset */
  points: Array<[number, number, number]>;
  /** distinct (offset, value, source) observations before sampling */
  observations: number;
  /** offsets that hold two or more values */
  conflictingOffsets: number;
  /** values seen at two or more offsets */
  repeatedValues: number;
  sampled: boolean;
}

export interface Orders {
  keys: KeyOrders[];
  keysTotal: number;
}

/**
 * One key's observations, each distinct (offset, value, source) once. Kafka offsets are dense from 0,
 * so the first value seen at each offset and a bitmask of the sources that saw it live in typed arrays
 * indexed by offset (O(1) per read, for the millions of reads of a long run); a second value at an
 * offset, a source past the 31st, or an offset outside the dense range goes to a small side map.
 */
class KeyObservations {
  static readonly MAX_DENSE_OFFSET = 1 << 24;
  values = new Float64Array(1024).fill(NaN);
  masks = new Int32Array(1024);
  /** offset -> [value, source, value, source, ...] not held by the dense arrays */
  readonly extra = new Map<number, number[]>();
  readonly sources: string[] = [];
  readonly #sourceOf = new Map<string, number>();
  /** one past the highest dense offset seen */
  denseEnd = 0;
  size = 0;

  sourceIndex(source: string): number {
    let s = this.#sourceOf.get(source);
    if (s === undefined) {
      s = this.sources.length;
      this.sources.push(source);
      this.#sourceOf.set(source, s);
    }
    return s;
  }

  add(offset: number, value: number, s: number): void {
    if (Number.isInteger(offset) && offset >= 0 && offset < KeyObservations.MAX_DENSE_OFFSET && s < 31) {
      if (offset >= this.values.length) this.#grow(offset);
      const first = this.values[offset]!;
      if (Number.isNaN(first)) {
        this.values[offset] = value;
        this.masks[offset] = 1 << s;
        if (offset >= this.denseEnd) this.denseEnd = offset + 1;
        this.size++;
        return;
      }
      if (first === value) {
        const bit = 1 << s;
        if ((this.masks[offset]! & bit) === 0) {
          this.masks[offset]! |= bit;
          this.size++;
        }
        return;
      }
    }
    let vs = this.extra.get(offset);
    if (vs === undefined) {
      vs = [];
      this.extra.set(offset, vs);
    }
    for (let i = 0; i < vs.length; i += 2) if (vs[i] === value && vs[i + 1] === s) return;
    vs.push(value, s);
    this.size++;
  }

  #grow(offset: number): void {
    let n = this.values.length;
    while (n <= offset) n *= 2;
    const values = new Float64Array(n).fill(NaN);
    values.set(this.values);
    const masks = new Int32Array(n);
    masks.set(this.masks);
    this.values = values;
    this.masks = masks;
  }

  /** Every observation as [offset, value, source], by offset. */
  *each(): Generator<[number, number, number]> {
    const extraOffsets = [...this.extra.keys()].sort((a, b) => a - b);
    let e = 0;
    for (let o = 0; o < this.denseEnd; o++) {
      while (e < extraOffsets.length && extraOffsets[e]! < o) yield* this.#extraAt(extraOffsets[e++]!);
      const v = this.values[o]!;
      if (!Number.isNaN(v)) {
        const mask = this.masks[o]!;
        for (let s = 0; s < 31; s++) if ((mask & (1 << s)) !== 0) yield [o, v, s];
      }
      if (e < extraOffsets.length && extraOffsets[e] === o) yield* this.#extraAt(extraOffsets[e++]!);
    }
    while (e < extraOffsets.length) yield* this.#extraAt(extraOffsets[e++]!);
  }

  *#extraAt(o: number): Generator<[number, number, number]> {
    const vs = this.extra.get(o)!;
    for (let i = 0; i < vs.length; i += 2) yield [o, vs[i]!, vs[i + 1]!];
  }
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Per key: which value each consumer read, and each ack said, at each offset. */
export function orders(history: History, maxKeys = ORDERS_MAX_KEYS, maxPoints = ORDERS_MAX_POINTS): Orders {
  const obs = new Map<string, KeyObservations>();
  const of = (key: string): KeyObservations => {
    let m = obs.get(key);
    if (m === undefined) {
      m = new KeyObservations();
      obs.set(key, m);
    }
    return m;
  };
  for (const op of history as readonly Op[]) {
    if (op.type !== 'ok') continue;
    if (op.f === 'send') {
      const v = op.value as { key?: unknown; value?: unknown; offset?: unknown } | null;
      if (v !== null && typeof v === 'object' && typeof v.key === 'string' && isNum(v.offset) && isNum(v.value)) {
        const m = of(v.key);
        m.add(v.offset, v.value, m.sourceIndex('ack'));
      }
    } else if (op.f === 'poll' && op.value !== null && typeof op.value === 'object') {
      const source = `process ${String(op.process)}`;
      for (const [key, pairs] of Object.entries(op.value as Record<string, unknown>)) {
        if (!Array.isArray(pairs)) continue;
        let m: KeyObservations | null = null;
        let src = 0;
        for (const p of pairs as unknown[]) {
          if (!Array.isArray(p) || !isNum(p[0]) || !isNum(p[1])) continue;
          if (m === null) {
            m = of(key);
            src = m.sourceIndex(source);
          }
          m.add(p[0], p[1], src);
        }
      }
    }
  }
  const all = [...obs.entries()].map(([key, m]) => {
    const conflicting = new Set<number>();
    const offsetOfValue = new Map<number, number>();
    const repeated = new Set<number>();
    let prevOffset = NaN;
    let prevValue = NaN;
    for (const [o, v] of m.each()) {
      if (o === prevOffset && v !== prevValue) conflicting.add(o);
      if (o !== prevOffset) prevValue = v;
      prevOffset = o;
      const seen = offsetOfValue.get(v);
      if (seen === undefined) offsetOfValue.set(v, o);
      else if (seen !== o) repeated.add(v);
    }
    return { key, m, conflicting, repeated };
  });
  // Keys with something to see first, then by name.
  all.sort((a, b) => b.conflicting.size + b.repeated.size - (a.conflicting.size + a.repeated.size) || a.key.localeCompare(b.key, undefined, { numeric: true }));
  const chosen = all.slice(0, maxKeys);
  const perKey = Math.max(1000, Math.floor(maxPoints / Math.max(1, chosen.length)));
  const keys = chosen.map(({ key, m, conflicting, repeated }): KeyOrders => {
    // sources in reading order: the acks first, then processes by number
    const order = m.sources.map((s, i) => [s, i] as const).sort(([a], [b]) => (a === 'ack' ? -1 : b === 'ack' ? 1 : a.localeCompare(b, undefined, { numeric: true })));
    const renumber = new Array<number>(m.sources.length);
    order.forEach(([, old], i) => (renumber[old] = i));
    const interesting: Array<[number, number, number]> = [];
    const rest: Array<[number, number, number]> = [];
    for (const [o, v, src] of m.each()) {
      const p: [number, number, number] = [o, v, renumber[src]!];
      (conflicting.has(o) || repeated.has(v) ? interesting : rest).push(p);
    }
    let points: Array<[number, number, number]>;
    let sampled = false;
    if (m.size <= perKey) points = [...interesting, ...rest];
    else {
      sampled = true;
      const kept = interesting.slice(0, Math.floor(perKey / 2));
      const room = perKey - kept.length;
      const step = rest.length / Math.max(1, room);
      for (let i = 0; i < room && Math.floor(i * step) < rest.length; i++) kept.push(rest[Math.floor(i * step)]!);
      points = kept;
    }
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return { key, sources: order.map(([s]) => s), points, observations: m.size, conflictingOffsets: conflicting.size, repeatedValues: repeated.size, sampled };
  });
  return { keys, keysTotal: all.length };
}

/** The history's last time in ms (0 for an empty history). */
export function endMsOf(history: History): number {
  let end = 0;
  for (const op of history) if (op.timeNs / 1e6 > end) end = op.timeNs / 1e6;
  return end;
}
