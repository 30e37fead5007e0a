/**
 * The Kafka wire codec: one interpreter of the generated schema tables (generated/messages.ts) that reads
 * and writes every version of every API we serve, flexible versions included.
 *
 * Framing: every message is an int32 size, a header, a body. Request header v1 = apiKey i16, apiVersion
 * i16, correlationId i32, clientId (nullable i16-length string); v2 (the API version is flexible) adds a
 * tagged-field buffer, clientId stays non-compact. Response header v0 = correlationId; v1 (flexible) adds
 * a tagged-field buffer, EXCEPT ApiVersions responses, which always use v0 so that a client can read the
 * answer whatever version it asked for.
 *
 * Value model (plain objects keyed by lowerCamelCase field names):
 * - int8/int16/uint16/int32/float64: number. bool: boolean.
 * - int64: a JS number when the value is a safe integer (|v| <= 2^53-1), otherwise a bigint. Offsets,
 *   timestamps and producer ids in practice are all safe, so the broker deals in numbers; the encoder
 *   accepts either.
 * - uuid: the canonical lowercase 8-4-4-4-12 hex form ('00000000-0000-0000-0000-000000000000' = zero).
 * - string: string (nullable versions: string | null). bytes and records: Buffer (or null where nullable).
 *   Decoded bytes/records are zero-copy slices of the frame: they alias it.
 * - arrays: JS arrays; structs: nested objects.
 *
 * Encoding: a field missing (undefined) takes its schema default (the declared default, else the type's
 * zero value: 0, '', false, [], empty bytes, zero uuid; records default to null, as in Kafka). Fields not
 * in the version are ignored when default or `ignorable`; a non-default value of a non-ignorable field
 * absent from the version throws EncodeError naming the field (Kafka's rule: data must not silently
 * vanish). Tagged fields are written only when non-default, in ascending tag order.
 *
 * Decoding: every field of the schema is present in the result; fields not in the version (and tagged
 * fields not sent) hold their defaults. Unknown tagged fields are skipped. Malformed input throws
 * ProtocolError and nothing else: every length and count is checked against the bytes that remain before
 * anything is allocated or looped over, varints are at most 5 bytes, and trailing bytes after a body are
 * an error.
 *
 * A null for a field that is not nullable in the version is an EncodeError too; type and range errors
 * (a string where an int32 belongs, 2^31 in an int32) are EncodeErrors, never silent truncation.
 *
 * Performance: each (api, version, direction) compiles once, lazily, into closures over the field list;
 * the encoder collects small writes in a scratch buffer and large byte payloads (records) as separate
 * chunks, so each payload byte is copied exactly once into the output frame (encodeResponse), or not at
 * all (encodeResponseParts, for writev).
 *
 * Server-side use: readRequestHeader -> (isSupportedVersion? decodeRequest : answer/close) ->
 * encodeResponse. For an ApiVersions request of a version we do not know, Kafka answers in v0 with
 * UNSUPPORTED_VERSION (35): encodeResponse(ApiKeys.ApiVersions, 0, correlationId, { errorCode: 35, apiKeys }).
 */
import { apis } from './generated/messages.ts';
import { type ApiSpec, type FieldSpec, inRange } from './schema.ts';

export const ApiKeys = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  OffsetForLeaderEpoch: 23,
  DescribeConfigs: 32,
  ElectLeaders: 43,
  AlterPartitionReassignments: 45,
  ListPartitionReassignments: 46,
  DescribeQuorum: 55,
  DescribeCluster: 60,
  UnregisterBroker: 64,
} as const;

export type ApiName = keyof typeof ApiKeys;
export type ApiKey = (typeof ApiKeys)[ApiName];

/** A decoded or to-be-encoded message body; see types.ts for typed views of the hot ones. */
export type Body = Record<string, any>;

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Malformed wire input. Carries the request's identity when it was readable. */
export class ProtocolError extends Error {
  readonly code = 'PROTOCOL_ERROR';
  apiKey: number | undefined;
  apiVersion: number | undefined;
  correlationId: number | undefined;
  constructor(message: string, ids?: { apiKey?: number; apiVersion?: number; correlationId?: number }) {
    super(message);
    this.name = 'ProtocolError';
    this.apiKey = ids?.apiKey;
    this.apiVersion = ids?.apiVersion;
    this.correlationId = ids?.correlationId;
  }
}

