/**
 * The file operations the log makes, as one small interface, so the same log code runs on the real
 * disk (`nodeFileSystem`) and, in tests, on a simulated disk with power-loss semantics
 * (test/sim/sim-fs.ts): a crash keeps only what fsync made durable.
 *
 * The contract the log relies on, which is POSIX's (and what the simulated disk enforces):
 *  - `fsync(fd)` makes that file's *contents* (and length) durable. It does not make the file's
 *    name durable: a file created, renamed or deleted is durable in its directory only after
 *    `fsyncDir(dir)` of the directory holding the name (Kafka's Utils.flushDir).
 *  - Writes, truncations, creations, renames and deletions not followed by the matching fsync may
 *    each be lost (undone) by a power loss, in any combination.
 *  - A process crash (SIGKILL) loses nothing: the kernel keeps every completed call.
 *
 * Calls are synchronous and fd-based so the append path is one write (and, when the flush policy
 * asks, one fsync) with nothing in between; the indirection costs a method call.
 * Errors are Node's (an Error with `code`, e.g. 'ENOENT'), from the simulated disk too.
 */
/** Node's flags: 'r' read, 'r+' read-write (must exist), 'w' write and 'w+' read-write (created or emptied). */
export type OpenFlags = 'r' | 'r+' | 'w' | 'w+';

export interface FileSystem {
  open(path: string, flags: OpenFlags): number;
  close(fd: number): void;
  /** Reads up to `length` bytes at `position` into `buf[offset..]`; fewer only at end of file. */
  read(fd: number, buf: Buffer, offset: number, length: number, position: number): number;
  /** Writes `length` bytes of `buf[offset..]` at `position`; returns the count written. */
  write(fd: number, buf: Buffer, offset: number, length: number, position: number): number;
  /** The file's current length. */
  size(fd: number): number;
  truncate(fd: number, length: number): void;
  /** Makes the file's contents durable (not its directory entry). */
  fsync(fd: number): void;
  /** Makes the directory's entries durable: names created, renamed or deleted in it so far. */
  fsyncDir(dir: string): void;
  exists(path: string): boolean;
  /** Names in `dir` (no order promised). */
  list(dir: string): string[];
  /** Creates `dir` and missing parents; no error when it exists. */
  mkdir(dir: string): void;
  /** Deletes a file; no error when it is absent. */
  unlink(path: string): void;
  /** Atomically replaces `to` with `from` (same directory in this code base). */
  rename(from: string, to: string): void;
  /** The whole file; throws an Error with code 'ENOENT' when absent. */
  readFile(path: string): Buffer;
  /** Deletes a file or a directory with everything in it; no error when absent (`rm -rf`). */
  removeTree(path: string): void;
}

export { nodeFileSystem } from '../runtime/real-fs.ts';
