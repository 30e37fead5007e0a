/**
 * TCP transport between controller nodes, on each node's controller listener.
 *
 * Framing: [u32 BE length][UTF-8 JSON], length <= MAX_FRAME_BYTES (64 MiB). A frame that is too
 * long, not JSON, or not one of the shapes below closes that connection only.
 *
 * Two kinds of traffic share a listener:
 * - Raft: `{ kind: 'raft', from, message }`, fire-and-forget over one outbound connection per peer.
 *   `send` drops the message when that connection is not up or its write buffer is over
 *   `maxBufferedBytes` (Raft retries by itself); a lost connection is re-dialled with exponential
 *   backoff from `reconnectMinMs` to `reconnectMaxMs`. Messages are validated with `parseMessage`
 *   and `from` must be a configured peer.
 * - RPC: `{ kind: 'rpc', id, method, params }` answered by
 *   `{ kind: 'rpc-reply', id, result }` or `{ kind: 'rpc-reply', id, error: { code, message } }`.
 *   Handlers are registered with `onRpc(method, handler)`; an error thrown by a handler travels
 *   back with its string `code` (or 'INTERNAL'). At most `maxInFlightRpcs` calls run per connection;
 *   beyond that the reply is an 'OVERLOADED' error.
 *   `RpcClient.call(address, method, params, timeoutMs)` reuses one connection per address; every
 *   call settles within its timeout (RpcTimeoutError, code 'TIMEOUT'), and one that times out on a
 *   connection that brought nothing back since it was sent drops that connection (the next call
 *   dials afresh); a connection failure rejects the calls on it with RpcConnectionError (code
 *   'CONNECTION'); an error reply rejects with RpcError carrying the remote code. Pending calls are
 *   bounded by `maxPendingCalls`.
 */
import { realRuntime } from '../../runtime/real.ts';
import type { Listener, Runtime, Socket, TimerHandle } from '../../runtime/runtime.ts';
import type { Message } from './messages.ts';
import { parseMessage } from './messages.ts';

export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export type HostPort = { host: string; port: number };
export type Address = string | HostPort;

export class FrameError extends Error {
  readonly code = 'BAD_FRAME';
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** An error reply from the remote handler (or a local limit), with its stable code. */
export class RpcError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
  }
}

export class RpcTimeoutError extends RpcError {
  constructor(method: string, timeoutMs: number) {
    super('TIMEOUT', `rpc ${method} timed out after ${timeoutMs} ms`);
    this.name = 'RpcTimeoutError';
  }
}

/** The connection carrying the call failed; the call may or may not have run remotely. */
export class RpcConnectionError extends Error {
  readonly code = 'CONNECTION';
  constructor(message: string) {
    super(message);
    this.name = 'RpcConnectionError';
  }
}

