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
/** A key's value and its polynomial hash (h(s + t) continues h(s) over t, so appends hash in O(|t|)). */
export interface KvEntry {
  readonly value: string;
  readonly hash: number;
}
/** Key -> entry (absent: ""); `hash` is the XOR over non-empty keys of mix(key, value hash). Immutable. */
export interface KvState {
  readonly entries: ReadonlyMap<string, KvEntry>;
  readonly hash: number;
}

function extend(h: number, t: string): number {
  for (let i = 0; i < t.length; i++) h = (Math.imul(h, 0x01000193) + t.charCodeAt(i)) | 0;
  return h;
}

function entryHash(key: string, e: KvEntry | undefined): number {
  return e === undefined || e.value === '' ? 0 : combine(hashString(key), e.hash);
}

function stateEqual(a: KvState, b: KvState): boolean {
  if (a.hash !== b.hash) return false;
  for (const [k, e] of a.entries) if ((b.entries.get(k)?.value ?? '') !== e.value) return false;
  for (const [k, e] of b.entries) if ((a.entries.get(k)?.value ?? '') !== e.value) return false;
  return true;
}

export function kvModel(partitioned = true): Model<KvState, KvInput, KvOutput> {
  const model: Model<KvState, KvInput, KvOutput> = {
    name: partitioned ? 'kv' : 'kv (unpartitioned)',
    init: () => ({ entries: new Map(), hash: 0 }),
    step(state, input, output) {
      const cur = state.entries.get(input.key);
      const curValue = cur?.value ?? '';
      if (input.f === 'get') return output === undefined || output === curValue ? state : undefined;
      if (input.value === '' ? input.f === 'append' || curValue === '' : input.f === 'put' && curValue === input.value) return state;
      const next: KvEntry =
        input.f === 'put' ? { value: input.value, hash: extend(0, input.value) } : { value: curValue + input.value, hash: extend(cur?.hash ?? 0, input.value) };
      const entries = new Map(state.entries);
      entries.set(input.key, next);
      return { entries, hash: state.hash ^ entryHash(input.key, cur) ^ entryHash(input.key, next) };
    },
    hash: (s) => s.hash,
    equal: stateEqual,
    describeOp(input, output) {
      if (input.f === 'get') return `get ${input.key} -> ${output === undefined ? '?' : JSON.stringify(output)}`;
      return `${input.f} ${input.key} ${JSON.stringify(input.value)}`;
    },
    describeState(s) {
      const parts = [...s.entries].filter(([, e]) => e.value !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${parts.map(([k, e]) => `${k}: ${JSON.stringify(e.value)}`).join(', ')}}`;
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
