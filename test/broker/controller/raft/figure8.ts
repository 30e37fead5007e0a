/**
 * A directed fault episode for the Raft simulator: figure 8 of the Raft paper (§5.4.2) as a
 * schedule of ordinary faults (partitions, crashes, restarts), aimed at whoever holds the role
 * when each step starts. Random runs (random-run.ts) rarely make this shape by chance: two leaders
 * in a row must fail holding uncommitted entries of different terms at one index, and the first
 * must come back and win.
 *
 * 1. The leader (A), cut off alone, appends a few entries (often more than one append carries)
 *    that no one else gets, and crashes.
 * 2. The others elect a successor (B). It is cut off the step it is seen as leader, so its no-op
 *    (a later term's entry at the same or a lower index) reaches no one, and it crashes.
 * 3. A restarts with just a quorum of the others (C), B still down: only A can win there. As
 *    leader it re-replicates its old-term entries to C. It crashes (cut off first, so what it has
 *    on the wire is lost) right after its commit index moves, or after a random few ticks.
 * 4. B restarts with C, A down. B's last term is higher than A's old entries, so unless C holds an
 *    entry of A's new term, B can win and overwrite A's old-term entries on C. That is only safe
 *    if A did not commit them by counting replicas (a leader commits only entries of its own
 *    term): otherwise B lacks a committed entry (leader completeness) and C applies two entries
 *    at one index (state-machine safety).
 * Then every partition heals and the run goes on. Each wait is bounded, so an episode that does
 * not reach its shape (another node won, a message was lost) just ends early.
 */
import type { Simulator } from './simulator.ts';

/** How far an episode got; `reelected` means step 4's B won (the shape was reached). */
export type Figure8Outcome = 'no-leader' | 'no-successor' | 'first-not-reelected' | 'second-not-reelected' | 'reelected';

const WAIT_MS = 3000;

export function figure8Episode(sim: Simulator, r: () => number, nextPayload: () => string): Figure8Outcome {
  const leaders = sim.leaders();
  if (leaders.length !== 1) return 'no-leader';
  const a = leaders[0]!.id;
  const ids = sim.nodes.map((n) => n.id);
  const quorum = Math.floor(ids.length / 2) + 1;
  const groups = (members: readonly number[]): Map<number, number> => new Map(ids.map((id) => [id, members.includes(id) ? 0 : 1 + id]));
  const waitLeader = (among: (id: number) => boolean): number | null => {
    const end = sim.nowMs + WAIT_MS;
    while (sim.nowMs < end) {
      sim.step();
      const l = sim.leaders().find((n) => among(n.id));
      if (l) return l.id;
    }
    return null;
  };

  // 1. A appends alone, and crashes.
  sim.partition(groups([a]));
  const termA = sim.node(a).core!.term;
  const k = 1 + Math.floor(r() * (2 * sim.opts.raft.maxEntriesPerAppend + 2));
  for (let i = 0; i < k; i++) sim.propose(a, nextPayload());
  sim.step();
  sim.crash(a);

  // 2. B is elected by the others, cut off at once, and crashes.
  const rest = ids.filter((id) => id !== a);
  sim.partition(groups(rest));
  const b = waitLeader((id) => id !== a && sim.node(id).core!.term > termA);
  if (b === null) return heal(sim, 'no-successor');
  sim.partition(groups([]));
  sim.crash(b);

  // 3. A comes back with a bare quorum C, wins, re-replicates, and crashes.
  const others = ids.filter((id) => id !== a && id !== b);
  for (let i = others.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [others[i], others[j]] = [others[j]!, others[i]!];
  }
  const c = others.slice(0, quorum - 1);
  for (const id of c) sim.restart(id);
  sim.restart(a);
  sim.partition(groups([a, ...c]));
  if (waitLeader((id) => id === a) === null) return heal(sim, 'first-not-reelected');
  const commitAtWin = sim.node(a).core!.commitIndex;
  const deadline = sim.nowMs + Math.floor(r() * 30) * sim.opts.tickMs;
  while (sim.nowMs < deadline && sim.node(a).core?.role === 'leader' && sim.node(a).core!.commitIndex === commitAtWin) sim.step();
  sim.partition(groups(c));
  sim.crash(a);

  // 4. B comes back with C.
  sim.restart(b);
  sim.partition(groups([b, ...c]));
  const won = waitLeader((id) => id === b);
  return heal(sim, won === null ? 'second-not-reelected' : 'reelected');
}

function heal(sim: Simulator, outcome: Figure8Outcome): Figure8Outcome {
  sim.heal();
  return outcome;
}
