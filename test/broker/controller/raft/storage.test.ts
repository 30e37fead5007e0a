/**
 * RaftStorage: round trips across reopen, torn tails at every byte of the last frame, CRC damage,
 * and agreement with an in-memory model over random append/truncate/reopen sequences.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LOG_FILE, RaftStorage, RaftStorageError, SNAPSHOT_SUFFIX, STATE_FILE, encodeEntryFrame, snapshotFileName } from '../../../../broker/controller/raft/storage.ts';
import type { Entry } from '../../../../broker/controller/raft/messages.ts';
import { SimFileSystem } from '../../../../sim/fs.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-storage-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function entries(from: number, n: number, term: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({ term, index: from + i, payload: i % 3 === 0 ? null : `p${from + i}-é` }));
}

describe('RaftStorage', () => {
  it('starts empty, then round-trips hard state, appends and truncations across reopen', () => {
    const dir = tempDir();
    const s = new RaftStorage(dir);
    expect(s.load()).toEqual({ term: 0, votedFor: null, entries: [], base: { index: 0, term: 0 }, snapshot: null, droppedBytes: 0, ignoredSnapshots: [] });
    s.saveHardState({ term: 3, votedFor: 2 });
    s.append(entries(1, 5, 2));
    s.truncateFrom(4);
    s.append(entries(4, 2, 3));
    s.close();
    const t = new RaftStorage(dir);
    const loaded = t.load();
    expect(loaded.term).toBe(3);
    expect(loaded.votedFor).toBe(2);
    expect(loaded.entries).toEqual([...entries(1, 3, 2), ...entries(4, 2, 3)]);
    expect(fs.existsSync(path.join(dir, `${STATE_FILE}.tmp`))).toBe(false);
    t.close();
  });

  it('rejects appends that do not continue the log', () => {
    const s = new RaftStorage(tempDir());
    s.load();
    s.saveHardState({ term: 5, votedFor: null });
    s.append(entries(1, 2, 1));
    expect(() => s.append(entries(4, 1, 1))).toThrow(RaftStorageError);
    expect(() => s.append([{ term: 0, index: 3, payload: 'x' }])).toThrow(/below previous/);
    s.close();
  });

  it('recovers from a torn tail at every byte position of the last frame and keeps appending', () => {
    const dir = tempDir();
    const s = new RaftStorage(dir);
    s.load();
    s.saveHardState({ term: 1, votedFor: 1 });
    s.append(entries(1, 4, 1));
    s.close();
    const logPath = path.join(dir, LOG_FILE);
    const full = fs.readFileSync(logPath);
    const lastLen = encodeEntryFrame(entries(1, 4, 1)[3]!).length;
    for (let cut = full.length - lastLen; cut < full.length; cut++) {
      fs.writeFileSync(logPath, full.subarray(0, cut));
      const t = new RaftStorage(dir);
      const loaded = t.load();
      expect(loaded.entries).toEqual(entries(1, 3, 1));
      expect(loaded.droppedBytes).toBe(cut - (full.length - lastLen));
      expect(fs.statSync(logPath).size).toBe(full.length - lastLen);
      t.append(entries(4, 1, 1));
      t.close();
      expect(new RaftStorage(dir).load().entries).toEqual(entries(1, 4, 1));
    }
  });

  it('drops the tail from a frame whose CRC does not match', () => {
    const dir = tempDir();
    const s = new RaftStorage(dir);
    s.load();
    s.saveHardState({ term: 1, votedFor: null });
    s.append(entries(1, 3, 1));
    s.close();
    const logPath = path.join(dir, LOG_FILE);
    const buf = fs.readFileSync(logPath);
    const second = encodeEntryFrame(entries(1, 1, 1)[0]!).length;
    buf[second + 10] = buf[second + 10]! ^ 0xff; // flip a byte in entry 2's body
    fs.writeFileSync(logPath, buf);
    const loaded = new RaftStorage(dir).load();
    expect(loaded.entries).toEqual(entries(1, 1, 1));
    expect(loaded.droppedBytes).toBe(buf.length - second);
  });

  it('reports an unreadable hard state clearly', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, STATE_FILE), '{"term":-1}');
    expect(() => new RaftStorage(dir).load()).toThrow(/term: integer >= 0/);
  });

  it('matches an in-memory model over random append/truncate sequences (reopening between steps)', () => {
    type Op = { kind: 'append'; n: number } | { kind: 'truncate'; at: number } | { kind: 'reopen' };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('reopen' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops: Op[]) => {
        const dir = tempDir();
        let s = new RaftStorage(dir);
        s.load();
        s.saveHardState({ term: 9, votedFor: null });
        let model: Entry[] = [];
        let term = 1;
        for (const o of ops) {
          if (o.kind === 'append') {
            const add = entries(model.length + 1, o.n, term);
            s.append(add);
            model = [...model, ...add];
          } else if (o.kind === 'truncate') {
            s.truncateFrom(o.at);
            model = model.slice(0, o.at - 1);
            term = Math.min(9, term + 1);
          } else {
            s.close();
            s = new RaftStorage(dir);
            expect(s.load().entries).toEqual(model);
          }
          expect(s.lastIndex).toBe(model.length);
        }
        s.close();
        expect(new RaftStorage(dir).load().entries).toEqual(model);
      }),
      { numRuns: 25 },
    );
  });
});

describe('RaftStorage snapshots and compaction', () => {
  /** A node's life: 30 entries, a snapshot at 10, another at 20 (the log then starts after 10). */
  function compactedDir(): string {
    const dir = tempDir();
    const s = new RaftStorage(dir);
    s.load();
    s.saveHardState({ term: 2, votedFor: 1 });
    s.append(entries(1, 30, 2));
    s.persistReady({ messages: [], committed: [], snapshot: { index: 10, term: 2, data: 'state@10' } });
    s.persistReady({ messages: [], committed: [], snapshot: { index: 20, term: 2, data: 'state@20' }, compactLog: { index: 10, term: 2 } });
    s.append(entries(31, 2, 2));
    s.close();
    return dir;
  }
  const snapshotFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith(SNAPSHOT_SUFFIX)).sort();

  it('starts from the newest snapshot with the log after the older one, and keeps no older snapshot', () => {
    const dir = compactedDir();
    expect(snapshotFiles(dir)).toEqual([snapshotFileName(10, 2), snapshotFileName(20, 2)]);
    const loaded = new RaftStorage(dir).load();
    expect(loaded.snapshot).toEqual({ index: 20, term: 2, data: 'state@20' });
    expect(loaded.base).toEqual({ index: 10, term: 2 });
    expect(loaded.entries).toEqual([...entries(1, 30, 2).slice(10), ...entries(31, 2, 2)]);
    expect(loaded.ignoredSnapshots).toEqual([]);
  });

  it('ignores a torn or corrupt newest snapshot in favour of the older one and the log', () => {
    for (const damage of ['torn', 'flipped'] as const) {
      const dir = compactedDir();
      const file = path.join(dir, snapshotFileName(20, 2));
      const buf = fs.readFileSync(file);
      if (damage === 'torn') fs.writeFileSync(file, buf.subarray(0, buf.length - 3));
      else {
        buf.writeUInt8(buf.readUInt8(buf.length - 2) ^ 0x40, buf.length - 2);
        fs.writeFileSync(file, buf);
      }
      const loaded = new RaftStorage(dir).load();
      expect(loaded.snapshot).toEqual({ index: 10, term: 2, data: 'state@10' });
      expect(loaded.entries).toEqual([...entries(1, 30, 2).slice(10), ...entries(31, 2, 2)]);
      expect(loaded.ignoredSnapshots).toEqual([snapshotFileName(20, 2)]);
    }
  });

  it('a snapshot installed beyond the log end restarts the log after it', () => {
    const dir = tempDir();
    const s = new RaftStorage(dir);
    s.load();
    s.saveHardState({ term: 4, votedFor: null });
    s.append(entries(1, 3, 1));
    s.persistReady({ messages: [], committed: [], snapshot: { index: 50, term: 4, data: 'x' }, resetLog: { base: { index: 50, term: 4 }, entries: [] } });
    s.append(entries(51, 2, 4));
    s.close();
    const loaded = new RaftStorage(dir).load();
    expect(loaded.snapshot?.index).toBe(50);
    expect(loaded.base).toEqual({ index: 50, term: 4 });
    expect(loaded.entries).toEqual(entries(51, 2, 4));
  });
});

describe('RaftStorage on a power-loss disk', () => {
  // Whole-node sim seed 12: a directory created without fsyncing its parent vanishes at power loss
  // with every fsynced file in it. The storage creates its directory and log file durably.
  it('keeps fsynced hard state and entries when the power goes right after, in a directory it created', () => {
    const disk = new SimFileSystem();
    disk.mkdir('/node');
    disk.fsyncDir('/');
    const s = new RaftStorage('/node/raft', disk);
    s.load();
    s.saveHardState({ term: 2, votedFor: 1 });
    s.append(entries(1, 3, 2));
    disk.crash();
    const loaded = new RaftStorage('/node/raft', disk).load();
    expect(loaded.term).toBe(2);
    expect(loaded.entries).toEqual(entries(1, 3, 2));
  });
});
