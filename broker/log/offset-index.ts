/**
 * Sparse offset index of one segment (Kafka's OffsetIndex, simplified): entries of 8 bytes,
 * (relativeOffset i32, position i32) big-endian, where relativeOffset = batch.baseOffset - segment
 * base and position is the batch's byte position in the .log file. Entries are added when at least
 * indexIntervalBytes were appended since the previous entry, so the index holds at most
 * segmentBytes / indexIntervalBytes + 1 entries.
 *
 * Invariants: relative offsets and positions both strictly increase, and every entry points at the
 * start of a batch with that base offset. lookup(target) returns the position of the last entry
 * whose offset <= target (0 when none): the batch containing `target` starts at or after it.
 *
 * The index is derived data: the in-memory arrays are authoritative while open; the file is
 * rewritten from a log scan on recovery whenever it is missing or disagrees with the scan.
 */
import { nodeFileSystem, type FileSystem } from './fs.ts';
import { readFileIfExists, writeFully } from './fs-util.ts';

export const INDEX_ENTRY_BYTES = 8;

export class OffsetIndex {
  readonly path: string;
  readonly #fd: number;
  readonly #fs: FileSystem;
  #relOffsets: number[] = [];
  #positions: number[] = [];

  private constructor(path: string, fd: number, fsys: FileSystem) {
    this.path = path;
    this.#fd = fd;
    this.#fs = fsys;
  }

  /** Opens (creating if needed) the index file and replaces its content with `entries`, unless equal. */
  static openWith(path: string, relOffsets: number[], positions: number[], fsys: FileSystem = nodeFileSystem): { index: OffsetIndex; rewritten: boolean } {
    const fd = fsys.open(path, fsys.exists(path) ? 'r+' : 'w+');
    const index = new OffsetIndex(path, fd, fsys);
    index.#relOffsets = relOffsets;
    index.#positions = positions;
    const wanted = encode(relOffsets, positions);
    const existing = fsys.size(fd) === wanted.length ? readFileIfExists(path, fsys) : null;
    const rewritten = existing === null || !existing.equals(wanted);
    if (rewritten) {
      fsys.truncate(fd, 0);
      writeFully(fd, wanted, 0, fsys);
    }
    return { index, rewritten };
  }

  /**
   * Opens the index file as it is on disk, for a segment that recovery trusts; null when the file is
   * missing or not a well-formed index of a `.log` file of `logSizeBytes` bytes (size not a multiple
   * of 8, entries not strictly increasing, a position outside the log file).
   */
  static openExisting(path: string, logSizeBytes: number, fsys: FileSystem = nodeFileSystem): OffsetIndex | null {
    const buf = readFileIfExists(path, fsys);
    if (buf === null) return null;
    if (buf.length % INDEX_ENTRY_BYTES !== 0) return null;
    const relOffsets: number[] = [];
    const positions: number[] = [];
    for (let p = 0; p < buf.length; p += INDEX_ENTRY_BYTES) {
      const rel = buf.readInt32BE(p);
      const pos = buf.readInt32BE(p + 4);
      const n = relOffsets.length;
      if (rel < 0 || pos < 0 || pos >= logSizeBytes) return null;
      if (n > 0 && (rel <= relOffsets[n - 1]! || pos <= positions[n - 1]!)) return null;
      relOffsets.push(rel);
      positions.push(pos);
    }
    const index = new OffsetIndex(path, fsys.open(path, 'r+'), fsys);
    index.#relOffsets = relOffsets;
    index.#positions = positions;
    return index;
  }

  /** The last entry (relative offset and position), or null when empty. */
  get lastEntry(): { relOffset: number; position: number } | null {
    const n = this.#relOffsets.length;
    return n === 0 ? null : { relOffset: this.#relOffsets[n - 1]!, position: this.#positions[n - 1]! };
  }

  get entryCount(): number {
    return this.#relOffsets.length;
  }

  /** Position of the last entry, or null when there is none. */
  get lastPosition(): number | null {
    return this.#positions.at(-1) ?? null;
  }

  append(relOffset: number, position: number): void {
    const n = this.#relOffsets.length;
    if (n > 0 && (relOffset <= this.#relOffsets[n - 1]! || position <= this.#positions[n - 1]!)) {
      throw new RangeError(`index entry (${relOffset}, ${position}) does not increase`);
    }
    const buf = Buffer.allocUnsafe(INDEX_ENTRY_BYTES);
    buf.writeInt32BE(relOffset, 0);
    buf.writeInt32BE(position, 4);
    writeFully(this.#fd, buf, n * INDEX_ENTRY_BYTES, this.#fs);
    this.#relOffsets.push(relOffset);
    this.#positions.push(position);
  }

  /** Position of the last entry with relOffset <= target, or 0. */
  lookup(relTarget: number): number {
    let lo = 0;
    let hi = this.#relOffsets.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#relOffsets[mid]! <= relTarget) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.#positions[found]!;
  }

  /** Drops entries at or beyond `position` (the log was truncated to `position`). */
  truncateToPosition(position: number): void {
    let n = this.#positions.length;
    while (n > 0 && this.#positions[n - 1]! >= position) n--;
    if (n === this.#positions.length) return;
    this.#positions.length = n;
    this.#relOffsets.length = n;
    this.#fs.truncate(this.#fd, n * INDEX_ENTRY_BYTES);
  }

  flush(): void {
    this.#fs.fsync(this.#fd);
  }

  close(): void {
    this.#fs.close(this.#fd);
  }
}

function encode(relOffsets: number[], positions: number[]): Buffer {
  const buf = Buffer.allocUnsafe(relOffsets.length * INDEX_ENTRY_BYTES);
  for (let i = 0; i < relOffsets.length; i++) {
    buf.writeInt32BE(relOffsets[i]!, i * INDEX_ENTRY_BYTES);
    buf.writeInt32BE(positions[i]!, i * INDEX_ENTRY_BYTES + 4);
  }
  return buf;
}
