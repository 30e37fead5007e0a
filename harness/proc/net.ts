/**
 * TCP helpers for the harness: wait for a port to accept connections (bounded), find free ports.
 *
 * Spec: `waitForPort` tries a connection every `pollMs` until one succeeds or `timeoutMs` passes; each
 * attempt is itself bounded by `attemptMs`. It stops early when `shouldGiveUp()` says so (the node
 * process died), so a crashing broker is reported at once instead of after the full timeout.
 */
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export function tryConnect(host: string, port: number, attemptMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), attemptMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export type WaitResult = 'up' | 'timeout' | 'gave-up';

export async function waitForPort(
  host: string,
  port: number,
  opts: { timeoutMs: number; pollMs?: number; attemptMs?: number; shouldGiveUp?: () => boolean },
): Promise<WaitResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const pollMs = opts.pollMs ?? 50;
  for (;;) {
    if (opts.shouldGiveUp?.()) return 'gave-up';
    const left = deadline - Date.now();
    if (left <= 0) return 'timeout';
    if (await tryConnect(host, port, Math.min(opts.attemptMs ?? 500, left))) return 'up';
    if (opts.shouldGiveUp?.()) return 'gave-up';
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}

/** Ask the kernel for `count` distinct free TCP ports on host (held open together, then released). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
    }
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') throw new Error('free port: unexpected address');
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`not a host:port address: '${address}'`);
  return { host: address.slice(0, i), port };
}
