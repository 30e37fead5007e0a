/**
 * End-of-run properties of the whole-node simulation (sim/properties.ts) on hand-made node states:
 * each fires on the violation it names and is quiet on a legal end state.
 */
import { describe, expect, it } from 'vitest';
import type { Op, OpType } from '../../../checkers/history.ts';
import { groupOffsetsMonotonic, replicasConverge } from '../../../sim/properties.ts';
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

describe('groupOffsetsMonotonic', () => {
  // A tiny history builder: ops in order, indexes as the run's History assigns them.
  function history(lines: Array<[number, OpType, string, unknown]>): Op[] {
    return lines.map(([process, type, f, value], index) => ({ index, timeNs: index, process, type, f, value }));
  }
  const commit = (p: number, offset: number, type: OpType = 'ok', extra: object = {}): Array<[number, OpType, string, unknown]> => [
    [p, 'invoke', 'commit', { 'strong-0': offset }],
    [p, type, 'commit', { 'strong-0': offset, ...extra }],
  ];
  const fetch = (p: number, offset: number): Array<[number, OpType, string, unknown]> => [
    [p, 'invoke', 'offset-fetch', { keys: ['strong-0'] }],
    [p, 'ok', 'offset-fetch', { 'strong-0': offset }],
  ];

  it('fires when a fetch returns less than an acknowledged commit left', () => {
    const v = groupOffsetsMonotonic(history([...commit(20, 5), ...commit(20, 9), ...fetch(21, 5)]));
    expect(v.map((x) => x.property)).toEqual(['group-offsets-monotonic']);
    expect(v[0]!.detail).toContain('returned 5');
  });

  it('fires when a fetch finds nothing where a commit was acknowledged', () => {
    expect(groupOffsetsMonotonic(history([...commit(20, 4), ...fetch(99, -1)]))).toHaveLength(1);
  });

  it('is quiet on the acknowledged offset, on a later lower commit, and on a failed one', () => {
    expect(groupOffsetsMonotonic(history([...commit(20, 5), ...commit(20, 9), ...fetch(21, 9)]))).toEqual([]);
    // A takeover: member 21 resumed at 5 and committed 7 after 20's 9: 7 is legitimate.
    expect(groupOffsetsMonotonic(history([...commit(20, 9), ...commit(21, 7), ...fetch(99, 7)]))).toEqual([]);
    // A fail commit never happened; a fetch of 9 stays legal.
    expect(groupOffsetsMonotonic(history([...commit(20, 9), ...commit(21, 3, 'fail'), ...fetch(99, 9)]))).toEqual([]);
    // Nothing acknowledged before the fetch: nothing to judge.
    expect(groupOffsetsMonotonic(history([[20, 'invoke', 'commit', { 'strong-0': 9 }], ...fetch(21, -1), [20, 'ok', 'commit', { 'strong-0': 9 }]]))).toEqual([]);
  });

  it('lets a commit in flight with the acknowledged one win, but not one answered before it', () => {
    const concurrent = history([[21, 'invoke', 'commit', { 'strong-0': 3 }], ...commit(20, 9), [21, 'ok', 'commit', { 'strong-0': 3 }], ...fetch(99, 3)]);
    expect(groupOffsetsMonotonic(concurrent)).toEqual([]);
    const answeredBefore = history([...commit(21, 3, 'info', { error: 'NOT_COORDINATOR' }), ...commit(20, 9), ...fetch(99, 3)]);
    expect(groupOffsetsMonotonic(answeredBefore)).toHaveLength(1);
  });

  it('lets a commit that got no answer take effect at any later time', () => {
    const late = history([...commit(21, 3, 'info', { error: 'REQUEST_TIMED_OUT', unanswered: true }), ...commit(20, 9), ...fetch(99, 3)]);
    expect(groupOffsetsMonotonic(late)).toEqual([]);
  });
});
