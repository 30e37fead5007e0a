/**
 * End-of-run properties of the whole-node simulation (sim/properties.ts) on hand-made node states:
 * each fires on the violation it names and is quiet on a legal end state.
 */
import { describe, expect, it } from 'vitest';
import { replicasConverge } from '../../../sim/properties.ts';
import type { SimWorld } from '../../../sim/world.ts';

interface FakeReplica {
  role: 'leader' | 'follower';
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  log: { logEndOffset: number };
  leader: { replicas: number[]; isr: number[] } | null;
}

function world(replicas: Array<FakeReplica | undefined>): SimWorld {
  const nodes = replicas.map((r, i) => ({ id: i + 1, host: { state: 'up' }, broker: { replicas: { get: () => r } } }));
  return { nodes } as unknown as SimWorld;
}

const leader = (isr: number[]): FakeReplica => ({ role: 'leader', leaderId: 1, leaderEpoch: 3, highWatermark: 10, log: { logEndOffset: 10 }, leader: { replicas: [1, 2, 3], isr } });
const follower = (leo: number, epoch = 3): FakeReplica => ({ role: 'follower', leaderId: 1, leaderEpoch: epoch, highWatermark: Math.min(leo, 10), log: { logEndOffset: leo }, leader: null });

describe('replicasConverge', () => {
  it('is quiet when every replica follows the leader, holds its HW and is in the ISR', () => {
    expect(replicasConverge(world([leader([1, 2, 3]), follower(10), follower(10)]), 't', 1)).toEqual([]);
  });

  it.each([
    ['a follower stuck below the HW', [leader([1, 2, 3]), follower(10), follower(7)]],
    ['a follower left out of the ISR', [leader([1, 2]), follower(10), follower(10)]],
    ['a follower of an older leader epoch', [leader([1, 2, 3]), follower(10), follower(10, 2)]],
    ['a replica that was never opened', [leader([1, 2, 3]), follower(10), undefined]],
    ['no leader', [follower(10), follower(10), follower(10)]],
  ])('fires on %s', (_case, replicas) => {
    expect(replicasConverge(world(replicas), 't', 1).map((v) => v.property)).toEqual(['replicas-converge']);
  });
});