/** A value that cannot be written in the requested version (or is not of the field's type). */
export class EncodeError extends Error {
  readonly code = 'ENCODE_ERROR';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'EncodeError';
    this.field = field;
  }
}

// ---------------------------------------------------------------------------------------------------
// Schema access

export interface ApiInfo {
  readonly apiKey: number;
  readonly name: string;
  /** Inclusive [min, max] of the versions the codec reads and writes. */
  readonly validVersions: readonly [number, number];
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version, or undefined when none is. */
  readonly firstFlexibleVersion: number | undefined;
  /** Whether `version` is flexible (compact encodings, tagged fields, request header v2). */
  isFlexible(version: number): boolean;
  readonly spec: ApiSpec;
}

const apiInfo = new Map<number, ApiInfo>();
for (const spec of apis) {
  apiInfo.set(spec.apiKey, {
    apiKey: spec.apiKey,
    name: spec.name,
    validVersions: [spec.validVersions[0], spec.validVersions[1]],
    minVersion: spec.validVersions[0],
    maxVersion: spec.validVersions[1],
    firstFlexibleVersion: spec.flexibleVersions?.[0],
    isFlexible: (version) => inRange(spec.flexibleVersions, version),
    spec,
  });
}

export function apiSchema(apiKey: number): ApiInfo | undefined {
  return apiInfo.get(apiKey);
}

export function allApis(): readonly ApiInfo[] {
  return [...apiInfo.values()];
}

export function isSupportedVersion(apiKey: number, apiVersion: number): boolean {
  const info = apiInfo.get(apiKey);
  return info !== undefined && apiVersion >= info.minVersion && apiVersion <= info.maxVersion;
}

/**
 * Whether `apiVersion` of `apiKey` is flexible. Like Kafka, this follows the open-ended flexibleVersions
 * range even above the highest valid version, so a too-new request's header is still read correctly.
 */
export function isFlexibleVersion(apiKey: number, apiVersion: number): boolean {
  return inRange(apiInfo.get(apiKey)?.spec.flexibleVersions, apiVersion);
}

// ---------------------------------------------------------------------------------------------------
// Reading