export function encodeFrame(value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  if (body.length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** Incremental decoder of length-prefixed JSON frames; throws FrameError on bad input. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): unknown[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: unknown[] = [];
    // Each iteration consumes one frame or returns: bounded by the bytes received.
    for (;;) {
      if (this.buffered < 4) return out;
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len > MAX_FRAME_BYTES) throw new FrameError(`frame length ${len} exceeds ${MAX_FRAME_BYTES}`);
      if (this.buffered < 4 + len) return out;
      const frame = this.take(4 + len);
      try {
        out.push(JSON.parse(frame.toString('utf8', 4)));
      } catch {
        throw new FrameError('frame is not valid JSON');
      }
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

export function parseAddress(a: Address): HostPort {
  if (typeof a !== 'string') return a;
  const i = a.lastIndexOf(':');
  const port = Number(a.slice(i + 1));
  const host = a.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RpcError('BAD_ADDRESS', `address must be host:port with port 1-65535, got "${a}"`);
  }
  return { host, port };
}

export type RpcHandler = (params: unknown) => Promise<unknown> | unknown;
export type RaftMessageHandler = (from: number, message: Message) => void;
export type TransportLogger = { debug(msg: string): void; warn(msg: string): void };

export type RaftTransportOptions = {
  nodeId: number;
  listen: HostPort;
  peers: ReadonlyMap<number, HostPort>;
  onRaftMessage: RaftMessageHandler;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  maxBufferedBytes?: number;
  maxInFlightRpcs?: number;
  /**
   * The receiving side of a Raft connection acknowledges traffic on that same connection (a tiny
   * `ack` frame, at most every staleMs/4). An outbound connection that carried messages but brought
   * no ack for this long is reset: after a partition heals, a TCP connection whose segments were
   * dropped can stay silent for many seconds (retransmission back-off), while a fresh one gets
   * through at once.
   */
  staleMs?: number;
  logger?: TransportLogger;
  /** The network, clock and timers (default: the real ones). */
  runtime?: Pick<Runtime, 'net' | 'clock' | 'timers'>;
};

type Peer = {
  addr: HostPort;
  socket: Socket | null;
  connected: boolean;
  backoffMs: number;
  timer: TimerHandle | null;
  connectedAtMs: number;
  lastSentMs: number;
  lastAckMs: number;
};

/** The controller listener plus outbound Raft connections to every peer. */
export class RaftTransport {
  private readonly opts: Required<Omit<RaftTransportOptions, 'logger' | 'runtime'>> & { logger: TransportLogger | undefined };
  private readonly rt: Pick<Runtime, 'net' | 'clock' | 'timers'>;
  private readonly handlers = new Map<string, RpcHandler>();
  private readonly peers = new Map<number, Peer>();
  private readonly inbound = new Set<Socket>();
  private server: Listener | null = null;
  private stopped = false;
  private staleTimer: TimerHandle | null = null;

  constructor(opts: RaftTransportOptions) {
    this.opts = {
      reconnectMinMs: 50,
      reconnectMaxMs: 1000,
      maxBufferedBytes: 16 * 1024 * 1024,
      maxInFlightRpcs: 1024,
      staleMs: 2000,
      ...opts,
      logger: opts.logger,
    };
    this.rt = opts.runtime ?? realRuntime;
    for (const [id, addr] of opts.peers) {
      if (id !== opts.nodeId) this.peers.set(id, { addr, socket: null, connected: false, backoffMs: this.opts.reconnectMinMs, timer: null, connectedAtMs: 0, lastSentMs: 0, lastAckMs: 0 });
    }
  }

  /**
   * Resets outbound connections that carried messages but brought no ack back for staleMs. Every
   * time here (sends, acks, connects) is monotonic: after a wall-clock step back, wall timestamps
   * taken before it would look newer than any taken after, and a dead connection would not be reset
   * (nor acks sent) until the clock caught up.
   */
  private checkStale(): void {
    const now = this.rt.clock.monotonicMs();
    for (const [id, p] of this.peers) {
      if (!p.connected || !p.socket) continue;
      const ackedSince = Math.max(p.lastAckMs, p.connectedAtMs);
      if (p.lastSentMs > ackedSince && now - ackedSince > this.opts.staleMs) {
        this.opts.logger?.debug(`no ack from controller ${id} for ${now - ackedSince} ms while sending to it: reconnecting`);
        p.socket.destroy();
      }
    }
  }

  onRpc(method: string, handler: RpcHandler): void {
    this.handlers.set(method, handler);
  }

  /** The bound port (useful when listening on port 0). */
  get port(): number {
    return this.server?.port ?? this.opts.listen.port;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const server = await this.rt.net.listen(this.opts.listen, (s) => this.accept(s), (err) => this.opts.logger?.warn(`controller listener: ${err.message}`));
    this.server = server;
    for (const id of this.peers.keys()) this.dial(id);
    this.staleTimer = this.rt.timers.setInterval(() => this.checkStale(), Math.max(50, Math.floor(this.opts.staleMs / 4)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.rt.timers.clearInterval(this.staleTimer);
    this.staleTimer = null;
    for (const p of this.peers.values()) {
      this.rt.timers.clearTimeout(p.timer);
      p.timer = null;
      p.socket?.destroy();
      p.socket = null;
      p.connected = false;
    }
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
    const server = this.server;
    this.server = null;
    if (server) await server.close();
  }

  /** Fire-and-forget; dropped unless the connection to `to` is up and not backed up. */
  send(to: number, message: Message): boolean {
    const p = this.peers.get(to);
    if (!p || !p.connected || !p.socket) return false;
    if (p.socket.writableLength > this.opts.maxBufferedBytes) return false;
    p.socket.write(encodeFrame({ kind: 'raft', from: this.opts.nodeId, message }));
    p.lastSentMs = this.rt.clock.monotonicMs();
    return true;
  }

  isConnected(to: number): boolean {
    return this.peers.get(to)?.connected ?? false;
  }

  // --- outbound --------------------------------------------------------------------------------

  private dial(id: number): void {
    const p = this.peers.get(id)!;
    if (this.stopped || p.socket) return;
    const s = this.rt.net.connect(p.addr.host, p.addr.port);
    p.socket = s;
    s.setNoDelay(true);
    // A SYN lost to a partition is retried by the kernel after 1 s, 3 s, 7 s...: give up on the
    // attempt after staleMs and dial afresh instead, so a healed network is used at once.
    const connectTimer = this.rt.timers.setTimeout(() => {
      if (p.socket === s && !p.connected) s.destroy();
    }, this.opts.staleMs);
    s.once('close', () => this.rt.timers.clearTimeout(connectTimer));
    s.on('connect', () => {
      this.rt.timers.clearTimeout(connectTimer);
      p.connected = true;
      p.connectedAtMs = this.rt.clock.monotonicMs();
      p.backoffMs = this.opts.reconnectMinMs;
      this.opts.logger?.debug(`connected to controller ${id}`);
    });
    s.on('data', () => {
      // The only thing a peer sends back on this connection is an ack frame: any byte proves it is alive.
      p.lastAckMs = this.rt.clock.monotonicMs();
    });
    s.on('error', () => undefined); // 'close' follows
    s.on('close', () => {
      if (p.socket !== s) return;
      p.socket = null;
      p.connected = false;
      if (this.stopped) return;
      const delay = p.backoffMs;
      p.backoffMs = Math.min(this.opts.reconnectMaxMs, p.backoffMs * 2);
      p.timer = this.rt.timers.setTimeout(() => {
        p.timer = null;
        this.dial(id);
      }, delay);
    });
  }

  // --- inbound ---------------------------------------------------------------------------------

  private accept(s: Socket): void {
    if (this.stopped) {
      s.destroy();
      return;
    }
    this.inbound.add(s);
    s.setNoDelay(true);
    const decoder = new FrameDecoder();
    let inFlight = 0;
    let lastAckSentMs = Number.NEGATIVE_INFINITY;
    const fail = (why: string) => {
      this.opts.logger?.warn(`closing controller connection from ${s.remoteAddress}:${s.remotePort}: ${why}`);
      s.destroy();
    };
    s.on('error', () => undefined);
    s.on('close', () => this.inbound.delete(s));
    s.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        fail((err as Error).message);
        return;
      }
      for (const f of frames) {
        if (s.destroyed) return;
        const o = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
        if (o['kind'] === 'raft') {
          const from = o['from'];
          const message = parseMessage(o['message']);
          if (typeof from !== 'number' || !this.peers.has(from) || message === null) {
            fail('malformed raft frame');
            return;
          }
          const now = this.rt.clock.monotonicMs();
          if (now - lastAckSentMs >= this.opts.staleMs / 4) {
            lastAckSentMs = now;
            s.write(encodeFrame({ kind: 'ack' }));
          }
          this.opts.onRaftMessage(from, message);
        } else if (o['kind'] === 'rpc') {
          const id = o['id'];
          const method = o['method'];
          if ((typeof id !== 'number' && typeof id !== 'string') || typeof method !== 'string') {
            fail('malformed rpc frame');
            return;
          }
          const reply = (body: { result: unknown } | { error: { code: string; message: string } }) => {
            if (!s.destroyed) s.write(encodeFrame({ kind: 'rpc-reply', id, ...body }));
          };
          const handler = this.handlers.get(method);
          if (!handler) {
            reply({ error: { code: 'UNKNOWN_METHOD', message: `no rpc method "${method}"` } });
            continue;
          }
          if (inFlight >= this.opts.maxInFlightRpcs) {
            reply({ error: { code: 'OVERLOADED', message: `more than ${this.opts.maxInFlightRpcs} calls in flight` } });
            continue;
          }
          inFlight++;
          Promise.resolve()
            .then(() => handler(o['params']))
            .then(
              (result) => reply({ result: result ?? null }),
              (err: unknown) => {
                const e = err as { code?: unknown; message?: unknown };
                reply({
                  error: {
                    code: typeof e?.code === 'string' ? e.code : 'INTERNAL',
                    message: typeof e?.message === 'string' ? e.message : String(err),
                  },
                });
              },
            )
            .finally(() => inFlight--);
        } else {
          fail('unknown frame kind');
          return;
        }
      }
    });
  }
}

