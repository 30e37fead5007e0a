/**
 * Producer-state snapshots of one partition log (Kafka's `<offset>.snapshot` files of
 * ProducerStateManager): `<offset, 20 digits>.snapshot` holds the idempotent-producer state as of
 * `offset`, that is, after every batch below `offset` and none at or above it.
 *
 * File format (big-endian), our own:
 *   version u16 (1) | crc32c u32 of every byte after this field | offset i64 | count i32 |
 *   count x ( producerId i64 | producerEpoch i16 | lastTimestampMs i64 | batches u8 |
 *             batches x ( firstSeq i32 | lastSeq i32 | firstOffset i64 | lastOffset i64 ) )
 * A file whose version, CRC, length or embedded offset is wrong is corrupt: readers ignore it and
 * the log falls back to an older snapshot or to scanning the log.
 *
 * Written atomically (fs-util writeFileAtomic: temp file, fsync, rename, fsync dir), so a crash leaves
 * the old file or the new one. Invariants the log keeps with these helpers (partition-log.ts):
 *  - no snapshot is above the log end: truncation and recovery delete those above the new end;
 *  - none is below the log start once retention moved it (they describe deleted data only);
 *  - opening a log uses only a snapshot at or below its recovery point (every byte below a snapshot
 *    it uses was durable when the snapshot was written).
 */
import * as path from 'node:path';
import { crc32c } from '../protocol/crc32c.ts';
import { listDir, nodeFileSystem, readFileIfExists, removeFile, writeFileAtomic, type FileSystem } from './fs-util.ts';
import { RETAINED_BATCHES, type ProducerEntry } from './producer-state.ts';

export const SNAPSHOT_SUFFIX = '.snapshot';
const VERSION = 1;
const HEADER_BYTES = 2 + 4 + 8 + 4;
const ENTRY_BYTES = 8 + 2 + 8 + 1;
const BATCH_BYTES = 4 + 4 + 8 + 8;

export function snapshotFileName(offset: number): string {
  return String(offset).padStart(20, '0') + SNAPSHOT_SUFFIX;
}

/** Offsets of the snapshot files in `dir`, ascending. */
export function listSnapshotOffsets(dir: string, fsys: FileSystem = nodeFileSystem): number[] {
  return listDir(dir, fsys)
    .filter((f) => /^\d{20}\.snapshot$/.test(f))
    .map((f) => Number(f.slice(0, 20)))
    .sort((a, b) => a - b);
}

export function encodeSnapshot(offset: number, entries: Iterable<[number, ProducerEntry]>): Buffer {
  const list = [...entries];
  let size = HEADER_BYTES;
  for (const [, e] of list) size += ENTRY_BYTES + e.batches.length * BATCH_BYTES;
  const buf = Buffer.alloc(size);
  buf.writeUInt16BE(VERSION, 0);
  buf.writeBigInt64BE(BigInt(offset), 6);
  buf.writeInt32BE(list.length, 14);
  let p = HEADER_BYTES;
  for (const [id, e] of list) {
    buf.writeBigInt64BE(BigInt(id), p);
    buf.writeInt16BE(e.producerEpoch, p + 8);
    buf.writeBigInt64BE(BigInt(e.lastTimestampMs), p + 10);
    buf.writeUInt8(e.batches.length, p + 18);
    p += ENTRY_BYTES;
    for (const b of e.batches) {
      buf.writeInt32BE(b.firstSeq, p);
      buf.writeInt32BE(b.lastSeq, p + 4);
      buf.writeBigInt64BE(BigInt(b.firstOffset), p + 8);
      buf.writeBigInt64BE(BigInt(b.lastOffset), p + 16);
      p += BATCH_BYTES;
    }
  }
  buf.writeUInt32BE(crc32c(buf, 6, size), 2);
  return buf;
}

