/**
 * A directed fault episode for the Raft simulator: a vote request that arrives late, after its
 * voters gained committed entries the candidate lacks (Raft §5.4.1, the up-to-date rule of the
 * real vote). PreVote checks the same rule, and a follower in its leader's lease ignores vote
 * requests, so random runs hardly ever get a behind candidate to a real vote: its pre-vote must be
 * granted while the voters were as far as it, and its vote request must land after they got more
 * and lost the lease again. Here, with ordinary faults aimed at roles:
 *
 * 0. Crashed nodes restart and partitions heal; the episode waits for one leader L.
 * 1. A follower X is cut off (both ways) from everyone but a bare quorum's worth of voters C, so it
 *    stops hearing the leader L and campaigns; C keeps following L.
 * 2. When X starts a pre-vote, C restarts (a process restart forgets the lease), so C, as far as X
 *    and out of lease, grants it (up to five tries).
 * 3. When X becomes candidate, its links to C stall: the vote requests wait in flight.
 * 4. L appends a few entries and commits them with C (X, cut off, lacks them).
 * 5. C restarts again (out of lease), and X's links resume: the vote requests land. A voter must
 *    refuse (X's log is behind its own); one that grants elects a leader lacking committed entries
 *    (leader completeness).
 * Then every partition heals and the run goes on. Each wait is bounded, so an episode that misses
 * its shape (X's pre-vote lost to a heartbeat, X's candidacy timed out) ends early.
 */
import type { Simulator } from './simulator.ts';

/** How far an episode got; `vote-delivered` means step 5 happened (the shape was reached). */
export type LateVoteOutcome = 'no-leader' | 'no-campaign' | 'no-candidacy' | 'no-commit' | 'vote-delivered';

const WAIT_MS = 1500;

export function lateVoteEpisode(sim: Simulator, r: () => number, nextPayload: () => string): LateVoteOutcome {
  // 0. Everyone up and connected, and one leader.
  sim.heal();
  for (const n of sim.nodes) sim.restart(n.id);
  const settleEnd = sim.nowMs + WAIT_MS;
  while (sim.leaders().length !== 1 && sim.nowMs < settleEnd) sim.step();
  const leaders = sim.leaders();
  if (leaders.length !== 1) return 'no-leader';
  const l = leaders[0]!.id;
  const ids = sim.nodes.map((n) => n.id);
  const quorum = Math.floor(ids.length / 2) + 1;
  const followers = sim.alive().map((n) => n.id).filter((id) => id !== l);
  if (followers.length < quorum) return 'no-leader';
  for (let i = followers.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [followers[i], followers[j]] = [followers[j]!, followers[i]!];
  }
  const x = followers[0]!;
  const c = followers.slice(1, quorum);
  const role = (id: number): string | undefined => sim.node(id).core?.role;
  const stepUntil = (done: () => boolean, ms = WAIT_MS): boolean => {
    const end = sim.nowMs + ms;
    while (sim.nowMs < end) {
      sim.step();
      if (done()) return true;
    }
    return false;
  };
  const bounce = (): void => {
    for (const id of c) {
      sim.crash(id);
      sim.restart(id);
    }
  };

  // 1. X hears only C.
  for (const id of ids) {
    if (id === x || c.includes(id)) continue;
    sim.cutOneWay(x, id);
    sim.cutOneWay(id, x);
  }
  // 2. X's pre-vote reaches voters out of lease (a few tries: a pre-vote may be lost, or beaten by a heartbeat).
  let candidate = false;
  for (let attempt = 0; attempt < 5 && !candidate; attempt++) {
    if (!stepUntil(() => role(x) === 'precandidate')) return end(sim, 'no-campaign');
    bounce();
    stepUntil(() => role(x) !== 'precandidate', 400);
    candidate = role(x) === 'candidate';
  }
  if (!candidate) return end(sim, 'no-candidacy');
  // 3. X's vote requests wait.
  for (const id of c) sim.hold(x, id);
  // 4. L commits entries with C.
  let last = 0;
  const k = 1 + Math.floor(r() * 3);
  for (let i = 0; i < k; i++) last = sim.propose(l, nextPayload()) ?? last;
  if (last === 0) return end(sim, 'no-commit');
  const committed = (): boolean => (sim.node(l).core?.commitIndex ?? 0) >= last && c.every((id) => (sim.node(id).core?.lastIndex ?? 0) >= last);
  if (!stepUntil(() => committed() || role(x) !== 'candidate' || role(l) !== 'leader', 600) || !committed() || role(x) !== 'candidate') return end(sim, 'no-commit');
  // 5. The vote requests land on voters out of lease.
  bounce();
  for (const id of c) sim.release(x, id);
  stepUntil(() => role(x) !== 'candidate', 300);
  return end(sim, 'vote-delivered');
}

function end(sim: Simulator, outcome: LateVoteOutcome): LateVoteOutcome {
  sim.heal();
  return outcome;
}
