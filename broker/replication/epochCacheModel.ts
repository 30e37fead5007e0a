/**
 * An in-memory leader-epoch cache (epoch -> start offset), for simulations and tests. Semantics
 * match the on-disk cache (broker/log/epoch-cache.ts) and Kafka's LeaderEpochFileCache:
 * - entries have strictly increasing epochs and non-decreasing start offsets;
 * - assign(epoch, start) ignores an epoch not above the latest; a new entry drops entries that
 *   start at or after `start`;
 * - endOffsetFor(e, leo): the largest cached epoch <= e and the start offset of the next larger
 *   epoch, or leo when that epoch is the latest; {UNDEFINED_EPOCH, UNDEFINED_OFFSET} when e is
 *   above every cached epoch or the cache is empty; when e is below every cached epoch,
 *   {e, start of the first epoch};
 * - truncateFromEnd(offset) drops entries starting at or after offset.
 */

import { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, type EpochEndOffset, type EpochEntry } from '../log/epoch-cache.ts';

// One definition of the sentinels and shapes: the on-disk cache's.
export { UNDEFINED_EPOCH, type EpochEndOffset, type EpochEntry };
export const UNDEFINED_OFFSET = UNDEFINED_EPOCH_OFFSET;

/** What follower.ts and the leader's divergence check need from an epoch cache. */
export interface EpochCacheView {
  latestEpoch(): number;
  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset;
}

export class EpochCacheModel implements EpochCacheView {
  #entries: EpochEntry[] = [];

  entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  latestEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  assign(epoch: number, startOffset: number): void {
    if (epoch <= this.latestEpoch()) return;
    this.#entries = this.#entries.filter((e) => e.startOffset < startOffset);
    this.#entries.push({ epoch, startOffset });
  }

  truncateFromEnd(offset: number): void {
    this.#entries = this.#entries.filter((e) => e.startOffset < offset);
  }

  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset {
    if (epoch === UNDEFINED_EPOCH || this.#entries.length === 0) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET };
    if (epoch === this.latestEpoch()) return { epoch, endOffset: logEndOffset };
    const higherIndex = this.#entries.findIndex((e) => e.epoch > epoch);
    const higher = this.#entries[higherIndex];
    if (higher === undefined) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET };
    const floor = this.#entries[higherIndex - 1];
    if (floor === undefined) return { epoch, endOffset: higher.startOffset };
    return { epoch: floor.epoch, endOffset: higher.startOffset };
  }

  clone(): EpochCacheModel {
    const c = new EpochCacheModel();
    c.#entries = this.#entries.map((e) => ({ ...e }));
    return c;
  }
}
