/**
 * A directed fault episode for the Raft simulator: a vote request that arrives late, after its
 * voters gained committed entries the candidate lacks (Raft §5.4.1, the up-to-date rule of the
 * real vote). PreVote checks the same rule, a follower in its leader's lease ignores vote requests,
 * and so does a node for one lease after it starts (core.ts, leader lease): a behind candidate
 * reaches a real vote only if its pre-vote was granted while the voters were no further than it,
 * and its vote request lands after they got more and lost the lease again. The voters must be out
 * of lease while the leader still counts them in its check-quorum, which goes by when their answers
 * arrive: answers that waited in the network keep a leader in office after its followers' leases
 * ran out. Here, with ordinary faults aimed at roles:
 *
 * 0. Crashed nodes restart and partitions heal; the episode waits for one leader L.
 * 1. The links from a bare quorum's worth of followers C to L stall (their answers wait in flight)
 *    and the links from L to C are cut, so C stops hearing L and its lease runs out; L commits an
 *    entry with another follower X (and the rest): X is ahead of C, so C's own campaigns cannot
 *    win X's vote.
 * 2. X is cut off (both ways) from everyone but C, so it stops hearing L and campaigns; C, out of
 *    lease and no further than X, grants its pre-vote. When X starts its pre-vote, C's stalled
 *    answers reach L, which keeps it leader (check-quorum) for another election timeout.
 * 3. When X becomes candidate, its links to C stall: the vote requests wait in flight.
 * 4. L's links to C are restored, and L appends a few entries and commits them with C (X, cut off,
 *    lacks them).
 * 5. L's links to C are cut again; once C's lease has run out, X's links resume and the vote
 *    requests land while X is still a candidate. A voter must refuse (X's log is behind its own);
 *    one that grants elects a leader lacking committed entries (leader completeness).
 * Then every partition heals and the run goes on. Each wait is bounded, so a try that misses
 * its shape (L stepped down, X's candidacy timed out before C's lease ran out) ends early. With
 * five voters L has no quorum without C or X, so the shape needs X's campaign to start within one
 * election timeout of X's isolation, which the timers allow less often than with three. A try that
 * misses is run again (at most three tries).
 */
import type { Simulator } from './simulator.ts';

/** How far an episode got; `vote-delivered` means step 5 happened (the shape was reached). */
export type LateVoteOutcome = 'no-leader' | 'no-lead' | 'no-campaign' | 'no-candidacy' | 'no-commit' | 'candidacy-over' | 'vote-delivered';

const WAIT_MS = 1500;

/** Tries of the episode: one whose timers miss the shape (step 5's race, mostly) is run again. */
const TRIES = 3;

export function lateVoteEpisode(sim: Simulator, r: () => number, nextPayload: () => string): LateVoteOutcome {
  let outcome = lateVoteTry(sim, r, nextPayload);
  for (let i = 1; i < TRIES && outcome !== 'vote-delivered' && outcome !== 'no-leader'; i++) outcome = lateVoteTry(sim, r, nextPayload);
  return outcome;
}

function lateVoteTry(sim: Simulator, r: () => number, nextPayload: () => string): LateVoteOutcome {
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
  const cutFromLeader = (): void => {
    for (const id of c) sim.cutOneWay(l, id);
  };
  const lastIndex = (id: number): number => sim.node(id).core?.lastIndex ?? 0;

  // 1. C's answers to L wait; C stops hearing L; L commits an entry with X but not C.
  for (const id of c) sim.hold(id, l);
  // One heartbeat round, so that C's answers wait in flight; then C stops hearing L.
  stepUntil(() => false, sim.opts.raft.heartbeatIntervalMs + 20);
  cutFromLeader();
  const lead = sim.propose(l, nextPayload());
  if (lead === null) return end(sim, 'no-lead');
  if (!stepUntil(() => lastIndex(x) >= lead && (sim.node(l).core?.commitIndex ?? 0) >= lead, 600)) return end(sim, 'no-lead');
  // 2. X hears only C, campaigns, and gets C's pre-votes once C's lease has run out.
  for (const id of ids) {
    if (id === x || c.includes(id)) continue;
    sim.cutOneWay(x, id);
    sim.cutOneWay(id, x);
  }
  // C's stalled answers reach L just before its check-quorum would end its term (X's answers
  // stopped now), so L stays in office while C, out of lease, answers X's pre-votes.
  const leaseMs = sim.opts.raft.electionTimeoutMinMs;
  stepUntil(() => role(x) === 'precandidate', leaseMs - 2 * sim.opts.tickMs);
  for (const id of c) sim.release(id, l);
  if (role(l) !== 'leader') return end(sim, 'no-campaign');
  if (!stepUntil(() => role(x) === 'candidate', leaseMs + sim.opts.raft.electionTimeoutMaxMs)) return end(sim, 'no-candidacy');
  // 3. X's vote requests wait.
  for (const id of c) sim.hold(x, id);
  // 4. L commits entries with C.
  for (const id of c) sim.uncut(l, id);
  let last = 0;
  const k = 1 + Math.floor(r() * 3);
  for (let i = 0; i < k; i++) last = sim.propose(l, nextPayload()) ?? last;
  if (last === 0) return end(sim, 'no-commit');
  // As soon as C holds them, C stops hearing L again (its answers still reach L, which commits).
  const held = (): boolean => c.every((id) => lastIndex(id) >= last);
  if (!stepUntil(() => held() || role(x) !== 'candidate' || role(l) !== 'leader', 600) || !held() || role(x) !== 'candidate') return end(sim, 'no-commit');
  cutFromLeader();
  const committed = (): boolean => (sim.node(l).core?.commitIndex ?? 0) >= last;
  if (!stepUntil(() => committed() || role(x) !== 'candidate' || role(l) !== 'leader', 600) || !committed() || role(x) !== 'candidate') return end(sim, 'no-commit');
  // 5. Once C's lease has run out, the vote requests land (if X is still a candidate).
  stepUntil(() => role(x) !== 'candidate', leaseMs + 1);
  if (role(x) !== 'candidate') return end(sim, 'candidacy-over');
  for (const id of c) sim.release(x, id);
  stepUntil(() => role(x) !== 'candidate', 300);
  return end(sim, 'vote-delivered');
}

function end(sim: Simulator, outcome: LateVoteOutcome): LateVoteOutcome {
  sim.heal();
  return outcome;
}
