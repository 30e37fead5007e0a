/**
 * The commits of one key, indexed for the two commit rules (commit-regress, resume-mismatch) so each
 * question costs O(log n) or O(processes) instead of a scan of every commit: which `ok` commit completed
 * last before a line, which completed before a line with the highest offset, the highest offset invoked
 * before a line, and the lowest offset of the commits that may have been applied after a given commit's
 * invoke and before a line. `fail` commits never happened and answer none of these.
 *
 * A commit "may have been applied after anchor's invoke and before line L" when it is not `fail`, was
 * invoked before L, and did not complete before the anchor was invoked: it was invoked after the anchor
 * (a range of the invoke order), or it was in flight when the anchor was invoked (at most one per
 * process, since a process has one commit in flight: found by binary search in its own commits).
 */
import type { Process } from '../history.ts';

export interface KeyCommit {
  offset: number;
  status: 'ok' | 'fail' | 'info';
  process: Process;
  invokeLine: number;
  /** -1 when never completed */
  line: number;
}

/** Index of the first element of sorted `arr` that is >= x. */
function lowerBound(arr: readonly number[], x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class KeyCommits {
  /** in invoke order */
  readonly list: readonly KeyCommit[];
  readonly #invokeLines: number[];
  /** `ok` commits in completion order, their lines, and the prefix argmax of their offsets */
  readonly #ok: KeyCommit[];
  readonly #okLines: number[];
  readonly #okPrefixMax: KeyCommit[];
  /** prefix argmax (invoke order) of the offsets of commits that are not `fail` */
  readonly #invokedPrefixMax: Array<KeyCommit | undefined>;
  /** sparse table of argmin offsets over the invoke order (`fail` commits never win) */
  readonly #sparse: Array<Array<KeyCommit | undefined>>;
  readonly #byProcess = new Map<Process, number[]>();
  readonly #index = new Map<KeyCommit, number>();

  constructor(list: readonly KeyCommit[]) {
    this.list = list;
    this.#invokeLines = list.map((c) => c.invokeLine);
    this.#ok = list.filter((c) => c.status === 'ok' && c.line !== -1).sort((a, b) => a.line - b.line);
    this.#okLines = this.#ok.map((c) => c.line);
    this.#okPrefixMax = [];
    for (const c of this.#ok) {
      const prev = this.#okPrefixMax.at(-1);
      this.#okPrefixMax.push(prev === undefined || c.offset >= prev.offset ? c : prev);
    }
    this.#invokedPrefixMax = [];
    let best: KeyCommit | undefined;
    for (const c of list) {
      if (c.status !== 'fail' && (best === undefined || c.offset > best.offset)) best = c;
      this.#invokedPrefixMax.push(best);
    }
    const lower = (a: KeyCommit | undefined, b: KeyCommit | undefined): KeyCommit | undefined => (a === undefined ? b : b === undefined ? a : b.offset < a.offset ? b : a);
    this.#sparse = [list.map((c) => (c.status === 'fail' ? undefined : c))];
    for (let w = 1; 2 * w <= list.length; w *= 2) {
      const prev = this.#sparse.at(-1)!;
      const next: Array<KeyCommit | undefined> = [];
      for (let i = 0; i + 2 * w <= list.length; i++) next.push(lower(prev[i], prev[i + w]));
      this.#sparse.push(next);
    }
    list.forEach((c, i) => {
      this.#index.set(c, i);
      let l = this.#byProcess.get(c.process);
      if (l === undefined) {
        l = [];
        this.#byProcess.set(c.process, l);
      }
      l.push(i);
    });
  }

  /** The `ok` commit that completed last before `line`. */
  lastOkBefore(line: number): KeyCommit | undefined {
    const i = lowerBound(this.#okLines, line);
    return i === 0 ? undefined : this.#ok[i - 1];
  }

  /** The `ok` commit completed before `line` with the highest offset (the latest of equals). */
  highestOkBefore(line: number): KeyCommit | undefined {
    const i = lowerBound(this.#okLines, line);
    return i === 0 ? undefined : this.#okPrefixMax[i - 1];
  }

  /** The commit (not `fail`) invoked before `line` with the highest offset. */
  highestInvokedBefore(line: number): KeyCommit | undefined {
    const i = lowerBound(this.#invokeLines, line);
    return i === 0 ? undefined : this.#invokedPrefixMax[i - 1];
  }

  #rangeMin(from: number, to: number): KeyCommit | undefined {
    if (from >= to) return undefined;
    const level = 31 - Math.clz32(to - from);
    const a = this.#sparse[level]![from];
    const b = this.#sparse[level]![to - (1 << level)];
    return a === undefined ? b : b === undefined ? a : b.offset < a.offset ? b : a;
  }

  /**
   * The lowest-offset commit, other than `except`, that may have been applied after `anchor` was
   * invoked and before `line` (module docstring); `anchor` itself included.
   */
  lowestMaybeAppliedAfter(anchor: KeyCommit, line: number, except?: KeyCommit): KeyCommit {
    let low = anchor;
    const take = (c: KeyCommit | undefined): void => {
      if (c !== undefined && c !== except && c.offset < low.offset) low = c;
    };
    const from = lowerBound(this.#invokeLines, anchor.invokeLine + 1);
    const to = lowerBound(this.#invokeLines, line);
    const at = except === undefined ? -1 : (this.#index.get(except) ?? -1);
    if (at >= from && at < to) {
      take(this.#rangeMin(from, at));
      take(this.#rangeMin(at + 1, to));
    } else take(this.#rangeMin(from, to));
    // In flight when the anchor was invoked: each process's last commit invoked before it.
    for (const idx of this.#byProcess.values()) {
      let lo = 0;
      let hi = idx.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#invokeLines[idx[mid]!]! < anchor.invokeLine) lo = mid + 1;
        else hi = mid;
      }
      if (lo === 0) continue;
      const c = this.list[idx[lo - 1]!]!;
      if (c.status !== 'fail' && c.invokeLine < line && (c.line === -1 || c.line > anchor.invokeLine)) take(c);
    }
    return low;
  }
}