/** The entries of a snapshot file's bytes, or null when they are not a valid snapshot of `offset`. */
export function decodeSnapshot(buf: Buffer, offset: number): Map<number, ProducerEntry> | null {
  if (buf.length < HEADER_BYTES || buf.readUInt16BE(0) !== VERSION) return null;
  if (buf.readUInt32BE(2) !== crc32c(buf, 6, buf.length)) return null;
  if (Number(buf.readBigInt64BE(6)) !== offset) return null;
  const count = buf.readInt32BE(14);
  if (count < 0) return null;
  const out = new Map<number, ProducerEntry>();
  let p = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (p + ENTRY_BYTES > buf.length) return null;
    const id = Number(buf.readBigInt64BE(p));
    const producerEpoch = buf.readInt16BE(p + 8);
    const lastTimestampMs = Number(buf.readBigInt64BE(p + 10));
    const n = buf.readUInt8(p + 18);
    p += ENTRY_BYTES;
    if (n > RETAINED_BATCHES || p + n * BATCH_BYTES > buf.length) return null;
    const batches: ProducerEntry['batches'] = [];
    for (let j = 0; j < n; j++) {
      batches.push({
        firstSeq: buf.readInt32BE(p),
        lastSeq: buf.readInt32BE(p + 4),
        firstOffset: Number(buf.readBigInt64BE(p + 8)),
        lastOffset: Number(buf.readBigInt64BE(p + 16)),
      });
      p += BATCH_BYTES;
    }
    out.set(id, { producerEpoch, batches, lastTimestampMs });
  }
  return p === buf.length ? out : null;
}

export function writeSnapshot(dir: string, offset: number, entries: Iterable<[number, ProducerEntry]>, fsys: FileSystem = nodeFileSystem): void {
  writeFileAtomic(path.join(dir, snapshotFileName(offset)), encodeSnapshot(offset, entries), fsys);
}

export interface LoadedSnapshot {
  offset: number;
  entries: Map<number, ProducerEntry>;
}

/**
 * The newest valid snapshot with minOffset <= offset <= maxOffset, or null. Corrupt files met on the
 * way (newer than the one returned) are deleted, as Kafka does, and counted in `corrupt`; the
 * directory is fsynced once after such deletions.
 */
export function loadNewestSnapshot(dir: string, minOffset: number, maxOffset: number, fsys: FileSystem = nodeFileSystem): { snapshot: LoadedSnapshot | null; corrupt: number } {
  let corrupt = 0;
  let found: LoadedSnapshot | null = null;
  const offsets = listSnapshotOffsets(dir, fsys).filter((o) => o >= minOffset && o <= maxOffset);
  for (let i = offsets.length - 1; i >= 0 && found === null; i--) {
    const offset = offsets[i]!;
    const file = path.join(dir, snapshotFileName(offset));
    const buf = readFileIfExists(file, fsys);
    const entries = buf === null ? null : decodeSnapshot(buf, offset);
    if (entries !== null) found = { offset, entries };
    else {
      corrupt++;
      removeFile(file, fsys);
    }
  }
  if (corrupt > 0) fsys.fsyncDir(dir);
  return { snapshot: found, corrupt };
}

/**
 * Deletes every snapshot with offset > `offset` (the log was truncated to end there), durably (one
 * directory fsync): a deleted snapshot that a power loss brought back would describe data the log
 * no longer holds, at an offset the log may since have regrown past with other batches.
 */
export function deleteSnapshotsAbove(dir: string, offset: number, fsys: FileSystem = nodeFileSystem): number {
  let n = 0;
  for (const o of listSnapshotOffsets(dir, fsys)) {
    if (o <= offset) continue;
    removeFile(path.join(dir, snapshotFileName(o)), fsys);
    n++;
  }
  if (n > 0) fsys.fsyncDir(dir);
  return n;
}

/** Deletes every snapshot with offset < `offset` (the log now starts there), then fsyncs the directory. */
export function deleteSnapshotsBelow(dir: string, offset: number, fsys: FileSystem = nodeFileSystem): number {
  let n = 0;
  for (const o of listSnapshotOffsets(dir, fsys)) {
    if (o >= offset) continue;
    removeFile(path.join(dir, snapshotFileName(o)), fsys);
    n++;
  }
  if (n > 0) fsys.fsyncDir(dir);
  return n;
}
