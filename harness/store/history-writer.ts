/**
 * Incremental history.jsonl writer (design.md "history.jsonl", "Run directory").
 *
 * Invariants:
 * - `index` counts lines from 0 with no gaps, in the order ops are appended.
 * - `timeNs` is monotonic time since the writer was opened (never decreases).
 * - Every append is one complete line written with a synchronous write before `append` returns, so a
 *   crash or Ctrl-C leaves at most a torn last line, which `parseHistory` drops.
 * - The in-memory copy (`ops()`) equals what was written, so the checker can run without re-reading.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Op, OpType, Process } from '../../checkers/history.ts';

export interface OpInput {
  process: Process;
  type: OpType;
  f: string;
  value: unknown;
}

export interface HistoryRecorder {
  /** `atNs`: when the op happened on the writer's clock (`process.hrtime.bigint()`), if not now */
  append(op: OpInput, atNs?: bigint): Op;
}

/** A monotonic nanosecond clock; injectable for tests. */
export type ClockNs = () => bigint;

export const hrClockNs: ClockNs = () => process.hrtime.bigint();

export class HistoryWriter implements HistoryRecorder {
  readonly path: string;
  #fd: number | null;
  #startNs: bigint;
  #lastNs = 0;
  #clock: ClockNs;
  #ops: Op[] = [];

  constructor(path: string, clock: ClockNs = hrClockNs) {
    this.path = path;
    this.#clock = clock;
    this.#fd = openSync(path, 'a');
    this.#startNs = clock();
  }

  /**
   * Appends one op to the file and the in-memory history. After close() an op is not recorded at all
   * (a late completion of an abandoned op), so what the run checks is exactly what is on disk.
   * An op stamped by a client process (`atNs`, same clock) keeps its own time, raised only as far as
   * the last line's, so `timeNs` never decreases in file order.
   */
  append(op: OpInput, atNs?: bigint): Op {
    const elapsed = Number((atNs ?? this.#clock()) - this.#startNs);
    this.#lastNs = Math.max(this.#lastNs, elapsed);
    const full: Op = { index: this.#ops.length, timeNs: this.#lastNs, process: op.process, type: op.type, f: op.f, value: op.value };
    if (this.#fd === null) return full;
    writeSync(this.#fd, JSON.stringify(full) + '\n');
    this.#ops.push(full);
    return full;
  }

  ops(): readonly Op[] {
    return this.#ops;
  }

  /** Nanoseconds since the writer opened, on the same clock as `timeNs`. */
  nowNs(): number {
    return Number(this.#clock() - this.#startNs);
  }

  close(): void {
    if (this.#fd === null) return;
    try {
      fsyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }
}
