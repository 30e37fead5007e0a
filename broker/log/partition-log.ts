/**
 * The log of one partition replica: a directory of segments (segment.ts) named by base offset,
 * a leader-epoch checkpoint (epoch-cache.ts), a log-start-offset checkpoint, and the idempotent
 * producer state (producer-state.ts) derived from the batch headers.
 *
 * Invariants (hold after open() and after every public method returns):
 *  - Segments are ordered by base offset and contiguous: each base equals the previous segment's
 *    nextOffset; logStartOffset is the first segment's base, logEndOffset the last one's nextOffset.
 *    Batches never span segments; the log always ends on a batch boundary.
 *  - The epoch cache has no entry with startOffset > logEndOffset, and its latest epoch is at
 *    least every batch's partitionLeaderEpoch. (An owner may assign a new leader epoch at
 *    logEndOffset before appending, as Kafka's makeLeader does; recovery and truncation drop
 *    entries at or beyond the new end, as Kafka's LogLoader and truncateTo do.)
 *  - producerState equals replaying update() over every batch with producerId >= 0 (not control)
 *    in offset order, on any replica holding the same batches.
 *
 * Durability (Kafka's log.flush.interval.messages / log.flush.interval.ms): the log fsyncs after
 * `flushIntervalMessages` offsets were appended since the last flush, and in maybeFlush(nowMs) once
 * `flushIntervalMs` passed since the last flush with something unflushed. The defaults (as Kafka's,
 * Long.MAX) never fsync on append: acknowledged data then survives a process crash (it is in the
 * page cache) but not a machine crash, and replication is what makes it durable. As Kafka does,
 * a segment is fsynced when it is rolled, and everything is fsynced on close().
 *
 * File-operation durability (fs.ts states the disk contract): a name is durable only after its
 * directory is fsynced, so the directory is fsynced after every segment creation (roll, first
 * segment, full truncation), after segment deletions, and after every rename (writeFileAtomic);
 * a cut segment is fsynced before the epoch checkpoint describing the cut is written. With
 * flushIntervalMessages=1, every append that returned therefore survives a power loss at any
 * later point, across rolls and truncations (test/broker/log/power-loss.property.test.ts). None of
 * this adds a syscall to an append that does not roll: that stays one write (with a WriteBehind,
 * a leader append's share of its turn's one write per segment: write-behind.ts), plus one fsync
 * when the flush policy asks for it. The log directory itself is created durably (mkdirDurable).
 *
 * Recovery (open): every segment is walked batch by batch (segment.ts scanBatches); the last,
 * active segment also has each CRC-32C checked (older ones were fsynced at roll). At the first bad
 * batch the file is truncated there and every later segment is deleted; a segment whose base does
 * not continue the previous one counts as bad. Indexes are rebuilt where missing or different, the
 * epoch cache is cut to the log end (and rebuilt from batch epochs if missing or corrupt), and the
 * producer state is rebuilt by the same walk. The walk covers only what recovery-point.ts plans:
 * segments below the recovery point and the newest producer-state snapshot (producer-snapshot.ts,
 * written at every roll and at close) are opened without reading them, so a restart reads the
 * active segment only (none after a clean shutdown); without a usable snapshot it reads everything.
 * Snapshots above the recovered log end, or below its start, are deleted.
 *
 * Retention and compaction (retention.ts, cleaner.ts) act through deleteOldestSegments and
 * replaceSegment. deleteOldestSegments deletes segment files oldest first and writes the log-start
 * checkpoint after them, so open() reads a checkpoint below the first segment as an interrupted
 * deletion (the log starts at its first segment) and one above it as an interrupted full truncation.
 *
 * Truncation deletes later segments from the highest down, then cuts the containing one, so a crash
 * in between still leaves a contiguous log. truncateFullyAndStartAt writes the log-start checkpoint
 * first; open() treats a first segment that does not start there as an unfinished full truncation.
 * Its cost is what it removes: the deleted segments' unlinks, the cut segment's truncate (an index
 * lookup and one header read, segment.ts), the index entries past the cut; nothing kept is re-read,
 * except that the producer state, when some producer's retained batches lie past the cut, is
 * replayed from the newest producer snapshot at or below the cut (the one written when the cut
 * segment was rolled in, at its base) over the kept part of that one segment, as Kafka's
 * truncateAndReload does. Snapshots above the new end are deleted durably first.
 */
