/**
 * Availability and latency (design.md "results.json": `availability` and `latencyMs`). Pure; never
 * throws (an exception becomes `valid: 'unknown'`); one pass over the history plus sorts.
 *
 * Times are in ms since the run started (`timeNs / 1e6`). A client op's latency is its completion's
 * time minus its invoke's (pairing by process, as every process has at most one op in flight).
 *
 * Fault windows: nemesis `info` ops mark them (nemesis/index.ts records `{ nodes, ..., error? }`; an op
 * with an `error` did not take effect, so it opens or closes nothing). An op whose `f` is a fault
 * (`kill`, `pause`, `partition`, or `start-<x>`) opens a window; the matching recovery
 * (`restart`/`start` for kill, `resume` for pause, `stop-<x>` for `start-<x>`) closes the oldest open
 * window of that fault whose nodes overlap the recovery's nodes, or every open window of that fault
 * when the recovery names no nodes; `heal` closes every open partition window (it lifts every grudge,
 * whatever nodes it names); `heal-all`/`recover` close every open window. A window never closed ends at
 * the history's last op (`closed: false`). Quiet windows are the gaps between the union of the fault
 * windows, from the first op to the last. At most `maxWindows` windows of each kind are listed
 * (`windowsTruncated` says when more existed); aggregates cover them all.
 *
 * Availability of a set of sends = acked / attempted, where a send is attributed to the window holding
 * its invoke time, and a send never completed counts as attempted and not acked; `null` when no send
 * was attempted.
 *
 * Unavailability ("failover time seen by clients"): sweep every send's invoke and completion in time
 * order. A stretch of unavailability starts when a send is attempted with none acknowledged since: at an
 * `ok` completion while other sends are still in flight, or else at the next send invoke; it ends at the
 * next `ok` send completion, or, if none comes, at the last send event. For each fault window, its
 * `longestUnavailableMs` is the longest stretch clipped to [fault start, fault end + settleMs], where
 * the settle time stops short at the next fault's start (but never before this fault's end).
 *
 * Latency: nearest-rank percentiles p50, p90, p99 and the max of `ok` sends and `ok` polls, in ms.
 */
import type { History, Op, Process } from './history.ts';
import { checkSafe } from './result.ts';
import type { Validity } from './result.ts';

export interface PerfOptions {
  /** how long after a fault ends its unavailability is still attributed to it (default 5000) */
  settleMs?: number;
  /** windows of each kind listed (default 1000) */
  maxWindows?: number;
}

export interface Ratio {
  attempted: number;
  acked: number;
  /** acked / attempted, null when nothing was attempted */
  ratio: number | null;
}

export interface FaultWindow extends Ratio {
  fault: string;
  nodes: string[];
  startMs: number;
  endMs: number;
  closed: boolean;
  longestUnavailableMs: number;
  /** where that longest stretch lies (clipped), null when there was none */
  unavailableFromMs: number | null;
  unavailableToMs: number | null;
}

export interface QuietWindow extends Ratio {
  startMs: number;
  endMs: number;
}

export interface Availability {
  overall: Ratio;
  faulted: Ratio;
  quiet: Ratio;
  faultWindows: FaultWindow[];
  quietWindows: QuietWindow[];
  windowsTruncated: boolean;
  /** the longest unavailability over all fault windows (0 when there were none) */
  maxUnavailableMs: number;
  settleMs: number;
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface LatencyMs {
  send: Percentiles;
  poll: Percentiles;
}

export type PerfResult = {
  valid: Validity;
  availability: Availability;
  latencyMs: LatencyMs;
  error?: string;
};

export const DEFAULT_SETTLE_MS = 5000;
export const DEFAULT_MAX_WINDOWS = 1000;

/** fault `f` -> the `f`s that end it */
const RECOVERY: Record<string, readonly string[]> = {
  kill: ['restart', 'start'],
  pause: ['resume'],
  partition: ['heal'],
};
const RECOVER_ALL = new Set(['heal-all', 'recover']);

function faultOf(f: string): string | null {
  if (f in RECOVERY) return f;
  if (f.startsWith('start-')) return f;
  return null;
}

function recoveredFaults(f: string): string[] {
  const out: string[] = [];
  for (const [fault, ends] of Object.entries(RECOVERY)) if (ends.includes(f)) out.push(fault);
  if (f.startsWith('stop-')) out.push(`start-${f.slice(5)}`);
  return out;
}

/** A nemesis op recorded with an `error`: the backend action failed, so nothing changed. */
function failed(value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as { error?: unknown }).error !== undefined;
}

function nodesOf(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  const n = (value as { nodes?: unknown }).nodes;
  return Array.isArray(n) ? n.filter((x): x is string => typeof x === 'string') : [];
}

