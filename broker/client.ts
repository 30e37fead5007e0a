/**
 * A minimal Kafka client connection used between brokers (follower fetches) and by tests: one TCP
 * socket, requests pipelined, responses matched by correlation id, every request bounded by a
 * timeout. Uses the same codec as the server, in the client direction. Requests sent in the same tick
 * leave in one write (the socket is corked at the first and uncorked on the next tick).
 */
import { decodeResponse, encodeRequest } from './protocol/codec.ts';
import { realRuntime } from './runtime/real.ts';
import type { Runtime, Socket, TimerHandle } from './runtime/runtime.ts';

export class ConnectionClosedError extends Error {
  readonly code = 'CONNECTION_CLOSED';
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

export class RequestTimeoutError extends Error {
  readonly code = 'REQUEST_TIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'RequestTimeoutError';
  }
}

interface Pending {
  apiKey: number;
  apiVersion: number;
  resolve: (body: any) => void;
  reject: (err: Error) => void;
  timer: TimerHandle;
}

export class KafkaConnection {
  private readonly socket: Socket;
  private readonly runtime: Pick<Runtime, 'net' | 'timers'>;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closedError: Error | null = null;
  private corked = false;
  readonly clientId: string;
  readonly ready: Promise<void>;

  private constructor(host: string, port: number, clientId: string, connectTimeoutMs: number, runtime: Pick<Runtime, 'net' | 'timers'>) {
    this.clientId = clientId;
    this.runtime = runtime;
    this.socket = runtime.net.connect(host, port);
    this.socket.setNoDelay(true);
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = runtime.timers.setTimeout(() => {
        this.close(new ConnectionClosedError(`connect to ${host}:${port} timed out after ${connectTimeoutMs} ms`));
        reject(this.closedError);
      }, connectTimeoutMs);
      this.socket.once('connect', () => {
        runtime.timers.clearTimeout(timer);
        resolve();
      });
      this.socket.once('error', (err) => {
        runtime.timers.clearTimeout(timer);
        reject(err);
      });
    });
    this.ready.catch(() => undefined);
    this.socket.on('data', (d) => this.onData(d));
    this.socket.on('error', (err) => this.close(new ConnectionClosedError(`connection to ${host}:${port} failed: ${err.message}`)));
    this.socket.on('close', () => this.close(new ConnectionClosedError(`connection to ${host}:${port} closed`)));
  }

  /** `runtime`: the network and timers to use (default: TCP and Node's timers). */
  static async connect(host: string, port: number, opts: { clientId?: string; connectTimeoutMs?: number; runtime?: Pick<Runtime, 'net' | 'timers'> } = {}): Promise<KafkaConnection> {
    const c = new KafkaConnection(host, port, opts.clientId ?? 'faultline', opts.connectTimeoutMs ?? 5000, opts.runtime ?? realRuntime);
    await c.ready;
    return c;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Sends one request; resolves with the decoded response body. */
  request(apiKey: number, apiVersion: number, body: object, timeoutMs: number): Promise<any> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = this.nextCorrelationId++ & 0x7fffffff;
    const frame = encodeRequest(apiKey, apiVersion, correlationId, this.clientId, body);
    return new Promise((resolve, reject) => {
      const timer = this.runtime.timers.setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new RequestTimeoutError(`request apiKey=${apiKey} v${apiVersion} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { apiKey, apiVersion, resolve, reject, timer });
      this.write(frame);
    });
  }

  /** Sends a request that gets no response (Produce with acks=0). */
  send(apiKey: number, apiVersion: number, body: object): void {
    if (this.closedError) throw this.closedError;
    const correlationId = this.nextCorrelationId++ & 0x7fffffff;
    this.write(encodeRequest(apiKey, apiVersion, correlationId, this.clientId, body));
  }

  private write(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame);
  }

  /** Writes raw bytes (tests of malformed input). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    for (;;) {
      if (this.buffered < 4) return;
      let head = this.chunks[0]!;
      if (head.length < 4) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      const size = head.readInt32BE(0);
      if (this.buffered < 4 + size) return;
      if (head.length < 4 + size) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      const frame = head.subarray(4, 4 + size);
      if (head.length === 4 + size) this.chunks.shift();
      else this.chunks[0] = head.subarray(4 + size);
      this.buffered -= 4 + size;
      const correlationId = frame.readInt32BE(0);
      const p = this.pending.get(correlationId);
      if (!p) continue;
      this.pending.delete(correlationId);
      this.runtime.timers.clearTimeout(p.timer);
      try {
        p.resolve(decodeResponse(p.apiKey, p.apiVersion, frame).body);
      } catch (err) {
        p.reject(err as Error);
      }
    }
  }

  close(err: Error = new ConnectionClosedError('connection closed by client')): void {
    if (this.closedError) return;
    this.closedError = err;
    this.socket.destroy();
    for (const p of this.pending.values()) {
      this.runtime.timers.clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}
