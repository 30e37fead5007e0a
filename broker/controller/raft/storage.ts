/**
 * Durable storage for one Raft node, in a directory of its own:
 *
 * - `raft-state.json`: the hard state `{ term, votedFor }`, replaced atomically
 *   (write tmp file, fsync it, rename over the old one, fsync the directory).
 * - `raft-log.bin`: the log as a sequence of frames
 *     [u32 BE body length][u32 BE CRC-32C of body][body: UTF-8 JSON { term, index, payload }]
 *   appended with one write and an fsync before `append` returns. `truncateFrom(index)` cuts the
 *   file at the frame of `index` and fsyncs.
 *
 *   A log that starts after a snapshot opens with a base frame, body `{ "base": { index, term } }`:
 *   the entry just before its first entry. `resetLog` replaces the file atomically (tmp, fsync,
 *   rename, fsync the directory).
 * - `snapshot-<index>-<term>.checkpoint` (index and term zero-padded): one state-machine snapshot
 *   at a committed index, a single frame as above with body `{ index, term, data }`, written
 *   atomically. The newest one and the one at the log's base are kept; older ones are deleted
 *   once the log no longer reaches back to them.
 *
 * `load()` reads all back and picks the newest snapshot that is valid (its frame whole, its CRC
 * right, its index and term those of its name and, where the log holds that index, of the log's
 * entry) and that the log reaches (`index >= base.index`). A torn or corrupt snapshot is ignored
 * in favour of an older one plus the log, which keeps one snapshot interval of entries for exactly
 * that; only when no usable snapshot covers the log's base does the node start from the newest
 * valid snapshot alone, or empty (a disk fault beyond Raft's model; Raft repairs it from the
 * leader as long as a majority holds every committed entry). `ignoredSnapshots` names what was skipped.
 *
 * `load()` reads both back. Log recovery stops at the first frame that is short, fails its CRC,
 * is not valid JSON of an entry, or does not continue the index/term sequence (index = previous + 1,
 * terms non-decreasing); the file is truncated there (a torn tail from a crash during append). A
 * bad frame in the middle of the log, which a crash cannot produce, is treated the same way: the
 * node keeps the valid prefix, which Raft tolerates only as long as a majority still holds every
 * committed entry (a disk fault is outside Raft's failure model; we choose availability of the
 * prefix over refusing to start). The number of bytes dropped is reported by `load()`.
 *
 * All I/O is synchronous: controller metadata is small, and the Ready contract needs the writes
 * done before messages leave.
 */
import path from 'node:path';
import { crc32c } from '../../protocol/crc32c.ts';
import { nodeFileSystem, type FileSystem } from '../../log/fs.ts';
import { mkdirDurable } from '../../log/fs-util.ts';
import type { HardState, LogBase, PersistedState, Ready } from './core.ts';
import { parseEntry } from './messages.ts';
import type { Entry, Snapshot } from './messages.ts';

export const STATE_FILE = 'raft-state.json';
export const LOG_FILE = 'raft-log.bin';
const FRAME_HEADER_BYTES = 8;
/** Upper bound on one entry's frame body; larger lengths are treated as corruption. */
export const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

export const SNAPSHOT_SUFFIX = '.checkpoint';

export type LoadResult = PersistedState & { base: LogBase; snapshot: Snapshot | null; droppedBytes: number; ignoredSnapshots: string[] };

/** The file name of the snapshot at (index, term). */
export function snapshotFileName(index: number, term: number): string {
  return `snapshot-${String(index).padStart(20, '0')}-${String(term).padStart(10, '0')}${SNAPSHOT_SUFFIX}`;
}

function parseSnapshotName(name: string): { index: number; term: number } | null {
  const m = /^snapshot-(\d{20})-(\d{10})\.checkpoint$/.exec(name);
  return m ? { index: Number(m[1]), term: Number(m[2]) } : null;
}

