/**
 * Key-value store of strings (Porcupine's kv model). Every key starts as "". Ops:
 *   get k     -> v   legal iff state[k] == v (a nil result reads as "")
 *   put k v   -> ok  state[k] := v
 *   append k v-> ok  state[k] := state[k] + v
 * Keys are independent, so with `partitioned` (the default) each key is checked alone
 * (P-compositionality); `partitioned: false` searches the whole history at once (slower, same verdict).
 * A read that misses an earlier read or append with no put able to come between refutes the history
 * without the search (kv-refute.ts).
 * History mapping: EDN ops carry `:key`; jsonl ops carry `value: {key, value}` and a get completes
 * with `value: {key, value}` or the plain string. `fail` ops never happened; `info` ops are unknown.
 */
import type { CompletedOp } from '../parse/ops.ts';
import type { LinOp, Model } from '../types.ts';
import { combine, mix32 } from '../hash.ts';
import { badOp, scalar, type ModelOp, type ModelSpec } from './common.ts';
import { refuteKv } from './kv-refute.ts';

export type KvInput = { f: 'get' | 'put' | 'append'; key: string; value: string };
export type KvOutput = string | true;
/**
 * Values by key slot (slots are numbered per model instance in order of first use) with each value's
 * polynomial hash (h(s + t) continues h(s) over t, so an append hashes in O(|t|)). Missing keys are
 * "". `hash` is the XOR over non-empty keys of mix(slot, value hash). Immutable. Two forms of one
 * meaning: while at most one key is non-empty the state is that key alone (`values` null; `slot`,
 * `value`, `valueHash`; one object per step, and a partition by key never leaves this form), else
 * `values`/`hashes` by slot (`slot`, `value` unused). `equal` compares meanings, across forms.
 */
export interface KvState {
  readonly slot: number;
  readonly value: string;
  readonly valueHash: number;
  readonly values: readonly string[] | null;
  readonly hashes: readonly number[] | null;
  readonly hash: number;
}

const emptyState: KvState = { slot: -1, value: '', valueHash: 0, values: null, hashes: null, hash: 0 };

function extend(h: number, t: string): number {
  for (let i = 0; i < t.length; i++) h = (Math.imul(h, 0x01000193) + t.charCodeAt(i)) | 0;
  return h;
}

function slotHash(slot: number, value: string, h: number): number {
  return value === '' ? 0 : combine(slotPart(slot), h);
}

/** The slot's part of its hash (`slotHash`). */
function slotPart(slot: number): number {
  return mix32(slot + 0x3c6ef372);
}

function valueAt(s: KvState, slot: number): string {
  if (s.values === null) return s.slot === slot ? s.value : '';
  return s.values[slot] ?? '';
}

function hashAt(s: KvState, slot: number): number {
  if (s.values === null) return s.slot === slot ? s.valueHash : 0;
  return s.hashes![slot] ?? 0;
}

/** One past the highest slot a state may hold a non-empty value in. */
function slotsOf(s: KvState): number {
  return s.values === null ? s.slot + 1 : s.values.length;
}

/** `s` with key `slot` set to `value` (polynomial hash `h`). */
function withValue(s: KvState, slot: number, value: string, h: number): KvState {
  // One key before and after: the hash is that key's alone (the old key's part cancels out).
  if (s.values === null && (s.slot === slot || s.value === '')) return { slot, value, valueHash: h, values: null, hashes: null, hash: slotHash(slot, value, h) };
  const hash = s.hash ^ slotHash(slot, valueAt(s, slot), hashAt(s, slot)) ^ slotHash(slot, value, h);
  let values: string[];
  let hashes: number[];
  if (s.values !== null) {
    values = s.values.slice();
    hashes = s.hashes!.slice();
    while (values.length <= slot) {
      values.push('');
      hashes.push(0);
    }
  } else {
    values = new Array<string>(Math.max(s.slot, slot) + 1).fill('');
    hashes = new Array<number>(values.length).fill(0);
    if (s.slot >= 0) {
      values[s.slot] = s.value;
      hashes[s.slot] = s.valueHash;
    }
  }
  values[slot] = value;
  hashes[slot] = h;
  return { slot: -1, value: '', valueHash: 0, values, hashes, hash };
}

