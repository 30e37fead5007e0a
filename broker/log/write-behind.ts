/**
 * Group commit of leader appends: a Produce batch appended as leader is held in its segment's memory
 * and written, together with every other batch appended in the same turn of the event loop, in one
 * write per segment. With many requests in flight this replaces a write() system call per request by
 * one per turn (the largest single cost of a one-record produce, see docs/performance.md).
 *
 * Invariant (what makes the deferral invisible): **nothing leaves the node, and nothing is read
 * back, while an appended batch is only in memory.**
 * - Every response goes through the connection's uncork (broker/server.ts), which calls `drain()`
 *   first: an acknowledgement (acks=1, or acks=all with the ISR at the leader alone) never precedes
 *   the write of what it acknowledges, so a process crash (SIGKILL) loses no acknowledged batch, as
 *   before. Only data never acknowledged can be lost with the process.
 * - Every read of a segment's file (fetches by followers and consumers, truncation, scans, fsync,
 *   close) writes that segment's pending bytes first (Segment), so followers replicate only written
 *   data, and an fsync covers everything appended before it (`log.flush.interval.messages=1` still
 *   fsyncs every acknowledged batch).
 * - Otherwise a pending append is written at the end of the turn (`timers.setImmediate`), so acks=0
 *   data reaches the page cache within one turn.
 *
 * A write that fails (ENOSPC, EIO) happens after the batch's offsets, producer state and the
 * leader's end offset moved, so it cannot be answered as the failed request's error any more. The
 * node then fails: `drain()` throws from then on (each connection that would send is closed
 * instead, its responses unsent) and `onFailure` is called once (the broker process exits, as Kafka
 * halts when its only log directory fails). Restart recovery truncates the torn tail.
 *
 * Follower appends are not deferred: a follower writes a whole fetched range in one write already.
 */
import type { Timers } from '../runtime/runtime.ts';

/** A segment with appended bytes not yet written to its file. */
export interface PendingWrites {
  /** Writes the pending bytes; throws if the write fails. */
  writePending(): void;
}

export class WriteBehind {
  readonly #pending = new Set<PendingWrites>();
  readonly #timers: Pick<Timers, 'setImmediate'>;
  readonly #onFailure: (err: Error) => void;
  #scheduled = false;
  #failed: Error | null = null;
  /** Writes issued by drains (each covers every batch a segment got since its previous write). */
  writes = 0;

  constructor(timers: Pick<Timers, 'setImmediate'>, onFailure: (err: Error) => void) {
    this.#timers = timers;
    this.#onFailure = onFailure;
  }

  get failed(): Error | null {
    return this.#failed;
  }

  /** Segments with appended bytes not yet written. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Registers a segment that now has pending bytes; throws once a write has failed. */
  add(seg: PendingWrites): void {
    if (this.#failed) throw this.#failed;
    this.#pending.add(seg);
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#timers.setImmediate(() => {
        this.#scheduled = false;
        try {
          this.drain();
        } catch {
          // fail() reported it; the node is failing.
        }
      });
    }
  }

  /** The segment wrote its pending bytes itself (a read or an fsync came first). */
  written(seg: PendingWrites): void {
    this.#pending.delete(seg);
  }

  /** Writes every pending append now; throws (and keeps throwing) once one write has failed. */
  drain(): void {
    if (this.#failed) throw this.#failed;
    for (const seg of this.#pending) {
      this.#pending.delete(seg);
      try {
        seg.writePending();
        this.writes++;
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
        throw this.#failed;
      }
    }
  }

  /** A pending write failed (here or in the segment itself): the node fails (see the module doc). */
  fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = err;
    this.#onFailure(err);
  }
}
