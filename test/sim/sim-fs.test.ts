/** The simulated disk keeps exactly what fsync and directory fsync made durable (its contract, sim-fs.ts). */
import { describe, expect, it } from 'vitest';
import { defaultLogConfig, PartitionLog } from '../../broker/log/partition-log.ts';
import { encodeEntryFrame, LOG_FILE, RaftStorage } from '../../broker/controller/raft/storage.ts';
import { simpleBatch } from '../broker/log/batch-builder.ts';
import { Prng } from './prng.ts';
import { PowerFailure, SimFileSystem, tornContents } from './sim-fs.ts';

const SECTOR = 512;

function durableFile(disk: SimFileSystem, path: string, text: string): void {
  const fd = disk.open(path, 'w+');
  disk.write(fd, Buffer.from(text), 0, text.length, 0);
  disk.fsync(fd);
  disk.close(fd);
}

describe('SimFileSystem', () => {
  it('loses a new file whose directory was not fsynced, though its data was', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.fsyncDir('/');
    durableFile(disk, '/d/a', 'hello');
    disk.crash();
    expect(disk.exists('/d/a')).toBe(false);
    durableFile(disk, '/d/a', 'hello');
    disk.fsyncDir('/d');
    disk.crash();
    expect(disk.readFile('/d/a').toString()).toBe('hello');
  });

  it('loses unsynced writes and truncations, keeps synced ones', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.fsyncDir('/');
    durableFile(disk, '/d/a', 'hello');
    disk.fsyncDir('/d');
    const fd = disk.open('/d/a', 'r+');
    disk.write(fd, Buffer.from(' world'), 0, 6, 5);
    disk.truncate(fd, 2);
    disk.crash();
    expect(disk.readFile('/d/a').toString()).toBe('hello');
  });

  it('undoes a rename and a deletion not followed by a directory fsync', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.fsyncDir('/');
    durableFile(disk, '/d/a', 'old');
    durableFile(disk, '/d/b', 'gone');
    disk.fsyncDir('/d');
    durableFile(disk, '/d/a.tmp', 'new');
    disk.rename('/d/a.tmp', '/d/a');
    disk.unlink('/d/b');
    disk.crash();
    expect(disk.readFile('/d/a').toString()).toBe('old');
    expect(disk.readFile('/d/b').toString()).toBe('gone');
    expect(disk.exists('/d/a.tmp')).toBe(false);
  });

  it('fails the armed mutation and every call after it until the reboot', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.powerFailAfter(1);
    const fd = disk.open('/d/x', 'w+'); // mutation 1
    expect(() => disk.write(fd, Buffer.from('x'), 0, 1, 0)).toThrow(PowerFailure);
    expect(() => disk.exists('/d')).toThrow(PowerFailure);
    disk.crash();
    expect(disk.exists('/d')).toBe(false); // the mkdir was never made durable in '/'
  });

  it('tears an unsynced write only at a sector boundary past the first changed sector, never inside a sector', () => {
    const durable = Buffer.alloc(1000, 0x61);
    const current = Buffer.concat([durable, Buffer.alloc(2000, 0x62)]);
    const cuts = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const torn = tornContents(current, durable, SECTOR, new Prng(seed))!;
      expect(torn.length % SECTOR).toBe(0);
      expect(torn.length).toBeGreaterThanOrEqual(1024); // sector 1 (bytes 512-1023) holds the first change
      expect(torn.length).toBeLessThan(current.length);
      expect(torn.equals(current.subarray(0, torn.length))).toBe(true);
      cuts.add(torn.length);
    }
    expect([...cuts].sort((a, b) => a - b)).toEqual([1024, 1536, 2048, 2560]);
    // A change inside one sector cannot tear; an overwrite keeps the old bytes past the cut.
    expect(tornContents(Buffer.from('abcX'), Buffer.from('abcd'), SECTOR, new Prng(1))).toBeNull();
    const old = Buffer.alloc(1536, 0x6f);
    const rewritten = Buffer.concat([Buffer.alloc(1024, 0x6e), Buffer.alloc(100, 0x6e)]);
    const forms = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const t = tornContents(rewritten, old, SECTOR, new Prng(seed))!;
      const cut = t.findIndex((b) => b === 0x6f);
      expect([512, 1024]).toContain(cut);
      expect(t.equals(Buffer.concat([rewritten.subarray(0, cut), old.subarray(cut)]))).toBe(true);
      forms.add(String(cut));
    }
    expect(forms.size).toBe(2);
  });

  it('with torn writes on, a crash keeps the unsynced contents whole, drops them, or tears them; synced bytes always stay', () => {
    const seen = { kept: 0, lost: 0, torn: 0 };
    for (let seed = 1; seed <= 60; seed++) {
      const disk = new SimFileSystem();
      disk.mkdir('/d');
      disk.fsyncDir('/');
      durableFile(disk, '/d/a', 'x'.repeat(700));
      disk.fsyncDir('/d');
      const fd = disk.open('/d/a', 'r+');
      disk.write(fd, Buffer.alloc(3000, 0x79), 0, 3000, 700);
      disk.crash(new Prng(seed), { tornSectorBytes: SECTOR });
      const after = disk.readFile('/d/a');
      expect(after.subarray(0, 700).toString()).toBe('x'.repeat(700));
      if (after.length === 3700) seen.kept++;
      else if (after.length === 700) seen.lost++;
      else {
        expect(after.length % SECTOR).toBe(0);
        seen.torn++;
      }
    }
    expect(seen.kept).toBeGreaterThan(0);
    expect(seen.lost).toBeGreaterThan(0);
    expect(seen.torn).toBeGreaterThan(0);
  });

  it('fails writes with EIO (every mutation) or ENOSPC (those needing space) while failing, taking no effect; reads work', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    durableFile(disk, '/d/a', 'hello');
    const fd = disk.open('/d/a', 'r+');
    disk.failWrites('EIO');
    expect(() => disk.write(fd, Buffer.from('!'), 0, 1, 5)).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(() => disk.fsync(fd)).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(() => disk.rename('/d/a', '/d/b')).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(disk.readFile('/d/a').toString()).toBe('hello');
    disk.failWrites('ENOSPC');
    expect(() => disk.write(fd, Buffer.from('!'), 0, 1, 5)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(() => disk.open('/d/new', 'w+')).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    disk.fsync(fd); // nothing to allocate
    disk.truncate(fd, 2); // frees space
    expect(disk.injectedErrors).toBe(5);
    disk.failWrites(null);
    disk.write(fd, Buffer.from('!'), 0, 1, 2);
    expect(disk.readFile('/d/a').toString()).toBe('he!');
  });

  it('corrupts one whole sector, in the page cache and durably, and nothing else', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/d');
    disk.fsyncDir('/');
    durableFile(disk, '/d/a', 'z'.repeat(1300));
    disk.fsyncDir('/d');
    const { start, end } = disk.corruptSector('/d/a', 1100, SECTOR, new Prng(7));
    expect([start, end]).toEqual([1024, 1300]);
    disk.crash();
    const after = disk.readFile('/d/a');
    expect(after.subarray(0, 1024).toString()).toBe('z'.repeat(1024));
    for (let i = 1024; i < 1300; i++) expect(after[i]).not.toBe(0x7a);
  });
});

