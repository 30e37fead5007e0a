/**
 * The real runtime: the OS clock, Node's timers, TCP through node:net, the disk through node:fs
 * (log/fs.ts's `nodeFileSystem`), crypto randomness. The only module of broker/ (with real-fs.ts)
 * that touches these directly (runtime.ts states the rule).
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { nodeFileSystem } from './real-fs.ts';
import type { Clock, Listener, Network, Random, Runtime, Socket, TimerHandle, Timers } from './runtime.ts';

export const realClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};

export const realTimers: Timers = {
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout | undefined),
  setInterval: (fn, everyMs) => setInterval(fn, everyMs),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout | undefined),
  setImmediate: (fn) => {
    setImmediate(fn);
  },
};

export const realRandom: Random = {
  next: () => Math.random(),
  uuid: () => randomUUID(),
};

export const realNetwork: Network = {
  listen(address, onConnection, onError) {
    const server = net.createServer((s) => onConnection(s));
    return new Promise<Listener>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
        server.off('error', reject);
        if (onError) server.on('error', onError);
        const a = server.address() as net.AddressInfo;
        resolve({
          host: a.address,
          port: a.port,
          close: () => new Promise<void>((done) => server.close(() => done())),
        });
      });
    });
  },
  connect: (host, port): Socket => net.connect({ host, port }),
};

export const realRuntime: Runtime = {
  clock: realClock,
  timers: realTimers,
  net: realNetwork,
  fs: nodeFileSystem,
  random: realRandom,
};

export type { TimerHandle };
