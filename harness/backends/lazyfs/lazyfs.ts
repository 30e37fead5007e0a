/**
 * Power-loss support: a node's data directory mounted through faultline-lazyfs (lazyfs.c beside this
 * file), a FUSE file system that keeps every write that was not fsynced in memory and drops it all on
 * `clear`, as a power cut does (Jepsen's lazyfs idea). It works for any broker process: the broker
 * only sees a directory.
 *
 * - `lazyfsBinary()` compiles lazyfs.c once per source version into `.build/faultline-lazyfs-<hash>`
 *   under the checkout (gcc, pkg-config and libfuse3-dev); `lazyfsSupport()` says whether that can
 *   work here and, if not, what is missing.
 * - `mountLazyfs(backing, mountpoint, env)` starts the daemon (its own process group, env tags it with
 *   the run id for leftover cleanup) and waits, bounded, until the mount is listed in /proc/self/mounts.
 * - `clearUnsynced(m)` drops every unsynced write (write "clear" to the control file); the caller kills
 *   the broker first, so nothing writes in between: what is left is exactly what was fsynced.
 * - `setDiskFull(m, full)`: while full, writes that grow a file (and creates, mkdirs) fail with ENOSPC,
 *   as on a file system with no space left; `false` frees the space again.
 * - `unmountLazyfs(mountpoint)` lazily unmounts (fusermount3 -u -z), which ends the daemon.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { hasExecutable, runCommand, runChecked } from '../../proc/exec.ts';
import { signalGroup } from '../../proc/process.ts';

const here = dirname(fileURLToPath(import.meta.url));
const sourcePath = join(here, 'lazyfs.c');
const buildDir = join(here, '..', '..', '..', '.build');
const mountWaitMs = 10_000;
const controlName = '.lazyfs-control';

export interface LazyMount {
  backing: string;
  mountpoint: string;
  pid: number;
}

/** What power-loss needs on this machine, or the list of what is missing (with the Debian packages). */
export async function lazyfsSupport(): Promise<{ ok: true } | { ok: false; missing: string[] }> {
  const missing: string[] = [];
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) missing.push('root (mounting FUSE file systems)');
  if (!existsSync('/dev/fuse')) missing.push('/dev/fuse (a kernel with FUSE)');
  if (!(await hasExecutable('fusermount3'))) missing.push('fusermount3 (Debian package fuse3)');
  if (!(await hasExecutable('gcc'))) missing.push('gcc (Debian package gcc)');
  const pc = await runCommand('pkg-config', ['--exists', 'fuse3'], 5_000).catch(() => null);
  if (pc === null || pc.exitCode !== 0) missing.push('libfuse3 headers (Debian packages libfuse3-dev and pkg-config)');
  return missing.length === 0 ? { ok: true } : { ok: false, missing };
}

/** The compiled daemon for this source version, built on first use. */
export async function lazyfsBinary(): Promise<string> {
  const source = readFileSync(sourcePath);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const bin = join(buildDir, `faultline-lazyfs-${hash}`);
  if (existsSync(bin)) return bin;
  const support = await lazyfsSupport();
  if (!support.ok) throw new Error(`power-loss needs ${support.missing.join(', ')}`);
  mkdirSync(buildDir, { recursive: true });
  const flags = (await runChecked('pkg-config', ['--cflags', '--libs', 'fuse3'], 10_000)).trim().split(/\s+/);
  const tmp = `${bin}.${process.pid}.tmp`;
  await runChecked('gcc', ['-O2', '-Wall', '-o', tmp, sourcePath, ...flags], 120_000);
  renameSync(tmp, bin); // atomic: a concurrent build never sees a half-written binary
  return bin;
}

function mounted(mountpoint: string): boolean {
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[1] === mountpoint);
}

export async function mountLazyfs(backing: string, mountpoint: string, env: Record<string, string>): Promise<LazyMount> {
  const bin = await lazyfsBinary();
  mkdirSync(backing, { recursive: true });
  mkdirSync(mountpoint, { recursive: true });
  const child = execa(bin, [backing, mountpoint, '-o', 'fsname=faultline-lazyfs,subtype=faultline-lazyfs'], {
    detached: true,
    stdio: 'ignore',
    env,
    reject: false,
    cleanup: false,
  });
  child.catch(() => {});
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${bin}`);
  child.unref();
  const deadline = Date.now() + mountWaitMs;
  while (!mounted(mountpoint)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      signalGroup(pid, 'SIGKILL');
      throw new Error(`faultline-lazyfs did not mount ${mountpoint} within ${mountWaitMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { backing, mountpoint, pid };
}

/** Drop every write not fsynced (the process writing to it must be dead already). */
export function clearUnsynced(m: Pick<LazyMount, 'mountpoint'>): void {
  writeFileSync(join(m.mountpoint, controlName), 'clear\n');
}

/** Make the layer's disk full (writes that need space fail with ENOSPC) or free it again. */
export function setDiskFull(m: Pick<LazyMount, 'mountpoint'>, full: boolean): void {
  writeFileSync(join(m.mountpoint, controlName), full ? 'full\n' : 'free\n');
}

/** "dirty_files N dirty_pages M cleared K full F" (for tests and status). */
export function lazyfsStats(m: Pick<LazyMount, 'mountpoint'>): { dirtyFiles: number; dirtyPages: number; cleared: number } {
  const control = join(m.mountpoint, controlName);
  writeFileSync(control, 'stats\n');
  const [, files, , pages, , cleared] = readFileSync(control, 'utf8').trim().split(/\s+/);
  return { dirtyFiles: Number(files), dirtyPages: Number(pages), cleared: Number(cleared) };
}

export async function unmountLazyfs(mountpoint: string): Promise<boolean> {
  if (!mounted(mountpoint)) return false;
  const r = await runCommand('fusermount3', ['-u', '-z', mountpoint], 10_000);
  if (r.exitCode !== 0) await runCommand('umount', ['-l', mountpoint], 10_000);
  return true;
}
