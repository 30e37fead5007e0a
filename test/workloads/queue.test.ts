import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRng } from '../../harness/rng.ts';
import { ValueCounter, highestOffsets, kafkaAcks, keyOf, partitionOf, queueGenerator } from '../../workloads/queue.ts';
import { pairsFrom, payloadOf } from '../../workloads/consumer.ts';
import { buildBatch } from '../../broker/protocol/records.ts';
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

  it('records a payload as its integer, or as its text when it is not one (never dropped)', () => {
    expect(payloadOf(Buffer.from('12'))).toBe(12);
    expect(payloadOf(Buffer.from('-3'))).toBe(-3);
    expect(payloadOf(Buffer.from('hello'))).toBe('hello');
    expect(payloadOf(Buffer.from('1.5'))).toBe('1.5');
    expect(payloadOf(Buffer.from('99999999999999999999'))).toBe('99999999999999999999');
    expect(payloadOf(null)).toBe('null');
  });

  it('turns a Fetch answer into poll pairs in log order, from the fetch position on', () => {
    const records = buildBatch({ baseOffset: 5, records: ['12', 'x', '3'].map((v) => ({ key: null, value: Buffer.from(v) })) });
    expect(pairsFrom(records, 0)).toEqual([[5, 12], [6, 'x'], [7, 3]]);
    expect(pairsFrom(records, 6)).toEqual([[6, 'x'], [7, 3]]);
    expect(pairsFrom(records.subarray(0, records.length - 1), 0)).toEqual([]);
    expect(pairsFrom(null, 0)).toEqual([]);
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
