/**
 * Key-value store of strings (Porcupine's kv model). Every key starts as "". Ops:
 *   get k     -> v   legal iff state[k] == v (a nil result reads as "")
 *   put k v   -> ok  state[k] := v
 *   append k v-> ok  state[k] := state[k] + v
 * Keys are independent, so with `partitioned` (the default) each key is checked alone
 * (P-compositionality); `partitioned: false` searches the whole history at once (slower, same verdict).
 * History mapping: EDN ops carry `:key`; jsonl ops carry `value: {key, value}` and a get completes
 * with `value: {key, value}` or the plain string. `fail` ops never happened; `info` ops are unknown.
 */
import type { CompletedOp } from '../parse/ops.ts';
import type { LinOp, Model } from '../types.ts';
import { combine, hashString } from '../hash.ts';
import { badOp, scalar, type ModelOp, type ModelSpec } from './common.ts';

export type KvInput = { f: 'get' | 'put' | 'append'; key: string; value: string };
export type KvOutput = string | true;
/** Key -> value; absent keys are "". Treated as immutable. */
export type KvState = ReadonlyMap<string, string>;

function stateHash(s: KvState): number {
  let h = 0;
  for (const [k, v] of s) if (v !== '') h ^= combine(hashString(k), hashString(v));
  return h;
}

function stateEqual(a: KvState, b: KvState): boolean {
  for (const [k, v] of a) if ((b.get(k) ?? '') !== v) return false;
  for (const [k, v] of b) if ((a.get(k) ?? '') !== v) return false;
  return true;
}

export function kvModel(partitioned = true): Model<KvState, KvInput, KvOutput> {
  const model: Model<KvState, KvInput, KvOutput> = {
    name: partitioned ? 'kv' : 'kv (unpartitioned)',
    init: () => new Map(),
    step(state, input, output) {
      const cur = state.get(input.key) ?? '';
      if (input.f === 'get') return output === undefined || output === cur ? state : undefined;
      const nextValue = input.f === 'put' ? input.value : cur + input.value;
      if (nextValue === cur) return state;
      const m = new Map(state);
      m.set(input.key, nextValue);
      return m;
    },
    hash: stateHash,
    equal: stateEqual,
    describeOp(input, output) {
      if (input.f === 'get') return `get ${input.key} -> ${output === undefined ? '?' : JSON.stringify(output)}`;
      return `${input.f} ${input.key} ${JSON.stringify(input.value)}`;
    },
    describeState(s) {
      const parts = [...s].filter(([, v]) => v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${parts.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;
    },
  };
  if (partitioned) {
    model.partition = (ops: readonly LinOp<KvInput, KvOutput>[]) => groupBy(ops, (op) => op.input.key);
    model.partitionLabel = (ops) => `key ${ops[0]?.input.key ?? ''}`;
  }
  return model;
}

/** Indices of `ops` grouped by `keyOf`, groups in order of first appearance. */
export function groupBy<T>(ops: readonly T[], keyOf: (op: T) => string): number[][] {
  const groups = new Map<string, number[]>();
  ops.forEach((op, i) => {
    const k = keyOf(op);
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  });
  return [...groups.values()];
}

function keyAndValue(op: CompletedOp, v: unknown): { key: string | undefined; value: unknown } {
  const fieldKey = scalar(op.invoke.fields['key']);
  if (fieldKey !== undefined && fieldKey !== null) return { key: String(fieldKey), value: v };
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'key' in v) {
    const rec = v as Record<string, unknown>;
    const k = scalar(rec['key']);
    return { key: k === undefined || k === null ? undefined : String(k), value: rec['value'] ?? null };
  }
  return { key: undefined, value: v };
}

export function adaptKv(op: CompletedOp): Array<ModelOp<KvInput, KvOutput>> {
  if (op.f !== 'get' && op.f !== 'put' && op.f !== 'append') return badOp(op, 'allowed f: get, put, append');
  if (op.type === 'fail') return [];
  const { key, value } = keyAndValue(op, op.invoke.value);
  if (key === undefined) return badOp(op, 'kv ops need a key (:key field, or value {key, value})');
  const unknown = op.type === 'info';
  if (op.f === 'get') {
    const got = unknown ? undefined : scalar(keyAndValue(op, op.completion?.value).value);
    const output = got === undefined ? undefined : got === null ? '' : String(got);
    return [{ input: { f: 'get', key, value: '' }, output }];
  }
  const v = scalar(value);
  if (v === undefined) return badOp(op, `${op.f} takes a string value`);
  return [{ input: { f: op.f, key, value: v === null ? '' : String(v) }, output: unknown ? undefined : true }];
}

export function kvSpec(options: { partitioned?: boolean } = {}): ModelSpec<KvState, KvInput, KvOutput> {
  return { model: kvModel(options.partitioned ?? true), adapt: adaptKv };
}
