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
import { combine, mix32 } from '../hash.ts';
import { badOp, scalar, type ModelOp, type ModelSpec } from './common.ts';

export type KvInput = { f: 'get' | 'put' | 'append'; key: string; value: string };
export type KvOutput = string | true;
/**
 * Values by key slot (slots are numbered per model instance in order of first use, so a state is a
 * small array, cheap to copy) with each value's polynomial hash (h(s + t) continues h(s) over t, so an
 * append hashes in O(|t|)). Missing slots are "". `hash` is the XOR over non-empty slots of
 * mix(slot, value hash). Immutable.
 */
export interface KvState {
  readonly values: readonly string[];
  readonly hashes: readonly number[];
  readonly hash: number;
}

function extend(h: number, t: string): number {
  for (let i = 0; i < t.length; i++) h = (Math.imul(h, 0x01000193) + t.charCodeAt(i)) | 0;
  return h;
}

function slotHash(slot: number, value: string, h: number): number {
  return value === '' ? 0 : combine(mix32(slot + 0x3c6ef372), h);
}

function stateEqual(a: KvState, b: KvState): boolean {
  if (a.hash !== b.hash) return false;
  const n = Math.max(a.values.length, b.values.length);
  for (let i = 0; i < n; i++) if ((a.values[i] ?? '') !== (b.values[i] ?? '')) return false;
  return true;
}

export function kvModel(partitioned = true): Model<KvState, KvInput, KvOutput> {
  const slots = new Map<string, number>();
  const keys: string[] = [];
  const slotOf = (key: string): number => {
    let s = slots.get(key);
    if (s === undefined) {
      s = keys.length;
      slots.set(key, s);
      keys.push(key);
    }
    return s;
  };
  const model: Model<KvState, KvInput, KvOutput> = {
    name: partitioned ? 'kv' : 'kv (unpartitioned)',
    init: () => ({ values: [], hashes: [], hash: 0 }),
    step(state, input, output) {
      const slot = slotOf(input.key);
      const cur = state.values[slot] ?? '';
      if (input.f === 'get') return output === undefined || output === cur ? state : undefined;
      if (input.value === '' ? input.f === 'append' || cur === '' : input.f === 'put' && cur === input.value) return state;
      const curHash = state.hashes[slot] ?? 0;
      const value = input.f === 'put' ? input.value : cur + input.value;
      const h = input.f === 'put' ? extend(0, input.value) : extend(curHash, input.value);
      const values = state.values.slice();
      const hashes = state.hashes.slice();
      while (values.length <= slot) {
        values.push('');
        hashes.push(0);
      }
      values[slot] = value;
      hashes[slot] = h;
      return { values, hashes, hash: state.hash ^ slotHash(slot, cur, curHash) ^ slotHash(slot, value, h) };
    },
    hash: (s) => s.hash,
    equal: stateEqual,
    describeOp(input, output) {
      if (input.f === 'get') return `get ${input.key} -> ${output === undefined ? '?' : JSON.stringify(output)}`;
      return `${input.f} ${input.key} ${JSON.stringify(input.value)}`;
    },
    describeState(s) {
      const parts = s.values.map((v, i): [string, string] => [keys[i] ?? String(i), v]).filter(([, v]) => v !== '');
      parts.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
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
