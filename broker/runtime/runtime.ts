/**
 * The node's I/O boundaries, as small interfaces with two implementations: the real ones
 * (runtime/real.ts: the OS clock, Node's timers, TCP, the disk, crypto randomness) and the simulated
 * ones (sim/: virtual time, an in-process network and disk, a seeded PRNG), so the same BrokerNode
 * runs as `faultline broker` and, N at a time, inside one deterministic simulation.
 *
 * Rule: nothing in broker/ outside runtime/real.ts reads the clock, arms a timer, opens a socket,
 * touches the disk or draws randomness except through a `Runtime` it was given
 * (test/broker/runtime/no-direct-io.test.ts greps for it).
 *
 * Contracts the broker relies on (the simulated implementations keep them too):
 * - `clock.nowMs()` is wall time (may jump: NTP steps, a clock fault); `clock.monotonicMs()` never
 *   goes back (Raft's election timers use it, so wall-clock steps cannot fire or suppress elections).
 * - A timer fires at most once (`setTimeout`) or every `everyMs` (`setInterval`) until cleared;
 *   clearing an unknown, fired or null handle is a no-op; a callback never runs synchronously
 *   inside the call that armed it.
 * - A `Socket` is an ordered, reliable byte stream (TCP): bytes arrive in order, once, or the
 *   stream ends with 'close' (after an 'error' when it failed). 'connect' comes before any 'data'.
 *   `writableLength` counts bytes written and not yet handed to the peer (back-pressure);
 *   `pause()` stops 'data' events until `resume()`.
 * - `random.next()` is uniform in [0, 1); `random.uuid()` a fresh RFC 4122 v4 id.
 */
import type { FileSystem } from '../log/fs.ts';

export type { FileSystem } from '../log/fs.ts';

export interface Clock {
  /** Wall-clock time in ms since the epoch. */
  nowMs(): number;
  /** A clock that never goes back, in ms from an arbitrary origin. */
  monotonicMs(): number;
}

/** A timer as `Timers` hands it out; only ever passed back to clear it (or `unref` a real one). */
export interface TimerHandle {
  unref?(): unknown;
}

export interface Timers {
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle | null | undefined): void;
  setInterval(fn: () => void, everyMs: number): TimerHandle;
  clearInterval(handle: TimerHandle | null | undefined): void;
  /** Runs `fn` once the current turn's I/O is done (Node's setImmediate); not cancellable. */
  setImmediate(fn: () => void): void;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** A fresh UUID (topic ids, incarnation ids, group member ids). */
  uuid(): string;
}

/** The part of a TCP socket (node:net's Socket) the broker uses. */
export interface Socket {
  on(event: 'connect', listener: () => void): this;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'close', listener: () => void): this;
  once(event: 'connect', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'close', listener: () => void): this;
  write(data: Buffer): boolean;
  destroy(): void;
  readonly destroyed: boolean;
  readonly writableLength: number;
  setNoDelay(noDelay?: boolean): this;
  cork(): void;
  uncork(): void;
  pause(): this;
  resume(): this;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

/** A bound listener. */
export interface Listener {
  readonly host: string;
  readonly port: number;
  /** Stops accepting; resolves once closed (open connections are the caller's to destroy). */
  close(): Promise<void>;
}

export interface Network {
  /** Binds `host:port` (port 0: any free port); rejects when the address is taken. */
  listen(address: { host: string; port: number }, onConnection: (socket: Socket) => void, onError?: (err: Error) => void): Promise<Listener>;
  /** Starts connecting; the socket emits 'connect', or 'error' then 'close'. */
  connect(host: string, port: number): Socket;
}

/** Everything a broker node does I/O through; one per node (BrokerNode's constructor takes it). */
export interface Runtime {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly net: Network;
  readonly fs: FileSystem;
  readonly random: Random;
}

/** Resolves after `ms` on the runtime's timers (a bounded wait's sleep). */
export function sleepMs(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => {
    timers.setTimeout(resolve, ms);
  });
}
