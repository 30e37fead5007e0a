/**
 * RecordBatch v2 contents (DefaultRecordBatch.java / DefaultRecord.java): validating a records buffer,
 * decoding the records of a batch, and building batches.
 *
 * A record inside a batch (all varints zigzag-encoded, i.e. signed, unlike the protocol's compact lengths):
 *   length varint | attributes i8 | timestampDelta varlong | offsetDelta varint | keyLen varint | key |
 *   valueLen varint | value | headerCount varint | headers: [hKeyLen varint, hKey utf8, hValLen varint, hVal]
 * A negative key/value/header-value length means null (Kafka reads any negative length as null). When the
 * batch is compressed (attributes bits 0-2), everything after recordsCount is one compressed blob; we
 * read gzip (node:zlib, output bounded by maxUncompressedBytes) and refuse snappy/lz4/zstd with
 * UNSUPPORTED_COMPRESSION_TYPE.
 *
 * Error classes follow Kafka: problems with the batch framing (size below the 61-byte header, a batch that
 * does not fit, a magic other than 0-2, CRC mismatch, unknown compression id, undecompressable data) are
 * CORRUPT_MESSAGE; problems inside a well-framed batch (malformed records, a record count that does not
 * match the records or, for client batches, lastOffsetDelta + 1 != recordsCount or recordsCount <= 0,
 * control batches from clients, a producer id with a negative sequence, legacy magic 0/1) are INVALID_RECORD
 * (LogValidator.validateBatch, DefaultRecord.readFrom). A batch larger than maxBatchBytes is
 * MESSAGE_TOO_LARGE. Every length is checked against the bytes that remain before it is used, and every
 * loop is bounded by a count that was checked against those bytes.
 *
 * The Produce handler additionally requires exactly one batch per partition for Produce v3+ (Kafka's
 * ProduceRequest.validateRecords): check `batches.length === 1` and answer INVALID_RECORD otherwise.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  Attr,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  type BatchHeader,
  Compression,
  batchCrcOk,
  readBatchHeader,
  writeBatchCrc,
} from './batch-header.ts';
import { ErrorCode } from './errors.ts';

export type RecordsErrorName = 'CORRUPT_MESSAGE' | 'UNSUPPORTED_COMPRESSION_TYPE' | 'INVALID_RECORD' | 'MESSAGE_TOO_LARGE';

/** A records buffer the broker must refuse; `errorCode` is the Kafka error code to answer with. */
export class RecordsError extends Error {
  readonly code: RecordsErrorName;
  readonly errorCode: number;
  constructor(code: RecordsErrorName, message: string) {
    super(message);
    this.name = 'RecordsError';
    this.code = code;
    this.errorCode = ErrorCode[code];
  }
}

export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  /** baseOffset + offsetDelta. */
  offset: number;
  /** baseTimestamp + timestampDelta. */
  timestamp: number;
  offsetDelta: number;
  timestampDelta: number;
  attributes: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface BatchPosition {
  header: BatchHeader;
  /** Offset of the batch in the buffer that was validated. */
  position: number;
  /** Total bytes of the batch, header included. */
  sizeBytes: number;
}

export type ValidateResult = { ok: true; batches: BatchPosition[] } | { ok: false; error: RecordsError };

export interface ValidateOptions {
  /** 'client' applies LogValidator's producer-batch checks; 'replication' (follower fetch) does not. */
  origin?: 'client' | 'replication';
  /** Batches larger than this are MESSAGE_TOO_LARGE. Default: unlimited. */
  maxBatchBytes?: number;
  /** Bound on a compressed batch's decompressed size. Default DEFAULT_MAX_UNCOMPRESSED_BYTES. */
  maxUncompressedBytes?: number;
}

// ---------------------------------------------------------------------------------------------------
// Zigzag varints over a bounded cursor

interface Cursor {
  buf: Buffer;
  pos: number;
  end: number;
}

function invalid(message: string): RecordsError {
  return new RecordsError('INVALID_RECORD', message);
}

/** Zigzag varint (int32), at most 5 bytes. */
function readVarint(c: Cursor): number {
  let raw = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (c.pos >= c.end) throw invalid('record truncated in a varint');
    const b = c.buf[c.pos++]!;
    raw += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      if (raw > 0xffffffff) break;
      return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    }
    mul *= 128;
  }
  throw invalid('varint too long');
}