class Reader {
  readonly buf: Buffer;
  pos: number;
  end: number;
  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }
  need(n: number, what: string): void {
    if (n > this.end - this.pos) throw new ProtocolError(`truncated ${what}: need ${n} bytes at ${this.pos}, ${this.end - this.pos} left`);
  }
  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.pos++);
  }
  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  uint16(): number {
    this.need(2, 'uint16');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): number | bigint {
    this.need(8, 'int64');
    const p = this.pos;
    this.pos += 8;
    const v = this.buf.readInt32BE(p) * 4294967296 + this.buf.readUInt32BE(p + 4);
    return Number.isSafeInteger(v) ? v : this.buf.readBigInt64BE(p);
  }
  float64(): number {
    this.need(8, 'float64');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  /** Unsigned LEB128, at most 5 bytes, at most 2^32-1. */
  uvarint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      this.need(1, 'varint');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (v > 0xffffffff) break;
        return v;
      }
      mul *= 128;
    }
    throw new ProtocolError(`varint too long at ${this.pos}`);
  }
  slice(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  utf8(n: number): string {
    this.need(n, 'string');
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  /** Skips a tagged-field buffer whose fields we do not know (headers). */
  skipTags(): void {
    const n = this.uvarint();
    if (n > this.end - this.pos) throw new ProtocolError(`tagged field count ${n} exceeds remaining bytes`);
    for (let i = 0; i < n; i++) {
      this.uvarint();
      const size = this.uvarint();
      this.need(size, 'tagged field');
      this.pos += size;
    }
  }
}

type ReadFn = (r: Reader) => unknown;

// ---------------------------------------------------------------------------------------------------
// Writing

const SCRATCH_BYTES = 8192;
/** Byte payloads at least this long become their own output chunk instead of being copied to scratch. */
const CHUNK_MIN_BYTES = 512;

/**
 * Scratch space shared by top-level encodes. Encoding is synchronous and a top-level Writer always copies
 * its chunks out in finish(), so no two live Writers ever use it (nested Writers, for tagged fields, get
 * their own buffers).
 */
const sharedScratch = Buffer.allocUnsafe(SCRATCH_BYTES);

class Writer {
  private chunks: Buffer[] = [];
  private size = 0;
  private buf: Buffer;
  private start = 0;
  private readonly mustCopy: boolean;
  pos = 0;
  /** `scratch` given: write into it and copy out on finish; otherwise own a small buffer. */
  constructor(scratch?: Buffer) {
    this.buf = scratch ?? Buffer.allocUnsafe(256);
    this.mustCopy = scratch !== undefined;
  }
  private flushScratch(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.size += this.pos - this.start;
      this.start = this.pos;
    }
  }
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) {
      this.flushScratch();
      this.buf = Buffer.allocUnsafe(Math.max(SCRATCH_BYTES, n));
      this.start = 0;
      this.pos = 0;
    }
  }
  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos++);
  }
  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }
  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }
  int64Number(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / 4294967296);
    this.buf.writeInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(v - hi * 4294967296, this.pos + 4);
    this.pos += 8;
  }
  int64Big(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }
  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
  uvarint(v: number): void {
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  raw(b: Uint8Array): void {
    if (b.length >= CHUNK_MIN_BYTES) {
      this.flushScratch();
      this.chunks.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));
      this.size += b.length;
      return;
    }
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  utf8(s: string, byteLength: number): void {
    this.ensure(byteLength);
    this.buf.write(s, this.pos, byteLength, 'utf8');
    this.pos += byteLength;
  }
  /** Everything written so far as one Buffer (a fresh copy unless it is a single private chunk). */
  finish(): Buffer {
    this.flushScratch();
    if (!this.mustCopy && this.chunks.length === 1) return this.chunks[0]!;
    return Buffer.concat(this.chunks, this.size);
  }
  /**
   * Everything written so far as a list of Buffers whose concatenation is the output, without copying
   * large payloads (they are the caller's Buffers); pieces of the shared scratch are copied out.
   */
  finishParts(): { parts: Buffer[]; size: number } {
    this.flushScratch();
    const parts = this.chunks.map((c) => (c.buffer === sharedScratch.buffer ? Buffer.from(c) : c));
    return { parts, size: this.size };
  }
}

type WriteFn = (w: Writer, v: unknown) => void;

// ---------------------------------------------------------------------------------------------------
// Defaults

const EMPTY = Buffer.alloc(0);

/** The schema default of a field, ignoring versions (null only where the schema declares "null"). */
function declaredDefault(f: FieldSpec): unknown {
  if (f.array) return f.default === 'null' ? null : [];
  if (f.default === 'null') return null;
  switch (f.type) {
    case 'bool':
      return f.default === 'true';
    case 'string':
      return f.default ?? '';
    case 'bytes':
      return EMPTY;
    case 'records':
      return null;
    case 'uuid':
      return f.default ?? ZERO_UUID;
    case 'struct':
      return defaultStruct(f.fields ?? []);
    case 'float64':
      return f.default === undefined ? 0 : Number(f.default);
    default:
      return f.default === undefined ? 0 : Number(f.default);
  }
}

/**
 * A factory for the value a field takes when it is absent from a version or missing from the object
 * being encoded; built once per compiled field. Arrays and structs are fresh per call; a null default
 * in a version that cannot carry null falls back to the type's zero value.
 */
function defaultFactory(f: FieldSpec, nullableHere: boolean): () => unknown {
  const d = declaredDefault(f);
  if (d === null) {
    if (nullableHere) return () => null;
    if (f.type === 'records') return () => EMPTY;
    return defaultFactory({ ...f, default: undefined }, false);
  }
  if (f.array) return () => [];
  if (f.type === 'struct') {
    const subs = (f.fields ?? []).map((sub) => ({ name: sub.name, make: defaultFactory(sub, true) }));
    return () => {
      const o: Record<string, unknown> = {};
      for (const sub of subs) o[sub.name] = sub.make();
      return o;
    };
  }
  return () => d;
}

function defaultStruct(fields: readonly FieldSpec[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) o[f.name] = declaredDefault(f);
  return o;
}

