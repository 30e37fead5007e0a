/**
 * MetadataLoader: builds this node's MetadataImage from the committed metadata log and publishes it
 * to the replica manager only once the node has caught up (Kafka's MetadataLoader and
 * SnapshotGenerator, with KRaft's snapshots of `__cluster_metadata`).
 *
 * Sources: on a voter, the Raft node (`onRestore` a snapshot, `onApply` committed entries,
 * `onHighWatermark`); on an observer, the pull loop below (`observeMetadata`), which asks the voters
 * for committed entries (or, below a voter's log start, its snapshot). Every committed entry holds a
 * JSON array of metadata records, applied in log order with the entry's index as their offset.
 *
 * Invariants:
 * - Catch-up before publish. Before its first publish the loader only builds the image; it publishes
 *   once (a) its applied index has reached the high watermark learned from the Raft leader (core.ts:
 *   the commit index once it covers every entry committed before this process started; a sole
 *   voter learns it by committing its own term's no-op; an observer takes it only from the voter that
 *   is leader), and (b) its applied index has reached the durable floor: the highest index it ever
 *   published, checkpointed in `metadata/published.offset` (written atomically BEFORE the publish
 *   it records). So the replica manager never acts on an image older than one it acted on before the
 *   node stopped: an intermediate image (a topic deleted and not yet re-created, a replica moved away
 *   and not yet back) is never shown to it, and a restart cannot delete or reuse newer data.
 * - After the first publish, every applied entry that carries records is published, in order, so
 *   published images only move forward. A snapshot installed by the leader is published like an
 *   entry (it is newer than anything applied).
 * - Snapshots (SnapshotGenerator): after `metadata.log.max.record.bytes.between.snapshots` bytes of
 *   records, or when `metadata.log.max.snapshot.interval.ms` has passed since the last snapshot
 *   with records applied since, the image at the applied index goes to the snapshot sink: a voter's
 *   Raft node (which compacts its log), or an observer's own snapshot files in `metadata/`. A node
 *   starts from its newest snapshot and replays only the entries after it.
 * - What the broker serves before catch-up: nothing. `whenCaughtUp()` gates the Kafka listener
 *   (node.ts), as Kafka keeps a broker fenced until its metadata has caught up, and the replica
 *   manager holds no replica before the first publish.
 */
import path from 'node:path';
import { mkdirDurable } from '../log/fs-util.ts';
import { MetadataImage } from './image.ts';
import type { MetadataRecord } from './records.ts';
import type { Entry, Snapshot } from './raft/messages.ts';
import { readNewestSnapshot, saveSnapshotFile, writeFileAtomic } from './raft/storage.ts';
import type { RpcClient } from './raft/transport.ts';
import type { Logger } from '../logger.ts';
import { realRuntime } from '../runtime/real.ts';
import { sleepMs, type Runtime, type TimerHandle } from '../runtime/runtime.ts';

export const PUBLISHED_OFFSET_FILE = 'published.offset';

export interface MetadataLoaderOptions {
  /** The loader's own directory (`<data-dir>/metadata`): the published-offset checkpoint, an observer's snapshots. */
  dir: string;
  maxRecordBytesBetweenSnapshots: number;
  maxSnapshotIntervalMs: number;
  logger: Logger;
  nowMs?: () => number;
  /** Disk, timers and clock (default: the real ones; `nowMs` wins over its clock). */
  runtime?: Runtime;
}

/** Where snapshots of the image go: (applied index, that entry's term, the image). */
export type SnapshotSink = (index: number, term: number, data: string) => void;

/** A voter's answer to an observer's `fetchMetadata` long poll. */
export interface FetchMetadataReply {
  snapshot: Snapshot | null;
  entries: Entry[];
  leaderId: number | null;
  /** Only the leader answers with its high watermark (null when not leader or not yet known). */
  highWatermark: number | null;
}

/** Bounds of one `fetchMetadata` answer. */
export const FETCH_METADATA_MAX_ENTRIES = 500;
export const FETCH_METADATA_MAX_WAIT_MS = 2000;

export class MetadataLoader {
  readonly image = new MetadataImage();
  private readonly opts: MetadataLoaderOptions;
  private readonly now: () => number;
  private applied = 0;
  private appliedTerm = 0;
  private highWatermark: number | null = null;
  /** The highest index ever published, as checkpointed on disk. */
  private floor: number;
  private published = false;
  private readonly listeners: Array<(image: MetadataImage) => void> = [];
  private readonly appliedWaiters = new Set<() => void>();
  private readonly caughtUpWaiters: Array<() => void> = [];
  private sink: SnapshotSink | null = null;
  private bytesSinceSnapshot = 0;
  private lastSnapshotMs: number;
  private timer: TimerHandle | null = null;
  private readonly rt: Runtime;

