/**
 * Per-second send outcomes for the report's timeline (pure): each client send is counted in the
 * second of its invoke, under the type of its completion (`ok`, `fail`, `info`), or `pending` when it
 * never completed (an interrupted run). Completions pair with the invoke of the same process, as every
 * process has at most one op in flight.
 */
import type { History } from '../../checkers/history.ts';

export interface SecondBucket {
  second: number;
  sends: number;
  ok: number;
  fail: number;
  info: number;
  pending: number;
}

export function sendBuckets(history: History): SecondBucket[] {
  const pending = new Map<string, SecondBucket>();
  const buckets = new Map<number, SecondBucket>();
  for (const op of history) {
    if (op.f !== 'send' || op.process === 'nemesis') continue;
    const pk = String(op.process);
    if (op.type === 'invoke') {
      const sec = Math.floor(op.timeNs / 1e9);
      let b = buckets.get(sec);
      if (b === undefined) {
        b = { second: sec, sends: 0, ok: 0, fail: 0, info: 0, pending: 0 };
        buckets.set(sec, b);
      }
      b.sends++;
      b.pending++;
      pending.set(pk, b);
      continue;
    }
    const b = pending.get(pk);
    if (b === undefined) continue;
    pending.delete(pk);
    b.pending--;
    b[op.type]++;
  }
  return [...buckets.values()].sort((a, b) => a.second - b.second);
}
