/**
 * One log segment: `<base offset, 20 digits>.log` holding RecordBatch v2 batches back to back exactly
 * as on the wire, and its sparse `.index` (offset-index.ts).
 *
 * Invariants while open: `size` is the .log file's length and ends on a batch boundary; batches are
 * contiguous in offsets, the first starts at `baseOffset` (the file name) and the last ends at
 * `nextOffset - 1` (nextOffset == baseOffset when empty); the index satisfies its own invariants.
 *
 * I/O is synchronous and fd-based (openSync/readSync/writeSync/fsyncSync): one append is one
 * write into the page cache, which keeps ordering trivial (no interleaved async writes to reason
 * about) and costs a few microseconds; durability comes only from explicit flush() (fsync). An
 * append given a WriteBehind (a leader's) is held in memory and written with the turn's other
 * appends in one write (write-behind.ts); every other use of the file writes it first.
 *
 * scanBatches() is the one validator of on-disk bytes: size field present and >= the 61-byte
 * header, the batch fully present, magic 2, lastOffsetDelta >= 0, base offset == the previous
 * batch's last offset + 1, and (when asked) CRC-32C. It stops at the first batch that fails, or
 * early when the callback returns false. It reads in 1 MiB chunks (or one batch, if larger).
 */
import * as path from 'node:path';
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  batchCrcOk,
  readBatchHeader,
  readInt64,
  type BatchHeader,
} from '../protocol/batch-header.ts';
import { nodeFileSystem, type FileSystem } from './fs.ts';
import { fileSizeIfExists, readFully, writeFully } from './fs-util.ts';
import { OffsetIndex } from './offset-index.ts';
import type { PendingWrites, WriteBehind } from './write-behind.ts';

const SCAN_CHUNK_BYTES = 1 << 20;
/** Batches whose positions a segment keeps in memory (see Segment.#tailLast); 16 bytes each. */
const TAIL_MAX_BATCHES = 4096;
/** Bytes of the header up to and including lastOffsetDelta: enough to walk batch to batch. */
const WALK_HEADER_BYTES = 27;

export function segmentFileName(baseOffset: number, suffix: '.log' | '.index'): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

/** Base offsets of the `.log` files in `dir`, ascending. */
export function listSegmentBases(dir: string, fsys: FileSystem = nodeFileSystem): number[] {
  return fsys
    .list(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .map((f) => Number(f.slice(0, 20)))
    .sort((a, b) => a - b);
}

export interface ScannedBatch {
  position: number;
  size: number;
  header: BatchHeader;
}

export interface ScanResult {
  validBytes: number;
  nextOffset: number;
  batches: number;
  /** Why scanning stopped before the end of the file, or null when every byte was a good batch. */
  badReason: string | null;
}

export function scanBatches(
  fd: number,
  fileSize: number,
  firstOffset: number,
  verifyCrc: boolean,
  onBatch: (b: ScannedBatch) => boolean | void,
  fsys: FileSystem = nodeFileSystem,
): ScanResult {
  let buf = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(fileSize, BATCH_LOG_OVERHEAD)));
  let bufStart = 0;
  let bufLen = 0;
  const ensure = (pos: number, n: number): boolean => {
    if (pos >= bufStart && pos + n <= bufStart + bufLen) return true;
    const want = Math.max(n, Math.min(SCAN_CHUNK_BYTES, fileSize - pos));
    if (buf.length < want) buf = Buffer.allocUnsafe(want);
    bufStart = pos;
    bufLen = readFully(fd, buf, 0, want, pos, fsys);
    return bufLen >= n;
  };
  let pos = 0;
  let next = firstOffset;
  let batches = 0;
  const stop = (badReason: string | null): ScanResult => ({ validBytes: pos, nextOffset: next, batches, badReason });
  while (pos < fileSize) {
    const remaining = fileSize - pos;
    if (remaining < BATCH_LOG_OVERHEAD || !ensure(pos, BATCH_LOG_OVERHEAD)) return stop('torn size field');
    const size = BATCH_LOG_OVERHEAD + buf.readInt32BE(pos - bufStart + 8);
    if (size < BATCH_HEADER_BYTES) return stop(`batch size ${size} below the header size`);
    if (size > remaining || !ensure(pos, size)) return stop(`torn batch: ${size} bytes declared, ${remaining} present`);
    const at = pos - bufStart;
    const header = readBatchHeader(buf, at);
    if (header.magic !== 2) return stop(`magic ${header.magic}`);
    if (header.lastOffsetDelta < 0) return stop(`negative lastOffsetDelta ${header.lastOffsetDelta}`);
    if (header.baseOffset !== next) return stop(`base offset ${header.baseOffset}, expected ${next}`);
    if (verifyCrc && !batchCrcOk(buf, at, size)) return stop(`CRC mismatch at offset ${header.baseOffset}`);
    const more = onBatch({ position: pos, size, header });
    batches++;
    next = header.baseOffset + header.lastOffsetDelta + 1;
    pos += size;
    if (more === false) return stop(null);
  }
  return stop(null);
}

