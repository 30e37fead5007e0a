/**
 * Consumer lag in real time and unseen over time (checkers/queue/lag.ts): a late value is told apart
 * from a lost one.
 */
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../../../checkers/history.ts';
import { checkQueue } from '../../../checkers/queue.ts';

function h(ops: Array<[number, Op['process'], Op['type'], string, unknown]>): History {
  return ops.map(([ms, process, type, f, value], index) => ({ index, timeNs: ms * 1e6, process, type, f, value }));
}

describe('consumer lag', () => {
  const history = h([
    [0, 0, 'invoke', 'send', { key: 'k', value: 1 }],
    [1, 0, 'ok', 'send', { key: 'k', value: 1, offset: 0 }],
    [1.5, 0, 'invoke', 'send', { key: 'k', value: 2 }],
    [2, 0, 'ok', 'send', { key: 'k', value: 2, offset: 1 }],
    [3, 0, 'invoke', 'send', { key: 'j', value: 3 }],
    [4, 0, 'ok', 'send', { key: 'j', value: 3, offset: 0 }],
    [10, 5, 'invoke', 'poll', null],
    [14, 5, 'ok', 'poll', { j: [[0, 3]] }],
    [500, 5, 'invoke', 'poll', null],
    [501, 5, 'ok', 'poll', { k: [[0, 1]] }],
    [3000, 'nemesis', 'info', 'heal', {}],
  ]);
  const r = checkQueue(history, { idempotent: false });

  it('per key: the worst time from acknowledgement to first read, or to the end when never read', () => {
    expect(r.anomalies.unseen.count).toBe(1);
    expect(r.lag.perKey['k']).toEqual({ worstMs: 2998, value: 2, read: false, ackLine: 4, readLine: null });
    expect(r.lag.perKey['j']).toEqual({ worstMs: 10, value: 3, read: true, ackLine: 6, readLine: 8 });
    expect(r.lag.worstMs).toBe(2998);
  });

  it('over time: unseen rises and falls for a late value and stays up to the end for a lost one', () => {
    const { bucketMs, points } = r.lag.overTime;
    expect(bucketMs).toBe(100);
    expect(points).toHaveLength(30);
    expect(points[0]).toEqual({ tMs: 100, unseen: 2, lagMs: 99 });
    expect(points[5]).toEqual({ tMs: 600, unseen: 1, lagMs: 598 });
    expect(points.at(-1)).toEqual({ tMs: 3000, unseen: 1, lagMs: 2998 });
    expect(points.at(-1)!.unseen).toBe(r.anomalies.unseen.count + r.anomalies['lost-write'].count);
  });

  it('a value read before its acknowledgement came back has lag 0; an empty history has no points', () => {
    const early = checkQueue(h([
      [0, 0, 'invoke', 'send', { key: 'k', value: 1 }],
      [1, 5, 'invoke', 'poll', null],
      [2, 5, 'ok', 'poll', { k: [[0, 1]] }],
      [3, 0, 'ok', 'send', { key: 'k', value: 1, offset: 0 }],
    ]), { idempotent: false });
    expect(early.lag.worstMs).toBe(0);
    expect(checkQueue([], { idempotent: false }).lag).toMatchObject({ worstMs: null, perKey: {}, overTime: { points: [] } });
  });

  it('buckets grow with the history so there are at most 120 points', () => {
    const long = checkQueue(h([
      [0, 0, 'invoke', 'send', { key: 'k', value: 1 }],
      [1, 0, 'ok', 'send', { key: 'k', value: 1, offset: 0 }],
      [3_600_000, 5, 'invoke', 'poll', null],
      [3_600_001, 5, 'ok', 'poll', { k: [[0, 1]] }],
    ]), { idempotent: false });
    expect(long.lag.overTime.bucketMs).toBe(60_000);
    expect(long.lag.overTime.points.length).toBeLessThanOrEqual(120);
    expect(long.lag.worstMs).toBe(3_600_000);
  });
});
