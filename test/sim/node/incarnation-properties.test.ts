/**
 * The re-created topic's properties (sim/properties.ts `incarnationNotMixed`, `recreatedAckedKept`)
 * and `replicasConverge` after a reassignment, on hand-made node states: each fires on the
 * violation it names and is quiet on a legal end state.
 */
import { describe, expect, it } from 'vitest';
import { buildBatch } from '../../../broker/protocol/records.ts';
import { incarnationNotMixed, recreatedAckedKept, replicasConverge, type Incarnation } from '../../../sim/properties.ts';
import type { SimWorld } from '../../../sim/world.ts';

/** A replica of `churn-0` whose log holds `values` from offset 0, carrying topic id `topicId`. */
function replica(topicId: string, values: number[], role: 'leader' | 'follower' = 'leader') {
  const records = values.length === 0 ? Buffer.alloc(0) : buildBatch({ baseOffset: 0, baseTimestamp: 0, records: values.map((v) => ({ key: null, value: Buffer.from(String(v)) })) });
  return {
    topic: 'churn',
    topicId,
    partition: 0,
    role,
    highWatermark: values.length,
    log: {
      logStartOffset: 0,
      logEndOffset: values.length,
      read: (offset: number) => (offset === 0 && values.length > 0 ? { records, batches: 1, nextOffset: values.length } : { records: Buffer.alloc(0), batches: 0, nextOffset: offset }),
    },
  };
}

/** Nodes, each with the topic id its image maps `churn` to and the replica it holds. */
function world(nodes: Array<{ imageId: string; r: ReturnType<typeof replica> | undefined }>): SimWorld {
  return {
    nodes: nodes.map((n, i) => ({
      id: i + 1,
      host: { state: 'up' },
      broker: {
        metadata: { image: { topic: (name: string) => (name === 'churn' ? { topicId: n.imageId } : undefined) } },
        replicas: { all: () => (n.r === undefined ? [] : [n.r]), get: (t: string) => (t === 'churn' ? n.r : undefined) },
      },
    })),
  } as unknown as SimWorld;
}

// Values 1-3 were acknowledged by the first incarnation (before the delete at 5000 ms), 7 and 8 by
// the second one (created at 6000 ms), 5 while the delete was under way (not judged).
const ackedAt = new Map([[1, 1000], [2, 2000], [3, 3000], [5, 5200], [7, 6500], [8, 7000]]);
const second: Incarnation = { topicId: 'B', createdMs: 6000, staleBeforeMs: 5000 };

describe('incarnationNotMixed', () => {
  it('is quiet when the new incarnation holds only its own values (and one acked while the delete ran)', () => {
    const w = world([{ imageId: 'B', r: replica('B', [5, 7, 8]) }, { imageId: 'B', r: replica('B', [5, 7]) }]);
    expect(incarnationNotMixed(w, 'churn', second, ackedAt, [{ key: 'churn-0', offset: 1, value: 7 }])).toEqual([]);
  });

  it('is quiet on a node whose image still maps the name to the old incarnation (not yet applied the delete)', () => {
    const w = world([{ imageId: 'A', r: replica('A', [1, 2, 3]) }, { imageId: 'B', r: replica('B', [7]) }]);
    expect(incarnationNotMixed(w, 'churn', second, ackedAt)).toEqual([]);
  });

  it('fires on an old log kept for the new topic (the replica carries the new id or the old one)', () => {
    for (const id of ['A', 'B']) {
      const w = world([{ imageId: 'B', r: replica(id, [1, 2, 3, 7]) }, { imageId: 'B', r: replica('B', [7]) }]);
      expect(incarnationNotMixed(w, 'churn', second, ackedAt).map((v) => v.property)).toEqual(['incarnations-not-mixed']);
    }
  });

  it('fires on a read of the new incarnation that returned an old value', () => {
    const w = world([{ imageId: 'B', r: replica('B', [7, 8]) }]);
    expect(incarnationNotMixed(w, 'churn', second, ackedAt, [{ key: 'churn-0', offset: 0, value: 2 }]).map((v) => v.property)).toEqual(['incarnations-not-mixed']);
  });

  it('never fires on the first incarnation (nothing came before it)', () => {
    const w = world([{ imageId: 'A', r: replica('A', [1, 2, 3]) }]);
    expect(incarnationNotMixed(w, 'churn', { topicId: 'A', createdMs: 0, staleBeforeMs: -Infinity }, ackedAt)).toEqual([]);
  });
});

describe('recreatedAckedKept', () => {
  const acked = (value: number, offset: number, invokedMs: number) => ({ key: 'churn-0', topic: 'churn', partition: 0, offset, value, acks: -1 as const, idempotent: false, invokedMs });

  it('is quiet when every value acked by the last incarnation is at its offset (old ones lost by design)', () => {
    const w = world([{ imageId: 'B', r: replica('B', [7, 8]) }]);
    expect(recreatedAckedKept(w, second, [acked(1, 0, 900), acked(2, 1, 1900), acked(7, 0, 6400), acked(8, 1, 6900)])).toEqual([]);
  });

  it('fires on a value acked by the last incarnation that its log lacks', () => {
    const w = world([{ imageId: 'B', r: replica('B', [7]) }]);
    expect(recreatedAckedKept(w, second, [acked(7, 0, 6400), acked(8, 1, 6900)]).map((v) => v.property)).toEqual(['recreated-acked-kept']);
  });
});

describe('replicasConverge after a reassignment', () => {
  const lead = (replicas: number[], isr: number[]) => ({ role: 'leader', leaderId: 1, leaderEpoch: 4, highWatermark: 10, log: { logEndOffset: 10 }, leader: { replicas, isr } });
  const follower = (leo: number) => ({ role: 'follower', leaderId: 1, leaderEpoch: 4, highWatermark: Math.min(leo, 10), log: { logEndOffset: leo }, leader: null });
  const w = (rs: unknown[]) => ({ nodes: rs.map((r, i) => ({ id: i + 1, host: { state: 'up' }, broker: { replicas: { get: () => r } } })) }) as unknown as SimWorld;

  it('judges the current assignment: a node reassigned away holds nothing, rightly', () => {
    expect(replicasConverge(w([lead([1, 2], [1, 2]), follower(10), undefined]), 't', 1)).toEqual([]);
  });

  it('fires on a re-added replica that has not caught up', () => {
    expect(replicasConverge(w([lead([1, 2, 3], [1, 2]), follower(10), follower(0)]), 't', 1).map((v) => v.property)).toEqual(['replicas-converge']);
  });
});
