/**
 * The follower side of one partition (sans-I/O): where to truncate after a leader change, and the
 * follower's high watermark. Also the leader-side check that tells a fetching follower it diverged.
 *
 * Truncation (KIP-101, KIP-279; Kafka AbstractFetcherThread.getOffsetTruncationState): the follower
 * asks the leader for the end offset of its latest epoch E (OffsetForLeaderEpoch), or receives a
 * DivergingEpoch {epoch, endOffset} on Fetch. With the leader's answer (E', leaderEnd):
 * - E' undefined: the leader knows no epoch <= E; truncate to min(leaderEnd, LEO) when leaderEnd is
 *   defined, else keep the log (nothing to compare);
 * - the follower knows E' exactly: truncate to min(leaderEnd, own end offset for E', LEO); done;
 * - the follower does not know E' (its largest epoch <= E' is E'' < E'): truncate to
 *   min(own end offset for E'', LEO) and ask again for E'' (fast back-to-back leader changes).
 * The follower never truncates to its own HW (that loses acknowledged data, KIP-101 case (a)).
 * The follower HW is min(leader HW, own LEO), and never above the LEO after a truncation.
 * Applying a decision truncates the epoch cache from `offset` even when no record is dropped (an
 * epoch the broker assigned as leader without appending starts at the LEO), and the follower's
 * Fetch LastFetchedEpoch is the cache's latest epoch, as in Kafka.
 */
import { UNDEFINED_EPOCH, UNDEFINED_OFFSET } from './epochCacheModel.ts';
import type { EpochCacheView, EpochEndOffset } from './epochCacheModel.ts';
import { bugActive } from '../bugs.ts';

export type TruncationDecision =
  | { kind: 'truncate'; offset: number }
  /** Truncate to `offset` (may equal the LEO: nothing to drop), then ask the leader about `epoch`. */
  | { kind: 'truncateAndAsk'; offset: number; epoch: number };

export function resolveTruncation(leader: EpochEndOffset, local: EpochCacheView, logEndOffset: number): TruncationDecision {
  if (leader.epoch === UNDEFINED_EPOCH) {
    const offset = leader.endOffset === UNDEFINED_OFFSET ? logEndOffset : Math.min(leader.endOffset, logEndOffset);
    return { kind: 'truncate', offset };
  }
  const own = local.endOffsetFor(leader.epoch, logEndOffset);
  if (own.epoch === UNDEFINED_EPOCH) {
    return { kind: 'truncate', offset: Math.min(leader.endOffset, logEndOffset) };
  }
  if (own.epoch === leader.epoch) {
    return { kind: 'truncate', offset: Math.min(leader.endOffset, own.endOffset, logEndOffset) };
  }
  return { kind: 'truncateAndAsk', offset: Math.min(own.endOffset, logEndOffset), epoch: own.epoch };
}

export function followerHighWatermark(leaderHighWatermark: number, logEndOffset: number): number {
  return Math.min(leaderHighWatermark, logEndOffset);
}

/**
 * Leader side of truncation-on-fetch (Fetch v12+): a follower fetching at `fetchOffset` whose last
 * batch has epoch `lastFetchedEpoch` diverged when the leader's end for that epoch is a smaller
 * epoch or ends before fetchOffset. Returns the DivergingEpoch to answer with, or null.
 */
export function divergingEpoch(leaderCache: EpochCacheView, leaderLogEndOffset: number, fetchOffset: number, lastFetchedEpoch: number): EpochEndOffset | null {
  if (lastFetchedEpoch === UNDEFINED_EPOCH) return null;
  const end = leaderCache.endOffsetFor(lastFetchedEpoch, leaderLogEndOffset);
  if (end.epoch < lastFetchedEpoch || (end.endOffset < fetchOffset && !bugActive('divergence-epoch-only'))) return end;
  return null;
}
