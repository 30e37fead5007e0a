/**
 * Directed unit tests of the sans-I/O Raft core: the Ready contract (what must be persisted before
 * sending), vote rules (one vote per term across restarts, up-to-date logs only), conflict-only
 * truncation, the figure-8 commit rule, configuration and wire-message validation.
 */
import { describe, expect, it } from 'vitest';
import { RaftConfigError, RaftCore } from '../../../../broker/controller/raft/core.ts';
import type { PersistedState, RaftConfig, Ready } from '../../../../broker/controller/raft/core.ts';
import { parseMessage } from '../../../../broker/controller/raft/messages.ts';
import type { Entry, Message } from '../../../../broker/controller/raft/messages.ts';

const base = { electionTimeoutMinMs: 100, electionTimeoutMaxMs: 200, heartbeatIntervalMs: 20, maxEntriesPerAppend: 4 };
const cfg = (id: number, voters: number[] = [1, 2, 3]): RaftConfig => ({ ...base, id, voters });
const empty: PersistedState = { term: 0, votedFor: null, entries: [] };
const half = () => 0.5;

describe('RaftCore', () => {
  it('a single voter elects itself, commits its no-op and then proposals in the same Ready that persists them', () => {
    const c = new RaftCore(cfg(1, [1]), empty, half, 0);
    const r = c.tick(1000);
    expect(c.role).toBe('leader');
    expect(r.persist).toEqual({ term: 1, votedFor: 1 });
    expect(r.appendEntries).toEqual({ fromIndex: 1, entries: [{ term: 1, index: 1, payload: null }] });
    expect(r.committed).toEqual([{ term: 1, index: 1, payload: null }]);
    const p = c.propose(['a', 'b'], 1001);
    expect(p.ok && p.lastIndex).toBe(3);
    expect(p.ok && p.ready.committed.map((e) => e.payload)).toEqual(['a', 'b']);
  });

  it('a follower refuses proposals and names the leader it knows', () => {
    const c = new RaftCore(cfg(2), empty, half, 0);
    expect(c.propose(['x'], 0)).toEqual({ ok: false, leaderId: null });
    c.step(1, { type: 'append-req', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0 }, 1);
    expect(c.propose(['x'], 2)).toEqual({ ok: false, leaderId: 1 });
  });

  it('a granted vote is in the Ready to persist, and a core rebuilt from it will not vote again in that term', () => {
    const log: Entry[] = [{ term: 1, index: 1, payload: 'a' }];
    const c = new RaftCore(cfg(3), { term: 1, votedFor: null, entries: log }, half, 0);
    // A refused request for term 5 moves this node to term 5 (persisted, no vote yet)...
    const refused = c.step(2, { type: 'vote-req', term: 5, lastLogIndex: 0, lastLogTerm: 0, pre: false }, 1000);
    expect(refused.persist).toEqual({ term: 5, votedFor: null });
    expect(refused.messages[0]!.message).toMatchObject({ granted: false });
    // ...then a vote in that same term must be persisted by itself.
    const r = c.step(1, { type: 'vote-req', term: 5, lastLogIndex: 1, lastLogTerm: 1, pre: false }, 1000);
    expect(r.persist).toEqual({ term: 5, votedFor: 1 });
    expect(r.messages).toEqual([{ to: 1, message: { type: 'vote-resp', term: 5, granted: true, pre: false } }]);
    const again = new RaftCore(cfg(3), { ...r.persist!, entries: log }, half, 2000);
    const r2 = again.step(2, { type: 'vote-req', term: 5, lastLogIndex: 1, lastLogTerm: 1, pre: false }, 2001);
    expect(r2.messages[0]!.message).toMatchObject({ type: 'vote-resp', granted: false });
  });

  it('refuses votes and pre-votes to candidates whose log is behind', () => {
    const log: Entry[] = [{ term: 2, index: 1, payload: 'a' }];
    const c = new RaftCore(cfg(3), { term: 2, votedFor: null, entries: log }, half, 0);
    const pre = c.step(1, { type: 'vote-req', term: 3, lastLogIndex: 5, lastLogTerm: 1, pre: true }, 1000);
    expect(pre.messages[0]!.message).toMatchObject({ granted: false, pre: true, term: 2 });
    expect(c.term).toBe(2);
    const real = c.step(1, { type: 'vote-req', term: 3, lastLogIndex: 5, lastLogTerm: 1, pre: false }, 1001);
    expect(real.messages[0]!.message).toMatchObject({ granted: false, term: 3 });
    expect(real.persist).toEqual({ term: 3, votedFor: null });
  });

  it('truncates only on conflict: a stale duplicate AppendEntries never shortens the log', () => {
    const c = new RaftCore(cfg(2), empty, half, 0);
    const e = (i: number, t: number): Entry => ({ term: t, index: i, payload: `v${i}` });
    c.step(1, { type: 'append-req', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [e(1, 1), e(2, 1), e(3, 1)], leaderCommit: 1 }, 1);
    const dup = c.step(1, { type: 'append-req', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [e(1, 1)], leaderCommit: 1 }, 2);
    expect(c.lastIndex).toBe(3);
    expect(dup.appendEntries).toBeUndefined();
    expect(dup.messages[0]!.message).toMatchObject({ success: true, matchIndex: 1 });
    const conflict = c.step(1, { type: 'append-req', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [e(2, 2)], leaderCommit: 1 }, 3);
    expect(conflict.appendEntries).toEqual({ fromIndex: 2, entries: [e(2, 2)] });
    expect(c.lastIndex).toBe(2);
    expect(() =>
      c.step(1, { type: 'append-req', term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: [{ term: 2, index: 1, payload: 'z' }], leaderCommit: 1 }, 4),
    ).toThrow(/truncate committed/);
  });

  it('validates its configuration and persisted state with clear messages', () => {
    expect(() => new RaftCore(cfg(4), empty, half, 0)).toThrow(/not among the voters/);
    expect(() => new RaftCore({ ...cfg(1), electionTimeoutMaxMs: 100 }, empty, half, 0)).toThrow(RaftConfigError);
    expect(() => new RaftCore({ ...cfg(1), heartbeatIntervalMs: 100 }, empty, half, 0)).toThrow(/heartbeatIntervalMs/);
    expect(() => new RaftCore(cfg(1), { term: 1, votedFor: null, entries: [{ term: 2, index: 1, payload: null }] }, half, 0)).toThrow(
      /above|> hard-state/,
    );
  });

  it('parseMessage accepts well-formed messages and rejects malformed ones', () => {
    const ok = { type: 'append-req', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [{ term: 2, index: 2, payload: 'x' }], leaderCommit: 1 };
    expect(parseMessage(ok)).toEqual(ok);
    expect(parseMessage({ ...ok, entries: [{ term: 2, index: 3, payload: 'x' }] })).toBeNull();
    expect(parseMessage({ ...ok, term: -1 })).toBeNull();
    expect(parseMessage({ type: 'vote-req', term: 1, lastLogIndex: 0, lastLogTerm: 0 })).toBeNull();
    expect(parseMessage({ type: 'nope', term: 1 })).toBeNull();
    expect(parseMessage(null)).toBeNull();
  });

  it('Raft figure 8: a leader does not commit an earlier-term entry by counting replicas, so a later leader may replace it', () => {
    // S1..S5 at term 3. S1 and S2 hold 2@2, S5 holds a different 2@3, S3 and S4 only 1@1.
    const e1: Entry = { term: 1, index: 1, payload: 'e1' };
    const logs: Record<number, Entry[]> = {
      1: [e1, { term: 2, index: 2, payload: 'old' }],
      2: [e1, { term: 2, index: 2, payload: 'old' }],
      3: [e1],
      4: [e1],
      5: [e1, { term: 3, index: 2, payload: 'other' }],
    };
    const ids = [1, 2, 3, 4, 5];
    const cores = new Map(
      ids.map((id) => [id, new RaftCore({ ...base, id, voters: ids, maxEntriesPerAppend: 1 }, { term: 3, votedFor: null, entries: logs[id]! }, half, 0)]),
    );
    const committed = new Map<number, string>();
    let outbox: Array<{ from: number; to: number; message: Message }> = [];
    const handle = (from: number, r: Ready) => {
      for (const m of r.messages) outbox.push({ from, ...m });
      for (const e of r.committed) {
        const seen = committed.get(e.index);
        const mine = `${e.term}:${e.payload}`;
        if (seen !== undefined) expect(mine, `index ${e.index} committed twice differently`).toBe(seen);
        committed.set(e.index, mine);
      }
    };
    let now = 1000;
    // Deliver messages among `group` (others are dropped) until quiet; bounded.
    type Out = { from: number; to: number; message: Message };
    const exchange = (group: number[], drop: (m: Out) => boolean = () => false) => {
      for (let i = 0; i < 200 && outbox.length > 0; i++) {
        const batch = outbox;
        outbox = [];
        for (const m of batch) {
          if (group.includes(m.from) && group.includes(m.to) && !drop(m)) handle(m.to, cores.get(m.to)!.step(m.from, m.message, now));
        }
      }
      outbox = [];
    };
    // S3 never receives S1's no-op 3@4.
    const noopToS3 = (m: Out) => m.to === 3 && m.message.type === 'append-req' && m.message.entries.some((e) => e.index === 3);
    // S1 campaigns with S2 and S3 reachable: elected for term 4, appends its no-op 3@4.
    // S1 brings S3 up to index 2 (one entry per append) but is cut off before S3 gets the no-op:
    // 2@2 is then on a majority (S1, S2, S3) and acknowledged, yet must not count as committed.
    handle(1, cores.get(1)!.tick(now));
    exchange([1, 2, 3], noopToS3);
    const leader = cores.get(1)!;
    expect(leader.role).toBe('leader');
    expect(leader.term).toBe(4);
    now += 60;
    handle(1, leader.tick(now));
    exchange([1, 2, 3], noopToS3);
    expect(cores.get(3)!.lastIndex).toBe(2);
    expect(cores.get(3)!.entryAt(2)?.payload).toBe('old');
    expect(leader.commitIndex).toBe(0);
    // S1 is gone. Long after every lease expired, S5 (last entry 2@3) wins with S3 and S4.
    cores.delete(1);
    now += 10_000;
    for (let round = 0; round < 5 && cores.get(5)!.role !== 'leader'; round++) {
      now += 1000;
      handle(5, cores.get(5)!.tick(now));
      exchange([3, 4, 5]);
    }
    expect(cores.get(5)!.role).toBe('leader');
    now += 100;
    handle(5, cores.get(5)!.tick(now));
    exchange([3, 4, 5]);
    expect(committed.get(2)).toBe('3:other');
  });
});