/** Nearest-rank percentile of a sorted array. */
function rank(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function percentiles(values: Float64Array): Percentiles {
  const sorted = values.slice().sort();
  return {
    count: sorted.length,
    p50: rank(sorted, 0.5),
    p90: rank(sorted, 0.9),
    p99: rank(sorted, 0.99),
    max: sorted.length === 0 ? null : sorted[sorted.length - 1]!,
  };
}

function ratio(attempted: number, acked: number): Ratio {
  return { attempted, acked, ratio: attempted === 0 ? null : acked / attempted };
}

/** A growable Float64Array. */
class Floats {
  #buf = new Float64Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.#buf.length) {
      const next = new Float64Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.length++] = x;
  }
  view(): Float64Array {
    return this.#buf.subarray(0, this.length);
  }
}

/** Index of the first element of sorted `arr` that is >= x. */
function lowerBound(arr: Float64Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface OpenWindow {
  fault: string;
  nodes: string[];
  startMs: number;
}

function check(history: History, opts: PerfOptions): PerfResult {
  const settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  const maxWindows = opts.maxWindows ?? DEFAULT_MAX_WINDOWS;
  const sendLat = new Floats();
  const pollLat = new Floats();
  // Per send: invoke time and whether it was acked (completion time irrelevant for attribution).
  const sendInvokeMs = new Floats();
  const sendAcked: boolean[] = [];
  // Unavailability stretches, in time order.
  const stretchFrom = new Floats();
  const stretchTo = new Floats();
  const pending = new Map<Process, { op: Op; send: number }>();
  let inFlight = 0;
  let stretchStart: number | null = null;
  let lastSendEventMs = 0;
  let firstMs: number | null = null;
  let lastMs = 0;
  let prevMs = -Infinity;
  let ordered = true;

  const windows: Array<OpenWindow & { endMs: number; closed: boolean }> = [];
  let open: OpenWindow[] = [];
  const closeWindow = (w: OpenWindow, endMs: number): void => {
    windows.push({ ...w, endMs, closed: true });
  };

  for (const op of history) {
    if (op === null || typeof op !== 'object' || typeof op.timeNs !== 'number') continue;
    const t = op.timeNs / 1e6;
    if (t < prevMs) ordered = false;
    prevMs = t;
    firstMs ??= t;
    if (t > lastMs) lastMs = t;
    if (op.process === 'nemesis') {
      if (op.type !== 'info' || failed(op.value)) continue;
      const fault = faultOf(op.f);
      const nodes = op.f === 'heal' ? [] : nodesOf(op.value);
      if (fault !== null) {
        open.push({ fault, nodes, startMs: t });
        continue;
      }
      if (RECOVER_ALL.has(op.f)) {
        for (const w of open) closeWindow(w, t);
        open = [];
        continue;
      }
      const ends = recoveredFaults(op.f);
      if (ends.length === 0) continue;
      if (nodes.length === 0) {
        open = open.filter((w) => {
          if (!ends.includes(w.fault)) return true;
          closeWindow(w, t);
          return false;
        });
      } else {
        const i = open.findIndex((w) => ends.includes(w.fault) && (w.nodes.length === 0 || w.nodes.some((n) => nodes.includes(n))));
        if (i >= 0) {
          closeWindow(open[i]!, t);
          open.splice(i, 1);
        }
      }
      continue;
    }
    if (op.f !== 'send' && op.f !== 'poll') continue;
    if (op.type === 'invoke') {
      if (op.f === 'send') {
        pending.set(op.process, { op, send: sendAcked.length });
        sendInvokeMs.push(t);
        sendAcked.push(false);
        inFlight++;
        lastSendEventMs = t;
        stretchStart ??= t;
      } else {
        pending.set(op.process, { op, send: -1 });
      }
      continue;
    }
    const p = pending.get(op.process);
    if (p === undefined || p.op.f !== op.f) continue;
    pending.delete(op.process);
    const lat = t - p.op.timeNs / 1e6;
    if (op.f === 'poll') {
      if (op.type === 'ok') pollLat.push(lat);
      continue;
    }
    inFlight--;
    lastSendEventMs = t;
    if (op.type === 'ok') {
      sendLat.push(lat);
      sendAcked[p.send] = true;
      if (stretchStart !== null) {
        stretchFrom.push(stretchStart);
        stretchTo.push(t);
      }
      stretchStart = inFlight > 0 ? t : null;
    }
  }
  if (stretchStart !== null && lastSendEventMs > stretchStart) {
    stretchFrom.push(stretchStart);
    stretchTo.push(lastSendEventMs);
  }
  if (!ordered) throw new Error('history timeNs is not monotonic in index order');
  for (const w of open) windows.push({ ...w, endMs: lastMs, closed: false });
  windows.sort((a, b) => a.startMs - b.startMs);

  const invokes = sendInvokeMs.view(); // sorted, as the history is
  const ackedPrefix = new Uint32Array(invokes.length + 1);
  for (let i = 0; i < invokes.length; i++) ackedPrefix[i + 1] = ackedPrefix[i]! + (sendAcked[i] ? 1 : 0);
  /** sends invoked in [from, to) */
  const range = (from: number, to: number): Ratio => {
    const a = lowerBound(invokes, from);
    const b = lowerBound(invokes, to);
    return ratio(b - a, ackedPrefix[b]! - ackedPrefix[a]!);
  };
  const from = stretchFrom.view();
  const to = stretchTo.view();
  // Stretch ends are nondecreasing (each ends at a later ok completion), so binary search on `to`.
  const longest = (lo: number, hi: number): [number, number | null, number | null] => {
    let best = 0;
    let bestFrom: number | null = null;
    let bestTo: number | null = null;
    for (let i = lowerBound(to, lo); i < to.length && from[i]! < hi; i++) {
      const a = Math.max(lo, from[i]!);
      const b = Math.min(hi, to[i]!);
      if (b - a > best) {
        best = b - a;
        bestFrom = a;
        bestTo = b;
      }
    }
    return [best, bestFrom, bestTo];
  };

  const faultWindows: FaultWindow[] = [];
  let maxUnavailableMs = 0;
  // The union of fault windows, for the faulted/quiet aggregates and the quiet windows.
  const union: Array<[number, number]> = [];
  for (let wi = 0; wi < windows.length; wi++) {
    const w = windows[wi]!;
    // Settle time after the fault, but never into the next fault's window.
    const nextStart = windows[wi + 1]?.startMs ?? Infinity;
    const [len, uFrom, uTo] = longest(w.startMs, Math.max(w.endMs, Math.min(w.endMs + settleMs, nextStart)));
    if (len > maxUnavailableMs) maxUnavailableMs = len;
    if (faultWindows.length < maxWindows) {
      faultWindows.push({
        fault: w.fault, nodes: w.nodes, startMs: w.startMs, endMs: w.endMs, closed: w.closed,
        ...range(w.startMs, w.closed ? w.endMs : Infinity), longestUnavailableMs: len, unavailableFromMs: uFrom, unavailableToMs: uTo,
      });
    }
    const last = union[union.length - 1];
    const end = w.closed ? w.endMs : Infinity;
    if (last !== undefined && w.startMs <= last[1]) last[1] = Math.max(last[1], end);
    else union.push([w.startMs, end]);
  }
  let faultedAttempted = 0;
  let faultedAcked = 0;
  for (const [a, b] of union) {
    const r = range(a, b);
    faultedAttempted += r.attempted;
    faultedAcked += r.acked;
  }
  const quietWindows: QuietWindow[] = [];
  const start = firstMs ?? 0;
  let cursor = start;
  let quietCount = 0;
  // The last quiet window (to the end of the history) also takes sends invoked at its very end.
  const addQuiet = (a: number, b: number, last: boolean): void => {
    if (b <= a && !last) return;
    quietCount++;
    if (quietWindows.length < maxWindows) quietWindows.push({ startMs: a, endMs: b, ...range(a, last ? Infinity : b) });
  };
  for (const [a, b] of union) {
    addQuiet(cursor, a, false);
    cursor = Math.max(cursor, b);
  }
  if (cursor !== Infinity && (lastMs > cursor || union.length === 0)) addQuiet(cursor, lastMs, true);
  const overall = ratio(invokes.length, ackedPrefix[invokes.length]!);
  return {
    valid: true,
    availability: {
      overall,
      faulted: ratio(faultedAttempted, faultedAcked),
      quiet: ratio(overall.attempted - faultedAttempted, overall.acked - faultedAcked),
      faultWindows,
      quietWindows,
      windowsTruncated: windows.length > maxWindows || quietCount > maxWindows,
      maxUnavailableMs,
      settleMs,
    },
    latencyMs: { send: percentiles(sendLat.view()), poll: percentiles(pollLat.view()) },
  };
}

const EMPTY_PERCENTILES: Percentiles = { count: 0, p50: null, p90: null, p99: null, max: null };

/** Availability and latency of a history; never throws. */
export function checkPerf(history: History, opts: PerfOptions = {}): PerfResult {
  const r = checkSafe((h: History) => check(h, opts), history);
  if ('availability' in r) return r;
  const none = ratio(0, 0);
  return {
    valid: 'unknown',
    error: r.error,
    availability: {
      overall: none, faulted: none, quiet: none, faultWindows: [], quietWindows: [], windowsTruncated: false,
      maxUnavailableMs: 0, settleMs: opts.settleMs ?? DEFAULT_SETTLE_MS,
    },
    latencyMs: { send: EMPTY_PERCENTILES, poll: EMPTY_PERCENTILES },
  };
}