type Pending = { method: string; resolve: (v: unknown) => void; reject: (e: Error) => void; timer: TimerHandle };
/** `chunksReceived`: how many times bytes arrived on the connection (a timed-out call on a silent connection drops it). */
type ClientConn = { socket: Socket; pending: Map<number, Pending>; chunksReceived: number };

export type RpcClientOptions = { maxPendingCalls?: number; runtime?: Pick<Runtime, 'net' | 'clock' | 'timers'> };

/** Calls RPCs on other nodes' controller listeners, one reused connection per address. */
export class RpcClient {
  private readonly conns = new Map<string, ClientConn>();
  private readonly maxPendingCalls: number;
  private nextId = 1;
  private pendingCount = 0;
  private closed = false;
  private readonly rt: Pick<Runtime, 'net' | 'clock' | 'timers'>;

  constructor(opts: RpcClientOptions = {}) {
    this.maxPendingCalls = opts.maxPendingCalls ?? 4096;
    this.rt = opts.runtime ?? realRuntime;
  }

  call(address: Address, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new RpcConnectionError('rpc client is closed'));
      if (!(timeoutMs > 0)) return reject(new RpcError('BAD_TIMEOUT', `timeoutMs must be > 0, got ${timeoutMs}`));
      if (this.pendingCount >= this.maxPendingCalls) {
        return reject(new RpcError('OVERLOADED', `more than ${this.maxPendingCalls} rpc calls pending`));
      }
      const id = this.nextId++;
      let hp: HostPort;
      let frame: Buffer;
      try {
        hp = parseAddress(address);
        frame = encodeFrame({ kind: 'rpc', id, method, params });
      } catch (err) {
        return reject(err as Error);
      }
      const conn = this.connection(hp);
      const chunksAtSend = conn.chunksReceived;
      const timer = this.rt.timers.setTimeout(() => {
        if (conn.pending.delete(id)) this.pendingCount--;
        // Nothing at all came back on this connection since the call went out: it may be stalled
        // (segments lost to a partition, a SYN lost to a powered-off host); drop it so the next call
        // dials afresh. Invariant: a call that times out on a connection that received nothing while
        // it waited drops that connection, so a silent connection outlives at most one call timeout.
        // "Nothing received" is counted, not timed: a wall-clock timestamp of the last data compared
        // with the send time breaks when the clock steps back (every later call then looks answered,
        // and a dead connection is kept until the clock catches up) and when a new connection and its
        // first call share a millisecond.
        if (conn.chunksReceived === chunksAtSend) conn.socket.destroy();
        reject(new RpcTimeoutError(method, timeoutMs));
      }, timeoutMs);
      conn.pending.set(id, { method, resolve, reject, timer });
      this.pendingCount++;
      conn.socket.write(frame);
    });
  }

  close(): void {
    this.closed = true;
    for (const c of [...this.conns.values()]) c.socket.destroy();
  }

  private connection(hp: HostPort): ClientConn {
    const key = `${hp.host}:${hp.port}`;
    const existing = this.conns.get(key);
    if (existing && !existing.socket.destroyed) return existing;
    const socket = this.rt.net.connect(hp.host, hp.port);
    socket.setNoDelay(true);
    const conn: ClientConn = { socket, pending: new Map(), chunksReceived: 0 };
    this.conns.set(key, conn);
    const decoder = new FrameDecoder();
    let failure = `connection to ${key} closed`;
    socket.on('error', (err) => {
      failure = `connection to ${key} failed: ${err.message}`;
    });
    socket.on('close', () => {
      if (this.conns.get(key) === conn) this.conns.delete(key);
      for (const [id, p] of conn.pending) {
        this.rt.timers.clearTimeout(p.timer);
        conn.pending.delete(id);
        this.pendingCount--;
        p.reject(new RpcConnectionError(failure));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      conn.chunksReceived++;
      let frames: unknown[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        failure = `bad reply from ${key}: ${(err as Error).message}`;
        socket.destroy();
        return;
      }
      for (const f of frames) {
        const o = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
        const id = o['id'];
        const p = typeof id === 'number' ? conn.pending.get(id) : undefined;
        if (o['kind'] !== 'rpc-reply' || p === undefined) continue; // late reply after a timeout
        conn.pending.delete(id as number);
        this.pendingCount--;
        this.rt.timers.clearTimeout(p.timer);
        const error = o['error'] as { code?: unknown; message?: unknown } | undefined;
        if (error !== undefined && error !== null) {
          p.reject(new RpcError(typeof error.code === 'string' ? error.code : 'INTERNAL', typeof error.message === 'string' ? error.message : 'rpc failed'));
        } else {
          p.resolve(o['result']);
        }
      }
    });
    return conn;
  }
}
