import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LeaderReplicaState } from '../../../broker/replication/leader.ts';
import type { LeaderInit } from '../../../broker/replication/leader.ts';

function leader(over: Partial<LeaderInit> = {}): LeaderReplicaState<string> {
  return new LeaderReplicaState<string>({
    localId: 1, replicas: [1, 2, 3], isr: [1, 2, 3], leaderEpoch: 5, partitionEpoch: 7, minInsync: 2,
    replicaLagTimeMaxMs: 100, logEndOffset: 0, highWatermark: 0, nowMs: 0, ...over,
  });
}

describe('follower progress (Replica.scala rule)', () => {
  it('sets lastCaughtUpTimeMs to the fetch time when at the leader LEO, else to the previous fetch time if past its LEO', () => {
    const l = leader({ logEndOffset: 10 });
    l.onFollowerFetch(2, 10, 50, 10);
    expect(l.follower(2)?.lastCaughtUpTimeMs).toBe(50);
    // Behind the current LEO (15), at the previous fetch's leader LEO (10): caught up as of 50.
    l.onFollowerFetch(2, 10, 80, 15);
    expect(l.follower(2)?.lastCaughtUpTimeMs).toBe(50);
    // Likewise at 120 (LEO 20, previous 15): caught up as of the previous fetch, 80.
    l.onFollowerFetch(2, 15, 120, 20);
    expect(l.follower(2)?.lastCaughtUpTimeMs).toBe(80);
    // Behind both: unchanged.
    l.onFollowerFetch(2, 16, 300, 30);
    expect(l.follower(2)?.lastCaughtUpTimeMs).toBe(80);
    expect(l.follower(2)?.logEndOffset).toBe(16);
  });
});

