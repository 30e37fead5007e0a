/**
 * The simulated network: hosts by name, listeners by (host, port), and connections that behave as
 * TCP does for the code above it (runtime.ts's Socket contract): each direction is an ordered
 * pipe, so bytes arrive in order and once, after a per-link delay; a connection ends with 'close'.
 *
 * Faults:
 * - Partitions are per direction (`cut(from, to)`; one-way partitions included): bytes sent over a
 *   cut direction wait in their pipe (TCP retransmits) and go out when the direction heals; so do
 *   connection attempts (a SYN into a partition gets no answer; the caller's connect timeout acts).
 * - A lossy link (`resetRate`): each delivery may instead reset the connection (what persistent
 *   loss does to a TCP connection: it dies, the peers reconnect). TCP never shows a reordered or
 *   duplicated byte to the application, so the simulation does not either: reordering happens
 *   between connections (each has its own pipe and delays), duplicates are the clients' retries.
 * - A killed process: its connections are reset (peers get 'close'); connecting to it is refused.
 *   A powered-off host answers nothing: bytes to it vanish and connections to it hang until the
 *   caller's timeout, as with a real machine that lost power.
 */
import { EventEmitter } from 'node:events';
import type { Listener, Network, Socket } from '../broker/runtime/runtime.ts';
import type { SimHost } from './host.ts';
import type { Prng } from './prng.ts';
import type { Scheduler } from './scheduler.ts';

export interface LinkOptions {
  minDelayMs: number;
  maxDelayMs: number;
  /** Per delivery, the chance the connection is reset instead. */
  resetRate: number;
}

interface Packet {
  /** syn: connection request (client to server) or its acceptance (server to client); fin: an orderly close. */
  kind: 'syn' | 'data' | 'fin';
  data?: Buffer;
}

/** One direction of a connection: from `src` to `dst` (the server's socket is created when the SYN arrives). */
class Pipe {
  lastDeliverAtMs = 0;
  /** Bytes written and not yet delivered. */
  inFlightBytes = 0;
  /** Packets waiting for a cut direction to heal. */
  readonly stalled: Packet[] = [];
  dst: SimSocket | null = null;
  readonly from: SimHost;
  readonly to: SimHost;
  readonly src: SimSocket;
  /** The port a SYN asks for. */
  readonly port: number;
  constructor(from: SimHost, to: SimHost, src: SimSocket, port: number) {
    this.from = from;
    this.to = to;
    this.src = src;
    this.port = port;
  }
}

export class SimSocket extends EventEmitter implements Socket {
  readonly id: number;
  readonly host: SimHost;
  readonly incarnation: number;
  peer: SimSocket | null = null;
  out: Pipe | null = null;
  destroyed = false;
  connected = false;
  #paused = false;
  #pausedData: Buffer[] = [];
  /** cork() depth, and the writes held meanwhile (node:net's semantics: sent at the last uncork, dropped by destroy). */
  #corked = 0;
  #held: Buffer[] = [];
  #heldBytes = 0;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  readonly #net: SimNetwork;

  constructor(net: SimNetwork, host: SimHost, remote: { host: string; port: number }) {
    super();
    this.#net = net;
    this.id = net.nextSocketId++;
    this.host = host;
    this.incarnation = host.incarnation;
    this.remoteAddress = remote.host;
    this.remotePort = remote.port;
  }

  get alive(): boolean {
    return this.host.incarnation === this.incarnation && this.host.state === 'up';
  }

  get writableLength(): number {
    return (this.out?.inFlightBytes ?? 0) + this.#heldBytes;
  }

  write(data: Buffer): boolean {
    if (this.destroyed || !this.out) return false;
    if (this.#corked > 0) {
      this.#held.push(Buffer.from(data));
      this.#heldBytes += data.length;
      return true;
    }
    this.#net.send(this.out, { kind: 'data', data: Buffer.from(data) });
    return true;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#held = [];
    this.#heldBytes = 0;
    if (this.out) this.#net.send(this.out, { kind: 'fin' });
    this.#net.local(this, 'close', () => this.emit('close'));
  }

