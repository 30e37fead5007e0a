import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRng } from '../../harness/rng.ts';
import { ValueCounter, highestOffsets, kafkaAcks, keyOf, partitionOf, pollValueOf, queueGenerator } from '../../workloads/queue.ts';
import type { History } from '../../checkers/history.ts';

describe('queue workload pieces', () => {
  it('keys round-trip to partitions, including topics with dashes', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z][a-z-]{0,10}$/), fc.nat(1000), (t, p) => partitionOf(keyOf(t, p)) === p));
    expect(() => partitionOf('topic-x')).toThrow();
  });

  it('maps acks flags to kafkajs codes', () => {
    expect([kafkaAcks('0'), kafkaAcks('1'), kafkaAcks('all')]).toEqual([0, 1, -1]);
  });

  it('generates unique values over keys, deterministically from the seed', () => {
    const keys = ['t-0', 't-1', 't-2'];
    const run = (seed: number): Array<[string, number]> => {
      const g = queueGenerator(keys, createRng(seed), new ValueCounter());
      return Array.from({ length: 300 }, (_, i) => g.next(i % 4)).map((op) => [op.value.key, op.value.value]);
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(new Set(a.map(([, v]) => v)).size).toBe(300);
    for (const k of keys) expect(a.some(([key]) => key === k)).toBe(true);
  });

  it('turns a batch into a poll value in the order returned, skipping foreign payloads', () => {
    const v = pollValueOf('t-1', [
      { offset: '5', value: Buffer.from('12') },
      { offset: '6', value: null },
      { offset: '7', value: Buffer.from('hello') },
      { offset: '8', value: Buffer.from('3') },
    ]);
    expect(v).toEqual({ 't-1': [[5, 12], [8, 3]] });
    expect(pollValueOf('t-1', [{ offset: '1', value: null }])).toEqual({});
  });

  it('finds the highest offset per key from ok sends and ok polls only', () => {
    const h: History = [
      { index: 0, timeNs: 0, process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 1 } },
      { index: 1, timeNs: 1, process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 1, offset: 4 } },
      { index: 2, timeNs: 2, process: 1, type: 'info', f: 'send', value: { key: 't-1', value: 2, offset: 99 } },
      { index: 3, timeNs: 3, process: 5, type: 'ok', f: 'poll', value: { 't-0': [[2, 7], [9, 8]], 't-1': [[3, 4]] } },
      { index: 4, timeNs: 4, process: 5, type: 'ok', f: 'assign', value: { keys: ['t-0'] } },
    ];
    expect(highestOffsets(h)).toEqual({ 't-0': 9, 't-1': 3 });
  });
});
