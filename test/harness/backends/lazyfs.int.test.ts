// The lazyfs layer on its own: what a clear (power cut) keeps and drops, through real file operations.
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearUnsynced, lazyfsStats, lazyfsSupport, mountLazyfs, unmountLazyfs, type LazyMount } from '../../../harness/backends/lazyfs/lazyfs.ts';
import { waitForExit } from '../../../harness/proc/process.ts';

const support = await lazyfsSupport();
const dir = mkdtempSync(join(tmpdir(), 'fl-lazyfs-'));

describe.skipIf(!support.ok)(`lazyfs${support.ok ? '' : ` (skipped: needs ${support.missing.join(', ')})`}`, () => {
  let m: LazyMount;
  const p = (name: string): string => join(m.mountpoint, name);
  beforeAll(async () => {
    m = await mountLazyfs(join(dir, 'backing'), join(dir, 'mnt'), process.env as Record<string, string>);
  });
  afterAll(async () => {
    await unmountLazyfs(m.mountpoint);
    await waitForExit(m.pid, 5_000);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps fsynced bytes and drops the rest on clear; reads see unsynced data until then', () => {
    const fd = openSync(p('seg'), 'w');
    writeSync(fd, 'durable|');
    fsyncSync(fd);
    writeSync(fd, 'volatile');
    expect(readFileSync(p('seg'), 'utf8')).toBe('durable|volatile');
    expect(statSync(p('seg')).size).toBe(16);
    closeSync(fd);
    expect(lazyfsStats(m).dirtyPages).toBeGreaterThan(0);
    clearUnsynced(m);
    expect(readFileSync(p('seg'), 'utf8')).toBe('durable|');
    expect(lazyfsStats(m)).toMatchObject({ dirtyPages: 0 });
  });

  it('appends, large writes across pages, truncation and renames keep the same rule', () => {
    const fd = openSync(p('log'), 'a');
    writeSync(fd, Buffer.alloc(10_000, 1));
    fsyncSync(fd);
    writeSync(fd, Buffer.alloc(5_000, 2));
    closeSync(fd);
    expect(statSync(p('log')).size).toBe(15_000);
    const t = openSync(p('log'), 'r+');
    ftruncateSync(t, 12_000); // shrink inside the unsynced part
    closeSync(t);
    expect(statSync(p('log')).size).toBe(12_000);
    renameSync(p('log'), p('log.renamed'));
    const got = readFileSync(p('log.renamed'));
    expect(got.subarray(9_999, 10_001)).toEqual(Buffer.from([1, 2]));
    clearUnsynced(m);
    expect(existsSync(p('log'))).toBe(false); // metadata operations are kept
    expect(readFileSync(p('log.renamed'))).toEqual(Buffer.alloc(10_000, 1));
  });

  it('a file never fsynced is empty after a clear (its creation survives: metadata passes through)', () => {
    writeFileSync(p('never-synced'), 'gone');
    clearUnsynced(m);
    expect(readFileSync(p('never-synced'), 'utf8')).toBe('');
  });

  it('a clean unmount writes everything through to the backing directory', async () => {
    writeFileSync(p('at-unmount'), 'kept');
    const other = await mountLazyfs(join(dir, 'backing2'), join(dir, 'mnt2'), process.env as Record<string, string>);
    writeFileSync(join(other.mountpoint, 'f'), 'written, never fsynced');
    await unmountLazyfs(other.mountpoint);
    await waitForExit(other.pid, 5_000);
    expect(readFileSync(join(dir, 'backing2', 'f'), 'utf8')).toBe('written, never fsynced');
  });
});
