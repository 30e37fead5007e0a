/**
 * Log compaction for topics with `cleanup.policy=compact`, `__consumer_offsets` above all (a simple
 * form of Kafka's LogCleaner): keep the latest record of each key, drop tombstones (null value) once
 * they are older than `delete.retention.ms`.
 *
 * What is cleaned: the closed segments wholly below `upToOffset`, which the owner sets to the high
 * watermark (the active segment is never cleaned, and neither is anything a new leader could still
 * truncate: a record may only be dropped for a newer one that is committed).
 * The key map is built over those same segments, so a record is dropped only when a newer record of
 * its key is in the cleaned range. Records without a key are kept.
 *
 * Rewriting keeps the log's invariants (partition-log.ts): every segment keeps its base offset and
 * its offset range, and its batches stay contiguous in offsets, because a rewritten batch covers
 * [first offset of its run, offset before the next batch] while holding only the kept records,
 * with their original offsets as deltas (Kafka, too, keeps a v2 batch's base and last offset when
 * compaction removes records). Runs of plain batches (no producer id, not control) with the same
 * leader epoch are merged into batches of at most MERGED_BATCH_BYTES; a batch with a producer id or a
 * control batch is rewritten on its own, with its header (producer id, epoch, base sequence, last
 * offset delta) unchanged, so producer state and leader epochs read from the log are what they were.
 * A run left with no record becomes a batch with no records covering the run's offsets.
 * Rewritten batches are uncompressed. A segment is replaced (PartitionLog.replaceSegment, atomic)
 * only when the result is smaller.
 *
 * Cost of a pass: one read of the cleanable segments to build the map and one to rewrite; after the
 * first passes these hold about one record per live key, so a pass, and a group coordinator's load
 * of the partition, reads a bounded amount: live keys plus the uncleaned tail.
 */
import { Attr, BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD, writeBatchCrc } from '../protocol/batch-header.ts';
import { decodeBatch, type DecodedRecord } from '../protocol/records.ts';
import type { PartitionLog } from './partition-log.ts';

/** Largest batch the cleaner writes when merging runs of small batches. */
export const MERGED_BATCH_BYTES = 1 << 20;

export interface CleanResult {
  segmentsCleaned: number;
  bytesBefore: number;
  bytesAfter: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
}

interface Batch {
  header: ReturnType<typeof decodeBatch>['header'];
  records: DecodedRecord[];
  bytes: Buffer;
}

/** Compacts the closed segments below `upToOffset` (see the module doc). */
export function cleanLog(log: PartitionLog, opts: { nowMs: number; deleteRetentionMs: number; upToOffset: number }): CleanResult {
  const result: CleanResult = { segmentsCleaned: 0, bytesBefore: 0, bytesAfter: 0, recordsRemoved: 0, tombstonesRemoved: 0 };
  const infos = log.segmentInfos();
  let cleanable = 0;
  while (cleanable < infos.length - 1 && infos[cleanable + 1]!.baseOffset <= opts.upToOffset) cleanable++;
  if (cleanable === 0) return result;

  // Pass 1: the latest offset of every key in the cleanable range.
  const latest = new Map<string, number>();
  for (let i = 0; i < cleanable; i++) {
    for (const b of batchesOf(log.segmentBytes(i))) {
      for (const r of b.records) if (r.key !== null) latest.set(r.key.toString('latin1'), r.offset);
    }
  }

  // Pass 2: rewrite each segment with only what survives.
  const horizonMs = opts.nowMs - opts.deleteRetentionMs;
  for (let i = 0; i < cleanable; i++) {
    const info = infos[i]!;
    const end = infos[i + 1]!.baseOffset;
    const original = log.segmentBytes(i);
    const batches = batchesOf(original);
    let removed = 0;
    let tombstones = 0;
    const keep = (b: Batch, r: DecodedRecord): boolean => {
      if (r.key === null) return true;
      if (latest.get(r.key.toString('latin1')) !== r.offset) {
        removed++;
        return false;
      }
      if (r.value === null && b.header.maxTimestamp < horizonMs) {
        tombstones++;
        return false;
      }
      return true;
    };
    const out: Buffer[] = [];
    let run: { start: number; epoch: number; records: DecodedRecord[]; bytes: number; maxTs: number; attrs: number } | null = null;
    const flushRun = (lastOffset: number): void => {
      if (run === null) return;
      out.push(writeBatch({ baseOffset: run.start, lastOffset, epoch: run.epoch, attributes: run.attrs, maxTimestamp: run.maxTs, producerId: -1, producerEpoch: -1, baseSequence: -1, records: run.records }));
      run = null;
    };
    for (const b of batches) {
      const h = b.header;
      const kept = b.records.filter((r) => keep(b, r));
      const plain = h.producerId < 0 && (h.attributes & Attr.control) === 0;
      if (!plain) {
        flushRun(h.baseOffset - 1);
        out.push(
          kept.length === b.records.length
            ? b.bytes
            : writeBatch({ baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, epoch: h.partitionLeaderEpoch, attributes: h.attributes & ~Attr.compressionMask, maxTimestamp: h.maxTimestamp, producerId: h.producerId, producerEpoch: h.producerEpoch, baseSequence: h.baseSequence, records: kept }),
        );
        continue;
      }
      const bytes = kept.reduce((n, r) => n + recordBytes(r), 0);
      if (run !== null && (run.epoch !== h.partitionLeaderEpoch || run.bytes + bytes > MERGED_BATCH_BYTES)) flushRun(h.baseOffset - 1);
      if (run === null) run = { start: h.baseOffset, epoch: h.partitionLeaderEpoch, records: [], bytes: 0, maxTs: -1, attrs: h.attributes & Attr.timestampTypeLogAppend };
      run.records.push(...kept);
      run.bytes += bytes;
      run.maxTs = Math.max(run.maxTs, h.maxTimestamp);
    }
    flushRun(end - 1);
    const rewritten = Buffer.concat(out);
    result.bytesBefore += info.sizeBytes;
    if (rewritten.length >= original.length) {
      result.bytesAfter += info.sizeBytes;
      continue;
    }
    log.replaceSegment(i, rewritten);
    result.segmentsCleaned++;
    result.bytesAfter += rewritten.length;
    result.recordsRemoved += removed;
    result.tombstonesRemoved += tombstones;
  }
  return result;
}