  /** The connection died under us (a reset): error, then close. */
  reset(why: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#net.local(this, 'reset', () => {
      this.emit('error', Object.assign(new Error(why), { code: 'ECONNRESET' }));
      this.emit('close');
    });
  }

  deliver(data: Buffer): void {
    if (this.destroyed) return;
    if (this.#paused) this.#pausedData.push(data);
    else this.emit('data', data);
  }

  setNoDelay(): this {
    return this;
  }

  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked === 0) return;
    if (--this.#corked > 0) return;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    for (const d of held) this.write(d);
  }

  pause(): this {
    this.#paused = true;
    return this;
  }

  resume(): this {
    if (!this.#paused) return this;
    this.#paused = false;
    const queued = this.#pausedData.splice(0);
    if (queued.length > 0) this.#net.local(this, 'resume-data', () => queued.forEach((d) => this.deliver(d)));
    return this;
  }
}

export class SimNetwork {
  readonly #sched: Scheduler;
  readonly #prng: Prng;
  readonly link: LinkOptions;
  readonly #hosts = new Map<string, SimHost>();
  readonly #listeners = new Map<string, { host: SimHost; incarnation: number; onConnection: (s: Socket) => void }>();
  readonly #cut = new Set<string>();
  readonly #pipes = new Set<Pipe>();
  readonly #sockets = new Set<SimSocket>();
  /** Bytes delivered (a measure of the run). */
  bytesDelivered = 0;
  /** Per network, so that ids (and the trace) do not depend on earlier runs in the process. */
  nextSocketId = 1;

  constructor(sched: Scheduler, prng: Prng, link: LinkOptions) {
    this.#sched = sched;
    this.#prng = prng;
    this.link = link;
  }

  addHost(h: SimHost): void {
    this.#hosts.set(h.name, h);
  }

  /** A host's view of the network (what its Runtime gets). */
  forHost(h: SimHost): Network {
    return {
      listen: (address, onConnection) => this.#listen(h, address, onConnection),
      connect: (host, port) => this.#connect(h, host, port),
    };
  }

  cut(from: string, to: string): void {
    this.#cut.add(`${from}>${to}`);
  }

  isCut(from: string, to: string): boolean {
    return this.#cut.has(`${from}>${to}`);
  }

  /** Heals every partition; stalled bytes go out now (after a fresh link delay). */
  healAll(): void {
    this.#cut.clear();
    for (const p of this.#pipes) {
      const stalled = p.stalled.splice(0);
      for (const pk of stalled) this.#transmit(p, pk);
    }
  }

  /** The process on `h` died (or lost power): its sockets and listeners are gone; peers are reset unless `silent`. */
  hostDown(h: SimHost, silent: boolean): void {
    for (const [k, l] of this.#listeners) if (l.host === h) this.#listeners.delete(k);
    for (const s of [...this.#sockets]) {
      if (s.host !== h) continue;
      this.#sockets.delete(s);
      if (s.out) this.#pipes.delete(s.out);
      s.destroyed = true;
      const peer = s.peer;
      if (!silent && peer && !peer.destroyed) {
        // The kernel resets the connection: the peer hears of it after a link delay (when it can).
        this.#transmitReset(h, peer);
      }
    }
    for (const p of [...this.#pipes]) {
      // Packets still stalled towards the dead process are moot; the ones from it died with it.
      if (p.from === h) this.#pipes.delete(p);
    }
  }

  /** Runs `fn` for the socket's host as its own event (socket callbacks never run inside the caller). */
  local(s: SimSocket, label: string, fn: () => void): void {
    this.#sched.after(0, s.host, `sock${s.id} ${label}`, () => {
      if (s.incarnation === s.host.incarnation) fn();
    });
  }

  #key(host: string, port: number): string {
    return `${host}:${port}`;
  }

  #listen(h: SimHost, address: { host: string; port: number }, onConnection: (s: Socket) => void): Promise<Listener> {
    const key = this.#key(h.name, address.port);
    const existing = this.#listeners.get(key);
    if (existing && existing.incarnation === existing.host.incarnation && existing.host.state === 'up') {
      return Promise.reject(Object.assign(new Error(`listen EADDRINUSE ${key}`), { code: 'EADDRINUSE' }));
    }
    const entry = { host: h, incarnation: h.incarnation, onConnection };
    this.#listeners.set(key, entry);
    return Promise.resolve({
      host: h.name,
      port: address.port,
      close: () => {
        if (this.#listeners.get(key) === entry) this.#listeners.delete(key);
        return Promise.resolve();
      },
    });
  }

