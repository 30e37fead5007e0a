/**
 * One randomized run of the Raft simulator (simulator.ts): seeded options and fault intensities,
 * a chaos phase of crashes, restarts, partitions (symmetric, isolating the leader, one-way),
 * proposals and compactions, then heal everything and demand liveness within a bound. A violated
 * invariant throws (SimViolation, or the core's own assertion) with a replay line. Shared by
 * sim.test.ts and the mutation runner (mutants/sims.ts), which must not import a test file.
 */
import { Simulator, SimViolation, mulberry32 } from './simulator.ts';
import type { SimOptions } from './simulator.ts';
import { figure8Episode } from './figure8.ts';
import { lateVoteEpisode } from './late-vote.ts';

export const RAFT = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatIntervalMs: 50, maxEntriesPerAppend: 8 };
export const TICK_MS = 10;
const CHAOS_MS = 3000;
/** Bound on recovery after everything is healed: a leader is elected and a proposal commits everywhere. */
const LIVENESS_BOUND_MS = 12_000;

export type SeedStats = { simulatedMs: number; elections: number; proposals: number; committed: number; recoveryMs: number; nodes: number; snapshotsInstalled: number };

type Intensity = { reboot: number; crash: number; restart: number; partition: number; isolate: number; oneWay: number; heal: number; propose: number; compact: number };

function randomOptions(seed: number, trace: boolean): SimOptions & { intensity: Intensity; figure8AtMs: number | null; lateVoteAtMs: number | null } {
  const r = mulberry32(seed ^ 0x5bd1e995);
  const maxDelayMs = [5, 20, 60, 120][Math.floor(r() * 4)]!;
  // Narrow jitter ranges make split votes and competing candidates common.
  const jitterMs = [10, 50, 150][Math.floor(r() * 3)]!;
  const calm = r() < 0.5;
  const opts = {
    seed,
    nodes: r() < 0.5 ? 3 : 5,
    tickMs: TICK_MS,
    raft: {
      ...RAFT,
      electionTimeoutMaxMs: RAFT.electionTimeoutMinMs + jitterMs,
      // One entry per append exposes commit rules that batching would hide (Raft figure 8).
      maxEntriesPerAppend: [1, 2, 8][Math.floor(r() * 3)]!,
    },
    network: { lossRate: r() * 0.25, dupRate: r() * 0.1, minDelayMs: 1, maxDelayMs },
    crashInReadyRate: [0, 0.002, 0.02][Math.floor(r() * 3)]!,
    maxInFlight: 20_000,
    trace,
    intensity: calm
      ? { reboot: 0.004, crash: 0.004, restart: 0.03, partition: 0.004, isolate: 0.004, oneWay: 0.004, heal: 0.012, propose: 0.3, compact: 0.02 }
      : { reboot: 0.05, crash: 0.03, restart: 0.08, partition: 0.02, isolate: 0.02, oneWay: 0.02, heal: 0.05, propose: 0.5, compact: 0.05 },
  };
  // Drawn last, so the draws above (and so every seed without the episode) are as before.
  const figure8AtMs = r() < FIGURE8_SEED_RATE ? 300 + Math.floor(r() * (CHAOS_MS - 1300)) : null;
  const lateVoteAtMs = r() < LATE_VOTE_SEED_RATE ? 300 + Math.floor(r() * (CHAOS_MS - 1300)) : null;
  return { ...opts, figure8AtMs, lateVoteAtMs };
}

/** The share of seeds that run one figure-8 episode (figure8.ts) during their chaos phase. */
const FIGURE8_SEED_RATE = 0.4;
/** ...and one late-vote episode (late-vote.ts). */
const LATE_VOTE_SEED_RATE = 0.4;