function batchesOf(buf: Buffer): Batch[] {
  const out: Batch[] = [];
  let pos = 0;
  while (pos + BATCH_HEADER_BYTES <= buf.length) {
    const size = BATCH_LOG_OVERHEAD + buf.readInt32BE(pos + 8);
    const { header, records } = decodeBatch(buf, pos);
    out.push({ header, records, bytes: buf.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}

// --- a RecordBatch v2 writer with arbitrary offset deltas (records keep their original offsets) ---

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varintBytes(n: number): number[] {
  let z = zigzag(n);
  const out: number[] = [];
  while (z >= 0x80) {
    out.push((z % 128) | 0x80);
    z = Math.floor(z / 128);
  }
  out.push(z);
  return out;
}

function recordBytes(r: DecodedRecord): number {
  return (r.key?.length ?? 0) + (r.value?.length ?? 0) + 32;
}

function encodeRecord(r: DecodedRecord, baseOffset: number, baseTimestamp: number): Buffer {
  const parts: Array<Buffer | number[]> = [[0], varintBytes(r.timestamp - baseTimestamp), varintBytes(r.offset - baseOffset)];
  const bytes = (b: Buffer | null): void => {
    if (b === null) parts.push(varintBytes(-1));
    else parts.push(varintBytes(b.length), b);
  };
  bytes(r.key);
  bytes(r.value);
  parts.push(varintBytes(r.headers.length));
  for (const h of r.headers) {
    const k = Buffer.from(h.key, 'utf8');
    parts.push(varintBytes(k.length), k);
    bytes(h.value);
  }
  const body = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
  return Buffer.concat([Buffer.from(varintBytes(body.length)), body]);
}

function writeBatch(b: {
  baseOffset: number;
  lastOffset: number;
  epoch: number;
  attributes: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  records: DecodedRecord[];
}): Buffer {
  const baseTimestamp = b.records.length > 0 ? Math.min(...b.records.map((r) => r.timestamp)) : b.maxTimestamp;
  const body = Buffer.concat(b.records.map((r) => encodeRecord(r, b.baseOffset, baseTimestamp)));
  const buf = Buffer.alloc(BATCH_HEADER_BYTES + body.length);
  buf.writeBigInt64BE(BigInt(b.baseOffset), 0);
  buf.writeInt32BE(buf.length - BATCH_LOG_OVERHEAD, 8);
  buf.writeInt32BE(b.epoch, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(b.attributes, 21);
  buf.writeInt32BE(b.lastOffset - b.baseOffset, 23);
  buf.writeBigInt64BE(BigInt(baseTimestamp), 27);
  buf.writeBigInt64BE(BigInt(b.maxTimestamp), 35);
  buf.writeBigInt64BE(BigInt(b.producerId), 43);
  buf.writeInt16BE(b.producerEpoch, 51);
  buf.writeInt32BE(b.baseSequence, 53);
  buf.writeInt32BE(b.records.length, 57);
  body.copy(buf, BATCH_HEADER_BYTES);
  writeBatchCrc(buf, 0, buf.length);
  return buf;
}
