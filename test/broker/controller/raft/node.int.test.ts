/**
 * Three RaftNodes in one process over real TCP on 127.0.0.1, each with its own temp data dir:
 * elect, propose, stop the leader (a new one must follow within ~2 s), restart the old leader from
 * its directory and check that every node applies the same entries at the same indices.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LeadershipLostError, NotLeaderError, RaftNode } from '../../../../broker/controller/raft/node.ts';
import type { Entry } from '../../../../broker/controller/raft/messages.ts';

const FETCH_TIMEOUT_MS = 300;
const ELECTION_TIMEOUT_MS = 300;

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

async function waitFor<T>(what: string, f: () => T | null | undefined | false, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-int-'));
const running = new Set<RaftNode>();
afterAll(async () => {
  for (const n of running) await n.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('RaftNode cluster over TCP', () => {
  it('elects, replicates, fails over within ~2 s and converges after the old leader restarts', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const applied = new Map<number, Entry[]>();
    const make = (id: number): RaftNode => {
      const n = new RaftNode({
        id,
        voters,
        dataDir: path.join(root, `node-${id}`),
        fetchTimeoutMs: FETCH_TIMEOUT_MS,
        electionTimeoutMs: ELECTION_TIMEOUT_MS,
        proposeTimeoutMs: 5000,
      });
      const seen: Entry[] = [];
      applied.set(id, seen);
      n.onApply((e) => seen.push(e));
      return n;
    };
    const nodes = new Map<number, RaftNode>([1, 2, 3].map((id) => [id, make(id)]));
    const t0 = Date.now();
    for (const n of nodes.values()) {
      await n.start();
      running.add(n);
    }
    const agreedLeader = () => {
      const live = [...nodes.values()].filter((n) => running.has(n));
      const leaders = live.filter((n) => n.isLeader);
      if (leaders.length !== 1) return null;
      const l = leaders[0]!;
      return live.every((n) => n.leaderId === l.id && n.term === l.term) ? l : null;
    };
    const leader = await waitFor('first leader', agreedLeader, 10_000);
    const firstElectionMs = Date.now() - t0;

    for (let i = 0; i < 20; i++) {
      const { index } = await leader.propose([`a${i}`]);
      expect(index).toBeGreaterThan(0);
    }
    const follower = [...nodes.values()].find((n) => n !== leader)!;
    const err = await follower.propose(['nope']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leaderId).toBe(leader.id);
    await waitFor('followers to apply', () => [...nodes.values()].every((n) => n.appliedIndex === leader.appliedIndex), 5000);

    // Fail over.
    const oldId = leader.id;
    const stoppedAt = Date.now();
    await leader.stop();
    running.delete(leader);
    const next = await waitFor('a new leader', agreedLeader, 5000);
    const failoverMs = Date.now() - stoppedAt;
    expect(next.id).not.toBe(oldId);
    expect(failoverMs).toBeLessThan(2000);
    const { index: afterIndex } = await next.propose(['b0', 'b1']);

    // Restart the old leader from its directory, as a new process would.
    const again = make(oldId);
    nodes.set(oldId, again);
    await again.start();
    running.add(again);
    for (let i = 2; i < 6; i++) await next.propose([`b${i}`]);
    await waitFor(
      'all three to apply everything',
      () => [...nodes.values()].every((n) => n.appliedIndex === next.appliedIndex && n.lastIndex === next.lastIndex),
      5000,
    );
    expect(next.appliedIndex).toBeGreaterThan(afterIndex);
    const logs = [...nodes.keys()].map((id) => applied.get(id)!.map((e) => `${e.index}@${e.term}:${e.payload}`));
    expect(logs[1]).toEqual(logs[0]);
    expect(logs[2]).toEqual(logs[0]);
    const payloads = applied.get(next.id)!.flatMap((e) => (e.payload === null ? [] : [e.payload]));
    expect(payloads).toEqual([...Array.from({ length: 20 }, (_, i) => `a${i}`), 'b0', 'b1', 'b2', 'b3', 'b4', 'b5']);
    console.log(
      `raft int: first election ${firstElectionMs} ms, failover ${failoverMs} ms ` +
        `(fetch.timeout ${FETCH_TIMEOUT_MS} ms, election.timeout ${ELECTION_TIMEOUT_MS} ms); ${next.appliedIndex} entries converged`,
    );
  });

  it('a leader cut off from its followers rejects pending proposals with LeadershipLostError and steps down', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const nodes = [1, 2, 3].map(
      (id) =>
        new RaftNode({ id, voters, dataDir: path.join(root, `lost-${id}`), fetchTimeoutMs: FETCH_TIMEOUT_MS, electionTimeoutMs: ELECTION_TIMEOUT_MS }),
    );
    for (const n of nodes) {
      await n.start();
      running.add(n);
    }
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader && n.appliedIndex >= 1), 10_000);
    for (const n of nodes) {
      if (n === leader) continue;
      await n.stop();
      running.delete(n);
    }
    const t0 = Date.now();
    const err = await leader.propose(['orphan']).catch((e: unknown) => e);
    const tookMs = Date.now() - t0;
    expect(err).toBeInstanceOf(LeadershipLostError);
    expect(leader.isLeader).toBe(false);
    // Check-quorum: it steps down within about one fetch timeout of losing its last follower.
    expect(tookMs).toBeLessThan(FETCH_TIMEOUT_MS + 500);
    console.log(`raft int: isolated leader stepped down ${tookMs} ms after its followers stopped`);
  });
});

