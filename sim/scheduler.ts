/**
 * The simulation's one source of time and order: a queue of events ordered by (virtual time,
 * sequence number), run one at a time. After each event every microtask it started runs to
 * completion (a promise chain, process.nextTick) before the next event: the run loop yields to the
 * real event loop with setImmediate, which Node runs only once the microtask and nextTick queues are
 * empty, and nothing else in the process does real I/O. So a seed gives the same interleaving, the
 * same trace and the same outcome on every run.
 *
 * Each event belongs to an owner (a simulated host) or to the world. An owner that is paused holds
 * its events until it resumes (they then run, in their original order, at the resume time); an
 * owner's events from an earlier incarnation (before a crash) are discarded. The trace hash folds
 * in every event run (time, owner, label), so two runs of one seed can be compared exactly.
 */

export interface EventOwner {
  readonly name: string;
  /** Bumped at every crash: events of an older incarnation never run. */
  readonly incarnation: number;
  readonly paused: boolean;
  /** Where the scheduler parks this owner's due events while it is paused. */
  readonly held: SimEvent[];
}

export interface SimEvent {
  timeMs: number;
  seq: number;
  owner: EventOwner | null;
  incarnation: number;
  label: string;
  fn: () => void;
  cancelled: boolean;
}

/** Thrown out of `run` when an event's callback throws: a real process would have died of it. */
export class SimUncaughtError extends Error {
  readonly event: string;
  constructor(event: string, cause: unknown) {
    super(`uncaught exception in ${event}: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
    this.event = event;
    this.name = 'SimUncaughtError';
  }
}

const yieldToMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Scheduler {
  nowMs = 0;
  #seq = 0;
  #heap: SimEvent[] = [];
  /** Events run so far. */
  eventsRun = 0;
  #hash = 0x811c9dc5;
  /** Set by a callback that must stop the run (an uncaught exception). */
  #failure: SimUncaughtError | null = null;
  /** Read-only observers run after every event (and its microtasks): the per-step property checks. */
  readonly #steps: Array<() => void> = [];

  /**
   * Runs `fn` after every event, once the microtasks it started have drained. An observer only
   * reads state (it must not schedule events or touch the simulated world), so adding one changes
   * neither the trace nor the outcome of a seed.
   */
  onStep(fn: () => void): void {
    this.#steps.push(fn);
  }

  get traceHash(): string {
    return (this.#hash >>> 0).toString(16).padStart(8, '0');
  }

  /** Schedules `fn` at `timeMs` (not before now) for `owner`'s current incarnation. */
  at(timeMs: number, owner: EventOwner | null, label: string, fn: () => void): SimEvent {
    const e: SimEvent = { timeMs: Math.max(this.nowMs, timeMs), seq: this.#seq++, owner, incarnation: owner?.incarnation ?? 0, label, fn, cancelled: false };
    this.#push(e);
    return e;
  }

  after(delayMs: number, owner: EventOwner | null, label: string, fn: () => void): SimEvent {
    return this.at(this.nowMs + Math.max(0, delayMs), owner, label, fn);
  }

  /** Re-queues an owner's held events at the current time, in their original order. */
  release(owner: EventOwner): void {
    const held = owner.held.splice(0);
    for (const e of held) {
      e.timeMs = this.nowMs;
      e.seq = this.#seq++;
      this.#push(e);
    }
  }

  /** Runs events until the queue is empty, `untilMs` is passed, or `stop()` says so. */
  async run(untilMs: number, stop: () => boolean = () => false): Promise<void> {
    while (this.#heap.length > 0 && !stop()) {
      const e = this.#heap[0]!;
      if (e.timeMs > untilMs) break;
      this.#pop();
      if (e.cancelled) continue;
      const o = e.owner;
      if (o && o.incarnation !== e.incarnation) continue;
      this.nowMs = e.timeMs;
      if (o && o.paused) {
        o.held.push(e);
        continue;
      }
      this.eventsRun++;
      this.#fold(e);
      try {
        e.fn();
      } catch (err) {
        this.#failure ??= new SimUncaughtError(`${o?.name ?? 'world'} ${e.label}`, err);
      }
      await yieldToMicrotasks();
      if (this.#failure) throw this.#failure;
      for (const step of this.#steps) step();
    }
    if (this.nowMs < untilMs && !stop()) this.nowMs = untilMs;
  }

  #fold(e: SimEvent): void {
    let h = this.#hash;
    const s = `${e.timeMs}|${e.owner?.name ?? ''}|${e.label}`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    this.#hash = h;
  }

  #less(a: SimEvent, b: SimEvent): boolean {
    return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
  }

  #push(e: SimEvent): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
