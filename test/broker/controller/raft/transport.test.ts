/**
 * Controller transport on loopback: frame decoding at every split point, RPC results and remote
 * error codes, bounded timeouts, a silent connection dropped by a timed-out call (whatever the wall
 * clock does), connection errors, malformed/oversized frames closing only their connection, Raft
 * message delivery and reconnection; parseVoters messages.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  FrameError,
  MAX_FRAME_BYTES,
  RaftTransport,
  RpcClient,
  RpcConnectionError,
  RpcError,
  RpcTimeoutError,
  encodeFrame,
} from '../../../../broker/controller/raft/transport.ts';
import type { Message } from '../../../../broker/controller/raft/messages.ts';
import { parseVoters } from '../../../../broker/controller/raft/node.ts';
import { realNetwork, realTimers } from '../../../../broker/runtime/real.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}
async function server(
  nodeId = 1,
  peers = new Map<number, { host: string; port: number }>(),
  onRaft: (from: number, m: Message) => void = () => undefined,
  port = 0,
) {
  const t = new RaftTransport({ nodeId, listen: { host: '127.0.0.1', port }, peers, onRaftMessage: onRaft, reconnectMinMs: 10, reconnectMaxMs: 40 });
  await t.start();
  cleanup.push(() => t.stop());
  return t;
}
function client(): RpcClient {
  const c = new RpcClient();
  cleanup.push(() => c.close());
  return c;
}
async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
function rawClosed(port: number, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 1000);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('FrameDecoder', () => {
  it('decodes frames split at every byte boundary and several frames per chunk', () => {
    const values = [{ a: 1 }, 'x', [1, 2, { é: 'ü' }], null];
    const wire = Buffer.concat(values.map(encodeFrame));
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new FrameDecoder();
      expect([...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))]).toEqual(values);
    }
  });
  it('rejects oversized lengths before buffering them, and non-JSON bodies', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expect(() => new FrameDecoder().push(head)).toThrow(FrameError);
    const bad = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{x}')]);
    expect(() => new FrameDecoder().push(bad)).toThrow(/not valid JSON/);
  });
});

describe('RPC over the controller listener', () => {
  it('round-trips results and remote error codes, and reports unknown methods', async () => {
    const t = await server();
    t.onRpc('echo', async (p) => ({ got: p }));
    t.onRpc('boom', () => {
      throw Object.assign(new Error('nope'), { code: 'NOT_CONTROLLER' });
    });
    const c = client();
    const addr = `127.0.0.1:${t.port}`;
    await expect(c.call(addr, 'echo', { n: 1 }, 1000)).resolves.toEqual({ got: { n: 1 } });
    await expect(Promise.all([1, 2, 3].map((n) => c.call(addr, 'echo', n, 1000)))).resolves.toEqual([{ got: 1 }, { got: 2 }, { got: 3 }]);
    const err = await c.call(addr, 'boom', null, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: 'NOT_CONTROLLER', message: 'nope' });
    await expect(c.call(addr, 'missing', null, 1000)).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
  });

  it('bounds every call by its timeout and rejects on connection failure', async () => {
    const t = await server();
    t.onRpc('hang', () => new Promise(() => undefined));
    const c = client();
    const t0 = Date.now();
    await expect(c.call(`127.0.0.1:${t.port}`, 'hang', null, 80)).rejects.toBeInstanceOf(RpcTimeoutError);
    expect(Date.now() - t0).toBeLessThan(1000);
    const deadPort = await freePort();
    await expect(c.call(`127.0.0.1:${deadPort}`, 'x', null, 1000)).rejects.toBeInstanceOf(RpcConnectionError);
    await expect(c.call('no-port', 'x', null, 1000)).rejects.toMatchObject({ code: 'BAD_ADDRESS' });
  });

  it('drops a connection that brought nothing back when a call on it times out, even after the wall clock steps back', async () => {
    // A peer that accepts and never answers (a SYN-ACK from a host whose process is stuck, or a stall).
    const accepted: net.Socket[] = [];
    const silent = net.createServer((s) => {
      accepted.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => {
      for (const s of accepted) s.destroy();
      return new Promise<void>((r) => silent.close(() => r()));
    });
    // The wall clock steps back 49 s right after the connection is made (seed 784 of the simulation).
    let reads = 0;
    const clock = { nowMs: () => (reads++ === 0 ? 1_000_000 : 1_000_000 - 49_000), monotonicMs: () => performance.now() };
    const c = new RpcClient({ runtime: { net: realNetwork, timers: realTimers, clock } });
    cleanup.push(() => c.close());
    const addr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    await expect(c.call(addr, 'x', null, 50)).rejects.toBeInstanceOf(RpcTimeoutError);
    await expect(c.call(addr, 'x', null, 50)).rejects.toBeInstanceOf(RpcTimeoutError);
    await waitFor(() => accepted.length === 2);
  });

  it('closes only the offending connection on a malformed or oversized frame', async () => {
    const t = await server();
    t.onRpc('echo', async (p) => p);
    const c = client();
    const addr = `127.0.0.1:${t.port}`;
    await expect(c.call(addr, 'echo', 1, 1000)).resolves.toBe(1);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expect(await rawClosed(t.port, huge)).toBe(true);
    expect(await rawClosed(t.port, Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('{]')]))).toBe(true);
    expect(await rawClosed(t.port, encodeFrame({ kind: 'raft', from: 1, message: { type: 'bogus' } }))).toBe(true);
    expect(await rawClosed(t.port, encodeFrame({ kind: 'what' }))).toBe(true);
    await expect(c.call(addr, 'echo', 2, 1000)).resolves.toBe(2);
  });
});

describe('Raft messages between transports', () => {
  it('delivers messages once connected, drops them when not, and reconnects after the peer restarts', async () => {
    const got: Array<[number, Message]> = [];
    const aPort = await freePort();
    const b = await server(2, new Map([[1, { host: '127.0.0.1', port: aPort }]]), (from, m) => got.push([from, m]));
    const a = await server(1, new Map([[2, { host: '127.0.0.1', port: b.port }]]), undefined, aPort);
    const msg: Message = { type: 'vote-resp', term: 3, granted: true, pre: false };
    await waitFor(() => a.isConnected(2));
    expect(a.send(2, msg)).toBe(true);
    await waitFor(() => got.length === 1);
    expect(got[0]).toEqual([1, msg]);
    expect(a.send(9, msg)).toBe(false);

    const port = b.port;
    await b.stop();
    await waitFor(() => !a.isConnected(2));
    expect(a.send(2, msg)).toBe(false);
    const got2: Message[] = [];
    // A frame from a node that is not a configured peer closes the connection.
    expect(await rawClosed(aPort, encodeFrame({ kind: 'raft', from: 7, message: msg }))).toBe(true);
    await server(2, new Map([[1, { host: '127.0.0.1', port: aPort }]]), (_from, m) => got2.push(m), port);
    await waitFor(() => a.isConnected(2), 3000);
    a.send(2, msg);
    await waitFor(() => got2.length === 1);
  });
});

describe('parseVoters', () => {
  it('parses id@host:port lists, including IPv6 hosts', () => {
    expect(parseVoters('1@127.0.0.1:9093, 2@localhost:9094,3@[::1]:9095')).toEqual([
      { id: 1, host: '127.0.0.1', port: 9093 },
      { id: 2, host: 'localhost', port: 9094 },
      { id: 3, host: '::1', port: 9095 },
    ]);
  });
  it('says what is wrong', () => {
    expect(() => parseVoters('')).toThrow(/must not be empty/);
    expect(() => parseVoters('1@h')).toThrow(/expected id@host:port/);
    expect(() => parseVoters('x@h:1')).toThrow(/expected id@host:port/);
    expect(() => parseVoters('1@h:70000')).toThrow(/port must be 1-65535/);
    expect(() => parseVoters('1@h:1,1@g:2')).toThrow(/appears twice/);
  });
});
