/**
 * A simulated message network: each message is delivered after a random delay unless it is lost,
 * its link is cut when it is due, or its destination is down. Links are cut per unordered pair of
 * node ids. The queue is bounded (maxInFlight); a send beyond it is dropped, like a full socket.
 */
import type { Prng } from './prng.ts';

export interface Envelope<M> {
  from: number;
  to: number;
  deliverAtMs: number;
  seq: number;
  msg: M;
}

export interface NetworkOptions {
  minDelayMs: number;
  maxDelayMs: number;
  lossRate: number;
  maxInFlight: number;
}

export class SimNetwork<M> {
  readonly options: NetworkOptions;
  readonly #rng: Prng;
  #queue: Envelope<M>[] = [];
  #cut = new Set<string>();
  #seq = 0;

  constructor(rng: Prng, options: NetworkOptions) {
    this.#rng = rng;
    this.options = options;
  }

  static #key(a: number, b: number): string {
    return a < b ? `${a}:${b}` : `${b}:${a}`;
  }

  /**
   * Queues `msg`; returns when it is due, or null when it was dropped. `notBeforeMs` holds it back
   * to at least that time (a caller keeping a link's order passes the previous message's due time:
   * equal due times are delivered in send order).
   */
  send(from: number, to: number, nowMs: number, msg: M, notBeforeMs = -Infinity): number | null {
    if (this.#queue.length >= this.options.maxInFlight) return null;
    if (this.#rng.chance(this.options.lossRate)) return null;
    const deliverAtMs = Math.max(notBeforeMs, nowMs + this.#rng.int(this.options.minDelayMs, this.options.maxDelayMs));
    this.#queue.push({ from, to, deliverAtMs, seq: this.#seq++, msg });
    return deliverAtMs;
  }

  cut(a: number, b: number): void {
    this.#cut.add(SimNetwork.#key(a, b));
  }

  isCut(a: number, b: number): boolean {
    return this.#cut.has(SimNetwork.#key(a, b));
  }

  healAll(): void {
    this.#cut.clear();
  }

  get inFlight(): number {
    return this.#queue.length;
  }

  /** Removes and returns the messages due by nowMs, in delivery order, minus those on cut links. */
  due(nowMs: number): Envelope<M>[] {
    const ready: Envelope<M>[] = [];
    const rest: Envelope<M>[] = [];
    for (const e of this.#queue) (e.deliverAtMs <= nowMs ? ready : rest).push(e);
    this.#queue = rest;
    ready.sort((a, b) => a.deliverAtMs - b.deliverAtMs || a.seq - b.seq);
    return ready.filter((e) => !this.isCut(e.from, e.to));
  }
}
