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
const handedOut = new Set<number>();

/**
 * `count` distinct free ports on `host` for brokers to bind later. Drawn below Linux's ephemeral
 * range (32768+), so no client connection's local port can take one between this check and the
 * broker's bind (port 0 would hand out ephemeral ports, which outgoing connections reuse), and never
 * the same port twice in a process.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  for (let attempt = 0; attempt < 200 * count && out.length < count; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
    if (ok) {
      handedOut.add(port);
      out.push(port);
    }
  }
  if (out.length < count) throw new Error(`free ports: found ${out.length} of ${count} in 20000-31999 on ${host}`);
  return out;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`not a host:port address: '${address}'`);
  return { host: address.slice(0, i), port };
}
