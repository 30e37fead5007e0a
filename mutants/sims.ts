/**
 * The simulation suites the mutation runner measures with, each a pure function of its seeds:
 * - replication: test/sim/replication-cluster.ts (LeaderReplicaState, follower rules, Controller,
 *   MetadataImage over a simulated network), judged at the end (lost acks, two values at one
 *   offset, divergence, convergence) and after every step (mutants/properties.ts watchers);
 * - raft: test/broker/controller/raft/random-run.ts (RaftCore under crashes, partitions, loss).
 * - node: the whole-node simulation, when this checkout has one (mutants/node-suite.ts).
 * A suite runs seeds 1..N in order and stops at the first failing seed. Everything here imports the
 * code of the checkout it lives in, so in a mutant's scratch copy it runs the mutated code.
 */
import { ReplicationCluster, defaultSimOptions } from '../test/sim/replication-cluster.ts';
import type { ScheduledFault, SimResult } from '../test/sim/replication-cluster.ts';
import { runSeed as runRaftSeed } from '../test/broker/controller/raft/random-run.ts';
import { SimViolation } from '../test/broker/controller/raft/simulator.ts';
import { raftProperty, replicationWatchers } from './properties.ts';
import type { PropertyName, Violation } from './properties.ts';
import type { SuiteName } from './catalogue.ts';
import { nodeSuite } from './node-suite.ts';

export interface SeedOutcome {
  violation: Violation | null;
  simulatedMs: number;
  /** The fault schedule that ran (replication only; shrinking works on it). */
  schedule?: ScheduledFault[];
}

export interface SuiteResult {
  suite: SuiteName;
  /** False when this checkout has no such simulation (the node suite before it exists). */
  available: boolean;
  seedsRun: number;
  failure: { seed: number; property: PropertyName; detail: string } | null;
  simulatedMs: number;
  wallMs: number;
}

/** The first property a replication result violates, in the order a reader would want to know. */
export function judgeReplication(r: SimResult): Violation | null {
  if (r.lost.length > 0) return { property: 'lost-ack', detail: JSON.stringify(r.lost.slice(0, 3)) };
  if (r.inconsistentReads.length > 0) return { property: 'inconsistent-read', detail: JSON.stringify(r.inconsistentReads.slice(0, 3)) };
  if (r.divergence.length > 0) return { property: 'divergence', detail: r.divergence.slice(0, 3).join('; ') };
  if (!r.converged) return { property: 'no-convergence', detail: 'not converged after healing' };
  return null;
}

/** One replication seed, with the step watchers; `schedule` replays (or shrinks) a fault schedule. */
export function runReplicationSeed(seed: number, schedule?: readonly ScheduledFault[]): SeedOutcome {
  const w = replicationWatchers();
  const c = new ReplicationCluster({ ...defaultSimOptions, seed, uncleanElection: false, afterStep: w.afterStep, ...(schedule === undefined ? {} : { schedule }) });
  try {
    const r = c.run();
    return { violation: w.violation() ?? judgeReplication(r), simulatedMs: c.nowMs, schedule: r.schedule };
  } catch (err) {
    return { violation: { property: 'crash', detail: (err as Error).message }, simulatedMs: c.nowMs };
  }
}

export function runRaftSeedOutcome(seed: number): SeedOutcome {
  try {
    const s = runRaftSeed(seed);
    return { violation: null, simulatedMs: s.simulatedMs };
  } catch (err) {
    const cause = (err as Error).cause;
    const message = (err as Error).message.split('\n')[0] ?? '';
    // The core's own assertion that two leaders met in one term is an election-safety violation.
    const property = cause instanceof SimViolation ? raftProperty(cause.message) : message.includes('two leaders in term') ? 'raft-election-safety' : 'crash';
    return { violation: { property, detail: message }, simulatedMs: 0 };
  }
}

export async function runSuite(suite: SuiteName, seeds: number): Promise<SuiteResult> {
  const t0 = performance.now();
  const result: SuiteResult = { suite, available: true, seedsRun: 0, failure: null, simulatedMs: 0, wallMs: 0 };
  const runOne = suite === 'replication' ? runReplicationSeed : suite === 'raft' ? runRaftSeedOutcome : await nodeSuite();
  if (runOne === null) return { ...result, available: false };
  for (let seed = 1; seed <= seeds; seed++) {
    const o = await runOne(seed);
    result.seedsRun++;
    result.simulatedMs += o.simulatedMs;
    if (o.violation !== null) {
      result.failure = { seed, ...o.violation };
      break;
    }
  }
  result.wallMs = Math.round(performance.now() - t0);
  return result;
}
