/**
 * Shrinking a failing seed's fault schedule (issue 10: "given a failing seed, find a shorter fault
 * schedule that still fails"). Zeller's delta debugging (ddmin) over the list of scheduled faults:
 * the seed fixes the world's randomness (network delays and loss, the clients), the schedule is the
 * only thing removed from, and a candidate "still fails" when the run violates the SAME property.
 * The result is 1-minimal within the run budget: removing any single remaining fault makes the
 * failure go away (or the budget ran out first, which the result says).
 *
 * Each candidate is one full simulation run, so the budget (`maxRuns`) bounds the cost.
 */
import type { ScheduledFault } from '../test/sim/replication-cluster.ts';
import { describeFault } from '../test/sim/replication-cluster.ts';
import { runReplicationSeed } from './sims.ts';
import type { PropertyName } from './properties.ts';

export interface DdminResult<T> {
  items: T[];
  runs: number;
  /** False when the run budget ended the search before 1-minimality was shown. */
  minimal: boolean;
}

/**
 * The smallest sublist (order kept) of `items` for which `fails` holds, by ddmin. `fails(items)`
 * is assumed true (the caller checked the full list fails).
 */
export function ddmin<T>(items: readonly T[], fails: (candidate: T[]) => boolean, maxRuns = 200): DdminResult<T> {
  let current = [...items];
  let runs = 0;
  let n = 2;
  const test = (c: T[]): boolean => {
    runs++;
    return fails(c);
  };
  if (current.length > 0 && runs < maxRuns && test([])) return { items: [], runs, minimal: true };
  while (current.length >= 2) {
    const size = Math.ceil(current.length / n);
    const chunks: T[][] = [];
    for (let i = 0; i < current.length; i += size) chunks.push(current.slice(i, i + size));
    let reduced = false;
    for (const chunk of chunks) {
      if (runs >= maxRuns) return { items: current, runs, minimal: false };
      if (chunks.length > 1 && test(chunk)) {
        current = chunk;
        n = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      for (let i = 0; i < chunks.length; i++) {
        if (runs >= maxRuns) return { items: current, runs, minimal: false };
        const complement = chunks.filter((_, j) => j !== i).flat();
        if (test(complement)) {
          current = complement;
          n = Math.max(n - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (!reduced) {
      if (n >= current.length) break;
      n = Math.min(n * 2, current.length);
    }
  }
  return { items: current, runs, minimal: true };
}

export interface ShrinkResult {
  seed: number;
  property: PropertyName;
  original: ScheduledFault[];
  shrunk: ScheduledFault[];
  runs: number;
  minimal: boolean;
  replay: string;
}

/** The schedule as text, one `step <n> (<ms> ms): <fault>` per line. */
export function formatSchedule(schedule: readonly ScheduledFault[], stepMs = 5): string {
  return schedule.map((f) => `step ${f.step} (${f.step * stepMs} ms): ${describeFault(f.fault)}`).join('\n');
}

/** The one-line replay command of a replication seed with an explicit schedule (and a mutant planted). */
export function replayCommand(seed: number, schedule: readonly ScheduledFault[], mutantId?: string): string {
  const mutant = mutantId === undefined ? '' : ` --mutant ${mutantId}`;
  return `npx tsx mutants/replay.ts --seed ${seed}${mutant} --schedule '${JSON.stringify(schedule)}'`;
}

/**
 * Shrinks the fault schedule of a failing replication seed. Null when the seed does not fail
 * (nothing to shrink).
 */
export function shrinkReplicationSeed(seed: number, opts: { maxRuns?: number; mutantId?: string } = {}): ShrinkResult | null {
  const first = runReplicationSeed(seed);
  if (first.violation === null || first.schedule === undefined) return null;
  const property = first.violation.property;
  const original = first.schedule;
  // Replaying the recorded schedule must fail the same way (the fault stream is separate from the world's).
  const d = ddmin(original, (candidate) => runReplicationSeed(seed, candidate).violation?.property === property, opts.maxRuns ?? 200);
  return { seed, property, original, shrunk: d.items, runs: d.runs, minimal: d.minimal, replay: replayCommand(seed, d.items, opts.mutantId) };
}