/** One randomized run: chaos, then heal everything and demand liveness within a bound. */
export function runSeed(seed: number, trace = false): SeedStats {
  const opts = randomOptions(seed, trace);
  const sim = new Simulator(opts);
  const p = opts.intensity;
  const r = sim.rand;
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(r() * xs.length)];
  let k = 0;
  try {
    const chaosEnd = sim.nowMs + CHAOS_MS;
    let figure8AtMs = opts.figure8AtMs;
    let lateVoteAtMs = opts.lateVoteAtMs;
    // An episode waits for a moment with one leader (at most 1 s), then runs its schedule.
    const episodeDue = (at: number | null): boolean => at !== null && sim.nowMs >= at && (sim.leaders().length === 1 || sim.nowMs >= at + 1000);
    while (sim.nowMs < chaosEnd) {
      if (episodeDue(figure8AtMs)) {
        figure8AtMs = null;
        figure8Episode(sim, r, () => `v${k++}`);
        continue;
      }
      if (episodeDue(lateVoteAtMs)) {
        lateVoteAtMs = null;
        lateVoteEpisode(sim, r, () => `v${k++}`);
        continue;
      }
      if (r() < p.propose) {
        const n = pick(sim.alive());
        if (n) sim.propose(n.id, `v${k++}`);
      }
      if (r() < p.compact) {
        const n = pick(sim.alive());
        if (n) sim.compact(n.id);
      }
      let f = r();
      if ((f -= p.reboot) < 0) {
        const n = pick(sim.alive());
        if (n) {
          sim.crash(n.id);
          sim.restart(n.id);
        }
      } else if ((f -= p.crash) < 0) {
        const n = pick(sim.alive());
        if (n) sim.crash(n.id);
      } else if ((f -= p.restart) < 0) {
        const n = pick(sim.nodes.filter((m) => m.core === null));
        if (n) sim.restart(n.id);
      } else if ((f -= p.partition) < 0) {
        sim.partition(new Map(sim.nodes.map((n) => [n.id, r() < 0.5 ? 1 : 0])));
      } else if ((f -= p.isolate) < 0) {
        const l = pick(sim.leaders());
        if (l) sim.partition(new Map([[l.id, 1]]));
      } else if ((f -= p.oneWay) < 0) {
        const a = pick(sim.nodes);
        const b = pick(sim.nodes);
        if (a && b && a !== b) sim.cutOneWay(a.id, b.id);
      } else if ((f -= p.heal) < 0) {
        sim.heal();
      }
      sim.step();
    }

    // Heal: reconnect, restart everyone, a reliable (but still delaying, duplicating) network.
    sim.heal();
    for (const n of sim.nodes) sim.restart(n.id);
    sim.network = { ...sim.network, lossRate: 0 };
    sim.crashInReadyRate = 0;
    const healedAt = sim.nowMs;
    const deadline = healedAt + LIVENESS_BOUND_MS;
    let target: number | null = null;
    let proposedAt = -Infinity;
    let done = false;
    while (sim.nowMs < deadline && !done) {
      sim.step();
      if (target !== null) {
        const e = sim.committed.get(target);
        if (e?.payload?.startsWith('final-') && sim.nodes.every((n) => (n.core?.commitIndex ?? 0) >= target!)) done = true;
      }
      if (!done && sim.nowMs - proposedAt >= 3000) {
        const leaders = sim.leaders();
        if (leaders.length === 1) {
          const idx = sim.propose(leaders[0]!.id, `final-${k++}`);
          if (idx !== null) {
            target = idx;
            proposedAt = sim.nowMs;
          }
        }
      }
    }
    if (!done) throw new SimViolation(`liveness: no proposal committed on all nodes within ${LIVENESS_BOUND_MS} ms after healing`);
    sim.checkDurability();
    return {
      simulatedMs: sim.nowMs,
      elections: sim.elections,
      proposals: sim.proposalsAccepted,
      committed: sim.committed.size,
      recoveryMs: sim.nowMs - healedAt,
      nodes: sim.nodes.length,
      snapshotsInstalled: sim.snapshotsInstalled,
    };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const tail = trace ? `\n--- last events ---\n${sim.traceLines.slice(-120).join('\n')}` : '';
    throw new Error(
      `raft sim seed ${seed} failed at t=${sim.nowMs}ms: ${msg}\nreplay: RAFT_SEED=${seed} npx vitest run test/broker/controller/raft${tail}`,
      { cause: err },
    );
  }
}

