/**
 * Each sans-I/O plant changes exactly the rule its catalogue entry names, and only while planted:
 * the same scenario is checked with the clean code and with the bug.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { plantBug } from '../../broker/bugs.ts';
import type { BugName } from '../../broker/bugs.ts';
import { LeaderReplicaState } from '../../broker/replication/leader.ts';
import { divergingEpoch } from '../../broker/replication/follower.ts';
import { EpochCacheModel } from '../../broker/replication/epochCacheModel.ts';
import { ProducerState } from '../../broker/log/producer-state.ts';

function both<T>(bug: BugName, f: () => T): { clean: T; planted: T } {
  plantBug(undefined);
  const clean = f();
  plantBug(bug);
  const planted = f();
  plantBug(undefined);
  return { clean, planted };
}

function leader(isr: number[]): LeaderReplicaState<string> {
  return new LeaderReplicaState<string>({ localId: 1, replicas: [1, 2, 3], isr, leaderEpoch: 5, partitionEpoch: 7, minInsync: 2, replicaLagTimeMaxMs: 100, logEndOffset: 0, highWatermark: 0, nowMs: 0 });
}

describe('bug plants', () => {
  afterEach(() => plantBug(undefined));

  it('hw-ignores-min-insync: the HW advances with the ISR below min.insync', () => {
    const r = both('hw-ignores-min-insync', () => {
      const l = leader([1]);
      l.onLocalAppend(10);
      return l.highWatermark;
    });
    expect(r).toEqual({ clean: 0, planted: 10 });
  });

  it('isr-join-below-hw: a follower below the HW is proposed for the ISR', () => {
    const r = both('isr-join-below-hw', () => {
      const l = leader([1, 2]);
      l.onLocalAppend(10);
      l.onFollowerFetch(2, 10, 1, 10);
      return l.onFollowerFetch(3, 4, 2, 10)?.newIsr ?? null;
    });
    expect(r).toEqual({ clean: null, planted: [1, 2, 3] });
  });

  it('divergence-epoch-only: a same-epoch suffix past the leader\'s end of that epoch is not reported', () => {
    const r = both('divergence-epoch-only', () => {
      const cache = new EpochCacheModel();
      cache.assign(3, 0);
      cache.assign(4, 8);
      // the follower wrote epoch 3 up to offset 12; the leader's epoch 3 ends at 8
      return divergingEpoch(cache, 20, 12, 3);
    });
    expect(r).toEqual({ clean: { epoch: 3, endOffset: 8 }, planted: null });
  });

  it('idempotent-replay-appended: a replayed sequence is appended instead of answered as a duplicate', () => {
    const r = both('idempotent-replay-appended', () => {
      const s = new ProducerState();
      s.update(7, 0, 0, 0, 100, 100, 0);
      return s.check(7, 0, 0, 0).kind;
    });
    expect(r).toEqual({ clean: 'duplicate', planted: 'append' });
  });
});
