/**
 * The append path stays what the flush policy asks for (counted on the simulated disk): with
 * Kafka's defaults an append that does not roll is a write (and the index's own write when an entry
 * is due), no fsync and no directory fsync; with flush.messages=1 it adds exactly one fsync.
 */
import { describe, expect, it } from 'vitest';
import { SimFileSystem } from '../../sim/sim-fs.ts';
import { defaultLogConfig, PartitionLog } from '../../../broker/log/partition-log.ts';
import { simpleBatch } from './batch-builder.ts';

function appendCost(flushIntervalMessages: number): { fsyncs: number; dirFsyncs: number; mutations: number } {
  const disk = new SimFileSystem();
  const log = PartitionLog.open('/d/t-0', { ...defaultLogConfig, segmentBytes: 1 << 20, indexIntervalBytes: 1 << 20, flushIntervalMessages }, () => 0, disk);
  log.appendAsLeader(simpleBatch(1, 10, 0), 0); // the first append assigns epoch 0 (a checkpoint write)
  const before = { fsyncs: disk.fsyncs, dirFsyncs: disk.dirFsyncs, mutations: disk.mutations };
  for (let i = 1; i <= 100; i++) log.appendAsLeader(simpleBatch(1, 10, i), 0);
  return { fsyncs: disk.fsyncs - before.fsyncs, dirFsyncs: disk.dirFsyncs - before.dirFsyncs, mutations: disk.mutations - before.mutations };
}

describe('append syscalls', () => {
  it('defaults: one write per append, no fsync of any kind', () => {
    expect(appendCost(Number.MAX_SAFE_INTEGER)).toEqual({ fsyncs: 0, dirFsyncs: 0, mutations: 100 });
  });

  it('flush.messages=1: one write and one fsync per append, no directory fsync', () => {
    expect(appendCost(1)).toEqual({ fsyncs: 100, dirFsyncs: 0, mutations: 200 });
  });
});
