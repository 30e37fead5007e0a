/**
 * Test helper: builds valid RecordBatch v2 bytes (uncompressed, records with a null key, the given
 * value and no headers) with a correct CRC-32C, so log tests need no codec.
 */
import { BATCH_HEADER_BYTES, writeBatchCrc } from '../../../broker/protocol/batch-header.ts';

export interface BatchSpec {
  /** Record values; their count is the batch's record count (>= 1). */
  values: Buffer[];
  baseOffset?: number;
  leaderEpoch?: number;
  baseTimestampMs?: number;
  /** Defaults to baseTimestampMs + values.length - 1 (one ms per record). */
  maxTimestampMs?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  attributes?: number;
}

function varint(n: number): number[] {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 0x80) {
    out.push((z & 0x7f) | 0x80);
    z = Math.floor(z / 128);
  }
  out.push(z);
  return out;
}

function encodeRecord(offsetDelta: number, timestampDelta: number, value: Buffer): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, ...varint(timestampDelta), ...varint(offsetDelta), ...varint(-1), ...varint(value.length)]),
    value,
    Buffer.from(varint(0)),
  ]);
  return Buffer.concat([Buffer.from(varint(body.length)), body]);
}

export function makeBatch(spec: BatchSpec): Buffer {
  const n = spec.values.length;
  if (n < 1) throw new RangeError('a batch needs at least one record');
  const baseTs = spec.baseTimestampMs ?? 1_700_000_000_000;
  const records = Buffer.concat(spec.values.map((v, i) => encodeRecord(i, i, v)));
  const buf = Buffer.alloc(BATCH_HEADER_BYTES + records.length);
  buf.writeBigInt64BE(BigInt(spec.baseOffset ?? 0), 0);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt32BE(spec.leaderEpoch ?? 0, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(spec.attributes ?? 0, 21);
  buf.writeInt32BE(n - 1, 23);
  buf.writeBigInt64BE(BigInt(baseTs), 27);
  buf.writeBigInt64BE(BigInt(spec.maxTimestampMs ?? baseTs + n - 1), 35);
  buf.writeBigInt64BE(BigInt(spec.producerId ?? -1), 43);
  buf.writeInt16BE(spec.producerEpoch ?? -1, 51);
  buf.writeInt32BE(spec.baseSequence ?? -1, 53);
  buf.writeInt32BE(n, 57);
  records.copy(buf, BATCH_HEADER_BYTES);
  writeBatchCrc(buf, 0, buf.length);
  return buf;
}

/** A batch of `count` records of `valueBytes` bytes each, values tagged with `tag` for identification. */
export function simpleBatch(count: number, valueBytes = 10, tag = 0, extra: Omit<BatchSpec, 'values'> = {}): Buffer {
  const values = Array.from({ length: count }, (_, i) => {
    const v = Buffer.alloc(valueBytes, 0x61 + (i % 26));
    if (valueBytes >= 4) v.writeUInt32BE(tag >>> 0, 0);
    return v;
  });
  return makeBatch({ ...extra, values });
}
