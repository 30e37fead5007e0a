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
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '../../protocol/crc32c.ts';
import type { HardState, PersistedState, Ready } from './core.ts';
import { parseEntry } from './messages.ts';
import type { Entry } from './messages.ts';

export const STATE_FILE = 'raft-state.json';
export const LOG_FILE = 'raft-log.bin';
const FRAME_HEADER_BYTES = 8;
/** Upper bound on one entry's frame body; larger lengths are treated as corruption. */
export const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

export type LoadResult = PersistedState & { droppedBytes: number };

export class RaftStorageError extends Error {
  readonly code = 'RAFT_STORAGE';
  constructor(message: string) {
    super(message);
    this.name = 'RaftStorageError';
  }
}

export function encodeEntryFrame(e: Entry): Buffer {
  const body = Buffer.from(JSON.stringify({ term: e.term, index: e.index, payload: e.payload }), 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.writeUInt32BE(crc32c(body), 4);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export class RaftStorage {
  private readonly dir: string;
  private fd: number | null = null;
  /** Byte offset in the log file of entry i+1, and the end of the file at the last position. */
  private offsets: number[] = [0];
  private lastTerm = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Reads hard state and log, truncating an invalid tail; opens the log for appending. */
  load(): LoadResult {
    fs.mkdirSync(this.dir, { recursive: true });
    const hard = this.readHardState();
    const logPath = path.join(this.dir, LOG_FILE);
    this.close();
    this.fd = fs.openSync(logPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    const buf = fs.readFileSync(logPath);
    const entries: Entry[] = [];
    const offsets = [0];
    let pos = 0;
    let lastTerm = 0;
    while (pos + FRAME_HEADER_BYTES <= buf.length) {
      const len = buf.readUInt32BE(pos);
      const crc = buf.readUInt32BE(pos + 4);
      const end = pos + FRAME_HEADER_BYTES + len;
      if (len > MAX_ENTRY_BYTES || end > buf.length) break;
      if (crc32c(buf, pos + FRAME_HEADER_BYTES, end) !== crc) break;
      let e: Entry | null;
      try {
        e = parseEntry(JSON.parse(buf.toString('utf8', pos + FRAME_HEADER_BYTES, end)));
      } catch {
        e = null;
      }
      if (e === null || e.index !== entries.length + 1 || e.term < lastTerm) break;
      entries.push(e);
      lastTerm = e.term;
      pos = end;
      offsets.push(pos);
    }
    const droppedBytes = buf.length - pos;
    if (droppedBytes > 0) {
      fs.ftruncateSync(this.fd, pos);
      fs.fsyncSync(this.fd);
    }
    this.offsets = offsets;
    this.lastTerm = lastTerm;
    if (lastTerm > hard.term) {
      throw new RaftStorageError(`log in ${this.dir} has term ${lastTerm} above the hard-state term ${hard.term}`);
    }
    return { ...hard, entries, droppedBytes };
  }

  /** Atomically replaces the hard state (tmp + fsync + rename + directory fsync). */
  saveHardState(s: HardState): void {
    const target = path.join(this.dir, STATE_FILE);
    const tmp = `${target}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeSync(fd, JSON.stringify({ term: s.term, votedFor: s.votedFor }));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
    this.fsyncDir();
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
    while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written, pos + written);
    fs.fsyncSync(fd);
    for (const f of frames) {
      pos += f.length;
      this.offsets.push(pos);
    }
    this.lastTerm = term;
  }

  /** Removes entries with index >= `index`, durably. */
  truncateFrom(index: number): void {
    if (index < 1) throw new RaftStorageError(`truncateFrom index must be >= 1, got ${index}`);
    if (index > this.lastIndex) return;
    const fd = this.requireOpen();
    const cut = this.offsets[index - 1]!;
    fs.ftruncateSync(fd, cut);
    fs.fsyncSync(fd);
    this.offsets.length = index;
    this.lastTerm = index === 1 ? 0 : this.termOfLastAfterTruncate(index - 1);
  }

  /** Applies the durable part of a Ready: hard state, then truncate + append. */
  persistReady(ready: Ready): void {
    if (ready.persist) this.saveHardState(ready.persist);
    if (ready.appendEntries) {
      this.truncateFrom(ready.appendEntries.fromIndex);
      this.append(ready.appendEntries.entries);
    }
  }

  get lastIndex(): number {
    return this.offsets.length - 1;
  }

  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  // ---------------------------------------------------------------------------------------------

  private readHardState(): HardState {
    const p = path.join(this.dir, STATE_FILE);
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
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
    const start = this.offsets[index - 1]!;
    const end = this.offsets[index]!;
    const buf = Buffer.allocUnsafe(end - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    const e = parseEntry(JSON.parse(buf.toString('utf8', FRAME_HEADER_BYTES)));
    if (e === null) throw new RaftStorageError(`entry ${index} unreadable after truncation`);
    return e.term;
  }

  private requireOpen(): number {
    if (this.fd === null) throw new RaftStorageError('storage is not open: call load() first');
    return this.fd;
  }

  private fsyncDir(): void {
    const fd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}
