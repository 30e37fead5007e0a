/**
 * Leader epoch cache (Kafka's LeaderEpochFileCache): the ordered list of (epoch, startOffset), where
 * startOffset is the first offset written in that epoch.
 *
 * Invariants: epochs strictly increase and start offsets strictly increase along the list, so the
 * list is a step function from offset to epoch. It is persisted after every change to `file` as
 * Kafka's checkpoint text ("0\n<count>\n<epoch> <startOffset>\n..."), replaced atomically
 * (tmp + fsync + rename + fsync dir), so a crash leaves the old or the new list, never a mix.
 *
 * endOffsetFor(requested, leo), the answer to OffsetForLeaderEpoch (KIP-101/279), as Kafka computes it:
 *   requested == -1 (UNDEFINED)                                 -> UNDEFINED (-1, -1)
 *   requested == latest epoch                                   -> (requested, leo)
 *   some epoch > requested exists; floor = largest epoch <= requested:
 *     floor exists  -> (floor.epoch, startOffset of the first epoch > requested)
 *     no floor (requested is below the first known epoch)
 *                   -> (requested, startOffset of the first epoch), as Kafka does: the data
 *                      before it is gone, and the follower truncates to that start at most.
 *   requested > every known epoch (cannot happen on a leader)   -> UNDEFINED (-1, -1)
 */
import { nodeFileSystem, type FileSystem } from './fs.ts';
import { readFileIfExists, writeFileAtomic } from './fs-util.ts';

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export class LeaderEpochCache {
  readonly file: string | null;
  readonly #fs: FileSystem;
  #entries: EpochEntry[] = [];

  /** `file` null keeps the cache in memory only (tests, simulations). */
  constructor(file: string | null, entries: readonly EpochEntry[] = [], fsys: FileSystem = nodeFileSystem) {
    this.file = file;
    this.#fs = fsys;
    for (const e of entries) this.#insert(e.epoch, e.startOffset);
  }

  /**
   * Loads the checkpoint at `file`. Returns `corrupt: true` (and an empty cache) when the file
   * exists but does not parse; the caller then rebuilds the cache from the log's batches.
   */
  static load(file: string, fsys: FileSystem = nodeFileSystem): { cache: LeaderEpochCache; corrupt: boolean } {
    const data = readFileIfExists(file, fsys);
    if (data === null) return { cache: new LeaderEpochCache(file, [], fsys), corrupt: false };
    const entries = parseCheckpoint(data.toString('utf8'));
    if (entries === null) return { cache: new LeaderEpochCache(file, [], fsys), corrupt: true };
    return { cache: new LeaderEpochCache(file, entries, fsys), corrupt: false };
  }

  get entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  get latestEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /** The start offset of the latest epoch, or -1 when empty. */
  get latestStartOffset(): number {
    return this.#entries.at(-1)?.startOffset ?? UNDEFINED_EPOCH_OFFSET;
  }

  /**
   * Records that `epoch` starts at `startOffset`. A no-op when it is the latest epoch already
   * (at an equal or earlier start). Otherwise, as Kafka does, entries that would break monotonicity
   * (epoch >= new epoch, or startOffset >= new startOffset) are dropped before appending.
   */
  assign(epoch: number, startOffset: number): void {
    if (!Number.isInteger(epoch) || epoch < 0 || !Number.isInteger(startOffset) || startOffset < 0) {
      throw new RangeError(`invalid epoch entry (${epoch}, ${startOffset})`);
    }
    const last = this.#entries.at(-1);
    if (last && last.epoch === epoch && last.startOffset <= startOffset) return;
    this.#insert(epoch, startOffset);
    this.#persist();
  }

  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedAnswer;
    if (this.#entries.length > 0 && requestedEpoch === this.latestEpoch) {
      return { epoch: requestedEpoch, endOffset: logEndOffset };
    }
    const higherIdx = this.#entries.findIndex((e) => e.epoch > requestedEpoch);
    const higher = this.#entries[higherIdx];
    if (higher === undefined) return undefinedAnswer;
    const floor = this.#entries[higherIdx - 1];
    if (floor === undefined) return { epoch: requestedEpoch, endOffset: higher.startOffset };
    return { epoch: floor.epoch, endOffset: higher.startOffset };
  }

  /** Drops every entry whose startOffset >= endOffset (the log was truncated to endOffset). */
  truncateFromEnd(endOffset: number): void {
    const keep = this.#entries.filter((e) => e.startOffset < endOffset);
    if (keep.length === this.#entries.length) return;
    this.#entries = keep;
    this.#persist();
  }

  /**
   * The log now starts at `startOffset`: entries wholly before it are dropped, and the entry that
   * covers it has its start moved up to `startOffset`.
   */
  truncateFromStart(startOffset: number): void {
    let floorIdx = -1;
    for (let i = 0; i < this.#entries.length; i++) if (this.#entries[i]!.startOffset <= startOffset) floorIdx = i;
    if (floorIdx < 0) return;
    const floor = this.#entries[floorIdx]!;
    if (floorIdx === 0 && floor.startOffset === startOffset) return;
    this.#entries = [{ epoch: floor.epoch, startOffset }, ...this.#entries.slice(floorIdx + 1)];
    this.#persist();
  }

  clear(): void {
    if (this.#entries.length === 0 && (this.file === null || this.#fs.exists(this.file))) return;
    this.#entries = [];
    this.#persist();
  }

  /** Writes the checkpoint now (used when the cache was rebuilt from the log). */
  persist(): void {
    this.#persist();
  }

  #insert(epoch: number, startOffset: number): void {
    this.#entries = this.#entries.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    this.#entries.push({ epoch, startOffset });
  }

  #persist(): void {
    if (this.file === null) return;
    const lines = ['0', String(this.#entries.length), ...this.#entries.map((e) => `${e.epoch} ${e.startOffset}`)];
    writeFileAtomic(this.file, Buffer.from(lines.join('\n') + '\n'), this.#fs);
  }
}

/** Parses Kafka's checkpoint text; null when malformed or not monotonic. */
function parseCheckpoint(text: string): EpochEntry[] | null {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== '0' || lines[1] === undefined || !/^\d+$/.test(lines[1])) return null;
  const count = Number(lines[1]);
  if (lines.length !== count + 2) return null;
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const m = /^(\d+) (\d+)$/.exec(line);
    if (!m) return null;
    const entry = { epoch: Number(m[1]), startOffset: Number(m[2]) };
    const prev = entries.at(-1);
    if (prev && (entry.epoch <= prev.epoch || entry.startOffset <= prev.startOffset)) return null;
    entries.push(entry);
  }
  return entries;
}
