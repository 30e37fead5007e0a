/**
 * The fixed 61-byte header of a Kafka RecordBatch v2 (DefaultRecordBatch.java), read and patched in
 * place. Byte offsets, big-endian:
 *   0 baseOffset i64 | 8 batchLength i32 (bytes after this field) | 12 partitionLeaderEpoch i32
 *  16 magic i8 (=2) | 17 crc u32 (CRC-32C of [21, end)) | 21 attributes i16 | 23 lastOffsetDelta i32
 *  27 baseTimestamp i64 | 35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16
 *  53 baseSequence i32 | 57 recordsCount i32 | 61 records...
 * The CRC excludes baseOffset, length, epoch and magic, so a leader assigns offsets and stamps its
 * epoch without recomputing it.
 */
import { crc32c } from './crc32c.ts';

export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes before `batchLength` starts counting. */
export const BATCH_LOG_OVERHEAD = 12;

export const Attr = {
  compressionMask: 0x07,
  timestampTypeLogAppend: 0x08,
  transactional: 0x10,
  control: 0x20,
} as const;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

const TWO_POW_32 = 4294967296;

/**
 * The signed 64-bit big-endian integer at `pos` as a number: exactly Number(buf.readBigInt64BE(pos))
 * (hi * 2^32 is exact and adding lo rounds once, as the BigInt conversion does), without allocating
 * a BigInt: the header fields are read several times per produce request.
 */
export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * TWO_POW_32 + buf.readUInt32BE(pos + 4);
}

/** Writes a non-negative safe integer as a big-endian int64 at `pos` (as writeBigInt64BE(BigInt(v)), without the BigInt). */
export function writeUInt53(buf: Buffer, v: number, pos: number): void {
  buf.writeUInt32BE(Math.floor(v / TWO_POW_32), pos);
  buf.writeUInt32BE(v >>> 0, pos + 4);
}

/** Total bytes of the batch starting at `pos` (header included), or -1 if the size field is not all there. */
export function batchSizeAt(buf: Buffer, pos: number): number {
  if (pos + BATCH_LOG_OVERHEAD > buf.length) return -1;
  return BATCH_LOG_OVERHEAD + buf.readInt32BE(pos + 8);
}

/** Reads the header of the batch at `pos`; the caller has checked that the whole header is present. */
export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  return {
    baseOffset: readInt64(buf, pos),
    batchLength: buf.readInt32BE(pos + 8),
    partitionLeaderEpoch: buf.readInt32BE(pos + 12),
    magic: buf.readInt8(pos + 16),
    crc: buf.readUInt32BE(pos + 17),
    attributes: buf.readInt16BE(pos + 21),
    lastOffsetDelta: buf.readInt32BE(pos + 23),
    baseTimestamp: readInt64(buf, pos + 27),
    maxTimestamp: readInt64(buf, pos + 35),
    producerId: readInt64(buf, pos + 43),
    producerEpoch: buf.readInt16BE(pos + 51),
    baseSequence: buf.readInt32BE(pos + 53),
    recordsCount: buf.readInt32BE(pos + 57),
  };
}

export function baseOffsetOf(buf: Buffer, pos = 0): number {
  return readInt64(buf, pos);
}

export function lastOffsetOf(buf: Buffer, pos = 0): number {
  return readInt64(buf, pos) + buf.readInt32BE(pos + 23);
}

export function leaderEpochOf(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + 12);
}

/** Assigns the batch its base offset (a non-negative safe integer) and leader epoch in place (the CRC does not cover them). */
export function stampBatch(buf: Buffer, pos: number, baseOffset: number, leaderEpoch: number): void {
  writeUInt53(buf, baseOffset, pos);
  buf.writeInt32BE(leaderEpoch, pos + 12);
}

/** True when the stored CRC matches CRC-32C of [attributes, end) for the batch at `pos` of `size` bytes. */
export function batchCrcOk(buf: Buffer, pos: number, size: number): boolean {
  if (size < BATCH_HEADER_BYTES || pos + size > buf.length) return false;
  return buf.readUInt32BE(pos + 17) === crc32c(buf, pos + 21, pos + size);
}

/** Recomputes and stores the CRC (used when building batches). */
export function writeBatchCrc(buf: Buffer, pos: number, size: number): void {
  buf.writeUInt32BE(crc32c(buf, pos + 21, pos + size), pos + 17);
}
