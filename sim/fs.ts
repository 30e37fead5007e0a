/**
 * A simulated disk with power-loss semantics, implementing the log's FileSystem (broker/log/fs.ts),
 * so tests run the real PartitionLog and crash it at any point.
 *
 * Model: a file is an inode with its current bytes (the page cache) and its durable bytes (what
 * the last fsync of it saw). A directory maps names to nodes twice: its current entries, and its
 * durable entries (what the last fsyncDir of it saw). `crash()` is a power loss: every directory
 * falls back to its durable entries and every file to its durable bytes, so
 *  - data written but not fsynced is gone, and so is a truncation not fsynced;
 *  - a file created, renamed or deleted without a directory fsync afterwards is not created,
 *    renamed back, or back again (with its durable bytes);
 *  - a directory whose name was not made durable in its parent is gone with everything inside.
 * `crash(prng)` is the adversarial variant: each unsynced change (each file's contents, each name
 * in each directory) independently survives or is lost, as a kernel that wrote some dirty pages
 * and some metadata before the power went may leave it. Everything fsynced survives either way.
 * With `{ tornSectorBytes: S }` a file's unsynced contents may also survive torn: its first k
 * sectors of S bytes as the page cache held them (k at least one past the first changed sector,
 * short of the whole change), the rest as durable, as a disk that wrote some sectors of the last
 * write in order before the power went leaves it. A sector is written whole or not at all.
 *
 * Faults on request: `failWrites(code)` makes every mutating call fail with `code` (EIO: every one;
 * ENOSPC: those that need space, writes and creations) without taking effect, until
 * `failWrites(null)`; reads still work (a failing or full disk). `corruptSector(path, offset, prng)`
 * XORs every byte of one sector with a nonzero byte, in the page cache and on the platter alike
 * (a sector the disk returns damaged: what the broker's CRC checks exist for).
 *
 * `powerFailAfter(n)` arms a crash point: the (n+1)-th mutating call (write, truncate, fsync,
 * fsyncDir, create, unlink, rename, mkdir) throws PowerFailure without taking effect, and so does
 * every call after it until `crash()` reboots the disk; the code under test cannot write on after
 * the power went. Counters (`bytesRead`, `fsyncs`, `dirFsyncs`, `mutations`) measure what code did.
 */
import * as path from 'node:path';
import type { FileSystem, OpenFlags } from '../broker/log/fs.ts';
import type { Prng } from './prng.ts';

interface Inode {
  kind: 'file';
  data: Buffer;
  size: number;
  durable: Buffer;
}

interface Dir {
  kind: 'dir';
  entries: Map<string, Inode | Dir>;
  durable: Map<string, Inode | Dir>;
}

interface OpenFile {
  inode: Inode;
  writable: boolean;
}

export class PowerFailure extends Error {
  constructor() {
    super('simulated power failure');
    this.name = 'PowerFailure';
  }
}

