/**
 * Idempotent-producer state of one partition (Kafka's ProducerStateManager, idempotence only).
 * Per producerId: the current producer epoch and metadata of the last 5 batches appended
 * (firstSeq, lastSeq, firstOffset, lastOffset), newest last.
 *
 * check(), in the order of kafka-internals.md section 4 (UnifiedLog / ProducerAppendInfo):
 *   1. same epoch and (firstSeq, lastSeq) equals a retained batch -> duplicate (answer with its offsets)
 *   2. epoch < current                                             -> INVALID_PRODUCER_EPOCH
 *   3. epoch > current                                             -> firstSeq must be 0
 *   4. same epoch                                                  -> firstSeq == lastSeq + 1, where
 *      the successor of 2^31-1 is 0, else OUT_OF_ORDER_SEQUENCE_NUMBER
 *   5. producerId unknown                                          -> append (any sequence)
 *
 * update() is called for every appended batch with producerId >= 0, on leaders and followers alike,
 * so state is a pure function of the log's batch headers: rebuilding it by replaying the log gives
 * the same state on every replica and after a restart. A new epoch clears the retained batches.
 * The map is bounded by expiry: removeExpired(nowMs, expirationMs) drops producers whose last batch
 * timestamp is older (Kafka's producer.id.expiration.ms); the owner calls it on a timer.
 * entries() and restore() carry the state to and from a snapshot file (producer-snapshot.ts), so a
 * log open replays only the batches after the snapshot.
 */
import { bugActive } from '../bugs.ts';

export const RETAINED_BATCHES = 5;
export const INT32_MAX = 0x7fffffff;

export interface ProducerBatch {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

export interface ProducerEntry {
  producerEpoch: number;
  batches: ProducerBatch[];
  lastTimestampMs: number;
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number }
  | { kind: 'error'; error: 'INVALID_PRODUCER_EPOCH' | 'OUT_OF_ORDER_SEQUENCE_NUMBER' };

/** The sequence number `delta` after `seq`, wrapping from 2^31-1 to 0 (DefaultRecordBatch.incrementSequence). */
export function incrementSequence(seq: number, delta: number): number {
  return seq > INT32_MAX - delta ? delta - (INT32_MAX - seq) - 1 : seq + delta;
}

export class ProducerState {
  readonly #producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.#producers.size;
  }

  entry(producerId: number): ProducerEntry | undefined {
    return this.#producers.get(producerId);
  }

  check(producerId: number, producerEpoch: number, baseSequence: number, lastSequence: number): SequenceCheck {
    const entry = this.#producers.get(producerId);
    if (entry === undefined) return { kind: 'append' };
    if (producerEpoch === entry.producerEpoch) {
      if (bugActive('idempotent-replay-appended')) return { kind: 'append' };
      const dup = entry.batches.find((b) => b.firstSeq === baseSequence && b.lastSeq === lastSequence);
      if (dup) return { kind: 'duplicate', firstOffset: dup.firstOffset, lastOffset: dup.lastOffset };
    }
    if (producerEpoch < entry.producerEpoch) return { kind: 'error', error: 'INVALID_PRODUCER_EPOCH' };
    if (producerEpoch > entry.producerEpoch) {
      return baseSequence === 0 ? { kind: 'append' } : { kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' };
    }
    const last = entry.batches.at(-1);
    if (last === undefined) return { kind: 'append' };
    return baseSequence === incrementSequence(last.lastSeq, 1)
      ? { kind: 'append' }
      : { kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' };
  }

  update(
    producerId: number,
    producerEpoch: number,
    firstSeq: number,
    lastSeq: number,
    firstOffset: number,
    lastOffset: number,
    timestampMs: number,
  ): void {
    let entry = this.#producers.get(producerId);
    if (entry === undefined || producerEpoch !== entry.producerEpoch) {
      entry = { producerEpoch, batches: [], lastTimestampMs: timestampMs };
      this.#producers.set(producerId, entry);
    }
    entry.batches.push({ firstSeq, lastSeq, firstOffset, lastOffset });
    if (entry.batches.length > RETAINED_BATCHES) entry.batches.shift();
    entry.lastTimestampMs = Math.max(entry.lastTimestampMs, timestampMs);
  }

  /** Drops producers whose newest batch timestamp is more than `expirationMs` before `nowMs`. */
  removeExpired(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.#producers) {
      if (nowMs - entry.lastTimestampMs > expirationMs) {
        this.#producers.delete(id);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.#producers.clear();
  }

  /**
   * Whether some retained batch ends at or after `offset`. When none does, dropping the log from
   * `offset` on leaves this state as it is: every producer's last batches and epoch lie before it.
   */
  hasBatchFrom(offset: number): boolean {
    for (const e of this.#producers.values()) if (e.batches.some((b) => b.lastOffset >= offset)) return true;
    return false;
  }

  /** Every producer's entry (for snapshots). */
  entries(): IterableIterator<[number, ProducerEntry]> {
    return this.#producers.entries();
  }

  /** Replaces the whole state with `entries` (a snapshot's). */
  restore(entries: ReadonlyMap<number, ProducerEntry>): void {
    this.#producers.clear();
    for (const [id, e] of entries) this.#producers.set(id, { producerEpoch: e.producerEpoch, batches: e.batches.map((b) => ({ ...b })), lastTimestampMs: e.lastTimestampMs });
  }
}
