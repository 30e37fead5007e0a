/** LeaderEpochCache: endOffsetFor against KIP-101/279 cases and a definition over random logs; updates and the atomic checkpoint. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaderEpochCache } from '../../../broker/log/epoch-cache.ts';

const dirs: string[] = [];
function tmpFile(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'epoch-cache-'));
  dirs.push(d);
  return path.join(d, 'leader-epoch-checkpoint');
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function cacheOf(entries: [number, number][]): LeaderEpochCache {
  return new LeaderEpochCache(null, entries.map(([epoch, startOffset]) => ({ epoch, startOffset })));
}

describe('LeaderEpochCache.endOffsetFor (KIP-101 / KIP-279)', () => {
  const cache = cacheOf([
    [1, 0],
    [2, 5],
    [4, 12],
  ]);
  it('answers the log end offset for the latest epoch', () => {
    expect(cache.endOffsetFor(4, 20)).toEqual({ epoch: 4, endOffset: 20 });
  });
  it('answers the start of the next epoch for an earlier one', () => {
    expect(cache.endOffsetFor(2, 20)).toEqual({ epoch: 2, endOffset: 12 });
    expect(cache.endOffsetFor(1, 20)).toEqual({ epoch: 1, endOffset: 5 });
  });
  it('answers the largest epoch below an unknown requested epoch (KIP-279)', () => {
    expect(cache.endOffsetFor(3, 20)).toEqual({ epoch: 2, endOffset: 12 });
  });
  it('answers (requested, first start) below the first epoch, as Kafka does', () => {
    expect(cache.endOffsetFor(0, 20)).toEqual({ epoch: 0, endOffset: 0 });
  });
  it('answers UNDEFINED for -1, an epoch above every known one, and an empty cache', () => {
    expect(cache.endOffsetFor(-1, 20)).toEqual({ epoch: -1, endOffset: -1 });
    expect(cache.endOffsetFor(5, 20)).toEqual({ epoch: -1, endOffset: -1 });
    expect(cacheOf([]).endOffsetFor(0, 0)).toEqual({ epoch: -1, endOffset: -1 });
  });
  it('KIP-101 scenario: a follower with epochs 1..2 asks a leader that moved to 3 at offset 7', () => {
    // Leader: epoch 1 at 0, epoch 3 at 7 (epoch 2's leader died before replicating anything).
    const leader = cacheOf([
      [1, 0],
      [3, 7],
    ]);
    // Follower has epoch 2 from offset 6: the leader says epoch 2 ended at 7 with epoch 1 as its floor,
    // so the follower truncates to min(7, its own end of epoch 1 = 6) = 6.
    expect(leader.endOffsetFor(2, 10)).toEqual({ epoch: 1, endOffset: 7 });
  });
  it('agrees with the definition on random logs', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: -1, max: 12 }), (steps, requested) => {
        // Build a log: per offset its epoch, non-decreasing, epochs jump by the steps.
        const epochs: number[] = [];
        let e = 0;
        for (const s of steps) {
          e += s;
          epochs.push(e);
        }
        const cache = new LeaderEpochCache(null);
        epochs.forEach((ep, off) => {
          if (ep > cache.latestEpoch) cache.assign(ep, off);
        });
        const leo = epochs.length;
        const got = cache.endOffsetFor(requested, leo);
        const latest = epochs[leo - 1]!;
        if (requested === -1 || requested > latest) expect(got).toEqual({ epoch: -1, endOffset: -1 });
        else {
          const firstAbove = epochs.findIndex((x) => x > requested);
          const endOffset = firstAbove < 0 ? leo : firstAbove;
          const floor = epochs.filter((x) => x <= requested).at(-1);
          expect(got).toEqual({ epoch: floor ?? requested, endOffset });
        }
      }),
    );
  });
});

describe('LeaderEpochCache updates', () => {
  it('assign ignores the latest epoch again and drops non-monotonic entries like Kafka', () => {
    const c = cacheOf([
      [1, 0],
      [2, 5],
    ]);
    c.assign(2, 9);
    expect(c.entries).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 5 },
    ]);
    c.assign(3, 4);
    expect(c.entries).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 4 },
    ]);
    expect(() => c.assign(-1, 3)).toThrow(RangeError);
  });
  it('truncateFromEnd drops entries starting at or after the offset', () => {
    const c = cacheOf([
      [1, 0],
      [2, 5],
      [4, 12],
    ]);
    c.truncateFromEnd(12);
    expect(c.entries.map((e) => e.epoch)).toEqual([1, 2]);
    c.truncateFromEnd(5);
    expect(c.entries.map((e) => e.epoch)).toEqual([1]);
    expect(c.latestEpoch).toBe(1);
  });
  it('truncateFromStart moves the covering entry up to the new start', () => {
    const c = cacheOf([
      [1, 0],
      [2, 5],
      [4, 12],
    ]);
    c.truncateFromStart(7);
    expect(c.entries).toEqual([
      { epoch: 2, startOffset: 7 },
      { epoch: 4, startOffset: 12 },
    ]);
    c.truncateFromStart(12);
    expect(c.entries).toEqual([{ epoch: 4, startOffset: 12 }]);
  });
  it('persists every change atomically and reloads it', () => {
    const file = tmpFile();
    const c = LeaderEpochCache.load(file).cache;
    c.assign(0, 0);
    c.assign(3, 10);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n2\n0 0\n3 10\n');
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
    c.truncateFromEnd(10);
    const again = LeaderEpochCache.load(file);
    expect(again.corrupt).toBe(false);
    expect(again.cache.entries).toEqual([{ epoch: 0, startOffset: 0 }]);
  });
  it('reports a corrupt or non-monotonic checkpoint instead of trusting it', () => {
    const file = tmpFile();
    fs.writeFileSync(file, '0\n2\n0 0\n');
    expect(LeaderEpochCache.load(file).corrupt).toBe(true);
    fs.writeFileSync(file, '0\n2\n3 10\n2 20\n');
    expect(LeaderEpochCache.load(file).corrupt).toBe(true);
    fs.writeFileSync(file, '0\n1\n3 10\n');
    expect(LeaderEpochCache.load(file)).toMatchObject({ corrupt: false, cache: { latestEpoch: 3 } });
  });
});