/** Whether `v` equals the field's default (undefined counts as default). Deep for structs, allocation-free. */
function isDefault(f: FieldSpec, v: unknown): boolean {
  if (v === undefined) return true;
  if (f.array) return f.default === 'null' ? v === null : Array.isArray(v) && v.length === 0;
  if (v === null) return f.default === 'null' || f.type === 'records';
  switch (f.type) {
    case 'struct': {
      if (f.default === 'null' || typeof v !== 'object') return false;
      const o = v as Record<string, unknown>;
      for (const sub of f.fields ?? []) if (!isDefault(sub, o[sub.name])) return false;
      return true;
    }
    case 'bytes':
      return f.default !== 'null' && v instanceof Uint8Array && v.length === 0;
    case 'records':
      return false;
    case 'int64': {
      const d = declaredDefault(f) as number;
      return typeof v === 'bigint' ? v === BigInt(d) : v === d;
    }
    default:
      return v === declaredDefault(f);
  }
}

// ---------------------------------------------------------------------------------------------------
// Compiling a struct (the body of a message is a struct) for one version

interface CompiledStruct {
  read: ReadFn;
  write: WriteFn;
  minBytes: number;
}

interface TaggedField {
  tag: number;
  name: string;
  field: FieldSpec;
  read: ReadFn;
  write: WriteFn;
  make: () => unknown;
}

function compileStruct(fields: readonly FieldSpec[], version: number, flexible: boolean, path: string): CompiledStruct {
  const regular: { name: string; read: ReadFn; write: WriteFn }[] = [];
  const absent: { name: string; field: FieldSpec; path: string; make: () => unknown }[] = [];
  const tagged: TaggedField[] = [];
  let minBytes = flexible ? 1 : 0;
  for (const f of fields) {
    const fpath = path ? `${path}.${f.name}` : f.name;
    if (!inRange(f.versions, version)) {
      absent.push({ name: f.name, field: f, path: fpath, make: defaultFactory(f, true) });
      continue;
    }
    const c = compileField(f, version, flexible, fpath);
    if (inRange(f.tagged, version)) {
      if (!flexible) throw new Error(`schema: tagged field ${fpath} in non-flexible version ${version}`);
      tagged.push({ tag: f.tag!, name: f.name, field: f, read: c.read, write: c.write, make: defaultFactory(f, inRange(f.nullable, version)) });
    } else {
      regular.push({ name: f.name, read: c.read, write: c.write });
      minBytes += c.minBytes;
    }
  }
  tagged.sort((a, b) => a.tag - b.tag);
  const tagIndex = new Map<number, TaggedField>(tagged.map((t) => [t.tag, t]));
  const nRegular = regular.length;

  const read: ReadFn = (r) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < nRegular; i++) {
      const op = regular[i]!;
      o[op.name] = op.read(r);
    }
    for (const a of absent) o[a.name] = a.make();
    if (flexible) {
      for (const t of tagged) o[t.name] = t.make();
      const n = r.uvarint();
      if (n > r.end - r.pos) throw new ProtocolError(`${path || 'body'}: tagged field count ${n} exceeds remaining bytes`);
      for (let i = 0; i < n; i++) {
        const tag = r.uvarint();
        const size = r.uvarint();
        r.need(size, 'tagged field');
        const t = tagIndex.get(tag);
        if (t === undefined) {
          r.pos += size;
          continue;
        }
        const outerEnd = r.end;
        r.end = r.pos + size;
        o[t.name] = t.read(r);
        if (r.pos !== r.end) throw new ProtocolError(`${path ? path + '.' : ''}${t.name}: tagged field size ${size} does not match its content`);
        r.end = outerEnd;
      }
    }
    return o;
  };

  const write: WriteFn = (w, v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new EncodeError(path || 'body', 'expected an object');
    const o = v as Record<string, unknown>;
    for (const a of absent) {
      if (!a.field.ignorable && !isDefault(a.field, o[a.name])) {
        throw new EncodeError(a.path, `non-default value for a field that does not exist in version ${version}`);
      }
    }
    for (let i = 0; i < nRegular; i++) {
      const op = regular[i]!;
      op.write(w, o[op.name]);
    }
    if (flexible) {
      let count = 0;
      for (const t of tagged) if (!isDefault(t.field, o[t.name])) count++;
      w.uvarint(count);
      if (count === 0) return;
      for (const t of tagged) {
        const tv = o[t.name];
        if (isDefault(t.field, tv)) continue;
        const sub = new Writer();
        t.write(sub, tv);
        const bytes = sub.finish();
        w.uvarint(t.tag);
        w.uvarint(bytes.length);
        w.raw(bytes);
      }
    }
  };

  return { read, write, minBytes };
}