  constructor(opts: MetadataLoaderOptions) {
    this.opts = opts;
    this.rt = opts.runtime ?? realRuntime;
    const clock = this.rt.clock;
    this.now = opts.nowMs ?? (() => clock.nowMs());
    this.lastSnapshotMs = this.now();
    mkdirDurable(opts.dir, this.rt.fs);
    this.floor = readPublishedOffset(opts.dir, opts.logger, this.rt.fs);
  }

  /** The index of the last applied entry (0 when none). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** True once the first image has been published (see the module docstring). */
  get caughtUp(): boolean {
    return this.published;
  }

  /** Resolves once caught up, or after `timeoutMs` (then `caughtUp` says which). */
  whenCaughtUp(timeoutMs: number): Promise<void> {
    if (this.published) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.rt.timers.setTimeout(resolve, timeoutMs);
      this.caughtUpWaiters.push(() => {
        this.rt.timers.clearTimeout(timer);
        resolve();
      });
    });
  }

  onPublish(cb: (image: MetadataImage) => void): void {
    this.listeners.push(cb);
  }

  setSnapshotSink(sink: SnapshotSink): void {
    this.sink = sink;
  }

  /** Starts the time-based snapshot check. */
  start(): void {
    const everyMs = Math.max(100, Math.min(this.opts.maxSnapshotIntervalMs, 5000));
    this.timer = this.rt.timers.setInterval(() => {
      if (this.bytesSinceSnapshot > 0 && this.now() - this.lastSnapshotMs >= this.opts.maxSnapshotIntervalMs) this.takeSnapshot();
    }, everyMs);
    this.timer.unref?.();
  }

  stop(): void {
    this.rt.timers.clearInterval(this.timer);
    this.timer = null;
    for (const w of [...this.appliedWaiters]) w();
  }

  /** The image becomes the snapshot's (at boot, or installed from the leader). */
  restore(s: Snapshot): void {
    if (s.index <= this.applied) return;
    this.image.restore(s.data);
    this.applied = s.index;
    this.appliedTerm = s.term;
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotMs = this.now();
    this.opts.logger.info(`metadata image restored from the snapshot at ${s.index}`);
    this.wakeAppliedWaiters();
    this.afterChange(true);
  }

  /** Applies one committed entry (a leader's no-op has payload null). */
  apply(e: Entry): void {
    if (e.index <= this.applied) return;
    this.applied = e.index;
    this.appliedTerm = e.term;
    let records: MetadataRecord[] = [];
    if (e.payload !== null && e.payload !== '') {
      try {
        records = JSON.parse(e.payload) as MetadataRecord[];
      } catch (err) {
        this.opts.logger.error(`metadata entry ${e.index} is not JSON: ${(err as Error).message}`);
      }
    }
    for (const r of records) this.image.apply(r, e.index);
    this.wakeAppliedWaiters();
    if (records.length > 0) {
      this.bytesSinceSnapshot += e.payload!.length;
      if (this.bytesSinceSnapshot >= this.opts.maxRecordBytesBetweenSnapshots) this.takeSnapshot();
    }
    this.afterChange(records.length > 0);
  }

  /** The high watermark learned from the Raft leader (monotonic here). */
  setHighWatermark(hw: number): void {
    if (this.highWatermark !== null && hw <= this.highWatermark) return;
    this.highWatermark = hw;
    this.afterChange(false);
  }

  /** Resolves once an entry at or after `index` is applied, or after `maxWaitMs`. */
  waitForApplied(index: number, maxWaitMs: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.rt.timers.clearTimeout(timer);
        this.appliedWaiters.delete(done);
        resolve();
      };
      const timer = this.rt.timers.setTimeout(done, Math.max(0, Math.min(maxWaitMs, FETCH_METADATA_MAX_WAIT_MS)));
      this.appliedWaiters.add(done);
    });
  }

  private wakeAppliedWaiters(): void {
    for (const w of [...this.appliedWaiters]) w();
  }

  private takeSnapshot(): void {
    if (!this.sink || this.applied === 0) return;
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotMs = this.now();
    try {
      this.sink(this.applied, this.appliedTerm, this.image.toSnapshot());
    } catch (err) {
      this.opts.logger.error(`metadata snapshot at ${this.applied} failed: ${(err as Error).message}`);
    }
  }

  /** Publishes when caught up (first time) or when the image changed (afterwards). */
  private afterChange(imageChanged: boolean): void {
    if (!this.published) {
      if (this.highWatermark === null || this.applied < this.highWatermark || this.applied < this.floor) return;
      this.published = true;
      this.opts.logger.info(`metadata caught up at ${this.applied} (high watermark ${this.highWatermark}, last published before start ${this.floor}); publishing`);
      this.publish();
      for (const w of this.caughtUpWaiters.splice(0)) w();
      return;
    }
    if (imageChanged) this.publish();
  }

  private publish(): void {
    if (this.applied > this.floor) {
      writeFileAtomic(path.join(this.opts.dir, PUBLISHED_OFFSET_FILE), `${this.applied}\n`, this.rt.fs);
      this.floor = this.applied;
    }
    for (const l of this.listeners) {
      try {
        l(this.image);
      } catch (err) {
        this.opts.logger.error(`publishing metadata ${this.applied}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
  }
}

function readPublishedOffset(dir: string, logger: Logger, fsys: Runtime['fs']): number {
  let text: string;
  try {
    text = fsys.readFile(path.join(dir, PUBLISHED_OFFSET_FILE)).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < 0) {
    // Written atomically, so this is not a torn write: refuse to guess a floor lower than the truth.
    throw new Error(`${path.join(dir, PUBLISHED_OFFSET_FILE)} holds '${text.trim().slice(0, 40)}', not an offset; remove it only if this node's partition data may be discarded`);
  }
  logger.debug(`last published metadata offset ${n}`);
  return n;
}

/** A voter's answer to `fetchMetadata`: committed entries from `fromIndex`, or the snapshot below the log start. */
export async function serveMetadata(
  loader: MetadataLoader,
  raft: { readCommitted(fromIndex: number, max: number): { snapshot: Snapshot | null; entries: Entry[] }; leaderId: number | null; isLeader: boolean; highWatermark: number | null },
  p: { fromIndex: number; maxWaitMs: number },
): Promise<FetchMetadataReply> {
  const from = Number(p.fromIndex);
  if (!Number.isSafeInteger(from) || from < 1) throw Object.assign(new Error(`fromIndex must be an integer >= 1, got ${String(p.fromIndex)}`), { code: 'INVALID_REQUEST' });
  await loader.waitForApplied(from, Number(p.maxWaitMs) || 0);
  const read = raft.readCommitted(from, FETCH_METADATA_MAX_ENTRIES);
  return { ...read, leaderId: raft.leaderId, highWatermark: raft.isLeader ? raft.highWatermark : null };
}

/**
 * An observer's pull loop: long-polls the voters for committed metadata, preferring the leader the
 * last answer named (only the leader's answer carries the high watermark). Stops when `stopped()`.
 */
export async function observeMetadata(o: {
  loader: MetadataLoader;
  rpc: RpcClient;
  voters: ReadonlyArray<{ id: number; host: string; port: number }>;
  stopped: () => boolean;
  onLeader: (leaderId: number | null) => void;
  logger: Logger;
  runtime?: Runtime;
  /** This observer's node id, sent with every fetch so the leader can list it (DescribeQuorum's observers). */
  replicaId?: number;
}): Promise<void> {
  const rt = o.runtime ?? realRuntime;
  let voter = o.voters[Math.floor(rt.random.next() * o.voters.length)]!;
  while (!o.stopped()) {
    try {
      const res = (await o.rpc.call(`${voter.host}:${voter.port}`, 'fetchMetadata', { fromIndex: o.loader.appliedIndex + 1, maxWaitMs: 500, ...(o.replicaId === undefined ? {} : { replicaId: o.replicaId }) }, 3000)) as FetchMetadataReply;
      o.onLeader(res.leaderId);
      if (res.snapshot) o.loader.restore(res.snapshot);
      for (const e of res.entries) o.loader.apply(e);
      if (res.highWatermark !== null) o.loader.setHighWatermark(res.highWatermark);
      const leader = o.voters.find((v) => v.id === res.leaderId);
      if (leader) voter = leader;
    } catch (err) {
      if (o.stopped()) break;
      o.logger.debug(`metadata pull from voter ${voter.id} failed: ${(err as Error).message}`);
      voter = o.voters[(o.voters.indexOf(voter) + 1) % o.voters.length]!;
      await sleepMs(rt.timers, 100);
    }
  }
}

/** An observer keeps its own snapshots in the loader's directory; returns the newest valid one. */
export function observerSnapshots(loader: MetadataLoader, dir: string, logger: Logger, fsys: Runtime['fs'] = realRuntime.fs): Snapshot | null {
  loader.setSnapshotSink((index, term, data) => saveSnapshotFile(dir, { index, term, data }, fsys));
  const { snapshot, ignored } = readNewestSnapshot(dir, fsys);
  for (const name of ignored) logger.warn(`ignored metadata snapshot ${name} (torn or corrupt)`);
  return snapshot;
}
