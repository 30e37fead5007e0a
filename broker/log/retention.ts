/**
 * Time- and size-based retention of one partition log (Kafka's UnifiedLog.deleteOldSegments with
 * `log.retention.ms` / `log.retention.bytes`, topic overrides `retention.ms` / `retention.bytes`).
 *
 * Rules, decided by segmentsToDelete from the segments' sizes and largest timestamps:
 *  - only whole segments are deleted, oldest first, a prefix of the log;
 *  - never the active (last) segment, and never a segment holding offsets at or above
 *    `maxDeletableEndOffset` (the owner passes the high watermark: data not yet committed is kept);
 *  - time: a segment goes when its largest batch timestamp is older than nowMs - retentionMs; the
 *    prefix stops at the first segment that is not (Kafka's deleteRetentionMsBreachedSegments);
 *  - size: while the log is larger than retentionBytes by at least the oldest segment's size, that
 *    segment goes (deleteRetentionSizeBreachedSegments);
 *  - -1 disables either rule. What goes is the longer of the two prefixes.
 * The log start then moves to the first kept segment's base (PartitionLog.deleteOldestSegments), so
 * fetches below it get OFFSET_OUT_OF_RANGE and ListOffsets(earliest) answers it.
 * Cost: the largest timestamp of a segment is read once (then cached) and only for segments the time
 * rule looks at, which stops at the first one it keeps; the size rule reads no data.
 */
import type { PartitionLog } from './partition-log.ts';

export interface RetentionPolicy {
  /** -1: keep forever by time. */
  retentionMs: number;
  /** -1: no size bound. */
  retentionBytes: number;
}

/** Kafka's defaults: 7 days, no size bound. */
export const defaultRetention: RetentionPolicy = { retentionMs: 7 * 24 * 3600 * 1000, retentionBytes: -1 };

export interface RetentionSegment {
  baseOffset: number;
  sizeBytes: number;
  /** The largest batch timestamp in the segment (-1 when empty). */
  maxTimestampMs(): number;
}

export interface RetentionDecision {
  count: number;
  reason: 'retention.ms' | 'retention.bytes' | null;
}

/** How many of the oldest segments retention deletes now (see the rules above). */
export function segmentsToDelete(segments: readonly RetentionSegment[], policy: RetentionPolicy, nowMs: number, maxDeletableEndOffset: number): RetentionDecision {
  // Candidates: not the active segment, and wholly below maxDeletableEndOffset.
  let candidates = 0;
  while (candidates < segments.length - 1 && segments[candidates + 1]!.baseOffset <= maxDeletableEndOffset) candidates++;
  let byTime = 0;
  if (policy.retentionMs >= 0) {
    while (byTime < candidates && nowMs - segments[byTime]!.maxTimestampMs() > policy.retentionMs) byTime++;
  }
  let bySize = 0;
  if (policy.retentionBytes >= 0) {
    let excess = segments.reduce((n, s) => n + s.sizeBytes, 0) - policy.retentionBytes;
    while (bySize < candidates && excess - segments[bySize]!.sizeBytes >= 0) excess -= segments[bySize++]!.sizeBytes;
  }
  const count = Math.max(byTime, bySize);
  return { count, reason: count === 0 ? null : byTime >= bySize ? 'retention.ms' : 'retention.bytes' };
}

export interface RetentionResult extends RetentionDecision {
  bytesDeleted: number;
  logStartOffset: number;
}

/** Applies the policy to the log now. */
export function applyRetention(log: PartitionLog, policy: RetentionPolicy, nowMs: number, maxDeletableEndOffset: number): RetentionResult {
  const decision = segmentsToDelete(log.segmentInfos(), policy, nowMs, maxDeletableEndOffset);
  const bytesDeleted = decision.count > 0 ? log.deleteOldestSegments(decision.count) : 0;
  return { ...decision, bytesDeleted, logStartOffset: log.logStartOffset };
}