export interface SegmentOpenResult {
  segment: Segment;
  truncatedBytes: number;
  batches: number;
  badReason: string | null;
  indexRewritten: boolean;
  /** The .log file did not exist and was created: its name is durable only after a directory fsync. */
  created: boolean;
}

/** Metadata of one batch being appended, positions relative to the appended buffer. */
export interface AppendBatch {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestampMs: number;
}

export class Segment implements PendingWrites {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly indexIntervalBytes: number;
  readonly #fd: number;
  readonly #fs: FileSystem;
  readonly #index: OffsetIndex;
  #size: number;
  #nextOffset: number;
  #bytesSinceIndexEntry: number;
  /** Largest batch maxTimestamp in the segment; null when not known (recomputed on demand). */
  #maxTimestampMs: number | null;
  #unflushed = false;
  /**
   * The newest batches this process appended, oldest first: each one's last offset and byte
   * position. They cover the offsets [#tailBase, last entry] without a gap (a batch that could not
   * be kept empties the list first; a truncation empties it), at most TAIL_MAX_BATCHES of them.
   * positionOf answers offsets they cover from memory: a follower or consumer at the log end asks
   * for the newest batches, which otherwise cost one header read per batch since the last index
   * entry (up to indexIntervalBytes / 61 reads per fetch).
   */
  #tailBase = 0;
  #tailLast: number[] = [];
  #tailPos: number[] = [];
  /**
   * Appended batches not yet written (write-behind.ts: group commit of leader appends), in order,
   * the first at file position #pendingStart; #size counts them. Every use of the file writes them
   * first (#settle). Once a write of them failed, the segment is failed: every operation throws.
   */
  #pendingBufs: Buffer[] = [];
  #pendingStart = 0;
  #pendingTo: WriteBehind | null = null;
  #failed: Error | null = null;

  private constructor(
    baseOffset: number,
    logPath: string,
    fd: number,
    index: OffsetIndex,
    size: number,
    nextOffset: number,
    bytesSinceIndexEntry: number,
    maxTimestampMs: number | null,
    indexIntervalBytes: number,
    fsys: FileSystem,
  ) {
    this.baseOffset = baseOffset;
    this.logPath = logPath;
    this.#fd = fd;
    this.#fs = fsys;
    this.#index = index;
    this.#size = size;
    this.#nextOffset = nextOffset;
    this.#bytesSinceIndexEntry = bytesSinceIndexEntry;
    this.#maxTimestampMs = maxTimestampMs;
    this.indexIntervalBytes = indexIntervalBytes;
  }