interface CompiledField {
  read: ReadFn;
  write: WriteFn;
  minBytes: number;
}

function fieldIsFlexible(f: FieldSpec, version: number, messageFlexible: boolean): boolean {
  if (f.flexible === undefined) return messageFlexible;
  return inRange(f.flexible, version);
}

function compileField(f: FieldSpec, version: number, messageFlexible: boolean, path: string): CompiledField {
  const nullable = inRange(f.nullable, version);
  const flex = fieldIsFlexible(f, version, messageFlexible);
  const def = defaultFactory(f, nullable);
  if (f.array) {
    const elem: CompiledField =
      f.type === 'struct'
        ? compileStruct(f.fields ?? [], version, messageFlexible, `${path}[]`)
        : compilePrimitive(f.type, false, flex, `${path}[]`, defaultFactory({ ...f, array: undefined, default: undefined }, false));
    return compileArray(elem, nullable, flex, path, def);
  }
  if (f.type === 'struct') {
    const s = compileStruct(f.fields ?? [], version, messageFlexible, path);
    if (!nullable) {
      return { read: s.read, write: (w, v) => s.write(w, v === undefined ? def() : v), minBytes: s.minBytes };
    }
    return {
      read: (r) => (r.int8() < 0 ? null : s.read(r)),
      write: (w, v) => {
        const x = v === undefined ? def() : v;
        if (x === null) return w.int8(-1);
        w.int8(1);
        s.write(w, x);
      },
      minBytes: 1,
    };
  }
  return compilePrimitive(f.type, nullable, flex, path, def);
}