import * as path from 'node:path';
import { Attr, BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD, batchCrcOk, batchSizeAt, readBatchHeader, stampBatch, type BatchHeader } from '../protocol/batch-header.ts';
import { LeaderEpochCache } from './epoch-cache.ts';
import { CorruptBatchError, LogError, NonContiguousAppendError, OffsetOutOfRangeError, RecordBatchTooLargeError } from './errors.ts';
import { nodeFileSystem, type FileSystem } from './fs.ts';
import { fileSizeIfExists, mkdirDurable, readFileIfExists, removeFileDurably, writeFileAtomic } from './fs-util.ts';
import { incrementSequence, INT32_MAX, ProducerState } from './producer-state.ts';
import { deleteSnapshotsAbove, deleteSnapshotsBelow, loadNewestSnapshot, writeSnapshot } from './producer-snapshot.ts';
import { consumeCleanShutdown, planOpen, writeCleanShutdown } from './recovery-point.ts';
import { listSegmentBases, Segment, segmentFileName, type AppendBatch, type ScannedBatch } from './segment.ts';
import type { WriteBehind } from './write-behind.ts';
import { bugActive } from '../bugs.ts';
import { realClock } from '../runtime/real.ts';

export interface LogConfig {
  /** Roll to a new segment when an append would take the active one past this size. */
  segmentBytes: number;
  /** Bytes appended between two offset-index entries. */
  indexIntervalBytes: number;
  /** fsync once this many offsets were appended since the last flush. */
  flushIntervalMessages: number;
  /** maybeFlush(nowMs) fsyncs once this long passed since the last flush. */
  flushIntervalMs: number;
}

/** Kafka's defaults: 1 GiB segments, an index entry per 4 KiB, no forced fsync. */
export const defaultLogConfig: LogConfig = {
  segmentBytes: 1 << 30,
  indexIntervalBytes: 4096,
  flushIntervalMessages: Number.MAX_SAFE_INTEGER,
  flushIntervalMs: Number.MAX_SAFE_INTEGER,
};

export const EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';
export const LOG_START_CHECKPOINT_FILE = 'log-start-offset-checkpoint';

export interface RecoveryInfo {
  segments: number;
  /** Batches found valid on open, in the segments it scanned (segmentsScanned). */
  batchesRecovered: number;
  /** Bytes cut off: torn or corrupt tails plus deleted later segments. */
  bytesTruncated: number;
  segmentsDeleted: number;
  indexesRebuilt: number;
  /** True when the checkpoint was corrupt, or lacked epochs that the batches carry (entries were re-added). */
  epochCacheRebuilt: boolean;
  /** Why recovery cut the log, or null when every byte was good. */
  badReason: string | null;
  /** Segments read batch by batch on open (the others were opened without reading them). */
  segmentsScanned: number;
  /** The producer-state snapshot open() started from, or null (replayed from the log start). */
  snapshotOffset: number | null;
  /** True when a clean-shutdown marker matched the files (the recovery point was the log end). */
  cleanShutdown: boolean;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  appendTimeMs: number;
}

export interface ReadResult {
  /** Whole batches, the first containing the fetch offset (so it may start before it). */
  records: Buffer;
  batches: number;
  /** The offset after the last batch returned, or the fetch offset when none was. */
  nextOffset: number;
  logStartOffset: number;
  logEndOffset: number;
}

interface ParsedBatch extends AppendBatch {
  epoch: number;
  lastOffsetDelta: number;
  /** The header as read by #parse (its offset fields are those before a leader stamps them). */
  header: BatchHeader;
}

export class PartitionLog {
  readonly dir: string;
  readonly config: LogConfig;
  readonly recovery: RecoveryInfo;
  readonly epochCache: LeaderEpochCache;
  readonly #fs: FileSystem;
  readonly #writeBehind: WriteBehind | undefined;
  #producerState = new ProducerState();
  readonly #now: () => number;
  #segments: Segment[] = [];
  #unflushedMessages = 0;
  #lastFlushMs: number;
  #fsyncCount = 0;
  #closed = false;

  private constructor(
    dir: string,
    config: LogConfig,
    now: () => number,
    epochCache: LeaderEpochCache,
    recovery: RecoveryInfo,
    fsys: FileSystem,
    writeBehind: WriteBehind | undefined,
  ) {
    this.dir = dir;
    this.#writeBehind = writeBehind;
    this.#fs = fsys;
    this.config = config;
    this.#now = now;
    this.epochCache = epochCache;
    this.recovery = recovery;
    this.#lastFlushMs = now();
  }

