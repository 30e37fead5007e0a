/**
 * KafkaServer over loopback TCP: pipelined requests are handled concurrently up to the per-connection
 * bound, and answered in request order whatever order the handlers finish in.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../broker/logger.ts';
import { DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION, KafkaServer, type RequestContext } from '../../broker/server.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const servers: KafkaServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
});

/** A request frame: size, apiKey 18 (ApiVersions) v0, correlationId, null clientId. */
function frame(correlationId: number): Buffer {
  const b = Buffer.alloc(14);
  b.writeInt32BE(10, 0);
  b.writeInt16BE(18, 4);
  b.writeInt16BE(0, 6);
  b.writeInt32BE(correlationId, 8);
  b.writeInt16BE(-1, 12);
  return b;
}

/**
 * Sends `n` pipelined requests in one write. The handler parks every request until `n` are parked
 * (or `releaseAfterMs` passed, so a server that reads fewer still finishes), then finishes them in
 * reverse order. Returns the correlation ids in the order the responses arrived and the most
 * requests that were being handled at once.
 */
async function run(n: number, maxInFlightPerConnection: number | undefined, releaseAfterMs: number): Promise<{ order: number[]; maxConcurrent: number }> {
  const parked: Array<{ id: number; resolve: () => void }> = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const releaseAll = () => {
    for (const p of parked.splice(0).reverse()) p.resolve();
  };
  const timer = setTimeout(releaseAll, releaseAfterMs);
  const server = new KafkaServer({
    host: '127.0.0.1',
    port: 0,
    maxFrameBytes: 1 << 20,
    ...(maxInFlightPerConnection === undefined ? {} : { maxInFlightPerConnection }),
    logger: quiet,
    handle: async (rc: RequestContext) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise<void>((resolve) => {
        parked.push({ id: rc.correlationId, resolve });
        if (parked.length === n) releaseAll();
      });
      // Later requests parked after a release (a server reading fewer than n at once) go at once.
      concurrent--;
      const out = Buffer.alloc(8);
      out.writeInt32BE(4, 0);
      out.writeInt32BE(rc.correlationId, 4);
      return out;
    },
  });
  servers.push(server);
  const { port } = await server.listen();
  const sock = net.connect({ host: '127.0.0.1', port });
  sockets.push(sock);
  const order: number[] = [];
  let buf = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8) {
        order.push(buf.readInt32BE(4));
        buf = buf.subarray(8);
      }
      if (order.length === n) resolve();
    });
    sock.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(i + 1))));
    // Release stragglers again and again: under a bound below n the rest arrive in later reads.
    const again = setInterval(releaseAll, releaseAfterMs);
    sock.once('close', () => clearInterval(again));
    void new Promise<void>((r) => setTimeout(r, 20_000)).then(() => clearInterval(again));
  });
  clearTimeout(timer);
  return { order, maxConcurrent };
}

describe('KafkaServer', () => {
  it('handles a 256-deep pipelining window at once by default, and answers in request order', async () => {
    expect(DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION).toBeGreaterThanOrEqual(256);
    const { order, maxConcurrent } = await run(256, undefined, 2000);
    expect(maxConcurrent).toBe(256);
    expect(order).toEqual(Array.from({ length: 256 }, (_, i) => i + 1));
  });

  it('never handles more than maxInFlightPerConnection requests of one connection at once', async () => {
    const { order, maxConcurrent } = await run(120, 50, 200);
    expect(maxConcurrent).toBe(50);
    expect(order).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
  });

  it('calls beforeSend before every send; when it throws, the connection closes with its responses unsent', async () => {
    let calls = 0;
    let failing = false;
    const server = new KafkaServer({
      host: '127.0.0.1',
      port: 0,
      maxFrameBytes: 1 << 20,
      logger: quiet,
      handle: (rc: RequestContext) => {
        const out = Buffer.alloc(8);
        out.writeInt32BE(4, 0);
        out.writeInt32BE(rc.correlationId, 4);
        return out;
      },
      beforeSend: () => {
        calls++;
        if (failing) throw new Error('a deferred log write failed');
      },
    });
    servers.push(server);
    const { port } = await server.listen();
    const sock = net.connect({ host: '127.0.0.1', port });
    sockets.push(sock);
    let received = 0;
    sock.on('data', (d) => {
      received += d.length;
    });
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    sock.write(frame(1));
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (received >= 8) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    expect(calls).toBeGreaterThan(0);
    failing = true;
    let closed = false;
    const closing = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.write(Buffer.concat([frame(2), frame(3)]));
    // Bounded: a server that sends anyway stays open, and the expectations below say so.
    await Promise.race([closing.then(() => (closed = true)), new Promise((r) => setTimeout(r, 5000))]);
    expect(received).toBe(8);
    expect(closed).toBe(true);
  });

  it('writes a response given as parts as the parts in order, in its place among whole responses', async () => {
    // Odd ids answer in three parts (as encodeResponseParts gives a Fetch response), even ids whole.
    const server = new KafkaServer({
      host: '127.0.0.1',
      port: 0,
      maxFrameBytes: 1 << 20,
      logger: quiet,
      handle: async (rc: RequestContext) => {
        const out = Buffer.alloc(12);
        out.writeInt32BE(8, 0);
        out.writeInt32BE(rc.correlationId, 4);
        out.writeInt32BE(rc.correlationId * 7, 8);
        await new Promise((r) => setTimeout(r, (10 - rc.correlationId) * 2));
        return rc.correlationId % 2 === 1 ? [out.subarray(0, 5), out.subarray(5, 9), out.subarray(9)] : out;
      },
    });
    servers.push(server);
    const { port } = await server.listen();
    const sock = net.connect({ host: '127.0.0.1', port });
    sockets.push(sock);
    const got = await new Promise<Buffer>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      sock.on('error', reject);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 9 * 12) resolve(buf);
      });
      // Bounded: a server that drops parts answers short, and the comparison below says so.
      setTimeout(() => resolve(buf), 5000);
      sock.write(Buffer.concat(Array.from({ length: 9 }, (_, i) => frame(i + 1))));
    });
    const expected = Buffer.concat(
      Array.from({ length: 9 }, (_, i) => {
        const b = Buffer.alloc(12);
        b.writeInt32BE(8, 0);
        b.writeInt32BE(i + 1, 4);
        b.writeInt32BE((i + 1) * 7, 8);
        return b;
      }),
    );
    expect(got.equals(expected)).toBe(true);
  });
});
