import { describe, expect, it } from 'vitest';
import { EpochCacheModel, UNDEFINED_EPOCH, UNDEFINED_OFFSET } from '../../../broker/replication/epochCacheModel.ts';

function cache(entries: [number, number][]): EpochCacheModel {
  const c = new EpochCacheModel();
  for (const [epoch, start] of entries) c.assign(epoch, start);
  return c;
}

describe('EpochCacheModel', () => {
  it('endOffsetFor: largest epoch <= requested, ended by the next epoch start or the LEO', () => {
    const c = cache([[1, 0], [3, 10], [4, 15]]);
    expect(c.endOffsetFor(4, 20)).toEqual({ epoch: 4, endOffset: 20 });
    expect(c.endOffsetFor(3, 20)).toEqual({ epoch: 3, endOffset: 15 });
    expect(c.endOffsetFor(2, 20)).toEqual({ epoch: 1, endOffset: 10 });
    expect(c.endOffsetFor(0, 20)).toEqual({ epoch: 0, endOffset: 0 });
    expect(c.endOffsetFor(5, 20)).toEqual({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET });
    expect(new EpochCacheModel().endOffsetFor(1, 0)).toEqual({ epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET });
  });

  it('assign ignores old epochs and drops entries starting at or after the new start', () => {
    const c = cache([[1, 0], [2, 5]]);
    c.assign(2, 7);
    c.assign(1, 9);
    expect(c.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 5 }]);
    c.assign(4, 5);
    expect(c.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 4, startOffset: 5 }]);
    expect(c.latestEpoch()).toBe(4);
  });

  it('truncateFromEnd drops entries that start at or after the offset; clone is independent', () => {
    const c = cache([[1, 0], [2, 5], [3, 8]]);
    const copy = c.clone();
    c.truncateFromEnd(5);
    expect(c.entries()).toEqual([{ epoch: 1, startOffset: 0 }]);
    expect(copy.latestEpoch()).toBe(3);
  });
});
