/**
 * RaftNode with short timeouts on loopback: proposals resolve only after being applied, re-entrant
 * proposals keep apply order, a new node on the same directory re-applies from index 1, and
 * NotLeader / stopped / configuration errors are typed and clear.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NotLeaderError, RaftNode, RaftStoppedError } from '../../../../broker/controller/raft/node.ts';
import type { Entry } from '../../../../broker/controller/raft/messages.ts';
import { nodeFileSystem, type FileSystem } from '../../../../broker/log/fs.ts';
import { realRuntime } from '../../../../broker/runtime/real.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-node-'));
  cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function waitFor(what: string, f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function single(dataDir: string): { node: RaftNode; applied: Entry[]; leaders: Array<[number | null, number]> } {
  const node = new RaftNode({ id: 1, voters: '1@127.0.0.1:1', listen: { host: '127.0.0.1', port: 0 }, dataDir, fetchTimeoutMs: 40, electionTimeoutMs: 40 });
  const applied: Entry[] = [];
  const leaders: Array<[number | null, number]> = [];
  node.onApply((e) => applied.push(e));
  node.onLeaderChange((l, t) => leaders.push([l, t]));
  cleanup.push(() => node.stop());
  return { node, applied, leaders };
}

describe('RaftNode (single voter)', () => {
  it('a log write that fails stops the node and reports it fatal (its owner must exit)', async () => {
    let full = false;
    const enospc = (): never => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    const fs2: FileSystem = { ...nodeFileSystem, write: (...a) => (full ? enospc() : nodeFileSystem.write(...a)), fsync: (fd) => (full ? enospc() : nodeFileSystem.fsync(fd)) };
    const node = new RaftNode({ id: 1, voters: '1@127.0.0.1:1', listen: { host: '127.0.0.1', port: 0 }, dataDir: tempDir(), fetchTimeoutMs: 40, electionTimeoutMs: 40, runtime: { ...realRuntime, fs: fs2 } });
    cleanup.push(() => node.stop());
    const fatal: Error[] = [];
    node.onFatal((e) => fatal.push(e));
    await node.start();
    await waitFor('leadership', () => node.isLeader);
    full = true;
    await node.propose(['x']).catch(() => undefined);
    await waitFor('the fatal report', () => fatal.length > 0);
    expect(fatal[0]!.message).toMatch(/ENOSPC/);
    await expect(node.propose(['y'])).rejects.toBeInstanceOf(RaftStoppedError);
  });

  it('resolves a proposal only after its entries are applied, in order, including re-entrant proposals', async () => {
    const { node, applied, leaders } = single(tempDir());
    await node.start();
    await waitFor('leadership', () => node.isLeader);
    expect(leaders.at(-1)).toEqual([1, node.term]);
    node.onApply((e) => {
      if (e.payload === 'x') void node.propose(['y']);
    });
    const { index } = await node.propose(['w', 'x']);
    // Applied by the time it resolves (the re-entrant 'y' may be applied already too: sole voter).
    expect(applied.slice(0, 3).map((e) => e.payload)).toEqual([null, 'w', 'x']);
    expect(index).toBe(3);
    await waitFor('re-entrant proposal', () => applied.length === 4);
    expect(applied.map((e) => [e.index, e.payload])).toEqual([
      [1, null],
      [2, 'w'],
      [3, 'x'],
      [4, 'y'],
    ]);
  });

  it('a new RaftNode on the same directory re-applies the committed log from index 1; one node starts only once', async () => {
    const dir = tempDir();
    const first = single(dir);
    await first.node.start();
    await waitFor('leadership', () => first.node.isLeader);
    await first.node.propose(['a']);
    await first.node.propose(['b']);
    await first.node.stop();
    await expect(first.node.start()).rejects.toThrow(/starts once/);
    await expect(first.node.propose(['c'])).rejects.toBeInstanceOf(RaftStoppedError);

    const second = single(dir);
    await second.node.start();
    await waitFor('re-application', () => second.applied.length === 4);
    expect(second.applied.map((e) => e.payload)).toEqual([null, 'a', 'b', null]);
    expect(second.applied.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(second.node.term).toBeGreaterThan(first.leaders.at(-1)![1]);
  });

  it('refuses proposals with NotLeaderError while it has no quorum', async () => {
    const node = new RaftNode({ id: 1, voters: '1@127.0.0.1:1,2@127.0.0.1:2,3@127.0.0.1:3', listen: { host: '127.0.0.1', port: 0 }, dataDir: tempDir(), fetchTimeoutMs: 40, electionTimeoutMs: 40 });
    cleanup.push(() => node.stop());
    await node.start();
    await new Promise((r) => setTimeout(r, 150));
    expect(node.isLeader).toBe(false);
    const err = await node.propose(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(err).toMatchObject({ code: 'NOT_LEADER', leaderId: null });
  });

  it('rejects bad configuration clearly', () => {
    expect(() => new RaftNode({ id: 4, voters: '1@127.0.0.1:1', dataDir: '/nonexistent' })).toThrow(/not among the voters/);
    expect(() => new RaftNode({ id: 1, voters: '1@127.0.0.1', dataDir: '/nonexistent' })).toThrow(/id@host:port/);
    expect(() => new RaftNode({ id: 1, voters: '1@127.0.0.1:1', dataDir: '/nonexistent', fetchTimeoutMs: 100, heartbeatIntervalMs: 100 })).toThrow(
      /heartbeatIntervalMs must be > 0 and < electionTimeoutMinMs \(100\)/,
    );
  });
});