function frame(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  out.writeUInt32BE(crc32c(body), 4);
  body.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** The frame body at `pos` when whole and its CRC right; null otherwise. */
function readFrame(buf: Buffer, pos: number): { body: string; end: number } | null {
  if (pos + FRAME_HEADER_BYTES > buf.length) return null;
  const len = buf.readUInt32BE(pos);
  const end = pos + FRAME_HEADER_BYTES + len;
  if (len > MAX_ENTRY_BYTES || end > buf.length) return null;
  if (crc32c(buf, pos + FRAME_HEADER_BYTES, end) !== buf.readUInt32BE(pos + 4)) return null;
  return { body: buf.toString('utf8', pos + FRAME_HEADER_BYTES, end), end };
}

function parseBase(body: string): LogBase | null {
  try {
    const b = (JSON.parse(body) as { base?: { index?: unknown; term?: unknown } }).base;
    const { index, term } = b ?? {};
    return typeof index === 'number' && Number.isSafeInteger(index) && index > 0 && typeof term === 'number' && Number.isSafeInteger(term) && term > 0 ? { index, term } : null;
  } catch {
    return null;
  }
}

/** Encodes a snapshot file's content. */
export function encodeSnapshot(s: Snapshot): Buffer {
  return frame(Buffer.from(JSON.stringify({ index: s.index, term: s.term, data: s.data }), 'utf8'));
}

/** Decodes a snapshot file's content; null when torn, corrupt or not of (index, term). */
export function decodeSnapshot(buf: Buffer, expect: { index: number; term: number }): Snapshot | null {
  const f = readFrame(buf, 0);
  if (f === null || f.end !== buf.length) return null;
  try {
    const o = JSON.parse(f.body) as Record<string, unknown>;
    if (o['index'] !== expect.index || o['term'] !== expect.term || typeof o['data'] !== 'string') return null;
    return { index: expect.index, term: expect.term, data: o['data'] };
  } catch {
    return null;
  }
}

/** Writes `data` to `target` atomically: tmp file, fsync, rename, fsync the directory. */
export function writeFileAtomic(target: string, data: Buffer | string, fsys: FileSystem = nodeFileSystem): void {
  const tmp = `${target}.tmp`;
  const fd = fsys.open(tmp, 'w');
  try {
    let written = 0;
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    while (written < buf.length) written += fsys.write(fd, buf, written, buf.length - written, written);
    fsys.fsync(fd);
  } finally {
    fsys.close(fd);
  }
  fsys.rename(tmp, target);
  fsys.fsyncDir(path.dirname(target));
}

export class RaftStorageError extends Error {
  readonly code = 'RAFT_STORAGE';
  constructor(message: string) {
    super(message);
    this.name = 'RaftStorageError';
  }
}

export function encodeEntryFrame(e: Entry): Buffer {
  return frame(Buffer.from(JSON.stringify({ term: e.term, index: e.index, payload: e.payload }), 'utf8'));
}

function encodeBaseFrame(base: LogBase): Buffer {
  return frame(Buffer.from(JSON.stringify({ base }), 'utf8'));
}

export class RaftStorage {
  private readonly dir: string;
  private fd: number | null = null;
  /** Byte offset in the log file of entry base.index+1+i, and the end of the file at the last position. */
  private offsets: number[] = [0];
  private lastTerm = 0;
  private base: LogBase = { index: 0, term: 0 };

  private readonly fsys: FileSystem;

  constructor(dir: string, fsys: FileSystem = nodeFileSystem) {
    this.dir = dir;
    this.fsys = fsys;
  }

  /** Reads hard state, snapshot and log, truncating an invalid tail; opens the log for appending. */
  load(): LoadResult {
    // The directory and the log file's name are made durable before anything is appended, so the
    // entries fsynced into the log cannot vanish with a name a power loss dropped.
    mkdirDurable(this.dir, this.fsys);
    const hard = this.readHardState();
    const logPath = path.join(this.dir, LOG_FILE);
    this.close();
    const created = !this.fsys.exists(logPath);
    this.fd = this.fsys.open(logPath, created ? 'w+' : 'r+');
    if (created) this.fsys.fsyncDir(this.dir);
    const buf = this.fsys.readFile(logPath);
    let base: LogBase = { index: 0, term: 0 };
    let pos = 0;
    const head = readFrame(buf, 0);
    const headBase = head === null ? null : parseBase(head.body);
    if (head !== null && headBase !== null) {
      base = headBase;
      pos = head.end;
    }
    const entries: Entry[] = [];
    const offsets = [pos];
    let lastTerm = base.term;
    for (;;) {
      const f = readFrame(buf, pos);
      if (f === null) break;
      let e: Entry | null;
      try {
        e = parseEntry(JSON.parse(f.body));
      } catch {
        e = null;
      }
      if (e === null || e.index !== base.index + entries.length + 1 || e.term < lastTerm) break;
      entries.push(e);
      lastTerm = e.term;
      pos = f.end;
      offsets.push(pos);
    }
    const droppedBytes = buf.length - pos;
    if (droppedBytes > 0) {
      this.fsys.truncate(this.fd, pos);
      this.fsys.fsync(this.fd);
    }
    this.offsets = offsets;
    this.lastTerm = lastTerm;
    this.base = base;
    if (lastTerm > hard.term) {
      throw new RaftStorageError(`log in ${this.dir} has term ${lastTerm} above the hard-state term ${hard.term}`);
    }
    const termAt = (i: number): number | undefined => (i === base.index ? base.term : entries[i - base.index - 1]?.term);
    const ignoredSnapshots: string[] = [];
    let chosen: Snapshot | null = null;
    let fallback: Snapshot | null = null;
    const names = this.fsys.list(this.dir).filter((n) => parseSnapshotName(n) !== null).sort().reverse();
    for (const name of names) {
      const id = parseSnapshotName(name)!;
      let snap: Snapshot | null = null;
      try {
        snap = decodeSnapshot(this.fsys.readFile(path.join(this.dir, name)), id);
      } catch {
        snap = null;
      }
      const logTerm = termAt(id.index);
      if (snap === null || (logTerm !== undefined && logTerm !== id.term)) {
        ignoredSnapshots.push(name);
        continue;
      }
      if (id.index >= base.index) {
        chosen = snap;
        break;
      }
      fallback ??= snap;
      ignoredSnapshots.push(name);
    }
    if (chosen !== null && chosen.index > base.index + entries.length) {
      // The snapshot is ahead of the whole log: the log restarts right after it.
      this.resetLog({ index: chosen.index, term: chosen.term }, []);
      return { ...hard, base: { ...this.base }, snapshot: chosen, entries: [], droppedBytes, ignoredSnapshots };
    }
    if (chosen === null && base.index > 0) {
      // The log's prefix is covered by no usable snapshot: keep what can be kept (see the docstring).
      const restart = fallback ?? null;
      this.resetLog(restart ? { index: restart.index, term: restart.term } : { index: 0, term: 0 }, []);
      return { ...hard, base: { ...this.base }, snapshot: restart, entries: [], droppedBytes: droppedBytes + buf.length, ignoredSnapshots };
    }
    return { ...hard, base, snapshot: chosen, entries, droppedBytes, ignoredSnapshots };
  }

  /** Writes a snapshot file atomically. */
  saveSnapshot(s: Snapshot): void {
    writeFileAtomic(path.join(this.dir, snapshotFileName(s.index, s.term)), encodeSnapshot(s), this.fsys);
  }

  /**
   * Drops the entries up to and including `base.index`, atomically: the file's bytes after them are
   * copied behind a new base frame (no entry is decoded), then older snapshots are deleted.
   */
  compactTo(base: LogBase): void {
    if (base.index <= this.base.index) return;
    if (base.index >= this.lastIndex) {
      this.resetLog(base, []);
      return;
    }
    const fd = this.requireOpen();
    const from = this.offsets[base.index - this.base.index]!;
    const end = this.offsets[this.offsets.length - 1]!;
    const tail = Buffer.allocUnsafe(end - from);
    let read = 0;
    while (read < tail.length) read += this.fsys.read(fd, tail, read, tail.length - read, from + read);
    const head = encodeBaseFrame(base);
    this.close();
    const logPath = path.join(this.dir, LOG_FILE);
    writeFileAtomic(logPath, Buffer.concat([head, tail]), this.fsys);
    this.fd = this.fsys.open(logPath, 'r+');
    const shift = head.length - from;
    this.offsets = this.offsets.slice(base.index - this.base.index).map((o) => o + shift);
    this.base = { ...base };
    this.deleteSnapshotsBefore(base.index);
  }

  private deleteSnapshotsBefore(index: number): void {
    for (const name of this.fsys.list(this.dir)) {
      const id = parseSnapshotName(name);
      if (id !== null && id.index < index) this.fsys.unlink(path.join(this.dir, name));
    }
  }

  /**
   * Replaces the log by `entries` after `base`, atomically, then deletes the snapshots the log no
   * longer needs (older than its base).
   */
  resetLog(base: LogBase, entries: readonly Entry[]): void {
    const logPath = path.join(this.dir, LOG_FILE);
    const frames: Buffer[] = base.index > 0 ? [encodeBaseFrame(base)] : [];
    let term = base.term;
    entries.forEach((e, i) => {
      if (e.index !== base.index + i + 1) throw new RaftStorageError(`resetLog expected index ${base.index + i + 1}, got ${e.index}`);
      if (e.term < term) throw new RaftStorageError(`resetLog: term ${e.term} at index ${e.index} below previous ${term}`);
      term = e.term;
      frames.push(encodeEntryFrame(e));
    });
    this.close();
    writeFileAtomic(logPath, Buffer.concat(frames), this.fsys);
    this.fd = this.fsys.open(logPath, 'r+');
    let pos = base.index > 0 ? frames[0]!.length : 0;
    this.offsets = [pos];
    for (let i = base.index > 0 ? 1 : 0; i < frames.length; i++) {
      pos += frames[i]!.length;
      this.offsets.push(pos);
    }
    this.base = { ...base };
    this.lastTerm = term;
    this.deleteSnapshotsBefore(base.index);
  }

  /** Atomically replaces the hard state (tmp + fsync + rename + directory fsync). */
  saveHardState(s: HardState): void {
    const target = path.join(this.dir, STATE_FILE);
    writeFileAtomic(target, JSON.stringify({ term: s.term, votedFor: s.votedFor }), this.fsys);
  }

  /** Appends entries that continue the log (index = lastIndex + 1, ...), durably. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const fd = this.requireOpen();
    const frames: Buffer[] = [];
    let next = this.lastIndex + 1;
    let term = this.lastTerm;
    for (const e of entries) {
      if (e.index !== next) throw new RaftStorageError(`append expected index ${next}, got ${e.index}`);
      if (e.term < term) throw new RaftStorageError(`append: term ${e.term} at index ${e.index} below previous ${term}`);
      frames.push(encodeEntryFrame(e));
      next++;
      term = e.term;
    }
    const data = Buffer.concat(frames);
    let pos = this.offsets[this.offsets.length - 1]!;
    let written = 0;
    while (written < data.length) written += this.fsys.write(fd, data, written, data.length - written, pos + written);
    this.fsys.fsync(fd);
    for (const f of frames) {
      pos += f.length;
      this.offsets.push(pos);
    }
    this.lastTerm = term;
  }

  /** Removes entries with index >= `index`, durably. */
  truncateFrom(index: number): void {
    if (index <= this.base.index) throw new RaftStorageError(`truncateFrom index must be > the log base ${this.base.index}, got ${index}`);
    if (index > this.lastIndex) return;
    const fd = this.requireOpen();
    const cut = this.offsets[index - this.base.index - 1]!;
    this.fsys.truncate(fd, cut);
    this.fsys.fsync(fd);
    this.offsets.length = index - this.base.index;
    this.lastTerm = index - 1 === this.base.index ? this.base.term : this.termOfLastAfterTruncate(index - 1);
  }

  /** Applies the durable part of a Ready: hard state, snapshot, log reset, then truncate + append. */
  persistReady(ready: Ready): void {
    if (ready.persist) this.saveHardState(ready.persist);
    if (ready.snapshot) this.saveSnapshot(ready.snapshot);
    if (ready.resetLog) this.resetLog(ready.resetLog.base, ready.resetLog.entries);
    if (ready.compactLog) this.compactTo(ready.compactLog);
    if (ready.appendEntries) {
      this.truncateFrom(ready.appendEntries.fromIndex);
      this.append(ready.appendEntries.entries);
    }
  }

  get lastIndex(): number {
    return this.base.index + this.offsets.length - 1;
  }

  close(): void {
    if (this.fd !== null) {
      this.fsys.close(this.fd);
      this.fd = null;
    }
  }

  // ---------------------------------------------------------------------------------------------

  private readHardState(): HardState {
    const p = path.join(this.dir, STATE_FILE);
    let text: string;
    try {
      text = this.fsys.readFile(p).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { term: 0, votedFor: null };
      throw err;
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new RaftStorageError(`hard state ${p} is not valid JSON (it is written atomically, so this is not a torn write)`);
    }
    const o = v as Record<string, unknown> | null;
    const term = o?.['term'];
    const votedFor = o?.['votedFor'];
    if (typeof term !== 'number' || !Number.isSafeInteger(term) || term < 0 || (votedFor !== null && typeof votedFor !== 'number')) {
      throw new RaftStorageError(`hard state ${p} must be { term: integer >= 0, votedFor: number | null }, got ${text.slice(0, 200)}`);
    }
    return { term, votedFor: votedFor as number | null };
  }

  /** Reads the term of entry `index` back from the file (only after a truncation). */
  private termOfLastAfterTruncate(index: number): number {
    const fd = this.requireOpen();
    const start = this.offsets[index - this.base.index - 1]!;
    const end = this.offsets[index - this.base.index]!;
    const buf = Buffer.allocUnsafe(end - start);
    this.fsys.read(fd, buf, 0, buf.length, start);
    const e = parseEntry(JSON.parse(buf.toString('utf8', FRAME_HEADER_BYTES)));
    if (e === null) throw new RaftStorageError(`entry ${index} unreadable after truncation`);
    return e.term;
  }

  private requireOpen(): number {
    if (this.fd === null) throw new RaftStorageError('storage is not open: call load() first');
    return this.fd;
  }
}

/**
 * The newest valid snapshot among the snapshot files in `dir` (for a node that keeps snapshots
 * without a Raft log, such as an observer), and the names of the torn or corrupt ones skipped.
 */
export function readNewestSnapshot(dir: string, fsys: FileSystem = nodeFileSystem): { snapshot: Snapshot | null; ignored: string[] } {
  const ignored: string[] = [];
  let names: string[];
  try {
    names = fsys.list(dir).filter((n) => parseSnapshotName(n) !== null).sort().reverse();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { snapshot: null, ignored };
    throw err;
  }
  for (const name of names) {
    let snap: Snapshot | null = null;
    try {
      snap = decodeSnapshot(fsys.readFile(path.join(dir, name)), parseSnapshotName(name)!);
    } catch {
      snap = null;
    }
    if (snap !== null) return { snapshot: snap, ignored };
    ignored.push(name);
  }
  return { snapshot: null, ignored };
}

/** Writes a snapshot into `dir` and deletes every older one but the previous (kept as a fallback). */
export function saveSnapshotFile(dir: string, s: Snapshot, fsys: FileSystem = nodeFileSystem): void {
  mkdirDurable(dir, fsys);
  writeFileAtomic(path.join(dir, snapshotFileName(s.index, s.term)), encodeSnapshot(s), fsys);
  const older = fsys.list(dir).filter((n) => { const id = parseSnapshotName(n); return id !== null && id.index < s.index; }).sort().reverse();
  for (const name of older.slice(1)) fsys.unlink(path.join(dir, name));
}