function compileArray(elem: CompiledField, nullable: boolean, flex: boolean, path: string, def: () => unknown): CompiledField {
  const minElem = Math.max(1, elem.minBytes);
  const readElems = (r: Reader, n: number): unknown[] => {
    if (n * minElem > r.end - r.pos) throw new ProtocolError(`${path}: array of ${n} cannot fit in ${r.end - r.pos} bytes`);
    const a = new Array<unknown>(n);
    for (let i = 0; i < n; i++) a[i] = elem.read(r);
    return a;
  };
  const read: ReadFn = flex
    ? (r) => {
        const u = r.uvarint();
        if (u === 0) {
          if (nullable) return null;
          throw new ProtocolError(`${path}: null for a non-nullable array`);
        }
        return readElems(r, u - 1);
      }
    : (r) => {
        const n = r.int32();
        if (n < 0) {
          if (n === -1 && nullable) return null;
          throw new ProtocolError(`${path}: bad array length ${n}`);
        }
        return readElems(r, n);
      };
  const write: WriteFn = (w, v) => {
    const x = v === undefined ? def() : v;
    if (x === null) {
      if (!nullable) throw new EncodeError(path, 'null for a non-nullable array');
      if (flex) w.uvarint(0);
      else w.int32(-1);
      return;
    }
    if (!Array.isArray(x)) throw new EncodeError(path, 'expected an array');
    if (flex) w.uvarint(x.length + 1);
    else w.int32(x.length);
    for (const e of x) elem.write(w, e);
  };
  return { read, write, minBytes: flex ? 1 : 4 };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function intWriter(path: string, min: number, max: number, put: (w: Writer, v: number) => void, def: () => unknown): WriteFn {
  return (w, v) => {
    const x = v === undefined ? def() : v;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
      throw new EncodeError(path, `expected an integer in [${min}, ${max}], got ${String(x)}`);
    }
    put(w, x);
  };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function compilePrimitive(type: FieldSpec['type'], nullable: boolean, flex: boolean, path: string, def: () => unknown): CompiledField {
  switch (type) {
    case 'bool':
      return {
        read: (r) => r.int8() !== 0,
        write: (w, v) => {
          const x = v === undefined ? def() : v;
          if (typeof x !== 'boolean') throw new EncodeError(path, 'expected a boolean');
          w.int8(x ? 1 : 0);
        },
        minBytes: 1,
      };
    case 'int8':
      return { read: (r) => r.int8(), write: intWriter(path, -128, 127, (w, x) => w.int8(x), def), minBytes: 1 };
    case 'int16':
      return { read: (r) => r.int16(), write: intWriter(path, -32768, 32767, (w, x) => w.int16(x), def), minBytes: 2 };
    case 'uint16':
      return { read: (r) => r.uint16(), write: intWriter(path, 0, 65535, (w, x) => w.uint16(x), def), minBytes: 2 };
    case 'int32':
      return { read: (r) => r.int32(), write: intWriter(path, -2147483648, 2147483647, (w, x) => w.int32(x), def), minBytes: 4 };
    case 'int64':
      return {
        read: (r) => r.int64(),
        write: (w, v) => {
          const x = v === undefined ? def() : v;
          if (typeof x === 'number' && Number.isSafeInteger(x)) return w.int64Number(x);
          const b = typeof x === 'bigint' ? x : typeof x === 'number' && Number.isInteger(x) ? BigInt(x) : undefined;
          if (b === undefined || b < INT64_MIN || b > INT64_MAX) throw new EncodeError(path, `expected an int64, got ${String(x)}`);
          w.int64Big(b);
        },
        minBytes: 8,
      };
    case 'float64':
      return {
        read: (r) => r.float64(),
        write: (w, v) => {
          const x = v === undefined ? def() : v;
          if (typeof x !== 'number') throw new EncodeError(path, 'expected a number');
          w.float64(x);
        },
        minBytes: 8,
      };
    case 'uuid':
      return {
        read: (r) => {
          const h = r.slice(16, 'uuid').toString('hex');
          return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
        },
        write: (w, v) => {
          const x = v === undefined ? def() : v;
          if (typeof x !== 'string' || !UUID_RE.test(x)) throw new EncodeError(path, 'expected a uuid as 8-4-4-4-12 hex');
          w.raw(Buffer.from(x.replace(/-/g, ''), 'hex'));
        },
        minBytes: 16,
      };
    case 'string':
      return compileString(nullable, flex, path, def);
    case 'bytes':
    case 'records':
      return compileBytes(nullable, flex, path, def);
    case 'struct':
      throw new Error(`schema: struct ${path} handled elsewhere`);
  }
}

function compileString(nullable: boolean, flex: boolean, path: string, def: () => unknown): CompiledField {
  const read: ReadFn = flex
    ? (r) => {
        const u = r.uvarint();
        if (u === 0) {
          if (nullable) return null;
          throw new ProtocolError(`${path}: null for a non-nullable string`);
        }
        return r.utf8(u - 1);
      }
    : (r) => {
        const n = r.int16();
        if (n < 0) {
          if (n === -1 && nullable) return null;
          throw new ProtocolError(`${path}: bad string length ${n}`);
        }
        return r.utf8(n);
      };
  const write: WriteFn = (w, v) => {
    const x = v === undefined ? def() : v;
    if (x === null) {
      if (!nullable) throw new EncodeError(path, 'null for a non-nullable string');
      if (flex) w.uvarint(0);
      else w.int16(-1);
      return;
    }
    if (typeof x !== 'string') throw new EncodeError(path, 'expected a string');
    const n = Buffer.byteLength(x, 'utf8');
    if (n > 0x7fff) throw new EncodeError(path, `string of ${n} bytes exceeds 32767`);
    if (flex) w.uvarint(n + 1);
    else w.int16(n);
    w.utf8(x, n);
  };
  return { read, write, minBytes: flex ? 1 : 2 };
}

function compileBytes(nullable: boolean, flex: boolean, path: string, def: () => unknown): CompiledField {
  const read: ReadFn = flex
    ? (r) => {
        const u = r.uvarint();
        if (u === 0) {
          if (nullable) return null;
          throw new ProtocolError(`${path}: null for non-nullable bytes`);
        }
        return r.slice(u - 1, path);
      }
    : (r) => {
        const n = r.int32();
        if (n < 0) {
          if (n === -1 && nullable) return null;
          throw new ProtocolError(`${path}: bad bytes length ${n}`);
        }
        return r.slice(n, path);
      };
  const write: WriteFn = (w, v) => {
    const x = v === undefined ? def() : v;
    if (x === null) {
      if (!nullable) throw new EncodeError(path, 'null for non-nullable bytes');
      if (flex) w.uvarint(0);
      else w.int32(-1);
      return;
    }
    if (!(x instanceof Uint8Array)) throw new EncodeError(path, 'expected a Buffer');
    if (flex) w.uvarint(x.length + 1);
    else w.int32(x.length);
    w.raw(x);
  };
  return { read, write, minBytes: flex ? 1 : 4 };
}

// ---------------------------------------------------------------------------------------------------
// Plans: one compiled body per (api, version, direction), built on first use

const REQUEST = 0;
const RESPONSE = 1;
const plans = new Map<number, CompiledStruct>();

function plan(apiKey: number, apiVersion: number, direction: 0 | 1): CompiledStruct | undefined {
  const info = apiInfo.get(apiKey);
  if (!info || apiVersion < info.minVersion || apiVersion > info.maxVersion) return undefined;
  const key = apiKey * 0x20000 + apiVersion * 2 + direction;
  const hit = plans.get(key);
  if (hit) return hit;
  const flexible = inRange(info.spec.flexibleVersions, apiVersion);
  const msg = direction === REQUEST ? info.spec.request : info.spec.response;
  const compiled = compileStruct(msg.fields, apiVersion, flexible, '');
  plans.set(key, compiled);
  return compiled;
}

function usesResponseHeaderV1(apiKey: number, apiVersion: number): boolean {
  return apiKey !== ApiKeys.ApiVersions && isFlexibleVersion(apiKey, apiVersion);
}

// ---------------------------------------------------------------------------------------------------
// Server side

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Offset in the frame where the body starts. */
  bodyOffset: number;
}

