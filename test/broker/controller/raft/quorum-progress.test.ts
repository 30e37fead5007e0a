/** RaftCore.quorumProgress (what DescribeQuorum reports): only a leader has it; peers' matchIndex as acknowledged. */
import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../../../broker/controller/raft/core.ts';
import type { RaftConfig } from '../../../../broker/controller/raft/core.ts';

const cfg = (id: number): RaftConfig => ({ electionTimeoutMinMs: 100, electionTimeoutMaxMs: 200, heartbeatIntervalMs: 20, maxEntriesPerAppend: 4, id, voters: [1, 2, 3] });

describe('RaftCore.quorumProgress', () => {
  it('is null on a follower, and on the leader lists every voter with its acknowledged index', () => {
    const c = new RaftCore(cfg(1), { term: 0, votedFor: null, entries: [] }, () => 0.5, 0);
    expect(c.quorumProgress).toBeNull();
    c.tick(1000); // pre-vote for term 1
    c.step(2, { type: 'vote-resp', term: 1, granted: true, pre: true }, 1001);
    c.step(2, { type: 'vote-resp', term: 1, granted: true, pre: false }, 1002);
    expect(c.role).toBe('leader');
    expect(c.quorumProgress).toEqual([
      { id: 1, matchIndex: 1, lastHeardMs: null },
      { id: 2, matchIndex: 0, lastHeardMs: expect.any(Number) },
      { id: 3, matchIndex: 0, lastHeardMs: expect.any(Number) },
    ]);
    c.step(2, { type: 'append-resp', term: 1, success: true, matchIndex: 1, hintIndex: 1 }, 1003);
    expect(c.quorumProgress!.map((p) => [p.id, p.matchIndex])).toEqual([[1, 1], [2, 1], [3, 0]]);
  });
});
