/**
 * The whole-node simulation as a mutation suite: N real broker nodes in one seeded, in-process
 * world (the `wholesim` work of issue 10). Until this checkout has it, `nodeSuite()` answers null
 * and the runner reports the suite as unavailable (mutants whose code runs only there stay
 * "not run", never "caught").
 */
import type { SeedOutcome } from './sims.ts';

export async function nodeSuite(): Promise<((seed: number) => Promise<SeedOutcome> | SeedOutcome) | null> {
  return null;
}