/**
 * Reads the request header from `frame` (the bytes after the 4-byte size prefix). The header version
 * follows the API's flexibleVersions (v2 when flexible, else v1); for an unknown apiKey the header is
 * read as v1, so the caller still learns apiKey/apiVersion/correlationId and can answer or close.
 * Throws ProtocolError (with whatever ids were readable) when the header itself is malformed.
 */
export function readRequestHeader(frame: Buffer): RequestHeader {
  if (frame.length < 8) throw new ProtocolError(`request header truncated: ${frame.length} bytes`);
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const correlationId = frame.readInt32BE(4);
  const r = new Reader(frame, 8, frame.length);
  try {
    const n = r.int16();
    let clientId: string | null = null;
    if (n >= 0) clientId = r.utf8(n);
    else if (n !== -1) throw new ProtocolError(`bad clientId length ${n}`);
    if (isFlexibleVersion(apiKey, apiVersion)) r.skipTags();
    return { apiKey, apiVersion, correlationId, clientId, bodyOffset: r.pos };
  } catch (err) {
    if (err instanceof ProtocolError) {
      err.apiKey = apiKey;
      err.apiVersion = apiVersion;
      err.correlationId = correlationId;
    }
    throw err;
  }
}

function idsOf(apiKey: number, apiVersion: number, frame: Buffer): { apiKey: number; apiVersion: number; correlationId?: number } {
  return frame.length >= 8 ? { apiKey, apiVersion, correlationId: frame.readInt32BE(4) } : { apiKey, apiVersion };
}

function readBody(c: CompiledStruct, frame: Buffer, offset: number, what: string): Body {
  if (offset < 0 || offset > frame.length) throw new ProtocolError(`${what}: body offset ${offset} outside frame of ${frame.length}`);
  const r = new Reader(frame, offset, frame.length);
  const body = c.read(r) as Body;
  if (r.pos !== frame.length) throw new ProtocolError(`${what}: ${frame.length - r.pos} trailing bytes after body`);
  return body;
}