  /**
   * Opens (recovering) the log in `dir`. With `writeBehind`, appends as leader are written with the
   * rest of their turn's appends (group commit, write-behind.ts); without it, each at once.
   */
  static open(
    dir: string,
    config: LogConfig = defaultLogConfig,
    now: () => number = realClock.nowMs,
    fsys: FileSystem = nodeFileSystem,
    writeBehind?: WriteBehind,
  ): PartitionLog {
    validateConfig(config);
    mkdirDurable(dir, fsys);
    for (const f of fsys.list(dir)) {
      // Leftovers of an interrupted atomic write, and indexes whose segment was already deleted.
      const orphanIndex = f.endsWith('.index') && !fsys.exists(path.join(dir, f.replace(/\.index$/, '.log')));
      if (f.endsWith('.tmp') || orphanIndex) fsys.unlink(path.join(dir, f));
    }

    const recovery: RecoveryInfo = {
      segments: 0,
      batchesRecovered: 0,
      bytesTruncated: 0,
      segmentsDeleted: 0,
      indexesRebuilt: 0,
      epochCacheRebuilt: false,
      badReason: null,
      segmentsScanned: 0,
      snapshotOffset: null,
      cleanShutdown: false,
    };
    const marker = consumeCleanShutdown(dir, fsys);
    const startCheckpoint = readLogStart(dir, fsys);
    let bases = listSegmentBases(dir, fsys);
    let fullTruncationUnfinished = false;
    if (startCheckpoint !== null && bases.length > 0 && bases[0]! < startCheckpoint) {
      // A truncateFullyAndStartAt was cut short: finish it.
      for (const b of bases.reverse()) recovery.bytesTruncated += deleteSegmentFiles(dir, b, fsys);
      recovery.segmentsDeleted += bases.length;
      bases = [];
      fullTruncationUnfinished = true;
    }
    const loaded = LeaderEpochCache.load(path.join(dir, EPOCH_CHECKPOINT_FILE), fsys);
    const log = new PartitionLog(dir, config, now, loaded.cache, recovery, fsys, writeBehind);
    if (fullTruncationUnfinished) log.epochCache.clear();
    recovery.epochCacheRebuilt = loaded.corrupt;

    if (bases.length === 0) bases = [startCheckpoint ?? 0];
    // Segment files created or deleted here are durable only after the directory is fsynced.
    let namesChanged = recovery.segmentsDeleted > 0;
    // Epochs are rebuilt from the batches when the checkpoint is corrupt or missing: every batch must be read then.
    const hasData = bases.length > 1 || (fileSizeIfExists(path.join(dir, segmentFileName(bases[0]!, '.log')), fsys) ?? 0) > 0;
    const epochCheckpointMissing = hasData && fileSizeIfExists(path.join(dir, EPOCH_CHECKPOINT_FILE), fsys) === null;
    const plan = planOpen(dir, bases, loaded.corrupt || epochCheckpointMissing || fullTruncationUnfinished, marker, fsys);
    recovery.cleanShutdown = plan.cleanLogEnd !== null;
    if (plan.snapshot !== null) {
      log.producerState.restore(plan.snapshot.entries);
      recovery.snapshotOffset = plan.snapshot.offset;
    }
    let stopped = false;
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const prev = log.#segments.at(-1);
      if (!stopped && prev !== undefined && prev.nextOffset !== base) {
        stopped = true;
        recovery.badReason = `segment ${base} does not continue the log at ${prev.nextOffset}`;
      }
      if (stopped) {
        recovery.bytesTruncated += deleteSegmentFiles(dir, base, fsys);
        recovery.segmentsDeleted++;
        continue;
      }
      const isLast = i === bases.length - 1;
      if (i < plan.firstScanned) {
        const trusted = Segment.openTrusted(dir, base, isLast ? plan.cleanLogEnd! : bases[i + 1]!, config.indexIntervalBytes, fsys);
        if (trusted !== null) {
          log.#segments.push(trusted);
          continue;
        }
      }
      // Replayed up to the active segment without a snapshot there (a fallback scan): keep one, so
      // the next unclean open, and a truncation into this segment, read the active segment only.
      if (isLast && i > 0 && plan.replayFrom < base) writeSnapshot(dir, base, log.producerState.entries(), fsys);
      recovery.segmentsScanned++;
      const res = Segment.open(dir, base, config.indexIntervalBytes, isLast, (b) => log.#replayBatch(b, plan.replayFrom), fsys);
      if (res.created) namesChanged = true;
      log.#segments.push(res.segment);
      recovery.batchesRecovered += res.batches;
      recovery.bytesTruncated += res.truncatedBytes;
      if (res.indexRewritten) recovery.indexesRebuilt++;
      if (res.badReason !== null) {
        stopped = true;
        recovery.badReason = `segment ${base}: ${res.badReason}`;
      }
    }
    recovery.segments = log.#segments.length;
    if (recovery.segmentsDeleted > 0) namesChanged = true;
    if (namesChanged) fsys.fsyncDir(dir);
    log.epochCache.truncateFromEnd(log.logEndOffset);
    // A retention deletion cut short after the log-start checkpoint but before the epoch cache moved.
    log.epochCache.truncateFromStart(log.logStartOffset);
    if (loaded.corrupt) log.epochCache.persist();
    deleteSnapshotsAbove(dir, log.logEndOffset, fsys);
    deleteSnapshotsBelow(dir, log.logStartOffset, fsys);
    if (startCheckpoint === null || fullTruncationUnfinished || startCheckpoint < log.logStartOffset) writeLogStart(dir, log.logStartOffset, fsys);
    return log;
  }