/**
 * `step` where the state holds at most the op's own key (the one form a partition by key has): the
 * same result, without the general form's lookups (in a cold process every call is interpreted, and
 * a small partitioned check is mostly this step).
 */
function stepOneKey(s: KvState, slot: number, slotMix: number, input: KvInput, output: KvOutput | undefined): KvState | undefined {
  const held = s.slot === slot;
  const cur = held ? s.value : '';
  if (input.f === 'get') return output === undefined || output === cur ? s : undefined;
  const v = input.value;
  if (v === '' ? input.f === 'append' || cur === '' : input.f === 'put' && cur === v) return s;
  const put = input.f === 'put';
  const value = put ? v : cur + v;
  const h = extend(put || !held ? 0 : s.valueHash, v);
  // slotHash(slot, value, h), with the slot's part (`slotMix`) made once per slot.
  return { slot, value, valueHash: h, values: null, hashes: null, hash: value === '' ? 0 : combine(slotMix, h) };
}

function stateEqual(a: KvState, b: KvState): boolean {
  if (a.hash !== b.hash) return false;
  if (a.values === null && b.values === null) return a.value === b.value && (a.slot === b.slot || a.value === '');
  const n = Math.max(slotsOf(a), slotsOf(b));
  for (let i = 0; i < n; i++) if (valueAt(a, i) !== valueAt(b, i)) return false;
  return true;
}

export function kvModel(partitioned = true): Model<KvState, KvInput, KvOutput> {
  const slots = new Map<string, number>();
  const keys: string[] = [];
  // The last key looked up: a partition's steps all use one key.
  let lastKey: string | undefined;
  let lastSlot = -1;
  let lastSlotPart = 0;
  const slotOf = (key: string): number => {
    if (key === lastKey) return lastSlot;
    let s = slots.get(key);
    if (s === undefined) {
      s = keys.length;
      slots.set(key, s);
      keys.push(key);
    }
    lastKey = key;
    lastSlot = s;
    lastSlotPart = slotPart(s);
    return s;
  };
  const model: Model<KvState, KvInput, KvOutput> = {
    name: partitioned ? 'kv' : 'kv (unpartitioned)',
    init: () => emptyState,
    step(state, input, output) {
      const slot = slotOf(input.key);
      if (state.values === null && (state.slot === slot || state.value === '')) return stepOneKey(state, slot, lastSlotPart, input, output);
      const cur = valueAt(state, slot);
      if (input.f === 'get') return output === undefined || output === cur ? state : undefined;
      if (input.value === '' ? input.f === 'append' || cur === '' : input.f === 'put' && cur === input.value) return state;
      const value = input.f === 'put' ? input.value : cur + input.value;
      const h = input.f === 'put' ? extend(0, input.value) : extend(hashAt(state, slot), input.value);
      return withValue(state, slot, value, h);
    },
    readOnly: (input) => input.f === 'get' || (input.f === 'append' && input.value === ''),
    refute: refuteKv,
    hash: (s) => s.hash,
    equal: stateEqual,
    describeOp(input, output) {
      if (input.f === 'get') return `get ${input.key} -> ${output === undefined ? '?' : JSON.stringify(output)}`;
      return `${input.f} ${input.key} ${JSON.stringify(input.value)}`;
    },
    describeState(s) {
      const parts: Array<[string, string]> = [];
      for (let i = 0; i < slotsOf(s); i++) if (valueAt(s, i) !== '') parts.push([keys[i] ?? String(i), valueAt(s, i)]);
      parts.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${parts.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;
    },
  };
  if (partitioned) {
    model.partition = groupByKey;
    model.partitionLabel = (ops) => `key ${ops[0]?.input.key ?? ''}`;
  }
  return model;
}

/**
 * Indices of ops grouped by their input's key, groups in order of first appearance (the partition
 * of the kv and log models). A loop over a field rather than a key callback: in a cold process each
 * callback is an interpreted call per op.
 */
export function groupByKey(ops: readonly { input: { key: string } }[]): number[][] {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < ops.length; i++) {
    const k = ops[i]!.input.key;
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  }
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
