/**
 * Small synchronous file helpers for the log, over the FileSystem interface (fs.ts; the real disk
 * unless a caller passes another). Every loop here is bounded by the byte count it was asked for:
 * a read stops at end of file (0 bytes returned), a write stops when all is written.
 * `writeFileAtomic` gives all-or-nothing, durable replacement: write a temp file, fsync it, rename
 * it over the target, fsync the directory, so a crash leaves either the old or the new content, and
 * once it returns the new content survives a power loss.
 */
import * as path from 'node:path';
import { nodeFileSystem, type FileSystem } from './fs.ts';

export { nodeFileSystem, type FileSystem } from './fs.ts';

/** Reads up to `length` bytes at `position` into `buf[offset..]`; returns the count read (short only at EOF). */
export function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number, fsys: FileSystem = nodeFileSystem): number {
  let done = 0;
  while (done < length) {
    const n = fsys.read(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Writes all of `buf` at `position`. */
export function writeFully(fd: number, buf: Buffer, position: number, fsys: FileSystem = nodeFileSystem): void {
  let done = 0;
  while (done < buf.length) {
    const n = fsys.write(fd, buf, done, buf.length - done, position + done);
    if (n <= 0) throw new Error(`short write at ${position + done}`);
    done += n;
  }
}

export function fsyncDir(dir: string, fsys: FileSystem = nodeFileSystem): void {
  fsys.fsyncDir(dir);
}

export function writeFileAtomic(file: string, data: Buffer, fsys: FileSystem = nodeFileSystem): void {
  const tmp = `${file}.tmp`;
  const fd = fsys.open(tmp, 'w');
  try {
    writeFully(fd, data, 0, fsys);
    fsys.fsync(fd);
  } finally {
    fsys.close(fd);
  }
  fsys.rename(tmp, file);
  fsys.fsyncDir(path.dirname(file));
}

/**
 * Creates `dir` (and missing parents) durably: each directory created is fsynced into its parent,
 * so files made durable inside it cannot vanish with it. A no-op, with no syscall but a stat,
 * when `dir` exists.
 */
export function mkdirDurable(dir: string, fsys: FileSystem = nodeFileSystem): void {
  if (fsys.exists(dir)) return;
  const parent = path.dirname(dir);
  if (parent !== dir) mkdirDurable(parent, fsys);
  fsys.mkdir(dir);
  if (parent !== dir) fsys.fsyncDir(parent);
}

/** The file's content, or null when it does not exist. */
export function readFileIfExists(file: string, fsys: FileSystem = nodeFileSystem): Buffer | null {
  try {
    return fsys.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Names of the entries of `dir`. */
export function listDir(dir: string, fsys: FileSystem = nodeFileSystem): string[] {
  return fsys.list(dir);
}

/** Deletes a file if present (no directory fsync: the caller decides when that must be durable). */
export function removeFile(file: string, fsys: FileSystem = nodeFileSystem): void {
  fsys.unlink(file);
}

/** Deletes a file if present and fsyncs its directory, so the deletion survives a crash. */
export function removeFileDurably(file: string, fsys: FileSystem = nodeFileSystem): void {
  if (!fsys.exists(file)) return;
  fsys.unlink(file);
  fsys.fsyncDir(path.dirname(file));
}

/** Opens an existing file for reading and writing; returns the fd. */
export function openReadWrite(file: string, fsys: FileSystem = nodeFileSystem): number {
  return fsys.open(file, 'r+');
}

/** Size in bytes of an open file. */
export function sizeOfFd(fd: number, fsys: FileSystem = nodeFileSystem): number {
  return fsys.size(fd);
}

/** Size in bytes of a file, or null when it does not exist. */
export function fileSizeIfExists(file: string, fsys: FileSystem = nodeFileSystem): number | null {
  if (!fsys.exists(file)) return null;
  const fd = fsys.open(file, 'r');
  try {
    return fsys.size(fd);
  } finally {
    fsys.close(fd);
  }
}

export function closeFd(fd: number, fsys: FileSystem = nodeFileSystem): void {
  fsys.close(fd);
}
