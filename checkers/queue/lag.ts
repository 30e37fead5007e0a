/**
 * Consumer lag in real time (Jepsen's `worst-realtime-lag`) and unseen values over time, from the
 * queue index. Only acknowledged (`ok`) sends count; time is the history's `timeNs`, reported in ms.
 *
 * - A value's lag is the time from its acknowledgement (the `ok` send completion) to its first read by
 *   any consumer (the `ok` poll completion that first returned it), or to the end of the history when
 *   it was never read; 0 when it was read before its acknowledgement came back.
 * - `perKey[k]` is the worst lag of key k's values, with the value, whether it was read, and the lines
 *   of its ack and first read: a large lag on a value that was read is a late value, not a lost one.
 * - `overTime` samples, at the end of each bucket of `bucketMs` (the smallest of 100 ms, 250 ms, 500 ms,
 *   1 s, 2 s, 5 s, 10 s, 30 s, 60 s, 5 min that gives at most MAX_POINTS points; the last point is the
 *   end of the history): `unseen`, the number of values acknowledged by then and not yet read by then,
 *   and `lagMs`, the age then of the oldest such value (the realtime lag). A late value makes `unseen`
 *   rise and fall again; a lost one keeps it up to the end, where `unseen` equals lost-write + unseen.
 * Cost: one sort of the acknowledged values by ack time, a heap sweep over them: O(n log n).
 */
import type { QueueIndex } from './index-history.ts';

export interface KeyLag {
  worstMs: number;
  value: number;
  read: boolean;
  ackLine: number;
  readLine: number | null;
}

export interface LagPoint {
  tMs: number;
  unseen: number;
  lagMs: number;
}

export interface ConsumerLag {
  /** worst lag over every key; null when nothing was acknowledged */
  worstMs: number | null;
  perKey: Record<string, KeyLag>;
  overTime: { bucketMs: number; points: LagPoint[] };
}

export const MAX_POINTS = 120;
const BUCKETS_MS = [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000];

const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

/** A binary min-heap of [ackNs, readNs] by ackNs. */
class Heap {
  readonly #a: Array<[number, number]> = [];
  get size(): number {
    return this.#a.length;
  }
  peek(): [number, number] | undefined {
    return this.#a[0];
  }
  push(x: [number, number]): void {
    const a = this.#a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]![0] <= a[i]![0]) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): void {
    const a = this.#a;
    const last = a.pop()!;
    if (a.length === 0) return;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l]![0] < a[m]![0]) m = l;
      if (r < a.length && a[r]![0] < a[m]![0]) m = r;
      if (m === i) return;
      [a[m], a[i]] = [a[i]!, a[m]!];
      i = m;
    }
  }
}

export function consumerLag(ix: QueueIndex): ConsumerLag {
  const perKey: Record<string, KeyLag> = {};
  let worstNs: number | null = null;
  const acked: Array<[number, number]> = []; // [ackNs, readNs (Infinity when never read)]
  for (const [value, s] of ix.sends) {
    if (s.status !== 'ok' || s.ackNs === null) continue;
    const r = ix.firstRead.get(value);
    const readNs = r === undefined ? Infinity : Math.max(r.timeNs, s.ackNs);
    acked.push([s.ackNs, readNs]);
    const lagNs = (r === undefined ? Math.max(ix.endNs, s.ackNs) : readNs) - s.ackNs;
    const name = ix.keyNames[s.key]!;
    const cur = perKey[name];
    if (cur === undefined || ms(lagNs) > cur.worstMs) {
      perKey[name] = { worstMs: ms(lagNs), value, read: r !== undefined, ackLine: s.line, readLine: r?.line ?? null };
    }
    if (worstNs === null || lagNs > worstNs) worstNs = lagNs;
  }
  const endMs = ix.endNs / 1e6;
  const bucketMs = BUCKETS_MS.find((b) => Math.ceil(endMs / b) <= MAX_POINTS) ?? Math.ceil(endMs / MAX_POINTS);
  const points: LagPoint[] = [];
  if (acked.length > 0) {
    acked.sort((a, b) => a[0] - b[0]);
    // Reads in time order, for unseen(t) = acked by t - (acked and read) by t.
    const reads = acked.map((a) => a[1]).filter((t) => t !== Infinity).sort((a, b) => a - b);
    const heap = new Heap();
    let i = 0;
    let j = 0;
    const n = Math.max(1, Math.ceil(endMs / bucketMs));
    for (let b = 1; b <= n; b++) {
      const tNs = b === n ? ix.endNs : b * bucketMs * 1e6;
      while (i < acked.length && acked[i]![0] <= tNs) heap.push(acked[i++]!);
      while (j < reads.length && reads[j]! <= tNs) j++;
      while (heap.size > 0 && heap.peek()![1] <= tNs) heap.pop();
      const oldest = heap.peek();
      points.push({ tMs: ms(tNs), unseen: i - j, lagMs: oldest === undefined ? 0 : ms(tNs - oldest[0]) });
    }
  }
  return { worstMs: worstNs === null ? null : ms(worstNs), perKey, overTime: { bucketMs, points } };
}
