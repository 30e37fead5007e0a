/**
 * The Raft core's leader lease (core.ts module doc): its base is the send time of the newest request
 * each peer answered (echoed back), not the arrival of the answer; a node refuses votes for one
 * election timeout after it starts, and a leader that steps down refuses them until its lease ends.
 */
import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../../../broker/controller/raft/core.ts';
import type { PersistedState, RaftConfig, Ready } from '../../../../broker/controller/raft/core.ts';
import type { AppendRequest, Message } from '../../../../broker/controller/raft/messages.ts';

const F = 100;
const cfg = (id: number): RaftConfig => ({ id, voters: [1, 2, 3], electionTimeoutMinMs: F, electionTimeoutMaxMs: 2 * F, heartbeatIntervalMs: 20, maxEntriesPerAppend: 4 });
const empty: PersistedState = { term: 0, votedFor: null, entries: [] };
const half = () => 0.5;

const appendsIn = (r: Ready): AppendRequest[] => r.messages.map((m) => m.message).filter((m): m is AppendRequest => m.type === 'append-req');

/** Node 1 elected leader of term 1 at about `atMs` with node 2's votes; returns the core and the Ready of its election. */
function leader(atMs: number): { core: RaftCore; elected: Ready } {
  const core = new RaftCore(cfg(1), empty, half, 0);
  core.tick(atMs); // pre-vote
  core.step(2, { type: 'vote-resp', term: 1, granted: true, pre: true }, atMs);
  const elected = core.step(2, { type: 'vote-resp', term: 1, granted: true, pre: false }, atMs);
  expect(core.role).toBe('leader');
  return { core, elected };
}

const ack = (term: number, echoMs?: number): Message => ({ type: 'append-resp', term, success: true, matchIndex: 1, hintIndex: 1, ...(echoMs === undefined ? {} : { echoMs }) });

describe('RaftCore leader lease', () => {
  it('is based on the send time a peer echoes, not on when its answer arrives', () => {
    const { core, elected } = leader(1000);
    const sent = appendsIn(elected).map((m) => m.sentMs);
    expect(sent).toEqual([1000, 1000]);
    // No peer answered yet: no lease beyond what has passed.
    expect(core.leaseEndMs).toBe(Number.NEGATIVE_INFINITY);
    // An answer without an echo (an older peer) proves nothing about when it heard us.
    core.step(2, ack(1), 1010);
    expect(core.leaseEndMs).toBe(Number.NEGATIVE_INFINITY);
    // An answer that waited 90 ms in the network: the lease counts from the send, 1000.
    core.step(2, ack(1, 1000), 1090);
    expect(core.leaseEndMs).toBe(1000 + F);
    // An older echo does not shorten it; an echo from the future is not ours and is ignored.
    core.step(3, ack(1, 990), 1091);
    expect(core.leaseEndMs).toBe(1000 + F);
    core.step(2, ack(1, 5000), 1092);
    expect(core.leaseEndMs).toBe(1000 + F);
    // A non-leader has none.
    const follower = new RaftCore(cfg(2), empty, half, 0);
    expect(follower.leaseEndMs).toBeNull();
  });

  it('a follower echoes the send time of the request it answers', () => {
    const c = new RaftCore(cfg(2), empty, half, 0);
    const r = c.step(1, { type: 'append-req', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, sentMs: 777 }, 1000);
    expect(r.messages[0]!.message).toMatchObject({ type: 'append-resp', success: true, echoMs: 777 });
    const miss = c.step(1, { type: 'append-req', term: 1, prevLogIndex: 9, prevLogTerm: 1, entries: [], leaderCommit: 0, sentMs: 778 }, 1001);
    expect(miss.messages[0]!.message).toMatchObject({ type: 'append-resp', success: false, echoMs: 778 });
  });

  it('a node refuses pre-votes for one election timeout after it starts (its last life may have promised a lease)', () => {
    const persisted: PersistedState = { term: 3, votedFor: null, entries: [{ term: 3, index: 1, payload: 'a' }] };
    const c = new RaftCore(cfg(3), persisted, half, 5000);
    const req: Message = { type: 'vote-req', term: 4, lastLogIndex: 1, lastLogTerm: 3, pre: true };
    // A node in lease ignores a vote request for a higher term (no answer at all).
    expect(c.step(1, req, 5000 + F - 1).messages).toEqual([]);
    expect(c.step(1, req, 5000 + F).messages[0]!.message).toMatchObject({ granted: true });
  });

  it('a leader that steps down refuses votes until the lease it had has ended', () => {
    const { core } = leader(1000);
    core.step(2, ack(1, 1000), 1010);
    expect(core.leaseEndMs).toBe(1100);
    // A peer answers from a higher term: this node steps down at 1020, inside its lease.
    core.step(3, { type: 'append-resp', term: 2, success: false, matchIndex: 0, hintIndex: 0 }, 1020);
    expect(core.role).toBe('follower');
    const pre: Message = { type: 'vote-req', term: 3, lastLogIndex: 1, lastLogTerm: 1, pre: true };
    expect(core.step(3, pre, 1099).messages).toEqual([]);
    expect(core.step(3, pre, 1100).messages[0]!.message).toMatchObject({ granted: true });
  });
});