describe('high watermark', () => {
  it('is the minimum LEO over the ISR and waits for every ISR follower to report', () => {
    const l = leader();
    l.onLocalAppend(10);
    expect(l.highWatermark).toBe(0);
    l.onFollowerFetch(2, 7, 1, 10);
    expect(l.highWatermark).toBe(0);
    l.onFollowerFetch(3, 4, 1, 10);
    expect(l.highWatermark).toBe(4);
    l.onFollowerFetch(3, 9, 2, 10);
    expect(l.highWatermark).toBe(7);
  });

  it('does not advance while the committed ISR is below minInsync, and resumes after expansion', () => {
    const l = leader({ isr: [1], replicas: [1, 2] });
    l.onLocalAppend(5);
    expect(l.highWatermark).toBe(0);
    const proposal = l.onFollowerFetch(2, 5, 1, 5);
    expect(proposal).toMatchObject({ leaderEpoch: 5, partitionEpoch: 7, newIsr: [1, 2] });
    expect(l.highWatermark).toBe(0);
    l.onIsrCommitted({ replicas: [1, 2], isr: [1, 2], leaderEpoch: 5, partitionEpoch: 8 }, 2);
    expect(l.highWatermark).toBe(5);
  });

  it('counts a pending ISR addition (maximal ISR): a slow joiner holds the HW back', () => {
    const l = leader({ isr: [1, 2], replicas: [1, 2, 3], logEndOffset: 10, highWatermark: 4 });
    l.onFollowerFetch(2, 10, 1, 10);
    expect(l.highWatermark).toBe(10);
    l.onLocalAppend(20);
    l.onFollowerFetch(3, 10, 2, 20);
    expect(l.pendingAlter?.newIsr).toEqual([1, 2, 3]);
    l.onFollowerFetch(2, 20, 3, 20);
    expect(l.highWatermark).toBe(10);
    l.onFollowerFetch(3, 20, 4, 20);
    expect(l.highWatermark).toBe(20);
  });

  it('never goes backwards and never exceeds the minimum LEO of the maximal ISR (property)', () => {
    type Op = { kind: 'append'; n: number } | { kind: 'fetch'; id: number; frac: number } | { kind: 'commit'; isr: number[] } | { kind: 'shrink' };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('fetch' as const), id: fc.constantFrom(2, 3), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
      fc.record({ kind: fc.constant('commit' as const), isr: fc.subarray([2, 3]).map((s) => [1, ...s]) }),
      fc.record({ kind: fc.constant('shrink' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops: Op[]) => {
        const l = leader({ isr: [1, 2], replicas: [1, 2, 3] });
        let leo = 0;
        let now = 0;
        let pe = 7;
        const acked = new Map<number, number>();
        for (const o of ops) {
          const before = l.highWatermark;
          const isrBefore = l.isr.length;
          now += 10;
          if (o.kind === 'append') l.onLocalAppend((leo += o.n));
          else if (o.kind === 'fetch') {
            const prev = acked.get(o.id) ?? 0;
            const at = prev + Math.floor((leo - prev) * o.frac);
            acked.set(o.id, at);
            l.onFollowerFetch(o.id, at, now, leo);
          } else if (o.kind === 'commit') l.onIsrCommitted({ replicas: [1, 2, 3], isr: o.isr, leaderEpoch: 5, partitionEpoch: ++pe }, now);
          else l.maybeShrinkIsr(now, leo);
          const hw = l.highWatermark;
          if (hw < before) return false;
          if (isrBefore < 2 && l.isr.length < 2 && hw !== before) return false;
          if (hw > before) {
            for (const id of l.maximalIsr) if (id !== 1 && (acked.get(id) ?? -1) < hw) return false;
            if (hw > leo) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('ISR proposals', () => {
  it('proposes removing a follower that lagged past replicaLagTimeMaxMs, one proposal at a time', () => {
    const l = leader({ logEndOffset: 10, alterRetryMs: 200 });
    l.onFollowerFetch(2, 10, 0, 10);
    l.onFollowerFetch(3, 10, 0, 10);
    l.onLocalAppend(12);
    l.onFollowerFetch(2, 12, 90, 12);
    expect(l.maybeShrinkIsr(100, 12)).toBeNull();
    const p = l.maybeShrinkIsr(101, 12);
    expect(p).toMatchObject({ leaderEpoch: 5, partitionEpoch: 7, newIsr: [1, 2] });
    expect(l.maybeShrinkIsr(300, 12)).toBeNull();
    // Until committed, the old ISR still counts.
    expect(l.isr).toEqual([1, 2, 3]);
    // No answer: the same proposal is handed out again after alterRetryMs, and only then.
    l.onAlterPartitionFailed();
    expect(l.maybeShrinkIsr(301, 12)).toEqual(p);
    expect(l.maybeShrinkIsr(400, 12)).toBeNull();
    // A definite "not applied" drops it; the next check proposes afresh.
    l.onAlterPartitionFailed('INELIGIBLE_REPLICA');
    expect(l.pendingAlter).toBeNull();
    expect(l.maybeShrinkIsr(401, 12)).toEqual(p);
  });

  it('keeps a pending addition in the maximal ISR when the outcome is unknown or possibly applied', () => {
    // The controller may have committed [1, 2, 3] even though the reply was lost or a retry was
    // refused as INVALID_UPDATE_VERSION: until metadata says otherwise, 3 must hold the HW back.
    const l = leader({ isr: [1, 2], logEndOffset: 10, highWatermark: 10 });
    l.onFollowerFetch(2, 10, 1, 10);
    expect(l.onFollowerFetch(3, 10, 1, 10)?.newIsr).toEqual([1, 2, 3]);
    l.onAlterPartitionFailed();
    l.onAlterPartitionFailed('INVALID_UPDATE_VERSION');
    l.onAlterPartitionFailed('FENCED_LEADER_EPOCH');
    l.onLocalAppend(15);
    l.onFollowerFetch(2, 15, 2, 15);
    expect(l.maximalIsr).toEqual([1, 2, 3]);
    expect(l.highWatermark).toBe(10);
    // Metadata at a newer partition epoch settles it (here: the addition was applied).
    l.onIsrCommitted({ replicas: [1, 2, 3], isr: [1, 2, 3], leaderEpoch: 5, partitionEpoch: 8 }, 3);
    expect(l.pendingAlter).toBeNull();
    expect(l.highWatermark).toBe(10);
    l.onFollowerFetch(3, 15, 4, 15);
    expect(l.highWatermark).toBe(15);
  });

  it('does not shrink a follower at the leader LEO however long ago it fetched', () => {
    const l = leader({ logEndOffset: 3 });
    l.onFollowerFetch(2, 3, 0, 3);
    l.onFollowerFetch(3, 3, 0, 3);
    expect(l.maybeShrinkIsr(10_000, 3)).toBeNull();
  });

  it('expands only once the follower reaches the HW and the leader epoch start offset', () => {
    const l = leader({ isr: [1, 2], logEndOffset: 10, highWatermark: 6 });
    expect(l.leaderEpochStartOffset).toBe(10);
    l.onFollowerFetch(2, 10, 1, 10);
    expect(l.onFollowerFetch(3, 8, 1, 10)).toBeNull();
    expect(l.onFollowerFetch(3, 10, 2, 10)).toMatchObject({ leaderEpoch: 5, partitionEpoch: 7, newIsr: [1, 2, 3] });
  });

  it('KIP-903: names the epoch each member fetched with; a new incarnation starts over, an old one is ignored', () => {
    const l = leader({ isr: [1, 2], logEndOffset: 10, highWatermark: 10 });
    expect(l.onFollowerFetch(2, 10, 1, 10, 20)).toBeNull();
    // Incarnation 40 of broker 3 caught up: the expansion names epoch 40.
    const p = l.onFollowerFetch(3, 10, 2, 10, 40);
    expect(p?.newIsrWithEpochs).toEqual([
      { brokerId: 1, brokerEpoch: -1 },
      { brokerId: 2, brokerEpoch: 20 },
      { brokerId: 3, brokerEpoch: 40 },
    ]);
    l.onAlterPartitionFailed('INELIGIBLE_REPLICA');
    // Broker 3 restarts as epoch 50 and fetches from offset 0: its progress restarts.
    expect(l.onFollowerFetch(3, 0, 3, 10, 50)).toBeNull();
    expect(l.follower(3)).toMatchObject({ logEndOffset: 0, brokerEpoch: 50 });
    // A delayed fetch of incarnation 40 (at the log end) says nothing about incarnation 50.
    expect(l.onFollowerFetch(3, 10, 4, 10, 40)).toBeNull();
    expect(l.follower(3)).toMatchObject({ logEndOffset: 0, brokerEpoch: 50 });
    expect(l.onFollowerFetch(3, 10, 5, 10, 50)?.newIsrWithEpochs?.[2]).toEqual({ brokerId: 3, brokerEpoch: 50 });
  });

  it('ignores committed states not newer than its partition epoch and rejects another leader epoch', () => {
    const l = leader({ logEndOffset: 4 });
    l.onIsrCommitted({ replicas: [1, 2, 3], isr: [1, 2], leaderEpoch: 5, partitionEpoch: 6 }, 0);
    expect(l.isr).toEqual([1, 2, 3]);
    l.onFollowerFetch(2, 4, 1, 4);
    l.onFollowerFetch(3, 2, 1, 4);
    const pending = l.maybeShrinkIsr(1000, 4);
    expect(pending?.newIsr).toEqual([1, 2]);
    // A repeat of the current state (same partition epoch) does not settle the pending proposal.
    l.onIsrCommitted({ replicas: [1, 2, 3], isr: [1, 2, 3], leaderEpoch: 5, partitionEpoch: 7 }, 1000);
    expect(l.pendingAlter).toEqual(pending);
    expect(() => l.onIsrCommitted({ replicas: [1, 2, 3], isr: [1], leaderEpoch: 6, partitionEpoch: 9 }, 0)).toThrow(RangeError);
  });
});

describe('acks=all bookkeeping', () => {
  it('rejects up front below minInsync', () => {
    expect(leader({ isr: [1] }).checkEnoughReplicas()).toBe('NOT_ENOUGH_REPLICAS');
    expect(leader({ isr: [1, 3] }).checkEnoughReplicas()).toBe('NONE');
  });

  it('completes waiters when the HW passes, on timeout, on ISR shrink below minInsync, and on leadership loss', () => {
    const l = leader({ isr: [1, 2] });
    l.onLocalAppend(3);
    l.addWaiter({ requiredOffset: 2, deadlineMs: 100, token: 'a' });
    l.addWaiter({ requiredOffset: 3, deadlineMs: 50, token: 'b' });
    expect(l.poll(10)).toEqual([]);
    l.onFollowerFetch(2, 2, 20, 3);
    expect(l.poll(20)).toEqual([{ token: 'a', requiredOffset: 2, errorCode: 'NONE' }]);
    expect(l.poll(50)).toEqual([{ token: 'b', requiredOffset: 3, errorCode: 'REQUEST_TIMED_OUT' }]);
    l.onLocalAppend(4);
    l.addWaiter({ requiredOffset: 4, deadlineMs: 1000, token: 'c' });
    l.onIsrCommitted({ replicas: [1, 2, 3], isr: [1], leaderEpoch: 5, partitionEpoch: 8 }, 60);
    expect(l.poll(60)).toEqual([{ token: 'c', requiredOffset: 4, errorCode: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' }]);
    l.addWaiter({ requiredOffset: 4, deadlineMs: 1000, token: 'd' });
    expect(l.onLeadershipLost()).toEqual([{ token: 'd', requiredOffset: 4, errorCode: 'NOT_LEADER_OR_FOLLOWER' }]);
    expect(l.waiterCount).toBe(0);
  });

  it('bounds the waiter queue', () => {
    const l = leader({ maxWaiters: 2 });
    expect(l.addWaiter({ requiredOffset: 1, deadlineMs: 1, token: 'a' })).toBe(true);
    expect(l.addWaiter({ requiredOffset: 1, deadlineMs: 1, token: 'b' })).toBe(true);
    expect(l.addWaiter({ requiredOffset: 1, deadlineMs: 1, token: 'c' })).toBe(false);
  });
});
