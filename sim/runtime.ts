/**
 * The simulated Runtime of one host incarnation (broker/runtime/runtime.ts's interfaces): virtual
 * time through the host's drifting clock, timers as scheduler events owned by the host, the host's
 * disk, the simulated network, and a seeded PRNG. When the incarnation ends (a crash), everything
 * it was given goes dead: its pending timers never fire (the scheduler drops them), and a late call
 * from a promise chain of the dead process into the disk or the network throws, so a crashed node
 * can never write after its crash.
 */
import type { FileSystem } from '../broker/log/fs.ts';
import type { Clock, Network, Random, Runtime, TimerHandle, Timers } from '../broker/runtime/runtime.ts';
import type { SimHost } from './host.ts';
import type { SimNetwork } from './net.ts';
import { Prng } from './prng.ts';
import type { Scheduler, SimEvent } from './scheduler.ts';

export class DeadProcessError extends Error {
  constructor(host: string) {
    super(`${host}: this process incarnation has crashed`);
    this.name = 'DeadProcessError';
  }
}

/** A UUID v4 from a PRNG (deterministic per seed). */
export function prngUuid(prng: Prng): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = Math.floor(prng.next() * 256);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface IntervalHandle extends TimerHandle {
  current: SimEvent | null;
  cancelled: boolean;
}

export function simClock(sched: Scheduler, host: SimHost): Clock {
  return {
    nowMs: () => Math.floor(host.wallMs(sched.nowMs)),
    monotonicMs: () => host.monotonicMs(sched.nowMs),
  };
}

export function simTimers(sched: Scheduler, host: SimHost): Timers {
  // Node runs a timer of less than 1 ms after 1 ms.
  const virtualDelay = (ms: number) => Math.max(1, ms) / host.rate;
  const cancel = (h: TimerHandle | null | undefined) => {
    if (!h) return;
    const ih = h as Partial<IntervalHandle> & Partial<SimEvent>;
    ih.cancelled = true;
    if (ih.current) ih.current.cancelled = true;
  };
  return {
    setTimeout: (fn, delayMs) => sched.after(virtualDelay(delayMs), host, 'timeout', fn) as unknown as TimerHandle,
    clearTimeout: cancel,
    setInterval: (fn, everyMs) => {
      const h: IntervalHandle = { current: null, cancelled: false };
      const arm = () => {
        h.current = sched.after(virtualDelay(everyMs), host, 'interval', () => {
          if (h.cancelled) return;
          arm();
          fn();
        });
      };
      arm();
      return h;
    },
    clearInterval: cancel,
    setImmediate: (fn) => {
      sched.after(0, host, 'immediate', fn);
    },
  };
}

/** The host's disk, refusing every call once the incarnation that was given it is over. */
export function guardedFs(disk: FileSystem, host: SimHost, incarnation: number): FileSystem {
  const check = () => {
    if (host.incarnation !== incarnation) throw new DeadProcessError(host.name);
  };
  const out = {} as Record<string, unknown>;
  const proto = Object.getPrototypeOf(disk) as object;
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue;
    const f = (disk as unknown as Record<string, unknown>)[name];
    if (typeof f !== 'function') continue;
    out[name] = (...args: unknown[]) => {
      check();
      return (f as (...a: unknown[]) => unknown).apply(disk, args);
    };
  }
  return out as unknown as FileSystem;
}

function guardedNet(net: Network, host: SimHost, incarnation: number): Network {
  return {
    listen: (address, onConnection, onError) => {
      if (host.incarnation !== incarnation) return Promise.reject(new DeadProcessError(host.name));
      return net.listen(address, onConnection, onError);
    },
    connect: (h, port) => {
      if (host.incarnation !== incarnation) throw new DeadProcessError(host.name);
      return net.connect(h, port);
    },
  };
}

export function simRandom(prng: Prng): Random {
  return { next: () => prng.next(), uuid: () => prngUuid(prng) };
}

/** The Runtime of `host`'s current incarnation. */
export function simRuntime(sched: Scheduler, net: SimNetwork, host: SimHost, seed: number): Runtime {
  const prng = new Prng((seed ^ Math.imul(host.incarnation + 1, 0x9e3779b1)) >>> 0);
  return {
    clock: simClock(sched, host),
    timers: simTimers(sched, host),
    net: guardedNet(net.forHost(host), host, host.incarnation),
    fs: guardedFs(host.disk, host, host.incarnation),
    random: simRandom(prng),
  };
}
