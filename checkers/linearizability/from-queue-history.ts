/**
 * Queue-workload history (design.md history.jsonl: `send`, `poll`, `assign`) as log-model ops, so a
 * Kafka run can be checked for linearizability per topic-partition.
 *   send {key, value} ok with offset o  -> append key value -> o
 *   send ok without offset (acks=0), or info -> append with unknown result (may or may not have happened)
 *   send fail                            -> dropped (never happened)
 *   poll ok {key: [[o, v], ...], ...}    -> one read per key with records: offsets [o..] -> values [v..]
 *   poll fail/info, assign, empty keys   -> dropped (they observe nothing)
 *   commit, reposition                   -> dropped (a consumer's own bookkeeping: no read or write of a log)
 * Every produced op keeps the poll's or send's call and return times.
 *
 * `refineLogOps` then removes the search's worst branching, unknown appends, without changing the
 * verdict (values are unique, and each offset of a key holds one value in the model):
 * - an unknown append whose value some read returned at offset o must have happened, at offset o:
 *   it becomes required with output o (return still unknown, +Infinity);
 * - an unknown append whose value no read returned is dropped when its key has no gap (every offset
 *   up to the highest acknowledged or read one is acknowledged or read) and no read saw "nothing":
 *   it could then only sit above every observed offset, where it changes nothing observable.
 */
import type { CompletedOp } from './parse/ops.ts';
import type { LinOp } from './types.ts';
import { badOp, scalar, type ModelOp } from './models/common.ts';
import type { LogInput, LogOutput } from './models/log.ts';

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function isQueueOp(op: CompletedOp): boolean {
  return op.f === 'send' || op.f === 'poll' || op.f === 'assign' || op.f === 'commit' || op.f === 'reposition';
}

export function fromQueueOp(op: CompletedOp): Array<ModelOp<LogInput, LogOutput>> {
  if (op.f === 'assign' || op.f === 'commit' || op.f === 'reposition' || op.type === 'fail') return [];
  if (op.f === 'send') {
    const inv = record(op.invoke.value);
    const key = scalar(inv?.['key']);
    const value = scalar(inv?.['value']);
    if (typeof key !== 'string' || value === undefined || value === null) return badOp(op, 'send takes {key, value}');
    const offset = op.type === 'ok' ? record(op.completion?.value)?.['offset'] : undefined;
    return [{ input: { f: 'append', key, value }, output: typeof offset === 'number' ? offset : undefined }];
  }
  if (op.f === 'poll') {
    if (op.type !== 'ok') return [];
    const got = record(op.completion?.value);
    if (got === undefined) return [];
    const out: Array<ModelOp<LogInput, LogOutput>> = [];
    for (const [key, pairs] of Object.entries(got)) {
      if (!Array.isArray(pairs) || pairs.length === 0) continue;
      const offsets: number[] = [];
      const values: Array<number | string | boolean | null> = [];
      for (const p of pairs) {
        if (!Array.isArray(p) || typeof p[0] !== 'number' || scalar(p[1]) === undefined) return badOp(op, 'poll results are key -> [[offset, value], ...]');
        offsets.push(p[0]);
        values.push(scalar(p[1])!);
      }
      out.push({ input: { f: 'read', key, offsets }, output: values });
    }
    return out;
  }
  return badOp(op, 'queue-history ops are send, poll, assign, commit and reposition');
}

export function refineLogOps(ops: LinOp<LogInput, LogOutput>[]): LinOp<LogInput, LogOutput>[] {
  const readAt = new Map<string, Map<number | string | boolean, number>>();
  const claimed = new Map<string, Set<number>>();
  const sawNothing = new Set<string>();
  const claim = (key: string, o: number): void => {
    let s = claimed.get(key);
    if (!s) claimed.set(key, (s = new Set()));
    s.add(o);
  };
  for (const op of ops) {
    const inp = op.input;
    if (inp.f === 'append') {
      if (typeof op.output === 'number') claim(inp.key, op.output);
      continue;
    }
    if (op.output === undefined || typeof op.output === 'number') continue;
    let m = readAt.get(inp.key);
    if (!m) readAt.set(inp.key, (m = new Map()));
    op.output.forEach((v, i) => {
      const o = inp.offsets[i]!;
      if (v === null) {
        sawNothing.add(inp.key);
        return;
      }
      claim(inp.key, o);
      if (!m.has(v)) m.set(v, o);
    });
  }
  const gapFree = (key: string): boolean => {
    const s = claimed.get(key);
    if (!s || s.size === 0) return true;
    let max = -1;
    for (const o of s) max = Math.max(max, o);
    return s.size === max + 1;
  };
  const out: LinOp<LogInput, LogOutput>[] = [];
  for (const op of ops) {
    const inp = op.input;
    if (inp.f !== 'append' || op.output !== undefined || inp.value === null) {
      out.push(op);
      continue;
    }
    const o = readAt.get(inp.key)?.get(inp.value);
    if (o !== undefined) out.push({ ...op, output: o });
    else if (sawNothing.has(inp.key) || !gapFree(inp.key)) out.push(op);
  }
  return out;
}