  /** Idempotent-producer state derived from the batch headers (see the module docstring). */
  get producerState(): ProducerState {
    return this.#producerState;
  }

  get logStartOffset(): number {
    return this.#segments[0]!.baseOffset;
  }

  get logEndOffset(): number {
    return this.#segments.at(-1)!.nextOffset;
  }

  get segmentCount(): number {
    return this.#segments.length;
  }

  /** Base offsets of the segments, ascending. */
  get segmentBases(): number[] {
    return this.#segments.map((s) => s.baseOffset);
  }

  /** fsync calls issued on segment data since open (for tests and metrics). */
  get fsyncCount(): number {
    return this.#fsyncCount;
  }

  get unflushedMessages(): number {
    return this.#unflushedMessages;
  }

  /**
   * Appends batches from a Produce request (already validated by the caller, CRCs included):
   * assigns consecutive offsets from logEndOffset and stamps `leaderEpoch` in place, in `batches`.
   */
  appendAsLeader(batches: Buffer, leaderEpoch: number): AppendResult {
    this.#ensureOpen();
    if (!Number.isInteger(leaderEpoch) || leaderEpoch < 0 || leaderEpoch > INT32_MAX) {
      throw new RangeError(`invalid leader epoch ${leaderEpoch}`);
    }
    const parsed = this.#parse(batches);
    const baseOffset = this.logEndOffset;
    let next = baseOffset;
    for (const b of parsed) {
      stampBatch(batches, b.position, next, leaderEpoch);
      b.baseOffset = next;
      b.lastOffset = next + b.lastOffsetDelta;
      b.epoch = leaderEpoch;
      next = b.lastOffset + 1;
    }
    if (leaderEpoch > this.epochCache.latestEpoch) this.epochCache.assign(leaderEpoch, baseOffset);
    return this.#write(batches, parsed, this.#writeBehind);
  }

  /**
   * Appends batches fetched from the leader, offsets and epochs as they are. They must start at
   * logEndOffset and be contiguous (NonContiguousAppendError), and each CRC must hold (CorruptBatchError).
   */
  appendAsFollower(batches: Buffer): AppendResult {
    this.#ensureOpen();
    const parsed = this.#parse(batches);
    let expected = this.logEndOffset;
    for (const b of parsed) {
      if (b.baseOffset !== expected) throw new NonContiguousAppendError(expected, b.baseOffset);
      if (!batchCrcOk(batches, b.position, b.size)) throw new CorruptBatchError(`CRC mismatch in batch at offset ${b.baseOffset}`);
      expected = b.lastOffset + 1;
    }
    for (const b of parsed) {
      if (b.epoch >= 0 && b.epoch > this.epochCache.latestEpoch) this.epochCache.assign(b.epoch, b.baseOffset);
    }
    return this.#write(batches, parsed, undefined);
  }