describe('the broker recovers from what the disk faults leave', () => {
  const config = { ...defaultLogConfig, flushIntervalMessages: 1 };
  const DIR = '/data/partitions/t-0';

  /** A log with `synced` fsynced batches, then one more written but not fsynced (3 KiB: it spans sectors). */
  function logWithUnsyncedTail(disk: SimFileSystem, synced: number): number {
    const log = PartitionLog.open(DIR, config, () => 0, disk);
    for (let i = 0; i < synced; i++) log.appendAsLeader(simpleBatch(2, 100, i), 0);
    const end = log.logEndOffset;
    const unsynced = PartitionLog.open(DIR, { ...config, flushIntervalMessages: Number.MAX_SAFE_INTEGER }, () => 0, disk);
    unsynced.appendAsLeader(simpleBatch(10, 300, 99), 0);
    return end;
  }

  it('a partition log cuts a torn tail at the last whole batch (CRC), keeping every fsynced batch', () => {
    let torn = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const disk = new SimFileSystem();
      const syncedEnd = logWithUnsyncedTail(disk, 3);
      disk.crash(new Prng(seed), { tornSectorBytes: SECTOR });
      const log = PartitionLog.open(DIR, config, () => 0, disk);
      expect([syncedEnd, syncedEnd + 10]).toContain(log.logEndOffset);
      if (log.recovery.badReason !== null) {
        torn++;
        expect(log.logEndOffset).toBe(syncedEnd);
      }
      log.appendAsLeader(simpleBatch(1, 10, 7), 0); // appends go on after the cut
    }
    expect(torn).toBeGreaterThan(0);
  });

  it('a partition log detects a damaged sector in its active segment (CRC) and cuts the log before it', () => {
    const disk = new SimFileSystem();
    const log = PartitionLog.open(DIR, config, () => 0, disk);
    for (let i = 0; i < 20; i++) log.appendAsLeader(simpleBatch(2, 100, i), 0);
    const end = log.logEndOffset;
    disk.crash();
    const seg = disk.filesUnder(DIR).find((f) => f.path.endsWith('.log'))!;
    disk.corruptSector(seg.path, 2000, SECTOR, new Prng(5));
    const reopened = PartitionLog.open(DIR, config, () => 0, disk);
    expect(reopened.recovery.badReason).not.toBeNull();
    expect(reopened.logEndOffset).toBeLessThan(end);
    expect(disk.readFile(seg.path).length).toBeLessThanOrEqual(1536);
  });

  it('the Raft log drops a torn last frame and keeps every fsynced entry', () => {
    const entries = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ term: 1, index: from + i, payload: 'p'.repeat(300) }));
    let dropped = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const disk = new SimFileSystem();
      const s = new RaftStorage('/data/raft', disk);
      s.load();
      s.saveHardState({ term: 1, votedFor: 1 });
      s.append(entries(1, 4));
      // 9 more entries written as one append's frames, not yet fsynced (the power goes before the fsync).
      const logPath = `/data/raft/${LOG_FILE}`;
      const frames = Buffer.concat(entries(5, 13).map(encodeEntryFrame));
      const fd = disk.open(logPath, 'r+');
      disk.write(fd, frames, 0, frames.length, disk.readFile(logPath).length);
      disk.crash(new Prng(seed), { tornSectorBytes: SECTOR });
      const loaded = new RaftStorage('/data/raft', disk).load();
      expect(loaded.entries.slice(0, 4)).toEqual(entries(1, 4));
      if (loaded.droppedBytes > 0) dropped++;
    }
    expect(dropped).toBeGreaterThan(0);
  });
});
