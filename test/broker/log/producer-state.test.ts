/** ProducerState: the check order of kafka-internals.md section 4, the 5-batch window, epoch fencing, sequence wrap, expiry. */
import { describe, expect, it } from 'vitest';
import { incrementSequence, INT32_MAX, ProducerState } from '../../../broker/log/producer-state.ts';

function stateWith(batches: [number, number][], epoch = 0, producerId = 7): ProducerState {
  const s = new ProducerState();
  let offset = 100;
  for (const [first, last] of batches) {
    const n = last >= first ? last - first + 1 : INT32_MAX - first + last + 2;
    s.update(producerId, epoch, first, last, offset, offset + n - 1, 1000);
    offset += n;
  }
  return s;
}

describe('incrementSequence', () => {
  it('wraps from INT32_MAX to 0', () => {
    expect(incrementSequence(5, 3)).toBe(8);
    expect(incrementSequence(INT32_MAX, 1)).toBe(0);
    expect(incrementSequence(INT32_MAX - 1, 3)).toBe(1);
  });
});

describe('ProducerState.check', () => {
  it('accepts any sequence from an unknown producer', () => {
    expect(new ProducerState().check(1, 0, 42, 50)).toEqual({ kind: 'append' });
  });
  it('accepts the next sequence and rejects gaps and repeats that are not exact duplicates', () => {
    const s = stateWith([[0, 4]]);
    expect(s.check(7, 0, 5, 9)).toEqual({ kind: 'append' });
    expect(s.check(7, 0, 6, 9)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(s.check(7, 0, 0, 3)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });
  it('answers an exact duplicate of any of the last 5 batches with its original offsets', () => {
    const s = stateWith([
      [0, 4],
      [5, 9],
      [10, 10],
    ]);
    expect(s.check(7, 0, 0, 4)).toEqual({ kind: 'duplicate', firstOffset: 100, lastOffset: 104 });
    expect(s.check(7, 0, 5, 9)).toEqual({ kind: 'duplicate', firstOffset: 105, lastOffset: 109 });
    expect(s.check(7, 0, 10, 10)).toEqual({ kind: 'duplicate', firstOffset: 110, lastOffset: 110 });
  });
  it('forgets batches beyond the last 5', () => {
    const s = stateWith([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    expect(s.entry(7)!.batches).toHaveLength(5);
    expect(s.check(7, 0, 0, 0)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(s.check(7, 0, 1, 1)).toEqual({ kind: 'duplicate', firstOffset: 101, lastOffset: 101 });
  });
  it('fences an older producer epoch, and a newer epoch must restart at sequence 0', () => {
    const s = stateWith([[0, 4]], 3);
    expect(s.check(7, 2, 5, 9)).toEqual({ kind: 'error', error: 'INVALID_PRODUCER_EPOCH' });
    expect(s.check(7, 2, 0, 4)).toEqual({ kind: 'error', error: 'INVALID_PRODUCER_EPOCH' });
    expect(s.check(7, 4, 5, 9)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(s.check(7, 4, 0, 2)).toEqual({ kind: 'append' });
  });
  it('a new epoch clears the retained batches', () => {
    const s = stateWith([[0, 4]], 0);
    s.update(7, 1, 0, 1, 200, 201, 1000);
    expect(s.entry(7)).toMatchObject({ producerEpoch: 1, batches: [{ firstSeq: 0, lastSeq: 1 }] });
    expect(s.check(7, 1, 0, 4)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });
  it('continues across the sequence wrap', () => {
    const s = stateWith([[INT32_MAX - 2, INT32_MAX]]);
    expect(s.check(7, 0, 0, 3)).toEqual({ kind: 'append' });
    expect(s.check(7, 0, INT32_MAX - 2, INT32_MAX)).toMatchObject({ kind: 'duplicate' });
  });
  it('keeps producers apart and expires idle ones', () => {
    const s = stateWith([[0, 4]], 0, 1);
    s.update(2, 0, 0, 0, 300, 300, 5000);
    expect(s.check(2, 0, 1, 1)).toEqual({ kind: 'append' });
    expect(s.check(1, 0, 1, 1)).toEqual({ kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(s.removeExpired(6000, 2000)).toBe(1);
    expect(s.entry(1)).toBeUndefined();
    expect(s.entry(2)).toBeDefined();
  });
});