  /**
   * Whole batches from the one containing `fetchOffset`, across segments, none with lastOffset >=
   * `maxOffsetExclusive`, at most `maxBytes` in total except that the first batch is returned even
   * when larger (Kafka's rule, so a consumer always progresses).
   */
  read(fetchOffset: number, maxBytes: number, maxOffsetExclusive: number): ReadResult {
    this.#ensureOpen();
    const start = this.logStartOffset;
    const end = this.logEndOffset;
    if (fetchOffset < start || fetchOffset > end) throw new OffsetOutOfRangeError(fetchOffset, start, end);
    const parts: Buffer[] = [];
    let batches = 0;
    let offset = fetchOffset;
    let remaining = maxBytes;
    for (let i = this.#floorSegment(fetchOffset); i < this.#segments.length; i++) {
      const seg = this.#segments[i]!;
      const pos = seg.positionOf(offset);
      if (pos === null) continue;
      const r = seg.readBatches(pos, Math.max(remaining, 0), maxOffsetExclusive, batches === 0);
      if (r.batches === 0) break;
      parts.push(r.records);
      batches += r.batches;
      remaining -= r.records.length;
      offset = r.nextOffset;
      if (remaining <= 0 || offset < seg.nextOffset) break;
    }
    const records = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return { records, batches, nextOffset: offset, logStartOffset: start, logEndOffset: end };
  }

  /** The first batch whose maxTimestamp >= timestampMs (ListOffsets by time), or null when none is. */
  offsetForTimestamp(timestampMs: number): { offset: number; timestampMs: number } | null {
    this.#ensureOpen();
    for (const seg of this.#segments) {
      if (seg.maxTimestampMs() < timestampMs) continue;
      let found: { offset: number; timestampMs: number } | null = null;
      seg.forEachBatch((b) => {
        if (b.header.maxTimestamp < timestampMs) return true;
        found = { offset: b.header.baseOffset, timestampMs: b.header.maxTimestamp };
        return false;
      });
      if (found !== null) return found;
    }
    return null;
  }

