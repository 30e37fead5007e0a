/**
 * fast-check arbitraries derived from the generated schema tables: for a message and version, an object
 * holding every field present in that version (nested structs and arrays included), with values of the
 * field's type, null where the version allows it. `project` reduces a decoded body to the same shape, so
 * `project(decode(encode(x))) == x` is the round-trip property.
 */
import fc from 'fast-check';
import type { FieldSpec } from '../../../broker/protocol/schema.ts';
import { inRange } from '../../../broker/protocol/schema.ts';

/**
 * Characters of every UTF-8 length (1-4 bytes) plus NUL. fast-check's 'binary' unit would do, but costs
 * seconds to initialise.
 */
export const utf8Unit = fc.constantFrom('a', 'Z', '0', ' ', '\u0000', 'é', 'ß', '€', '中', '😀');

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const int64Arb: fc.Arbitrary<number | bigint> = fc.oneof(
  { weight: 4, arbitrary: fc.maxSafeInteger() },
  { weight: 1, arbitrary: fc.constantFrom(-1, 0, 1, -2) },
  {
    weight: 1,
    arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((b) => b > MAX_SAFE || b < -MAX_SAFE),
  },
);

const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
});

function primitiveArb(type: FieldSpec['type']): fc.Arbitrary<unknown> {
  switch (type) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer();
    case 'int64':
      return int64Arb;
    case 'float64':
      return fc.double();
    case 'uuid':
      return uuidArb;
    case 'string':
      return fc.string({ unit: utf8Unit, maxLength: 12 });
    case 'bytes':
    case 'records':
      return fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b));
    case 'struct':
      throw new Error('struct is not a primitive');
  }
}

export function structArb(fields: readonly FieldSpec[], version: number): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of fields) if (inRange(f.versions, version)) model[f.name] = fieldArb(f, version);
  return fc.record(model);
}

function fieldArb(f: FieldSpec, version: number): fc.Arbitrary<unknown> {
  let arb: fc.Arbitrary<unknown>;
  if (f.array) {
    const elem = f.type === 'struct' ? structArb(f.fields ?? [], version) : primitiveArb(f.type);
    arb = fc.array(elem, { maxLength: 3 });
  } else if (f.type === 'struct') {
    arb = structArb(f.fields ?? [], version);
  } else {
    arb = primitiveArb(f.type);
  }
  return inRange(f.nullable, version) ? fc.option(arb, { nil: null, freq: 4 }) : arb;
}

/** The decoded value restricted to the fields present in `version` (recursively). */
export function project(fields: readonly FieldSpec[], version: number, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (!inRange(f.versions, version)) continue;
    const v = o[f.name];
    if (f.type === 'struct' && f.fields) {
      out[f.name] = f.array
        ? Array.isArray(v) ? v.map((e) => project(f.fields!, version, e)) : v
        : project(f.fields, version, v);
    } else {
      out[f.name] = v;
    }
  }
  return out;
}
