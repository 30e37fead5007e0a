/**
 * The Kafka TCP listener: framing, per-connection ordering, bounded pipelining, and isolation of bad
 * input.
 *
 * Invariants:
 * - Responses on one connection go out in request order (Kafka clients match by order as well as by
 *   correlation id), whatever order the handlers finish in.
 * - At most `maxInFlightPerConnection` requests of one connection are being handled; beyond that the
 *   socket stops being read (TCP back-pressure) until a response is written.
 * - Responses that become ready in the same turn of the event loop leave in one write (the socket is
 *   corked at the first and uncorked on the next tick): with many requests in flight, acks=all
 *   completes a whole run of waiters at once, and one writev replaces a send() per response.
 * - Before the uncork, `beforeSend` runs (the node's write-behind drain): responses leave only after
 *   every log append they could acknowledge is written; if it fails, the connection closes unsent.
 * - A frame that cannot be parsed, an unknown API key, an unsupported version (other than ApiVersions,
 *   which is answered in v0 with UNSUPPORTED_VERSION as Kafka does) or a size beyond
 *   `socket.request.max.bytes` closes that connection only; the broker logs it and serves the rest.
 */
import { readRequestHeader, ProtocolError } from './protocol/codec.ts';
import type { Logger } from './logger.ts';
import { realNetwork } from './runtime/real.ts';
import type { Listener, Network, Socket } from './runtime/runtime.ts';

export interface RequestContext {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  frame: Buffer;
  bodyOffset: number;
  connectionId: number;
  remote: string;
}

/**
 * What a handler returns: an encoded response (size-prefixed), the same as parts written in order
 * (a Fetch response whose records buffers go out without being copied into one frame; they must not
 * change until written), or null for no response (acks=0).
 */
export type HandlerResult = Buffer | readonly Buffer[] | null;

/** Thrown by a handler to close the connection (Kafka's way to answer some errors, e.g. acks=0 failures). */
export class CloseConnection extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CloseConnection';
  }
}

/**
 * Requests of one connection handled at once by default. A pipelining producer keeps many acks=all
 * requests open while they wait for replication; below its window the rest wait unread in the socket
 * and each replication round can complete at most this many (64 capped a 256-deep window at a quarter).
 */
export const DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION = 512;

export interface ServerOptions {
  host: string;
  port: number;
  maxFrameBytes: number;
  maxInFlightPerConnection?: number;
  logger: Logger;
  /** Where the listener binds (default: TCP). */
  net?: Network;
  handle(ctx: RequestContext): Promise<HandlerResult> | HandlerResult;
  /**
   * Called before a connection hands this turn's responses to the socket; if it throws, the
   * connection is closed instead and those responses are never sent. The node passes its
   * write-behind's drain (log/write-behind.ts): no acknowledgement leaves before what it
   * acknowledges is written.
   */
  beforeSend?: () => void;
}

export class KafkaServer {
  private server: Listener | null = null;
  private readonly connections = new Set<Connection>();
  private nextConnectionId = 1;
  private readonly opts: ServerOptions;
  constructor(opts: ServerOptions) {
    this.opts = opts;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const server = await (this.opts.net ?? realNetwork).listen({ host: this.opts.host, port: this.opts.port }, (socket) => this.accept(socket));
    this.server = server;
    return { host: server.host, port: server.port };
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const conn = new Connection(this.nextConnectionId++, socket, this.opts, () => this.connections.delete(conn));
    this.connections.add(conn);
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    const server = this.server;
    this.server = null;
    if (server) await server.close();
  }
}

class Connection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly queue: Array<{ done: boolean; out: HandlerResult }> = [];
  private inFlight = 0;
  private closed = false;
  private corked = false;
  private readonly remote: string;
  private readonly maxInFlight: number;
  private readonly id: number;
  private readonly socket: Socket;
  private readonly opts: ServerOptions;
  private readonly onClose: () => void;

  constructor(id: number, socket: Socket, opts: ServerOptions, onClose: () => void) {
    this.id = id;
    this.socket = socket;
    this.opts = opts;
    this.onClose = onClose;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.maxInFlight = opts.maxInFlightPerConnection ?? DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION;
    socket.on('data', (d) => this.onData(d));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onClose();
  }

  private fail(reason: string): void {
    this.opts.logger.warn(`closing connection ${this.id} from ${this.remote}: ${reason}`);
    this.destroy();
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    this.chunks.push(data);
    this.buffered += data.length;
    this.drainFrames();
  }

  private drainFrames(): void {
    while (!this.closed && this.inFlight < this.maxInFlight && this.buffered >= 4) {
      const head = this.peek(4);
      const size = head.readInt32BE(0);
      if (size < 8 || size > this.opts.maxFrameBytes) {
        this.fail(`frame size ${size} outside [8, ${this.opts.maxFrameBytes}] (socket.request.max.bytes)`);
        return;
      }
      if (this.buffered < 4 + size) return;
      const whole = this.take(4 + size);
      this.dispatch(whole.subarray(4));
    }
    if (this.inFlight >= this.maxInFlight) this.socket.pause();
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    let first = this.chunks[0]!;
    if (first.length < n) {
      first = Buffer.concat(this.chunks);
      this.chunks = [first];
    }
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }

  private dispatch(frame: Buffer): void {
    let ctx: RequestContext;
    try {
      const h = readRequestHeader(frame);
      ctx = {
        apiKey: h.apiKey,
        apiVersion: h.apiVersion,
        correlationId: h.correlationId,
        clientId: h.clientId,
        frame,
        bodyOffset: h.bodyOffset,
        connectionId: this.id,
        remote: this.remote,
      };
    } catch (err) {
      this.fail(`malformed request header: ${(err as Error).message}`);
      return;
    }
    const slot = { done: false, out: null as HandlerResult };
    this.queue.push(slot);
    this.inFlight++;
    let result: Promise<HandlerResult>;
    try {
      result = Promise.resolve(this.opts.handle(ctx));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (out) => {
        slot.done = true;
        slot.out = out;
        this.flush();
      },
      (err: unknown) => {
        if (err instanceof CloseConnection) this.fail(err.message);
        else if (err instanceof ProtocolError) this.fail(`malformed ${describe(ctx)}: ${(err as Error).message}`);
        else {
          this.opts.logger.error(`handler failed for ${describe(ctx)}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          this.destroy();
        }
      },
    );
  }

  private flush(): void {
    while (this.queue.length > 0 && this.queue[0]!.done) {
      const slot = this.queue.shift()!;
      this.inFlight--;
      if (slot.out && !this.closed) this.write(slot.out);
    }
    if (!this.closed && this.inFlight < this.maxInFlight) {
      this.socket.resume();
      this.drainFrames();
    }
  }

  /** Writes `out`, batching every write of this tick into one (see the class invariants). */
  private write(out: Buffer | readonly Buffer[]): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        try {
          this.opts.beforeSend?.();
        } catch (err) {
          this.opts.logger.error(`closing connection ${this.id} from ${this.remote} with its responses unsent: ${(err as Error).message}`);
          this.destroy();
          return;
        }
        this.socket.uncork();
      });
    }
    if (Buffer.isBuffer(out)) this.socket.write(out);
    else for (const part of out) this.socket.write(part);
  }
}

function describe(ctx: RequestContext): string {
  return `request apiKey=${ctx.apiKey} v${ctx.apiVersion} correlationId=${ctx.correlationId} from ${ctx.remote}`;
}