  /**
   * Drops every batch at or after `offset`. When `offset` falls inside a batch, that whole batch is
   * dropped too and the log ends at its base (a log only ever ends on a batch boundary; a follower
   * then refetches that batch whole). An offset below logStartOffset empties the log and restarts
   * it there. When offset >= logEndOffset no batch is dropped, but epoch-cache entries starting at or
   * after it still are: a leader that assigned an epoch at its log end and wrote nothing in it must
   * lose that entry when it truncates as a follower, or it would keep announcing a diverging epoch.
   */
  truncateTo(offset: number): void {
    this.#ensureOpen();
    if (offset >= this.logEndOffset) {
      this.epochCache.truncateFromEnd(offset);
      return;
    }
    if (offset < this.logStartOffset) {
      this.truncateFullyAndStartAt(offset);
      return;
    }
    const idx = this.#floorSegment(offset);
    if (idx < this.#segments.length - 1) {
      for (let i = this.#segments.length - 1; i > idx; i--) {
        const seg = this.#segments[i]!;
        seg.delete();
      }
      this.#segments.length = idx + 1;
      // The deletions are durable before the cut and the checkpoint that follow.
      this.#fs.fsyncDir(this.dir);
    }
    const cut = this.#segments[idx]!;
    const newEnd = cut.truncateTo(offset);
    this.epochCache.truncateFromEnd(newEnd);
    // Snapshots above the new end describe dropped batches; deleted durably before anything is appended again.
    deleteSnapshotsAbove(this.dir, newEnd, this.#fs);
    this.#truncateProducerState(newEnd);
  }

  /** Deletes the whole log and starts it empty at `offset` (epoch cache and producer state cleared). */
  truncateFullyAndStartAt(offset: number): void {
    this.#ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid start offset ${offset}`);
    if (offset === this.logStartOffset) {
      this.truncateTo(offset);
      this.epochCache.clear();
      return;
    }
    // The log-start checkpoint first: from then on open() finishes the truncation, clearing the epoch
    // cache itself. Clearing the cache first would let a power loss keep old segments with no epochs
    // for them, and open() trusts segments below the recovery point without reading their epochs.
    writeLogStart(this.dir, offset, this.#fs);
    this.epochCache.clear();
    for (let i = this.#segments.length - 1; i >= 0; i--) this.#segments[i]!.delete();
    deleteSnapshotsAbove(this.dir, -1, this.#fs);
    // Segment.create fsyncs the directory: the deletions and the new segment become durable together.
    this.#segments = [Segment.create(this.dir, offset, this.config.indexIntervalBytes, this.#fs)];
    this.#producerState.clear();
    this.#unflushedMessages = 0;
  }

  /** Each segment's base, size and (lazily read, then cached) largest timestamp, oldest first (retention reads these). */
  segmentInfos(): Array<{ baseOffset: number; sizeBytes: number; maxTimestampMs: () => number }> {
    return this.#segments.map((seg) => ({ baseOffset: seg.baseOffset, sizeBytes: seg.size, maxTimestampMs: () => seg.maxTimestampMs() }));
  }

  /**
   * Deletes the `count` oldest segments (never the active one) and moves the log start to the next
   * segment's base; returns the bytes of log data deleted. Files go oldest first, then the log-start
   * checkpoint is written, so a crash in between leaves a contiguous log that open() finishes (a
   * checkpoint below the first segment); the directory is fsynced after each segment's deletion, so
   * a power loss can only undo a suffix of them. Epoch-cache entries and producer snapshots wholly
   * before the new start are dropped.
   */
  deleteOldestSegments(count: number): number {
    this.#ensureOpen();
    if (!Number.isInteger(count) || count < 0 || count >= this.#segments.length) {
      throw new RangeError(`cannot delete ${count} of ${this.#segments.length} segments (the active one stays)`);
    }
    if (count === 0) return 0;
    let bytes = 0;
    for (const seg of this.#segments.slice(0, count)) {
      bytes += seg.size;
      seg.delete();
      // One deletion durable before the next: a power loss may undo any un-fsynced deletions, and
      // undoing an older one while keeping a newer one would leave a gap that open() cuts the log at.
      this.#fs.fsyncDir(this.dir);
    }
    this.#segments.splice(0, count);
    const start = this.logStartOffset;
    writeLogStart(this.dir, start, this.#fs);
    this.epochCache.truncateFromStart(start);
    deleteSnapshotsBelow(this.dir, start, this.#fs);
    return bytes;
  }

  /** The whole content of segment `index` (a closed one; the cleaner reads these). */
  segmentBytes(index: number): Buffer {
    this.#ensureOpen();
    const seg = this.#segments[index];
    if (seg === undefined) throw new RangeError(`no segment ${index}`);
    return Buffer.from(seg.readBatches(0, seg.size, Number.MAX_SAFE_INTEGER, true).records);
  }

  /**
   * Replaces closed segment `index` with `data`, which must hold batches covering exactly the same
   * offsets (the cleaner's output: first batch at the segment's base, contiguous, last ending at the
   * next segment's base - 1). The index file goes first, then the new data is renamed over the old
   * atomically (fs-util writeFileAtomic), then the segment is reopened, which rebuilds and fsyncs
   * its index; a crash in between leaves the old or the new data and no index, which open() rebuilds.
   */
  replaceSegment(index: number, data: Buffer): void {
    this.#ensureOpen();
    if (index < 0 || index >= this.#segments.length - 1) throw new RangeError(`segment ${index} is not a closed segment`);
    const seg = this.#segments[index]!;
    const end = this.#segments[index + 1]!.baseOffset;
    let pos = 0;
    let next = seg.baseOffset;
    while (pos < data.length) {
      const h = readBatchHeader(data, pos);
      if (h.baseOffset !== next || pos + BATCH_LOG_OVERHEAD + h.batchLength > data.length) throw new CorruptBatchError(`replacement for segment ${seg.baseOffset} is not contiguous at byte ${pos}`);
      next = h.baseOffset + h.lastOffsetDelta + 1;
      pos += BATCH_LOG_OVERHEAD + h.batchLength;
    }
    if (next !== end) throw new CorruptBatchError(`replacement for segment ${seg.baseOffset} ends at ${next}, not ${end}`);
    seg.close();
    removeFileDurably(path.join(this.dir, segmentFileName(seg.baseOffset, '.index')), this.#fs);
    writeFileAtomic(seg.logPath, data, this.#fs);
    const res = Segment.open(this.dir, seg.baseOffset, this.config.indexIntervalBytes, true, () => {}, this.#fs);
    if (res.badReason !== null || res.segment.nextOffset !== end) throw new CorruptBatchError(`replaced segment ${seg.baseOffset} reads back wrong: ${res.badReason ?? res.segment.nextOffset}`);
    res.segment.flushIndex();
    // The rebuilt index's name is durable too, so the next open can trust this segment.
    this.#fs.fsyncDir(this.dir);
    this.#segments[index] = res.segment;
  }

  /** fsyncs every segment with unflushed data. */
  flush(): void {
    this.#ensureOpen();
    for (const seg of this.#segments) if (seg.flush()) this.#fsyncCount++;
    this.#unflushedMessages = 0;
    this.#lastFlushMs = this.#now();
  }

  /** The time-based flush policy; the owner calls this on a timer. Returns whether it flushed. */
  maybeFlush(nowMs: number): boolean {
    this.#ensureOpen();
    if (this.#unflushedMessages === 0 || nowMs - this.#lastFlushMs < this.config.flushIntervalMs) return false;
    this.flush();
    this.#lastFlushMs = nowMs;
    return true;
  }

  /** Flushes and closes every file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    for (const seg of this.#segments) seg.flushIndex();
    // Everything is durable now: the producer state as of the log end, then the marker that lets the
    // next open trust every segment (recovery-point.ts).
    const active = this.#segments.at(-1)!;
    writeSnapshot(this.dir, this.logEndOffset, this.#producerState.entries(), this.#fs);
    writeCleanShutdown(this.dir, { logEndOffset: this.logEndOffset, activeBase: active.baseOffset, activeSizeBytes: active.size }, this.#fs);
    for (const seg of this.#segments) seg.close();
    this.#closed = true;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new LogError('LOG_CLOSED', `log ${this.dir} is closed`);
  }

  /** Index of the last segment whose base <= offset (0 when offset is below every base). */
  #floorSegment(offset: number): number {
    let lo = 0;
    let hi = this.#segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Splits `buf` into batches; it must hold whole batches only, each magic 2 and <= segmentBytes. */
  #parse(buf: Buffer): ParsedBatch[] {
    if (buf.length === 0) throw new CorruptBatchError('no batches to append');
    const out: ParsedBatch[] = [];
    let pos = 0;
    while (pos < buf.length) {
      const size = batchSizeAt(buf, pos);
      if (size < BATCH_HEADER_BYTES || pos + size > buf.length) {
        throw new CorruptBatchError(`batch at byte ${pos} has size ${size}, ${buf.length - pos} bytes left`);
      }
      if (size > this.config.segmentBytes) throw new RecordBatchTooLargeError(size, this.config.segmentBytes);
      const h = readBatchHeader(buf, pos);
      if (h.magic !== 2) throw new CorruptBatchError(`batch at byte ${pos} has magic ${h.magic}`);
      if (h.lastOffsetDelta < 0) throw new CorruptBatchError(`batch at byte ${pos} has lastOffsetDelta ${h.lastOffsetDelta}`);
      out.push({
        position: pos,
        size,
        baseOffset: h.baseOffset,
        lastOffset: h.baseOffset + h.lastOffsetDelta,
        lastOffsetDelta: h.lastOffsetDelta,
        maxTimestampMs: h.maxTimestamp,
        epoch: h.partitionLeaderEpoch,
        header: h,
      });
      pos += size;
    }
    return out;
  }

  #write(buf: Buffer, batches: ParsedBatch[], writeBehind: WriteBehind | undefined): AppendResult {
    const first = batches[0]!;
    const last = batches.at(-1)!;
    let active = this.#segments.at(-1)!;
    if (
      active.size > 0 &&
      (active.size + buf.length > this.config.segmentBytes || last.lastOffset - active.baseOffset > INT32_MAX)
    ) {
      if (active.flush()) this.#fsyncCount++;
      active.flushIndex();
      // The producer state as of the new segment's base (Kafka takes this snapshot at roll), durable
      // before the segment is: open() and truncation start from it.
      writeSnapshot(this.dir, this.logEndOffset, this.#producerState.entries(), this.#fs);
      active = Segment.create(this.dir, this.logEndOffset, this.config.indexIntervalBytes, this.#fs);
      this.#segments.push(active);
    }
    const appendTimeMs = this.#now();
    active.append(buf, batches, writeBehind);
    for (const b of batches) {
      const h = b.header;
      this.#updateProducer(h.producerId, h.producerEpoch, h.baseSequence, h.lastOffsetDelta, h.attributes, b.baseOffset, b.lastOffset, h.maxTimestamp);
    }
    this.#unflushedMessages += last.lastOffset - first.baseOffset + 1;
    if (this.#unflushedMessages >= this.config.flushIntervalMessages && !bugActive('flush-skipped')) this.flush();
    return { baseOffset: first.baseOffset, lastOffset: last.lastOffset, appendTimeMs };
  }

  /** Recovery's per-batch hook: epoch cache, and producer state from `replayFrom` on (below it the snapshot has it). */
  #replayBatch(b: ScannedBatch, replayFrom: number): void {
    const h = b.header;
    if (h.partitionLeaderEpoch >= 0 && h.partitionLeaderEpoch > this.epochCache.latestEpoch) {
      this.epochCache.assign(h.partitionLeaderEpoch, h.baseOffset);
      this.recovery.epochCacheRebuilt = true;
    }
    if (h.baseOffset < replayFrom) return;
    this.#updateProducer(h.producerId, h.producerEpoch, h.baseSequence, h.lastOffsetDelta, h.attributes, h.baseOffset, h.baseOffset + h.lastOffsetDelta, h.maxTimestamp);
  }

  #updateProducer(
    producerId: number,
    producerEpoch: number,
    baseSequence: number,
    lastOffsetDelta: number,
    attributes: number,
    firstOffset: number,
    lastOffset: number,
    timestampMs: number,
  ): void {
    if (producerId < 0 || (attributes & Attr.control) !== 0) return;
    const lastSeq = incrementSequence(baseSequence, lastOffsetDelta);
    this.#producerState.update(producerId, producerEpoch, baseSequence, lastSeq, firstOffset, lastOffset, timestampMs);
  }

  /**
   * Makes the producer state equal a replay of the log as it now ends at `newEnd`, reading no more
   * than the part of the cut segment that is kept: nothing when no producer's retained batches reach
   * `newEnd` (the state is then unchanged), else replaying from the newest snapshot at or below
   * `newEnd` (written at the cut segment's base when it was rolled; Kafka's truncateAndReload), or
   * from the log start when there is none.
   */
  #truncateProducerState(newEnd: number): void {
    if (!this.#producerState.hasBatchFrom(newEnd)) return;
    const { snapshot } = loadNewestSnapshot(this.dir, this.logStartOffset, newEnd, this.#fs);
    const from = snapshot?.offset ?? this.logStartOffset;
    if (snapshot !== null) this.#producerState.restore(snapshot.entries);
    else this.#producerState.clear();
    for (const seg of this.#segments.slice(this.#floorSegment(from))) {
      seg.forEachBatch((b) => {
        const h = b.header;
        if (h.baseOffset < from) return;
        this.#updateProducer(h.producerId, h.producerEpoch, h.baseSequence, h.lastOffsetDelta, h.attributes, h.baseOffset, h.baseOffset + h.lastOffsetDelta, h.maxTimestamp);
      });
    }
  }
}

function validateConfig(c: LogConfig): void {
  const check = (name: keyof LogConfig, min: number, max: number): void => {
    const v = c[name];
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`log config ${name}=${v}: expected an integer in [${min}, ${max}]`);
  };
  check('segmentBytes', BATCH_HEADER_BYTES, INT32_MAX);
  check('indexIntervalBytes', 0, INT32_MAX);
  check('flushIntervalMessages', 1, Number.MAX_SAFE_INTEGER);
  check('flushIntervalMs', 0, Number.MAX_SAFE_INTEGER);
}

function readLogStart(dir: string, fsys: FileSystem): number | null {
  const data = readFileIfExists(path.join(dir, LOG_START_CHECKPOINT_FILE), fsys);
  if (data === null) return null;
  const text = data.toString('utf8');
  return /^\d+\n$/.test(text) ? Number(text.trim()) : null;
}

function writeLogStart(dir: string, offset: number, fsys: FileSystem): void {
  writeFileAtomic(path.join(dir, LOG_START_CHECKPOINT_FILE), Buffer.from(`${offset}\n`), fsys);
}

/** Deletes a segment's files (durable once the caller fsyncs `dir`); returns the bytes of log data removed. */
function deleteSegmentFiles(dir: string, base: number, fsys: FileSystem): number {
  const logPath = path.join(dir, segmentFileName(base, '.log'));
  let size = 0;
  if (fsys.exists(logPath)) {
    const fd = fsys.open(logPath, 'r');
    size = fsys.size(fd);
    fsys.close(fd);
  }
  fsys.unlink(logPath);
  fsys.unlink(path.join(dir, segmentFileName(base, '.index')));
  return size;
}