/** Decodes a request body (the frame and bodyOffset come from readRequestHeader). */
export function decodeRequest<T = Body>(apiKey: number, apiVersion: number, frame: Buffer, bodyOffset: number): T {
  const c = plan(apiKey, apiVersion, REQUEST);
  const info = apiInfo.get(apiKey);
  if (!c) {
    throw new ProtocolError(
      info ? `${info.name} v${apiVersion} is not supported (${info.minVersion}-${info.maxVersion})` : `unknown api key ${apiKey}`,
      idsOf(apiKey, apiVersion, frame),
    );
  }
  try {
    return readBody(c, frame, bodyOffset, `${info!.name}Request v${apiVersion}`) as T;
  } catch (err) {
    if (err instanceof ProtocolError) Object.assign(err, idsOf(apiKey, apiVersion, frame));
    throw err;
  }
}

function requirePlan(apiKey: number, apiVersion: number, direction: 0 | 1): CompiledStruct {
  const c = plan(apiKey, apiVersion, direction);
  if (!c) throw new EncodeError('apiVersion', `api ${apiKey} v${apiVersion} is not supported`);
  return c;
}

function finishFrame(w: Writer): Buffer {
  const out = w.finish();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** Encodes a response: 4-byte size, response header (v0 for ApiVersions and non-flexible, else v1), body. */
export function encodeResponse(apiKey: number, apiVersion: number, correlationId: number, body: Body): Buffer {
  const c = requirePlan(apiKey, apiVersion, RESPONSE);
  const w = new Writer(sharedScratch);
  w.int32(0);
  w.int32(correlationId);
  if (usesResponseHeaderV1(apiKey, apiVersion)) w.uvarint(0);
  c.write(w, body);
  return finishFrame(w);
}

/**
 * Like encodeResponse, but returns the frame as parts (for `socket.cork()` + writes, or writev) so that
 * large records payloads (Fetch) are not copied: those parts ARE the Buffers in `body`, which must not be
 * modified until the parts are written. The first part starts with the size prefix.
 */
export function encodeResponseParts(apiKey: number, apiVersion: number, correlationId: number, body: Body): Buffer[] {
  const c = requirePlan(apiKey, apiVersion, RESPONSE);
  const w = new Writer(sharedScratch);
  w.int32(0);
  w.int32(correlationId);
  if (usesResponseHeaderV1(apiKey, apiVersion)) w.uvarint(0);
  c.write(w, body);
  const { parts, size } = w.finishParts();
  parts[0]!.writeInt32BE(size - 4, 0);
  return parts;
}

// ---------------------------------------------------------------------------------------------------
// Client side

/** Encodes a request: 4-byte size, request header v1 or v2 (flexible versions), body. */
export function encodeRequest(apiKey: number, apiVersion: number, correlationId: number, clientId: string | null, body: Body): Buffer {
  const c = requirePlan(apiKey, apiVersion, REQUEST);
  const w = new Writer(sharedScratch);
  w.int32(0);
  w.int16(apiKey);
  w.int16(apiVersion);
  w.int32(correlationId);
  if (clientId === null) w.int16(-1);
  else {
    const n = Buffer.byteLength(clientId, 'utf8');
    if (n > 0x7fff) throw new EncodeError('clientId', `string of ${n} bytes exceeds 32767`);
    w.int16(n);
    w.utf8(clientId, n);
  }
  if (isFlexibleVersion(apiKey, apiVersion)) w.uvarint(0);
  c.write(w, body);
  return finishFrame(w);
}

/** Decodes a response frame (the bytes after the 4-byte size prefix). Throws ProtocolError when malformed. */
export function decodeResponse<T = Body>(apiKey: number, apiVersion: number, frame: Buffer): { correlationId: number; body: T } {
  const c = plan(apiKey, apiVersion, RESPONSE);
  if (!c) throw new ProtocolError(`api ${apiKey} v${apiVersion} is not supported`, { apiKey, apiVersion });
  const r = new Reader(frame, 0, frame.length);
  const correlationId = r.int32();
  try {
    if (usesResponseHeaderV1(apiKey, apiVersion)) r.skipTags();
    return { correlationId, body: readBody(c, frame, r.pos, `${apiInfo.get(apiKey)!.name}Response v${apiVersion}`) as T };
  } catch (err) {
    if (err instanceof ProtocolError) Object.assign(err, { apiKey, apiVersion, correlationId });
    throw err;
  }
}
