/**
 * Kafka-style partition log (reference §6 "Log / Kafka partition"). Per topic-partition key the state
 * is the sequence of appended values. Ops:
 *   append k v        -> offset o      legal iff o == length; v is appended
 *   read k [o1 o2 ..] -> [v1 v2 ..]    legal iff for each i: vi == values[oi] when vi is not nil,
 *                                      and oi >= length when vi is nil (nothing there yet)
 * A batch read (one poll's records of one key) is one op: all its offsets are read at one instant.
 * Keys are independent: the history is partitioned by key. An unknown append (info, or ok without an
 * offset as under acks=0) may be placed anywhere after its call, or never; an unknown read is a no-op.
 *
 * State representation: per key (length, chained hash, values array). The array's prefix [0, length) is never
 * written after creation: an append pushes onto the parent's array when the parent owns its end
 * (array length == parent length) and copies the prefix otherwise, so states share storage safely.
 *
 * History mapping (jsonl): f `append` value {key, value} completing with {offset}; f `read` value
 * {key, offset} completing with {value} (nil: nothing at that offset) or {key, offsets, values}.
 * Queue-style `send`/`poll` ops are converted by `from-queue-history.ts`. EDN: `:key` field or
 * value maps as above.
 */
import type { CompletedOp } from '../parse/ops.ts';
import type { LinOp, Model } from '../types.ts';
import { combine, hashString, hashValue } from '../hash.ts';
import { badOp, describeScalar, scalar, type ModelOp, type ModelSpec, type Scalar } from './common.ts';
import { groupByKey } from './kv.ts';
import { fromQueueOp, isQueueOp, refineLogOps } from '../from-queue-history.ts';

export type LogInput =
  | { f: 'append'; key: string; value: Scalar }
  | { f: 'read'; key: string; offsets: readonly number[] };
/** append: the offset; read: the values found (nil: none at that offset). */
export type LogOutput = number | readonly (Scalar)[];

/** One key's log. The prefix [0, length) of `values` is never written after the log is created. */
export interface KeyLog {
  readonly length: number;
  readonly hash: number;
  readonly values: Scalar[];
}

/** Key -> log (absent: empty). `hash` is the XOR of the keys' log hashes. Treated as immutable. */
export interface LogState {
  readonly logs: ReadonlyMap<string, KeyLog>;
  readonly hash: number;
}

const emptyLog: KeyLog = { length: 0, hash: 0, values: [] };

function keyLogHash(key: string, log: KeyLog): number {
  return log.length === 0 ? 0 : combine(hashString(key), log.hash ^ Math.imul(log.length, 0x27d4eb2d));
}

function keyLogEqual(a: KeyLog, b: KeyLog): boolean {
  if (a.length !== b.length || a.hash !== b.hash) return false;
  if (a.values === b.values) return true;
  for (let i = 0; i < a.length; i++) if (a.values[i] !== b.values[i]) return false;
  return true;
}

export const logModel: Model<LogState, LogInput, LogOutput> = {
  name: 'log',
  init: () => ({ logs: new Map(), hash: 0 }),
  step(state, input, output) {
    const s = state.logs.get(input.key) ?? emptyLog;
    if (input.f === 'append') {
      if (output !== undefined && output !== s.length) return undefined;
      const values = s.values.length === s.length ? s.values : s.values.slice(0, s.length);
      values.push(input.value);
      const next: KeyLog = { length: s.length + 1, hash: combine(s.hash, hashValue(input.value)), values };
      const logs = new Map(state.logs);
      logs.set(input.key, next);
      return { logs, hash: state.hash ^ keyLogHash(input.key, s) ^ keyLogHash(input.key, next) };
    }
    if (output === undefined) return state;
    if (typeof output === 'number' || output.length !== input.offsets.length) return undefined;
    for (let i = 0; i < output.length; i++) {
      const o = input.offsets[i]!;
      const v = output[i];
      if (v === null ? o < s.length : !(o < s.length && s.values[o] === v)) return undefined;
    }
    return state;
  },
  readOnly: (input) => input.f !== 'append',
  hash: (s) => s.hash,
  equal(a, b) {
    if (a.hash !== b.hash) return false;
    for (const [k, log] of a.logs) if (!keyLogEqual(log, b.logs.get(k) ?? emptyLog)) return false;
    for (const [k, log] of b.logs) if (!a.logs.has(k) && log.length !== 0) return false;
    return true;
  },
  partition: groupByKey,
  partitionLabel: (ops) => `key ${ops[0]?.input.key ?? ''}`,
  describeOp(input, output) {
    if (input.f === 'append') return `append ${input.key} ${describeScalar(input.value)} -> ${output === undefined ? '?' : String(output)}`;
    const got = output === undefined || typeof output === 'number' ? undefined : output;
    const pairs = input.offsets.map((o, i) => `${o}:${got ? describeScalar(got[i]) : '?'}`);
    return `read ${input.key} ${pairs.join(' ')}`;
  },
  describeState(state) {
    const parts: string[] = [];
    for (const [key, s] of [...state.logs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const shown = s.values.slice(Math.max(0, s.length - 8), s.length).map((v) => describeScalar(v));
      parts.push(`${key}: len ${s.length} [${s.length > 8 ? '... ' : ''}${shown.join(' ')}]`);
    }
    return parts.join('; ');
  },
};

function field(v: unknown, name: string): unknown {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[name] : undefined;
}

function keyOf(op: CompletedOp): string | undefined {
  const k = scalar(op.invoke.fields['key'] ?? field(op.invoke.value, 'key'));
  return k === undefined || k === null ? undefined : String(k);
}

export function adaptLog(op: CompletedOp): Array<ModelOp<LogInput, LogOutput>> {
  if (op.type === 'fail') return [];
  const key = keyOf(op);
  if (key === undefined) return badOp(op, 'log ops need a key (:key field, or value {key, ...})');
  const done = op.type === 'ok' ? op.completion?.value : undefined;
  if (op.f === 'append') {
    const v = scalar(field(op.invoke.value, 'value') ?? op.invoke.value);
    if (v === undefined) return badOp(op, 'append takes {key, value}');
    const offset = field(done, 'offset') ?? done;
    return [{ input: { f: 'append', key, value: v }, output: typeof offset === 'number' ? offset : undefined }];
  }
  if (op.f === 'read') {
    const offsets = field(op.invoke.value, 'offsets') ?? field(done, 'offsets');
    const single = field(op.invoke.value, 'offset');
    if (Array.isArray(offsets)) {
      const values = field(done, 'values');
      const out = Array.isArray(values) && values.length === offsets.length ? values.map((v) => scalar(v) ?? null) : undefined;
      return [{ input: { f: 'read', key, offsets: offsets.map(Number) }, output: out }];
    }
    if (typeof single !== 'number') return badOp(op, 'read takes {key, offset} or {key, offsets}');
    const v = op.type === 'ok' ? scalar(field(done, 'value') === undefined ? done : field(done, 'value')) : undefined;
    return [{ input: { f: 'read', key, offsets: [single] }, output: v === undefined ? undefined : [v] }];
  }
  return badOp(op, 'allowed f: append, read (and send, poll via the queue-history conversion)');
}

export function logSpec(): ModelSpec<LogState, LogInput, LogOutput> {
  return { model: logModel, adapt: (op) => (isQueueOp(op) ? fromQueueOp(op) : adaptLog(op)), refine: refineLogOps };
}
