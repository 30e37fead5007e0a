/**
 * A small ustar writer: a directory's regular files and subdirectories as one gzip'd tar stream (what
 * `faultline serve` sends for a run directory). Symbolic links are left out, so an archive never
 * carries a file from outside the directory. Names longer than ustar's 100 bytes use its 155-byte
 * prefix field; a path that fits neither is left out (and named in the log callback), never truncated.
 */
import { createReadStream, lstatSync, readdirSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

const blockBytes = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** The 512-byte header of one entry, or null when the name does not fit ustar. */
export function tarHeader(name: string, st: Pick<Stats, 'size' | 'mtime' | 'mode'>, type: 'file' | 'dir'): Buffer | null {
  const h = Buffer.alloc(blockBytes, 0);
  let base = name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 1 - (type === 'dir' ? 1 : 0));
    prefix = cut > 0 ? name.slice(0, cut) : '';
    base = cut > 0 ? name.slice(cut + 1) : name;
    if (Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155 || prefix === '') return null;
  }
  h.write(base, 0, 100, 'utf8');
  h.write(octal(st.mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(type === 'file' ? st.size : 0, 12), 124, 12, 'ascii');
  h.write(octal(Math.floor(st.mtime.getTime() / 1000), 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(type === 'file' ? '0' : '5', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return h;
}

async function* entries(dir: string, rel: string, log: (msg: string) => void): AsyncGenerator<Buffer> {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const abs = join(dir, n);
    const name = posix.join(rel, n);
    let st: Stats;
    try {
      st = lstatSync(abs);
    } catch {
      continue;
    }
    if (st.isSymbolicLink() || !(st.isFile() || st.isDirectory())) continue;
    const header = tarHeader(st.isDirectory() ? `${name}/` : name, st, st.isDirectory() ? 'dir' : 'file');
    if (header === null) {
      log(`archive: left out ${name} (name too long for ustar)`);
      continue;
    }
    yield header;
    if (st.isDirectory()) {
      yield* entries(abs, name, log);
      continue;
    }
    // the size written in the header is what the entry holds: a file that grew meanwhile is cut there,
    // one that shrank is padded with zeros, so the archive stays well formed
    let sent = 0;
    for await (const chunk of createReadStream(abs, { start: 0, end: Math.max(0, st.size - 1) }) as AsyncIterable<Buffer>) {
      if (st.size === 0) break;
      const part = chunk.subarray(0, Math.max(0, st.size - sent));
      sent += part.length;
      if (part.length > 0) yield part;
    }
    if (sent < st.size) yield Buffer.alloc(st.size - sent, 0);
    const pad = (blockBytes - (st.size % blockBytes)) % blockBytes;
    if (pad > 0) yield Buffer.alloc(pad, 0);
  }
}

/** A gzip'd tar stream of `dir`, its entries under `top/`. */
export function tarGzOf(dir: string, top: string, log: (msg: string) => void = () => {}): Readable {
  async function* all(): AsyncGenerator<Buffer> {
    yield* entries(dir, top, log);
    yield Buffer.alloc(blockBytes * 2, 0);
  }
  return Readable.from(all()).pipe(createGzip());
}