  /**
   * Opens an existing segment (or creates an empty one), validates it batch by batch, truncates the
   * file at the first bad batch (and fsyncs the cut, so the bad bytes cannot come back under data
   * appended later), and makes the index agree with what was scanned. The caller fsyncs the
   * directory when `created`.
   */
  static open(
    dir: string,
    baseOffset: number,
    indexIntervalBytes: number,
    verifyCrc: boolean,
    onBatch: (b: ScannedBatch) => void,
    fsys: FileSystem = nodeFileSystem,
  ): SegmentOpenResult {
    const logPath = path.join(dir, segmentFileName(baseOffset, '.log'));
    const created = !fsys.exists(logPath);
    const fd = fsys.open(logPath, created ? 'w+' : 'r+');
    const fileSize = fsys.size(fd);
    const relOffsets: number[] = [];
    const positions: number[] = [];
    let sinceEntry = 0;
    let maxTs = -1;
    const scan = scanBatches(fd, fileSize, baseOffset, verifyCrc, (b) => {
      if (sinceEntry >= indexIntervalBytes) {
        relOffsets.push(b.header.baseOffset - baseOffset);
        positions.push(b.position);
        sinceEntry = 0;
      }
      sinceEntry += b.size;
      maxTs = Math.max(maxTs, b.header.maxTimestamp);
      onBatch(b);
    }, fsys);
    if (scan.validBytes < fileSize) {
      fsys.truncate(fd, scan.validBytes);
      fsys.fsync(fd);
    }
    const { index, rewritten } = OffsetIndex.openWith(path.join(dir, segmentFileName(baseOffset, '.index')), relOffsets, positions, fsys);
    const segment = new Segment(baseOffset, logPath, fd, index, scan.validBytes, scan.nextOffset, sinceEntry, maxTs, indexIntervalBytes, fsys);
    return {
      segment,
      truncatedBytes: fileSize - scan.validBytes,
      batches: scan.batches,
      badReason: scan.badReason,
      indexRewritten: rewritten,
      created,
    };
  }

  /**
   * Opens a segment that recovery trusts (wholly below the recovery point, see recovery-point.ts)
   * without scanning it: `nextOffset` is given (the next segment's base, or the clean-shutdown log
   * end), the index is read from disk and sanity-checked, and only the batch headers after the last
   * index entry are walked, to check that they end exactly at the file's end and at nextOffset - 1.
   * Reads at most indexIntervalBytes plus one batch's header per batch there. Returns null when any
   * check fails; the caller then scans the segment with open(). The max timestamp is computed on
   * first use.
   */
  static openTrusted(dir: string, baseOffset: number, nextOffset: number, indexIntervalBytes: number, fsys: FileSystem = nodeFileSystem): Segment | null {
    const logPath = path.join(dir, segmentFileName(baseOffset, '.log'));
    const size = fileSizeIfExists(logPath, fsys);
    if (size === null || nextOffset < baseOffset || (size === 0) !== (nextOffset === baseOffset)) return null;
    const index = OffsetIndex.openExisting(path.join(dir, segmentFileName(baseOffset, '.index')), size, fsys);
    if (index === null) return null;
    const fd = fsys.open(logPath, 'r+');
    const entry = index.lastEntry;
    let pos = entry?.position ?? 0;
    let expected = baseOffset + (entry?.relOffset ?? 0);
    const hdr = Buffer.allocUnsafe(WALK_HEADER_BYTES);
    let ok = true;
    while (ok && pos < size) {
      if (readFully(fd, hdr, 0, WALK_HEADER_BYTES, pos, fsys) < WALK_HEADER_BYTES) ok = false;
      else {
        const base = readInt64(hdr, 0);
        const batchBytes = BATCH_LOG_OVERHEAD + hdr.readInt32BE(8);
        const delta = hdr.readInt32BE(23);
        if (hdr.readInt8(16) !== 2 || batchBytes < BATCH_HEADER_BYTES || delta < 0 || pos + batchBytes > size) ok = false;
        else if (base !== expected) ok = false;
        else {
          expected = base + delta + 1;
          pos += batchBytes;
        }
      }
    }
    if (!ok || pos !== size || (size > 0 && expected !== nextOffset)) {
      fsys.close(fd);
      index.close();
      return null;
    }
    const sinceEntry = size - (entry?.position ?? 0);
    return new Segment(baseOffset, logPath, fd, index, size, nextOffset, sinceEntry, null, indexIntervalBytes, fsys);
  }

