/**
 * Truncation costs what it removes (partition-log.ts, segment.ts): counted as bytes read from the
 * simulated disk, a truncation reads a bounded amount (an index interval's walk and a header)
 * however long the log is, and with idempotent producers past the cut no more than the one cut
 * segment; never a re-read of the whole log.
 */
import { describe, expect, it } from 'vitest';
import { SimFileSystem } from '../../sim/sim-fs.ts';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../../../broker/log/partition-log.ts';
import { simpleBatch } from './batch-builder.ts';

const config: LogConfig = { ...defaultLogConfig, segmentBytes: 4096, indexIntervalBytes: 512 };

function filled(batches: number, producerId = -1): { log: PartitionLog; disk: SimFileSystem } {
  const disk = new SimFileSystem();
  const log = PartitionLog.open('/d/t-0', config, () => 0, disk);
  for (let i = 0; i < batches; i++) {
    log.appendAsLeader(simpleBatch(2, 40, i, producerId >= 0 ? { producerId, producerEpoch: 0, baseSequence: 2 * i } : {}), 0);
  }
  return { log, disk };
}

/** Bytes read by `log.truncateTo(offset)`. */
function readByTruncation(log: PartitionLog, disk: SimFileSystem, offset: number): number {
  const before = disk.bytesRead;
  log.truncateTo(offset);
  return disk.bytesRead - before;
}

describe('truncation cost', () => {
  it('reads at most an index interval plus a header, whatever the log length', () => {
    for (const batches of [200, 2000]) {
      const { log, disk } = filled(batches);
      expect(log.segmentCount).toBeGreaterThan(5);
      const end = log.logEndOffset;
      // Cut inside the last segment, then across many segments.
      expect(readByTruncation(log, disk, end - 7)).toBeLessThanOrEqual(config.indexIntervalBytes + 200);
      expect(readByTruncation(log, disk, Math.floor(end / 3) + 1)).toBeLessThanOrEqual(config.indexIntervalBytes + 200);
      // The log is still right: appends continue at the new end.
      const next = log.logEndOffset;
      expect(log.appendAsLeader(simpleBatch(1, 40, 9), 0).baseOffset).toBe(next);
    }
  });

  it('replays the producer state from the cut segment only, and gets it right', () => {
    const { log, disk } = filled(2000, 7);
    const at = Math.floor(log.logEndOffset / 2) + 1;
    const read = readByTruncation(log, disk, at);
    expect(read).toBeLessThanOrEqual(config.segmentBytes + config.indexIntervalBytes + 200);
    // The retained batches are the last ones before the cut: a retry of the last kept one is a duplicate,
    // the next sequence appends, and a retry of a truncated batch is not taken for a duplicate.
    const entry = log.producerState.entry(7)!;
    const last = entry.batches.at(-1)!;
    expect(last.lastOffset).toBe(log.logEndOffset - 1);
    expect(log.producerState.check(7, 0, last.firstSeq, last.lastSeq)).toMatchObject({ kind: 'duplicate' });
    expect(log.producerState.check(7, 0, last.lastSeq + 1, last.lastSeq + 2)).toEqual({ kind: 'append' });
    expect(entry.batches).toHaveLength(5);
    // Equal to a replay of the whole log, as a reopen does it.
    const kept = structuredClone(entry);
    log.close();
    const again = PartitionLog.open('/d/t-0', config, () => 0, disk);
    expect(again.producerState.entry(7)).toEqual(kept);
  });
});