function fsError(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

function newDir(): Dir {
  return { kind: 'dir', entries: new Map(), durable: new Map() };
}

/** How `crash(prng, opts)` may treat unsynced contents. */
export interface CrashOptions {
  /** Sector size for torn writes (a prefix of whole sectors survives); 0 or absent: never torn. */
  tornSectorBytes?: number;
}

/** The errors `failWrites` injects: a broken disk (EIO) or a full one (ENOSPC). */
export type DiskErrorCode = 'EIO' | 'ENOSPC';

/** The calls a full disk (ENOSPC) refuses: those that need space. The rest of #mutate's callers free or move it. */
const SPACE_CALLS = new Set(['write', 'create', 'mkdir']);

/**
 * `current` torn over `durable`: the first k whole sectors of `current`, then `durable` from there
 * (k past the first sector that differs, and short of `current`'s end, so a real tear); null when
 * no sector boundary lies inside the change.
 */
export function tornContents(current: Buffer, durable: Buffer, sectorBytes: number, prng: Prng): Buffer | null {
  let d = 0;
  while (d < current.length && d < durable.length && current[d] === durable[d]) d++;
  const first = Math.floor(d / sectorBytes) + 1;
  const last = Math.ceil(current.length / sectorBytes) - 1;
  if (first > last) return null;
  const cut = prng.int(first, last) * sectorBytes;
  return Buffer.concat([current.subarray(0, cut), durable.length > cut ? durable.subarray(cut) : Buffer.alloc(0)]);
}

export class SimFileSystem implements FileSystem {
  #root: Dir = newDir();
  #failWith: DiskErrorCode | null = null;
  #fds = new Map<number, OpenFile>();
  #nextFd = 3;
  #failAfter: number | null = null;
  #dead = false;
  bytesRead = 0;
  /** Calls failWrites made fail. */
  injectedErrors = 0;
  fsyncs = 0;
  dirFsyncs = 0;
  mutations = 0;

  /** The next `n` mutating calls succeed; the one after them, and every later call, fails. */
  powerFailAfter(n: number | null): void {
    this.#failAfter = n === null ? null : this.mutations + n;
  }

  get powerFailed(): boolean {
    return this.#dead;
  }

  /** From now on every mutating call (ENOSPC: every one that needs space) fails with `code`, until `failWrites(null)`. */
  failWrites(code: DiskErrorCode | null): void {
    this.#failWith = code;
  }

  get failingWith(): DiskErrorCode | null {
    return this.#failWith;
  }

  /**
   * Damages the sector of `p` holding byte `offset` (sector `sectorBytes` long, cut at the file's
   * end): every byte XORed with a nonzero byte from `prng`, in the page cache and the durable copy.
   * Returns the damaged range.
   */
  corruptSector(p: string, offset: number, sectorBytes: number, prng: Prng): { start: number; end: number } {
    const node = this.#lookup(p);
    if (!node || node.kind !== 'file') throw fsError('ENOENT', p);
    const start = Math.floor(offset / sectorBytes) * sectorBytes;
    const end = Math.min(start + sectorBytes, node.size);
    if (start >= end) throw fsError('EINVAL', `${p}: offset ${offset} is past the end (${node.size})`);
    const durable = node.durable === node.data ? null : node.durable;
    for (let i = start; i < end; i++) {
      const x = prng.int(1, 255);
      node.data[i] = node.data[i]! ^ x;
      if (durable && i < durable.length) durable[i] = durable[i]! ^ x;
    }
    return { start, end };
  }

  /** Every file under `dir` (recursively), with its size; for choosing what to damage. */
  filesUnder(dir: string): { path: string; size: number }[] {
    const d = this.#lookup(dir);
    if (!d || d.kind !== 'dir') return [];
    const out: { path: string; size: number }[] = [];
    const walk = (at: Dir, prefix: string): void => {
      for (const [name, node] of [...at.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const p = `${prefix}/${name}`;
        if (node.kind === 'dir') walk(node, p);
        else out.push({ path: p, size: node.size });
      }
    };
    walk(d, path.posix.resolve('/', dir).replace(/\/$/, ''));
    return out;
  }

  /** Power loss and reboot: only durable state remains; open files are gone; the crash point is disarmed. */
  crash(prng?: Prng, opts: CrashOptions = {}): void {
    const sector = opts.tornSectorBytes ?? 0;
    const seen = new Set<Inode>();
    const recover = (d: Dir): void => {
      const names = new Set([...d.entries.keys(), ...d.durable.keys()]);
      const next = new Map<string, Inode | Dir>();
      for (const name of names) {
        const cur = d.entries.get(name);
        const dur = d.durable.get(name);
        const keep = cur === dur || !prng ? dur : prng.chance(0.5) ? cur : dur;
        if (keep) next.set(name, keep);
      }
      d.entries = next;
      d.durable = new Map(next);
      for (const node of next.values()) {
        if (node.kind === 'dir') recover(node);
        else if (!seen.has(node)) {
          seen.add(node);
          const current = node.data.subarray(0, node.size);
          const bytes = !prng || current.equals(node.durable) ? node.durable : sector > 0 ? this.#survivor(current, node.durable, sector, prng) : prng.chance(0.5) ? current : node.durable;
          node.data = Buffer.from(bytes);
          node.size = bytes.length;
          node.durable = Buffer.from(bytes);
        }
      }
    };
    recover(this.#root);
    this.#fds.clear();
    this.#dead = false;
    this.#failAfter = null;
  }

  /** What of a file's unsynced contents a torn-write crash keeps: all, none (a third each), or a torn prefix. */
  #survivor(current: Buffer, durable: Buffer, sectorBytes: number, prng: Prng): Buffer {
    const roll = prng.int(0, 2);
    if (roll === 0) return current;
    if (roll === 1) return durable;
    return tornContents(current, durable, sectorBytes, prng) ?? durable;
  }

  #mutate(call: string): void {
    if (this.#dead) throw new PowerFailure();
    if (this.#failAfter !== null && this.mutations >= this.#failAfter) {
      this.#dead = true;
      throw new PowerFailure();
    }
    if (this.#failWith === 'EIO' || (this.#failWith === 'ENOSPC' && SPACE_CALLS.has(call))) {
      this.injectedErrors++;
      throw fsError(this.#failWith, `${call}: simulated ${this.#failWith === 'EIO' ? 'I/O error' : 'disk full'}`);
    }
    this.mutations++;
  }

  #alive(): void {
    if (this.#dead) throw new PowerFailure();
  }

  #walk(p: string): { parent: Dir; name: string } {
    const parts = path.posix.resolve('/', p).split('/').filter((s) => s !== '');
    const name = parts.pop();
    if (name === undefined) throw fsError('EISDIR', p);
    let d = this.#root;
    for (const part of parts) {
      const next = d.entries.get(part);
      if (!next || next.kind !== 'dir') throw fsError('ENOENT', p);
      d = next;
    }
    return { parent: d, name };
  }

  #lookup(p: string): Inode | Dir | undefined {
    if (path.posix.resolve('/', p) === '/') return this.#root;
    try {
      const { parent, name } = this.#walk(p);
      return parent.entries.get(name);
    } catch {
      return undefined;
    }
  }

  #file(fd: number): OpenFile {
    const f = this.#fds.get(fd);
    if (!f) throw fsError('EBADF', `fd ${fd}`);
    return f;
  }

  open(p: string, flags: OpenFlags): number {
    this.#alive();
    const { parent, name } = this.#walk(p);
    let node = parent.entries.get(name);
    if (node?.kind === 'dir') throw fsError('EISDIR', p);
    if (flags === 'r' || flags === 'r+') {
      if (!node) throw fsError('ENOENT', p);
    } else {
      this.#mutate(node ? 'truncate' : 'create');
      if (!node) {
        node = { kind: 'file', data: Buffer.alloc(0), size: 0, durable: Buffer.alloc(0) };
        parent.entries.set(name, node);
      } else node.size = 0;
    }
    const fd = this.#nextFd++;
    this.#fds.set(fd, { inode: node, writable: flags !== 'r' });
    return fd;
  }

  close(fd: number): void {
    this.#alive();
    this.#file(fd);
    this.#fds.delete(fd);
  }

  read(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
    this.#alive();
    const { inode } = this.#file(fd);
    const n = Math.max(0, Math.min(length, inode.size - position));
    inode.data.copy(buf, offset, position, position + n);
    this.bytesRead += n;
    return n;
  }

  write(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
    this.#mutate('write');
    const f = this.#file(fd);
    if (!f.writable) throw fsError('EBADF', `fd ${fd} is read-only`);
    const inode = f.inode;
    const end = position + length;
    if (end > inode.data.length) {
      const grown = Buffer.alloc(Math.max(end, inode.data.length * 2));
      inode.data.copy(grown, 0, 0, inode.size);
      inode.data = grown;
    }
    if (position > inode.size) inode.data.fill(0, inode.size, position);
    buf.copy(inode.data, position, offset, offset + length);
    inode.size = Math.max(inode.size, end);
    return length;
  }

  size(fd: number): number {
    this.#alive();
    return this.#file(fd).inode.size;
  }

  truncate(fd: number, length: number): void {
    this.#mutate('truncate');
    const inode = this.#file(fd).inode;
    if (length > inode.size) {
      if (length > inode.data.length) {
        const grown = Buffer.alloc(length);
        inode.data.copy(grown, 0, 0, inode.size);
        inode.data = grown;
      }
      inode.data.fill(0, inode.size, length);
    }
    inode.size = length;
  }

  fsync(fd: number): void {
    this.#mutate('fsync');
    const inode = this.#file(fd).inode;
    inode.durable = Buffer.from(inode.data.subarray(0, inode.size));
    this.fsyncs++;
  }

  fsyncDir(dir: string): void {
    this.#mutate('fsyncDir');
    const d = this.#lookup(dir);
    if (!d || d.kind !== 'dir') throw fsError('ENOENT', dir);
    d.durable = new Map(d.entries);
    this.dirFsyncs++;
  }

  exists(p: string): boolean {
    this.#alive();
    return this.#lookup(p) !== undefined;
  }

  list(dir: string): string[] {
    this.#alive();
    const d = this.#lookup(dir);
    if (!d || d.kind !== 'dir') throw fsError('ENOENT', dir);
    return [...d.entries.keys()];
  }

  mkdir(dir: string): void {
    this.#alive();
    let d = this.#root;
    for (const part of path.posix.resolve('/', dir).split('/').filter((s) => s !== '')) {
      let next = d.entries.get(part);
      if (next?.kind === 'file') throw fsError('ENOTDIR', dir);
      if (!next) {
        this.#mutate('mkdir');
        next = newDir();
        d.entries.set(part, next);
      }
      d = next;
    }
  }

  unlink(p: string): void {
    this.#alive();
    const { parent, name } = this.#walk(p);
    const node = parent.entries.get(name);
    if (!node) return;
    if (node.kind === 'dir') throw fsError('EISDIR', p);
    this.#mutate('unlink');
    parent.entries.delete(name);
  }

  removeTree(p: string): void {
    this.#alive();
    let found: { parent: Dir; name: string };
    try {
      found = this.#walk(p);
    } catch {
      return;
    }
    if (!found.parent.entries.has(found.name)) return;
    this.#mutate('unlink');
    found.parent.entries.delete(found.name);
  }

  rename(from: string, to: string): void {
    this.#alive();
    const src = this.#walk(from);
    const node = src.parent.entries.get(src.name);
    if (!node) throw fsError('ENOENT', from);
    const dst = this.#walk(to);
    this.#mutate('rename');
    src.parent.entries.delete(src.name);
    dst.parent.entries.set(dst.name, node);
  }

  readFile(p: string): Buffer {
    this.#alive();
    const node = this.#lookup(p);
    if (!node) throw fsError('ENOENT', p);
    if (node.kind === 'dir') throw fsError('EISDIR', p);
    this.bytesRead += node.size;
    return Buffer.from(node.data.subarray(0, node.size));
  }
}
