/**
 * Quick refutations of kv histories (`Model.refute` of the kv model): necessary conditions of
 * linearizability that cost a sort and a few string comparisons per read, checked before a search
 * that may be long.
 *
 * Between two ops of a key with no put in between, the key's value only grows by appends. A put p
 * can be linearized between an op X and a later op B (X returned before B was called) only if p
 * was called by B's return and returned (or never returned) by X's call: otherwise it precedes X
 * or follows B in every linearization. So for a read B (a get with a known result) and an earlier
 * op X with no put able to come between them:
 *   - `readExtendsEarlierRead`: X a get: B's value extends X's (X's value is a prefix of it);
 *   - `readHoldsEarlierAppend`: X an append that completed: B's value contains X's appended value
 *     (the value after X ends with it, and later appends only add to the end).
 * Each rule only claims a failure that every linearization has, so a refutation is a verdict (not
 * linearizable) and the search may stop; when no rule fires, the search decides, as before. Time is
 * the engine's: an op returns at max(call, ret), unknown-output ops never (+Infinity), and intervals
 * are closed (equal times are concurrent, so "before" is strict).
 */
import type { LinOp, Refutation } from '../types.ts';
import type { KvInput, KvOutput } from './kv.ts';

type KvOp = LinOp<KvInput, KvOutput>;

/** Earlier ops a read is compared with, at most (latest returned first): bounds the work per read. */
const maxEarlierPerRead = 64;

function returnTime(op: KvOp): number {
  return op.output === undefined ? Infinity : Math.max(op.ret, op.call);
}

/** X's value read by `earlier` is a prefix of the value read by `read`. */
export function readExtendsEarlierRead(earlier: KvOp, read: KvOp): boolean {
  return (read.output as string).startsWith(earlier.output as string);
}

/** The value appended by `earlier` occurs in the value read by `read`. */
export function readHoldsEarlierAppend(earlier: KvOp, read: KvOp): boolean {
  return (read.output as string).includes(earlier.input.value);
}

/**
 * For each put-free stretch before a read, the latest time a put may still take effect: the
 * largest return time of the puts called by the read's return (-Infinity: none). An op called after
 * it cannot have a put between itself and the read.
 */
function putFence(ops: readonly KvOp[], puts: readonly number[]): (readRet: number) => number {
  const byCall = [...puts].sort((a, b) => ops[a]!.call - ops[b]!.call);
  const calls = byCall.map((i) => ops[i]!.call);
  const fences: number[] = [];
  let fence = -Infinity;
  for (const i of byCall) fences.push((fence = Math.max(fence, returnTime(ops[i]!))));
  return (readRet) => {
    // The last put called at or before readRet (binary search over the sorted calls).
    let lo = 0;
    let hi = calls.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (calls[mid]! <= readRet) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? -Infinity : fences[lo - 1]!;
  };
}

/** The first rule broken among one key's ops (indices into `ops`), or undefined. */
function refuteKey(ops: readonly KvOp[], indices: readonly number[]): Refutation | undefined {
  const puts: number[] = [];
  const reads: number[] = [];
  const earlier: number[] = [];
  for (const i of indices) {
    const op = ops[i]!;
    if (op.input.f === 'put') puts.push(i);
    else if (op.output === undefined) continue;
    else if (op.input.f === 'get') {
      reads.push(i);
      earlier.push(i);
    } else if (op.input.value !== '') earlier.push(i);
  }
  if (reads.length === 0 || earlier.length < 2) return undefined;
  const fenceBefore = putFence(ops, puts);
  earlier.sort((a, b) => returnTime(ops[a]!) - returnTime(ops[b]!));
  const rets = earlier.map((i) => returnTime(ops[i]!));
  for (const r of reads) {
    const read = ops[r]!;
    const fence = fenceBefore(returnTime(read));
    // Earlier ops that returned before the read was called, latest first, while no put may come between.
    let k = lowerBound(rets, read.call) - 1;
    for (let seen = 0; k >= 0 && seen < maxEarlierPerRead && rets[k]! > fence; k--, seen++) {
      const x = ops[earlier[k]!]!;
      if (x.call <= fence) continue;
      if (x.input.f === 'get') {
        if (!readExtendsEarlierRead(x, read)) return { rule: 'a read lacks part of the value an earlier read saw, with no put able to come between', ops: [earlier[k]!, r] };
      } else if (!readHoldsEarlierAppend(x, read)) {
        return { rule: 'a read lacks the value of an append that completed before it, with no put able to come between', ops: [earlier[k]!, r] };
      }
    }
  }
  return undefined;
}

/** The first index of sorted `xs` whose value is >= t. */
function lowerBound(xs: readonly number[], t: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Refute a kv history (one partition: one key or several) by the rules above, key by key. */
export function refuteKv(ops: readonly KvOp[]): Refutation | undefined {
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < ops.length; i++) {
    const key = ops[i]!.input.key;
    const list = byKey.get(key);
    if (list) list.push(i);
    else byKey.set(key, [i]);
  }
  for (const indices of byKey.values()) {
    const found = refuteKey(ops, indices);
    if (found) return found;
  }
  return undefined;
}
