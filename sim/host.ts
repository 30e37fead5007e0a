/**
 * A simulated machine: its process state, its clock (drift and jumps), its disk, its listeners.
 *
 * - `up`: the process runs. `down`: the process was killed (the kernel keeps the page cache, so the
 *   disk loses nothing; peers' connections are reset). `off`: power loss (the disk keeps only what
 *   was fsynced, see fs.ts; nothing answers on the network, not even a reset).
 * - Clock: monotonic time runs at `rate` times virtual time from a random origin; wall time is the
 *   same plus `wallOffsetMs`, which a clock jump changes (monotonic time never jumps). A timer of
 *   d ms fires after d / rate ms of virtual time.
 */
import { SimFileSystem } from './fs.ts';
import type { Prng } from './prng.ts';
import type { EventOwner, SimEvent } from './scheduler.ts';

/** 2026-01-01T00:00:00Z: wall time at virtual time 0, before a host's own offset. */
export const SIM_EPOCH_MS = 1_767_225_600_000;

export type HostState = 'up' | 'down' | 'off';

export class SimHost implements EventOwner {
  readonly name: string;
  incarnation = 0;
  paused = false;
  readonly held: SimEvent[] = [];
  state: HostState = 'down';
  readonly disk = new SimFileSystem();
  /** Monotonic ms per virtual ms (drift). */
  rate: number;
  wallOffsetMs: number;
  readonly monoOriginMs: number;

  constructor(name: string, prng: Prng, maxDrift: number) {
    this.name = name;
    this.rate = 1 + (prng.next() * 2 - 1) * maxDrift;
    this.wallOffsetMs = prng.int(-500, 500);
    this.monoOriginMs = prng.int(1_000, 1_000_000);
  }

  monotonicMs(virtualMs: number): number {
    return this.monoOriginMs + virtualMs * this.rate;
  }

  wallMs(virtualMs: number): number {
    return SIM_EPOCH_MS + virtualMs * this.rate + this.wallOffsetMs;
  }
}
