/**
 * Small synchronous file helpers for the log. Every loop here is bounded by the byte count it
 * was asked for: a read stops at end of file (0 bytes returned), a write stops when all is written.
 * `writeFileAtomic` gives all-or-nothing replacement: write a temp file, fsync it, rename it over
 * the target, fsync the directory, so a crash leaves either the old or the new content.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Reads up to `length` bytes at `position` into `buf[offset..]`; returns the count read (short only at EOF). */
export function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Writes all of `buf` at `position`. */
export function writeFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done, position + done);
    if (n <= 0) throw new Error(`short write at ${position + done}`);
    done += n;
  }
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFileAtomic(file: string, data: Buffer): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeFully(fd, data, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** The whole file, or null when it does not exist. */
export function readFileIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Names of the entries of `dir`. */
export function listDir(dir: string): string[] {
  return fs.readdirSync(dir);
}

/** Deletes a file if present (no directory fsync: the caller decides when that must be durable). */
export function removeFile(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Deletes a file if present and fsyncs its directory, so the deletion survives a crash. */
export function removeFileDurably(file: string): void {
  if (!fs.existsSync(file)) return;
  fs.rmSync(file, { force: true });
  fsyncDir(path.dirname(file));
}

/** Opens an existing file for reading and writing; returns the fd. */
export function openReadWrite(file: string): number {
  return fs.openSync(file, 'r+');
}

/** Size in bytes of an open file. */
export function sizeOfFd(fd: number): number {
  return fs.fstatSync(fd).size;
}

/** Size in bytes of a file, or null when it does not exist. */
export function fileSizeIfExists(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function closeFd(fd: number): void {
  fs.closeSync(fd);
}