/** Zigzag varlong (int64), at most 10 bytes; returned as a number (exact while |v| <= 2^53). */
function readVarlong(c: Cursor): number {
  const start = c.pos;
  let raw = 0;
  let mul = 1;
  // Fast path: up to 7 bytes (49 bits) stay exact in a double.
  for (let i = 0; i < 7; i++) {
    if (c.pos >= c.end) throw invalid('record truncated in a varlong');
    const b = c.buf[c.pos++]!;
    raw += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    mul *= 128;
  }
  c.pos = start;
  let big = 0n;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.end) throw invalid('record truncated in a varlong');
    const b = c.buf[c.pos++]!;
    big |= BigInt(b & 0x7f) << BigInt(7 * i);
    if ((b & 0x80) === 0) return Number(BigInt.asIntN(64, (big >> 1n) ^ -(big & 1n)));
  }
  throw invalid('varlong too long');
}

function varintSize(zz: number): number {
  let n = 1;
  while (zz >= 0x80) {
    zz = Math.floor(zz / 128);
    n++;
  }
  return n;
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function writeUnsignedVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

// ---------------------------------------------------------------------------------------------------
// Records

function readNullableBytes(c: Cursor, what: string): Buffer | null {
  const n = readVarint(c);
  if (n < 0) return null;
  if (n > c.end - c.pos) throw invalid(`${what} of ${n} bytes overruns its record`);
  const b = c.buf.subarray(c.pos, c.pos + n);
  c.pos += n;
  return b;
}

/** Skips a nullable varint-length byte string, checking its bounds. */
function skipNullableBytes(c: Cursor, what: string): void {
  const n = readVarint(c);
  if (n < 0) return;
  if (n > c.end - c.pos) throw invalid(`${what} of ${n} bytes overruns its record`);
  c.pos += n;
}

/**
 * Reads one record (materialize: builds the DecodedRecord with zero-copy key/value slices) or only checks
 * its structure (returns null, allocates nothing). Both paths apply the same checks.
 */
function readRecord(c: Cursor, baseOffset: number, baseTimestamp: number, materialize: boolean): DecodedRecord | null {
  const length = readVarint(c);
  if (length < 0 || length > c.end - c.pos) throw invalid(`record length ${length} with ${c.end - c.pos} bytes left`);
  const recordEnd = c.pos + length;
  const outerEnd = c.end;
  c.end = recordEnd;
  if (c.pos >= c.end) throw invalid('empty record');
  const attributes = c.buf.readInt8(c.pos++);
  const timestampDelta = readVarlong(c);
  const offsetDelta = readVarint(c);
  let key: Buffer | null = null;
  let value: Buffer | null = null;
  if (materialize) {
    key = readNullableBytes(c, 'key');
    value = readNullableBytes(c, 'value');
  } else {
    skipNullableBytes(c, 'key');
    skipNullableBytes(c, 'value');
  }
  const headerCount = readVarint(c);
  // Each header takes at least 2 bytes (two varints), which bounds the loop by the record's bytes.
  if (headerCount < 0 || headerCount * 2 > c.end - c.pos) throw invalid(`invalid header count ${headerCount}`);
  const headers: RecordHeader[] = materialize ? new Array<RecordHeader>(headerCount) : [];
  for (let i = 0; i < headerCount; i++) {
    const keyLen = readVarint(c);
    if (keyLen < 0 || keyLen > c.end - c.pos) throw invalid(`invalid header key length ${keyLen}`);
    if (materialize) {
      const hKey = c.buf.toString('utf8', c.pos, c.pos + keyLen);
      c.pos += keyLen;
      headers[i] = { key: hKey, value: readNullableBytes(c, 'header value') };
    } else {
      c.pos += keyLen;
      skipNullableBytes(c, 'header value');
    }
  }
  if (c.pos !== recordEnd) throw invalid(`record declared ${length} bytes but used ${length - (recordEnd - c.pos)}`);
  c.end = outerEnd;
  if (!materialize) return null;
  return {
    offset: baseOffset + offsetDelta,
    timestamp: baseTimestamp + timestampDelta,
    offsetDelta,
    timestampDelta,
    attributes,
    key,
    value,
    headers,
  };
}

/** The uncompressed record bytes of the batch at `pos` (a slice, or a fresh gunzipped Buffer). */
function recordBytes(buf: Buffer, pos: number, size: number, attributes: number, maxUncompressedBytes: number): Buffer {
  const body = buf.subarray(pos + BATCH_HEADER_BYTES, pos + size);
  const compression = attributes & Attr.compressionMask;
  switch (compression) {
    case Compression.none:
      return body;
    case Compression.gzip:
      try {
        return gunzipSync(body, { maxOutputLength: Math.max(1, maxUncompressedBytes) });
      } catch (err) {
        throw new RecordsError('CORRUPT_MESSAGE', `gzip batch does not decompress within ${maxUncompressedBytes} bytes: ${(err as Error).message}`);
      }
    case Compression.snappy:
    case Compression.lz4:
    case Compression.zstd:
      throw new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', `compression type ${compression} is not supported (only none and gzip)`);
    default:
      throw new RecordsError('CORRUPT_MESSAGE', `unknown compression type ${compression}`);
  }
}

function checkRecordCount(count: number, bytes: Buffer): void {
  // A record takes at least 7 bytes (length, attributes, 2 deltas, key, value, header count).
  if (count < 0 || count * 7 > bytes.length) throw invalid(`recordsCount ${count} cannot fit in ${bytes.length} bytes`);
}

function decodeRecordsOf(header: BatchHeader, bytes: Buffer): DecodedRecord[] {
  const count = header.recordsCount;
  checkRecordCount(count, bytes);
  const c: Cursor = { buf: bytes, pos: 0, end: bytes.length };
  const out = new Array<DecodedRecord>(count);
  for (let i = 0; i < count; i++) out[i] = readRecord(c, header.baseOffset, header.baseTimestamp, true)!;
  if (c.pos !== c.end) throw invalid(`${c.end - c.pos} bytes remain after ${count} records`);
  return out;
}

/** The structure checks of decodeRecordsOf without building anything. */
function checkRecords(count: number, bytes: Buffer): void {
  checkRecordCount(count, bytes);
  const c: Cursor = { buf: bytes, pos: 0, end: bytes.length };
  for (let i = 0; i < count; i++) readRecord(c, 0, 0, false);
  if (c.pos !== c.end) throw invalid(`${c.end - c.pos} bytes remain after ${count} records`);
}

/**
 * Decodes the records of the (already validated) batch at `pos`. Uncompressed keys/values are zero-copy
 * slices of `buf`. Throws RecordsError.
 */
export function decodeBatch(
  buf: Buffer,
  pos = 0,
  maxUncompressedBytes = DEFAULT_MAX_UNCOMPRESSED_BYTES,
): { header: BatchHeader; records: DecodedRecord[] } {
  const size = checkFraming(buf, pos, Number.MAX_SAFE_INTEGER);
  const header = readBatchHeader(buf, pos);
  return { header, records: decodeRecordsOf(header, recordBytes(buf, pos, size, header.attributes, maxUncompressedBytes)) };
}

/**
 * Yields each complete batch of a records buffer as a zero-copy slice, for trusted data (our own log).
 * Stops at a truncated tail (as Kafka's log input stream does) and at a batchLength below the header
 * size; does not check CRCs (use validateBatches for untrusted input).
 */
export function* iterateBatches(buf: Buffer): Generator<Buffer> {
  let pos = 0;
  // Each step advances by at least BATCH_HEADER_BYTES.
  while (buf.length - pos >= BATCH_HEADER_BYTES) {
    const size = BATCH_LOG_OVERHEAD + buf.readInt32BE(pos + 8);
    if (size < BATCH_HEADER_BYTES || size > buf.length - pos) return;
    yield buf.subarray(pos, pos + size);
    pos += size;
  }
}

/** Decodes every batch of a records buffer (validated with origin 'replication'). Throws RecordsError. */
export function decodeRecords(buf: Buffer, maxUncompressedBytes = DEFAULT_MAX_UNCOMPRESSED_BYTES): DecodedRecord[] {
  const v = validateBatches(buf, { origin: 'replication', maxUncompressedBytes });
  if (!v.ok) throw v.error;
  const out: DecodedRecord[] = [];
  for (const b of v.batches) for (const r of decodeBatch(buf, b.position, maxUncompressedBytes).records) out.push(r);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Validation

/** Checks the framing of the batch at `pos` and returns its size. */
function checkFraming(buf: Buffer, pos: number, maxBatchBytes: number): number {
  if (buf.length - pos < BATCH_HEADER_BYTES) {
    throw new RecordsError('CORRUPT_MESSAGE', `incomplete batch at ${pos}: ${buf.length - pos} bytes, header needs ${BATCH_HEADER_BYTES}`);
  }
  const batchLength = buf.readInt32BE(pos + 8);
  if (batchLength < BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD) {
    throw new RecordsError('CORRUPT_MESSAGE', `batch at ${pos}: batchLength ${batchLength} is below the minimum ${BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD}`);
  }
  const size = BATCH_LOG_OVERHEAD + batchLength;
  const magic = buf.readInt8(pos + 16);
  if (magic === 0 || magic === 1) {
    // Legacy message sets (same 12-byte log overhead, magic at the same offset): Kafka refuses them in
    // Produce v3+ with INVALID_RECORD (ProduceRequest.validateRecords).
    throw new RecordsError('INVALID_RECORD', `batch at ${pos}: message format v${magic} is not supported, only RecordBatch v2`);
  }
  if (magic !== 2) throw new RecordsError('CORRUPT_MESSAGE', `batch at ${pos}: invalid magic ${magic}`);
  if (size > maxBatchBytes) throw new RecordsError('MESSAGE_TOO_LARGE', `batch at ${pos} is ${size} bytes, limit ${maxBatchBytes}`);
  if (size > buf.length - pos) throw new RecordsError('CORRUPT_MESSAGE', `incomplete batch at ${pos}: needs ${size} bytes, ${buf.length - pos} present`);
  if (!batchCrcOk(buf, pos, size)) throw new RecordsError('CORRUPT_MESSAGE', `batch at ${pos}: CRC mismatch`);
  return size;
}

function checkClientBatch(h: BatchHeader, pos: number): void {
  if (h.recordsCount <= 0) throw invalid(`batch at ${pos}: invalid record count ${h.recordsCount}`);
  if (h.lastOffsetDelta + 1 !== h.recordsCount) {
    throw invalid(`batch at ${pos}: lastOffsetDelta ${h.lastOffsetDelta} inconsistent with recordsCount ${h.recordsCount}`);
  }
  if ((h.attributes & Attr.control) !== 0) throw invalid(`batch at ${pos}: clients may not write control batches`);
  if (h.producerId >= 0 && h.baseSequence < 0) throw invalid(`batch at ${pos}: producer id ${h.producerId} with sequence ${h.baseSequence}`);
}

/**
 * Walks a records buffer batch by batch and checks each: complete, magic 2, batchLength sane, CRC,
 * compression supported, records well-formed and as many as recordsCount, and (origin 'client') the
 * producer-batch rules. Never throws.
 */
export function validateBatches(buf: Buffer, opts: ValidateOptions = {}): ValidateResult {
  const origin = opts.origin ?? 'client';
  const maxBatchBytes = opts.maxBatchBytes ?? Number.MAX_SAFE_INTEGER;
  const maxUncompressedBytes = opts.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  const batches: BatchPosition[] = [];
  let pos = 0;
  try {
    // Each iteration consumes at least BATCH_HEADER_BYTES, so at most buf.length / 61 iterations.
    while (pos < buf.length) {
      const size = checkFraming(buf, pos, maxBatchBytes);
      const header = readBatchHeader(buf, pos);
      if (origin === 'client') checkClientBatch(header, pos);
      checkRecords(header.recordsCount, recordBytes(buf, pos, size, header.attributes, maxUncompressedBytes));
      batches.push({ header, position: pos, sizeBytes: size });
      pos += size;
    }
  } catch (err) {
    if (err instanceof RecordsError) return { ok: false, error: err };
    return { ok: false, error: new RecordsError('CORRUPT_MESSAGE', `unreadable records: ${(err as Error).message}`) };
  }
  return { ok: true, batches };
}

// ---------------------------------------------------------------------------------------------------
// Building

export interface BuildRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: readonly { key: string; value: Buffer | null }[];
  /** Relative to baseTimestamp; default 0. */
  timestampDelta?: number;
}

export interface BuildBatchOptions {
  /** Default 0 (what producers send). */
  baseOffset?: number;
  /** Default -1 (no epoch; the leader stamps it). */
  partitionLeaderEpoch?: number;
  /** Default -1 (non-idempotent). */
  producerId?: number;
  /** Default -1. */
  producerEpoch?: number;
  /** Default -1. */
  baseSequence?: number;
  /** Default Date.now(). */
  baseTimestamp?: number;
  compression?: 'none' | 'gzip';
  transactional?: boolean;
  records: readonly BuildRecord[];
}

function recordSize(r: BuildRecord, offsetDelta: number): { body: number; total: number } {
  let body = 1 + varintSize(zigzag(r.timestampDelta ?? 0)) + varintSize(zigzag(offsetDelta));
  body += r.key === null ? 1 : varintSize(zigzag(r.key.length)) + r.key.length;
  body += r.value === null ? 1 : varintSize(zigzag(r.value.length)) + r.value.length;
  const headers = r.headers ?? [];
  body += varintSize(zigzag(headers.length));
  for (const h of headers) {
    const kl = Buffer.byteLength(h.key, 'utf8');
    body += varintSize(zigzag(kl)) + kl;
    body += h.value === null ? 1 : varintSize(zigzag(h.value.length)) + h.value.length;
  }
  return { body, total: varintSize(zigzag(body)) + body };
}

function writeRecords(records: readonly BuildRecord[]): Buffer {
  const sizes = records.map((r, i) => recordSize(r, i));
  const out = Buffer.allocUnsafe(sizes.reduce((n, s) => n + s.total, 0));
  let p = 0;
  const putBytes = (b: Buffer | null): void => {
    if (b === null) {
      p = writeUnsignedVarint(out, p, zigzag(-1));
      return;
    }
    p = writeUnsignedVarint(out, p, zigzag(b.length));
    b.copy(out, p);
    p += b.length;
  };
  records.forEach((r, i) => {
    p = writeUnsignedVarint(out, p, zigzag(sizes[i]!.body));
    out.writeInt8(0, p++);
    p = writeUnsignedVarint(out, p, zigzag(r.timestampDelta ?? 0));
    p = writeUnsignedVarint(out, p, zigzag(i));
    putBytes(r.key);
    putBytes(r.value);
    const headers = r.headers ?? [];
    p = writeUnsignedVarint(out, p, zigzag(headers.length));
    for (const h of headers) {
      const kl = Buffer.byteLength(h.key, 'utf8');
      p = writeUnsignedVarint(out, p, zigzag(kl));
      out.write(h.key, p, kl, 'utf8');
      p += kl;
      putBytes(h.value);
    }
  });
  return out;
}

/** Builds one RecordBatch v2 with offset deltas 0..n-1 and a correct CRC-32C. */
export function buildBatch(opts: BuildBatchOptions): Buffer {
  const n = opts.records.length;
  if (n === 0) throw new RangeError('buildBatch: a batch needs at least one record');
  const baseTimestamp = opts.baseTimestamp ?? Date.now();
  let maxDelta = opts.records[0]!.timestampDelta ?? 0;
  for (const r of opts.records) maxDelta = Math.max(maxDelta, r.timestampDelta ?? 0);
  const raw = writeRecords(opts.records);
  const gzip = opts.compression === 'gzip';
  const body = gzip ? gzipSync(raw) : raw;
  const size = BATCH_HEADER_BYTES + body.length;
  const buf = Buffer.allocUnsafe(size);
  let attributes: number = gzip ? Compression.gzip : Compression.none;
  if (opts.transactional) attributes |= Attr.transactional;
  buf.writeBigInt64BE(BigInt(opts.baseOffset ?? 0), 0);
  buf.writeInt32BE(size - BATCH_LOG_OVERHEAD, 8);
  buf.writeInt32BE(opts.partitionLeaderEpoch ?? -1, 12);
  buf.writeInt8(2, 16);
  buf.writeUInt32BE(0, 17);
  buf.writeInt16BE(attributes, 21);
  buf.writeInt32BE(n - 1, 23);
  buf.writeBigInt64BE(BigInt(baseTimestamp), 27);
  buf.writeBigInt64BE(BigInt(baseTimestamp + maxDelta), 35);
  buf.writeBigInt64BE(BigInt(opts.producerId ?? -1), 43);
  buf.writeInt16BE(opts.producerEpoch ?? -1, 51);
  buf.writeInt32BE(opts.baseSequence ?? -1, 53);
  buf.writeInt32BE(n, 57);
  body.copy(buf, BATCH_HEADER_BYTES);
  writeBatchCrc(buf, 0, size);
  return buf;
}
