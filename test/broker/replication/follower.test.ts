/**
 * Follower truncation: KIP-101's two scenarios, KIP-279's fast back-to-back leader changes, and
 * the leader-side DivergingEpoch check. Logs are modelled as lists of batch epochs by offset.
 */
import { describe, expect, it } from 'vitest';
import { EpochCacheModel, UNDEFINED_EPOCH, UNDEFINED_OFFSET } from '../../../broker/replication/epochCacheModel.ts';
import { divergingEpoch, followerHighWatermark, resolveTruncation } from '../../../broker/replication/follower.ts';

/** A replica whose log holds one record per entry of `epochs` (the record's leader epoch). */
function replica(epochs: number[], extraLeaderEpoch?: number): { cache: EpochCacheModel; leo: number } {
  const cache = new EpochCacheModel();
  epochs.forEach((e, offset) => cache.assign(e, offset));
  if (extraLeaderEpoch !== undefined) cache.assign(extraLeaderEpoch, epochs.length);
  return { cache, leo: epochs.length };
}

/** Runs the OffsetForLeaderEpoch exchange to completion (bounded), returning the final offset. */
function negotiate(follower: { cache: EpochCacheModel; leo: number }, leader: { cache: EpochCacheModel; leo: number }): number {
  let epoch = follower.cache.latestEpoch();
  let leo = follower.leo;
  for (let round = 0; round < 10; round++) {
    const answer = leader.cache.endOffsetFor(epoch, leader.leo);
    const d = resolveTruncation(answer, follower.cache, leo);
    follower.cache.truncateFromEnd(d.offset);
    leo = Math.min(leo, d.offset);
    if (d.kind === 'truncate') return leo;
    epoch = d.epoch;
  }
  throw new Error('truncation did not settle in 10 rounds');
}

describe('resolveTruncation', () => {
  it('KIP-101 (a): a restarted follower keeps a record above its HW that the leader has', () => {
    // Leader A and follower B both hold m1, m2 (epoch 0); B's HW is 1 (one fetch behind).
    const a = replica([0, 0]);
    const b = replica([0, 0]);
    const followerHw = 1;
    const offset = negotiate(b, a);
    expect(offset).toBe(2);
    expect(offset).toBeGreaterThan(followerHw);
  });

  it('KIP-101 (b): after a double crash the follower drops the suffix the new leader replaced', () => {
    // A had m1, m2 (epoch 0), B only m1. Both crash; B returns first, leads epoch 1, writes m3 at 1.
    const b = replica([0, 1]);
    const a = replica([0, 0]);
    expect(negotiate(a, b)).toBe(1);
  });

  it('KIP-279: fast back-to-back leader changes truncate to the common prefix', () => {
    // A led epoch 1 ([0:e1, 1:e1]); B copied offset 0, then led epoch 2 writing [1:e2]; then A led
    // epoch 3 writing [2:e3]. B, now following A, must drop its offset 1.
    const a = replica([1, 1, 3]);
    const b = replica([1, 2]);
    expect(negotiate(b, a)).toBe(1);
  });

  it('KIP-279: asks again when the leader answers with an epoch the follower does not have', () => {
    // Follower: epochs 0 at [0, 5), 2 at [5, 8). Leader: 0 at [0, 3), 1 at [3, 7), 3 at [7, 9).
    const follower = replica([0, 0, 0, 0, 0, 2, 2, 2]);
    const leader = replica([0, 0, 0, 1, 1, 1, 1, 3, 3]);
    const first = resolveTruncation(leader.cache.endOffsetFor(2, leader.leo), follower.cache, follower.leo);
    expect(first).toEqual({ kind: 'truncateAndAsk', offset: 5, epoch: 0 });
    expect(negotiate(replica([0, 0, 0, 0, 0, 2, 2, 2]), leader)).toBe(3);
  });

  it('never truncates below the common prefix nor above the own LEO', () => {
    const leader = replica([0, 0, 0, 0]);
    expect(negotiate(replica([0, 0]), leader)).toBe(2);
    expect(resolveTruncation({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET }, replica([0]).cache, 1)).toEqual({ kind: 'truncate', offset: 1 });
    expect(resolveTruncation({ epoch: UNDEFINED_EPOCH, endOffset: 0 }, replica([0]).cache, 1)).toEqual({ kind: 'truncate', offset: 0 });
  });

  it('a leader epoch assigned without records is cut by a no-op truncation', () => {
    // B led epoch 1 at LEO 2 without appending; the new leader (epoch 2) never saw epoch 1.
    const b = replica([0, 0], 1);
    const leader = replica([0, 0, 2]);
    expect(negotiate(b, leader)).toBe(2);
    expect(b.cache.latestEpoch()).toBe(0);
  });
});

describe('divergingEpoch and the follower HW', () => {
  it('reports divergence only when the follower holds an epoch or offset the leader does not', () => {
    const leader = replica([0, 0, 1, 1, 3]);
    expect(divergingEpoch(leader.cache, leader.leo, 5, 3)).toBeNull();
    expect(divergingEpoch(leader.cache, leader.leo, 4, 1)).toBeNull();
    expect(divergingEpoch(leader.cache, leader.leo, 5, 1)).toEqual({ epoch: 1, endOffset: 4 });
    expect(divergingEpoch(leader.cache, leader.leo, 3, 2)).toEqual({ epoch: 1, endOffset: 4 });
    expect(divergingEpoch(leader.cache, leader.leo, 0, UNDEFINED_EPOCH)).toBeNull();
  });

  it('follower HW is min(leader HW, own LEO)', () => {
    expect(followerHighWatermark(10, 7)).toBe(7);
    expect(followerHighWatermark(5, 7)).toBe(5);
  });
});