  #delay(): number {
    return this.#prng.int(this.link.minDelayMs, this.link.maxDelayMs);
  }

  #connect(h: SimHost, host: string, port: number): Socket {
    const s = new SimSocket(this, h, { host, port });
    this.#sockets.add(s);
    const target = this.#hosts.get(host);
    if (!target) {
      s.reset(`getaddrinfo ENOTFOUND ${host}`);
      return s;
    }
    const pipe = new Pipe(h, target, s, port);
    s.out = pipe;
    this.#pipes.add(pipe);
    this.send(pipe, { kind: 'syn' });
    return s;
  }

  /** Queues a packet on a pipe: in order after the pipe's earlier packets, or stalled while the direction is cut. */
  send(pipe: Pipe, pk: Packet): void {
    if (pk.data) pipe.inFlightBytes += pk.data.length;
    if (this.isCut(pipe.from.name, pipe.to.name) || pipe.stalled.length > 0) {
      pipe.stalled.push(pk);
      return;
    }
    this.#transmit(pipe, pk);
  }

  #transmit(pipe: Pipe, pk: Packet): void {
    const at = Math.max(this.#sched.nowMs + this.#delay(), pipe.lastDeliverAtMs);
    pipe.lastDeliverAtMs = at;
    this.#sched.at(at, pipe.to, `${pk.kind} ${pipe.from.name}>${pipe.to.name}${pk.data ? ` ${pk.data.length}` : ''}`, () => this.#arrive(pipe, pk));
  }

  #transmitReset(from: SimHost, to: SimSocket): void {
    if (this.isCut(from.name, to.host.name)) {
      // The reset is lost in the partition; the peer finds out on its own (timeouts, stale checks).
      return;
    }
    this.#sched.after(this.#delay(), to.host, `rst ${from.name}>${to.host.name}`, () => {
      if (to.incarnation === to.host.incarnation) to.reset('connection reset by peer');
    });
  }

  #arrive(pipe: Pipe, pk: Packet): void {
    if (pk.data) pipe.inFlightBytes -= pk.data.length;
    const dest = pipe.to;
    if (dest.state === 'off') return;
    if (pk.kind === 'syn' && pipe.dst === null && pipe.src.out === pipe) {
      this.#accept(pipe);
      return;
    }
    const target = pipe.dst;
    if (!target) return;
    if (!target.alive) {
      // The process that owned the socket is gone (killed, maybe restarted): the kernel answers with a reset.
      this.#transmitReset(dest, pipe.src);
      return;
    }
    if (target.destroyed) return;
    if (pk.kind !== 'syn' && this.#prng.chance(this.link.resetRate)) {
      target.reset('connection reset (lossy link)');
      this.#transmitReset(dest, pipe.src);
      return;
    }
    if (pk.kind === 'syn') {
      // The server accepted: the client is connected (before any reply, which follows on this pipe).
      target.peer = pipe.src;
      target.connected = true;
      target.emit('connect');
      return;
    }
    if (pk.kind === 'fin') {
      target.destroyed = true;
      this.#sockets.delete(target);
      target.emit('close');
      return;
    }
    this.bytesDelivered += pk.data!.length;
    target.deliver(pk.data!);
  }

  #accept(pipe: Pipe): void {
    const dest = pipe.to;
    const client = pipe.src;
    const l = dest.state === 'up' ? this.#listeners.get(this.#key(dest.name, pipe.port)) : undefined;
    if (!l || l.incarnation !== dest.incarnation) {
      this.#transmitRefused(pipe, client);
      return;
    }
    const server = new SimSocket(this, dest, { host: pipe.from.name, port: 40000 + (client.id % 20000) });
    this.#sockets.add(server);
    const back = new Pipe(dest, pipe.from, server, 0);
    back.dst = client;
    this.#pipes.add(back);
    server.out = back;
    server.peer = client;
    server.connected = true;
    pipe.dst = server;
    l.onConnection(server);
    this.send(back, { kind: 'syn' });
  }

  #transmitRefused(pipe: Pipe, client: SimSocket): void {
    if (this.isCut(pipe.to.name, pipe.from.name)) return;
    this.#sched.after(this.#delay(), client.host, `refused ${pipe.to.name}>${pipe.from.name}`, () => {
      if (client.incarnation === client.host.incarnation) client.reset(`connect ECONNREFUSED ${pipe.to.name}:${pipe.port}`);
    });
  }

}