  /**
   * Creates a fresh, empty segment, replacing any files of that name, and fsyncs the directory so
   * the new names are durable before anything is acknowledged from the segment (data fsynced into
   * a file whose name is not durable is lost with the name).
   */
  static create(dir: string, baseOffset: number, indexIntervalBytes: number, fsys: FileSystem = nodeFileSystem): Segment {
    const logPath = path.join(dir, segmentFileName(baseOffset, '.log'));
    const fd = fsys.open(logPath, 'w+');
    const indexPath = path.join(dir, segmentFileName(baseOffset, '.index'));
    fsys.unlink(indexPath);
    const { index } = OffsetIndex.openWith(indexPath, [], [], fsys);
    fsys.fsyncDir(dir);
    return new Segment(baseOffset, logPath, fd, index, 0, baseOffset, 0, -1, indexIntervalBytes, fsys);
  }

  get size(): number {
    return this.#size;
  }

  get nextOffset(): number {
    return this.#nextOffset;
  }

  get indexEntries(): number {
    return this.#index.entryCount;
  }

  /**
   * Appends `buf`, whose batches are described by `batches` (contiguous, starting at nextOffset).
   * With `writeBehind` the bytes are written later, with the rest of the turn's appends (and before
   * anything reads the file); the caller must not change `buf` afterwards.
   */
  append(buf: Buffer, batches: readonly AppendBatch[], writeBehind?: WriteBehind): void {
    const start = this.#size;
    if (writeBehind) {
      if (this.#failed) throw this.#failed;
      if (writeBehind.failed) throw writeBehind.failed;
    } else {
      this.#settle();
      writeFully(this.#fd, buf, start, this.#fs);
    }
    // Everything that can fail comes before the bytes are queued and the sizes move: an index write
    // that throws leaves the segment as it was, and the next append takes the same place (a batch
    // queued before it failed would be written later under offsets handed out again).
    for (const b of batches) {
      if (this.#bytesSinceIndexEntry >= this.indexIntervalBytes) {
        this.#index.append(b.baseOffset - this.baseOffset, start + b.position);
        this.#bytesSinceIndexEntry = 0;
      }
      this.#bytesSinceIndexEntry += b.size;
      if (this.#maxTimestampMs !== null) this.#maxTimestampMs = Math.max(this.#maxTimestampMs, b.maxTimestampMs);
    }
    if (writeBehind) {
      if (this.#pendingBufs.length === 0) {
        writeBehind.add(this);
        this.#pendingStart = start;
        this.#pendingTo = writeBehind;
      }
      this.#pendingBufs.push(buf);
    }
    this.#rememberTail(start, batches);
    this.#size += buf.length;
    const last = batches.at(-1);
    if (last) this.#nextOffset = last.lastOffset + 1;
    this.#unflushed = true;
  }

  /** Adds appended batches (positions relative to `start`) to the in-memory tail, keeping it gap-free. */
  #rememberTail(start: number, batches: readonly AppendBatch[]): void {
    let from = 0;
    const n = this.#tailLast.length;
    if (n + batches.length > TAIL_MAX_BATCHES) {
      if (batches.length <= TAIL_MAX_BATCHES / 2) {
        // Drop the oldest so that half the room is free again; the new first entry starts right after the last one dropped.
        const drop = n + batches.length - TAIL_MAX_BATCHES / 2;
        this.#tailBase = this.#tailLast[drop - 1]! + 1;
        this.#tailLast.splice(0, drop);
        this.#tailPos.splice(0, drop);
      } else {
        this.#tailLast = [];
        this.#tailPos = [];
        from = batches.length - Math.min(batches.length, TAIL_MAX_BATCHES);
      }
    }
    for (let i = from; i < batches.length; i++) {
      const b = batches[i]!;
      if (this.#tailLast.length === 0) this.#tailBase = b.baseOffset;
      this.#tailLast.push(b.lastOffset);
      this.#tailPos.push(start + b.position);
    }
  }

  /** Byte position of the batch containing `offset`, or null when offset >= nextOffset. */
  positionOf(offset: number): number | null {
    if (offset < this.baseOffset) throw new RangeError(`offset ${offset} is below segment ${this.baseOffset}`);
    if (offset >= this.#nextOffset) return null;
    const tail = this.#tailLast;
    if (tail.length > 0 && offset >= this.#tailBase && offset <= tail[tail.length - 1]!) {
      let lo = 0;
      let hi = tail.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (tail[mid]! >= offset) hi = mid;
        else lo = mid + 1;
      }
      return this.#tailPos[lo]!;
    }
    this.#settle();
    let pos = this.#index.lookup(offset - this.baseOffset);
    const hdr = Buffer.allocUnsafe(WALK_HEADER_BYTES);
    while (pos < this.#size) {
      if (readFully(this.#fd, hdr, 0, WALK_HEADER_BYTES, pos, this.#fs) < WALK_HEADER_BYTES) break;
      const last = readInt64(hdr, 0) + hdr.readInt32BE(23);
      if (last >= offset) return pos;
      pos += BATCH_LOG_OVERHEAD + hdr.readInt32BE(8);
    }
    throw new Error(`segment ${this.baseOffset}: offset ${offset} < nextOffset ${this.#nextOffset} but not found`);
  }

  /**
   * Whole batches from `position` (a batch start): stops before a batch with lastOffset >=
   * maxOffsetExclusive, and before one that would take the total past `maxBytes` unless it is the
   * first batch and `firstRegardless`. Reads at most max(maxBytes, first batch size) bytes.
   */
  readBatches(
    position: number,
    maxBytes: number,
    maxOffsetExclusive: number,
    firstRegardless: boolean,
  ): { records: Buffer; batches: number; nextOffset: number } {
    const empty = { records: Buffer.alloc(0), batches: 0, nextOffset: -1 };
    if (position >= this.#size) return empty;
    this.#settle();
    let buf: Buffer;
    let got: number;
    if (this.#size - position <= maxBytes) {
      // Everything up to the end fits: one read (a fetch at the log end, the common case), no header read first.
      buf = Buffer.allocUnsafe(this.#size - position);
      got = readFully(this.#fd, buf, 0, buf.length, position, this.#fs);
      if (got < WALK_HEADER_BYTES || readInt64(buf, 0) + buf.readInt32BE(23) >= maxOffsetExclusive) return empty;
    } else {
      const hdr = Buffer.allocUnsafe(WALK_HEADER_BYTES);
      readFully(this.#fd, hdr, 0, WALK_HEADER_BYTES, position, this.#fs);
      const firstSize = BATCH_LOG_OVERHEAD + hdr.readInt32BE(8);
      const firstLast = readInt64(hdr, 0) + hdr.readInt32BE(23);
      if (firstLast >= maxOffsetExclusive) return empty;
      if (firstSize > maxBytes && !firstRegardless) return empty;
      const want = Math.min(this.#size - position, Math.max(firstSize, maxBytes));
      buf = Buffer.allocUnsafe(want);
      got = readFully(this.#fd, buf, 0, want, position, this.#fs);
    }
    let end = 0;
    let batches = 0;
    let nextOffset = -1;
    while (end + WALK_HEADER_BYTES <= got) {
      const size = BATCH_LOG_OVERHEAD + buf.readInt32BE(end + 8);
      const last = readInt64(buf, end) + buf.readInt32BE(end + 23);
      if (end + size > got || last >= maxOffsetExclusive) break;
      if (batches > 0 && end + size > maxBytes) break;
      end += size;
      batches++;
      nextOffset = last + 1;
    }
    return { records: buf.subarray(0, end), batches, nextOffset };
  }

  /** Largest batch maxTimestamp here (-1 when empty); scans the headers once if not known. */
  maxTimestampMs(): number {
    if (this.#maxTimestampMs === null) {
      let maxTs = -1;
      this.forEachBatch((b) => {
        maxTs = Math.max(maxTs, b.header.maxTimestamp);
      });
      this.#maxTimestampMs = maxTs;
    }
    return this.#maxTimestampMs;
  }

  /** Calls `fn` for every batch in order until it returns false (headers checked structurally, no CRC). */
  forEachBatch(fn: (b: ScannedBatch) => boolean | void): void {
    this.#settle();
    const scan = scanBatches(this.#fd, this.#size, this.baseOffset, false, fn, this.#fs);
    if (scan.badReason !== null) throw new Error(`segment ${this.baseOffset} changed under us: ${scan.badReason}`);
  }

  /**
   * Drops every batch at or after `offset`; if `offset` falls inside a batch, that whole batch goes
   * too (the log ends on batch boundaries). Returns the new nextOffset.
   *
   * The cut is fsynced before this returns: the caller then writes an epoch checkpoint that
   * describes the shorter log, and a cut undone by a power loss under a durable checkpoint would
   * put the old batches back under epochs the checkpoint assigns to other data.
   *
   * Cost: the index lookup plus a walk of at most one index interval to find the batch, one header
   * read, one truncate and one fsync. Nothing kept is read again: the new end is the cut batch's
   * base, and the index spacing follows from the last index entry kept.
   */
  truncateTo(offset: number): number {
    const pos = this.positionOf(Math.max(offset, this.baseOffset));
    if (pos === null) return this.#nextOffset;
    this.#settle();
    const hdr = Buffer.allocUnsafe(WALK_HEADER_BYTES);
    readFully(this.#fd, hdr, 0, WALK_HEADER_BYTES, pos, this.#fs);
    const next = readInt64(hdr, 0);
    this.#fs.truncate(this.#fd, pos);
    this.#fs.fsync(this.#fd);
    this.#unflushed = false;
    this.#tailLast = [];
    this.#tailPos = [];
    this.#index.truncateToPosition(pos);
    this.#size = pos;
    this.#maxTimestampMs = null;
    this.#nextOffset = next;
    // Bytes appended since the last index entry kept (or since the segment start when none is).
    this.#bytesSinceIndexEntry = pos - (this.#index.lastPosition ?? 0);
    return next;
  }

  /** fsyncs the log file; returns whether an fsync was issued. */
  flush(): boolean {
    this.#settle();
    if (!this.#unflushed) return false;
    this.#fs.fsync(this.#fd);
    this.#unflushed = false;
    return true;
  }

  flushIndex(): void {
    this.#index.flush();
  }

  /** Closes both files (after writing pending appends; if that fails, closes them and throws). */
  close(): void {
    let failure: unknown = null;
    try {
      this.#settle();
    } catch (err) {
      failure = err;
    }
    this.#fs.close(this.#fd);
    this.#index.close();
    if (failure !== null) throw failure;
  }

  /** PendingWrites: writes the pending appends in one write (WriteBehind.drain calls it). */
  writePending(): void {
    if (this.#failed) throw this.#failed;
    const bufs = this.#pendingBufs;
    if (bufs.length === 0) return;
    this.#pendingBufs = [];
    this.#pendingTo = null;
    const buf = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
    try {
      writeFully(this.#fd, buf, this.#pendingStart, this.#fs);
    } catch (err) {
      this.#failed = err instanceof Error ? err : new Error(String(err));
      throw this.#failed;
    }
  }

  /** Before any use of the file: writes the pending appends (failing the node if that fails). */
  #settle(): void {
    if (this.#failed) throw this.#failed;
    const to = this.#pendingTo;
    if (to === null) return;
    to.written(this);
    try {
      this.writePending();
    } catch (err) {
      to.fail(err as Error);
      throw err;
    }
  }

  /** Closes and unlinks both files; the deletion is durable once the caller fsyncs the directory. */
  delete(): void {
    this.close();
    this.#fs.unlink(this.logPath);
    this.#fs.unlink(this.#index.path);
  }
}
