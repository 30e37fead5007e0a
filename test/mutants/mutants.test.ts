/**
 * The mutation runner end to end on a reduced subset (the full catalogue is `npm run mutants`):
 * the unmutated code is clean over a small budget, and a few mutants, one per suite and kind of
 * property, are caught within it by a property their catalogue entry names; a replication failure
 * comes with a shrunk schedule that replays to the same property.
 */
import { describe, expect, it } from 'vitest';
import { catalogue } from '../../mutants/catalogue.ts';
import { runOne } from '../../mutants/run.ts';
import { runReplicationSeed } from '../../mutants/sims.ts';
import { shrinkReplicationSeed } from '../../mutants/shrink.ts';

const SEEDS = 60;
const TIMEOUT_MS = 120_000;
const subset = ['hw-ignores-min-insync', 'partition-epoch-not-bumped', 'raft-quorum-off-by-one'];

describe('mutation runner (reduced subset)', () => {
  it('the unmutated code is clean over the budget', async () => {
    const r = await runOne(null, SEEDS, TIMEOUT_MS, undefined, false, 2);
    expect(r.status, r.detail ?? '').toBe('not caught');
    expect(r.seedsRun).toBeGreaterThanOrEqual(2 * SEEDS);
  }, TIMEOUT_MS);

  it.each(subset)('%s is caught by a property its entry names', async (id) => {
    const m = catalogue.find((x) => x.id === id)!;
    const r = await runOne(m, SEEDS, TIMEOUT_MS, undefined, false, 2);
    expect(r.status, r.detail ?? '').toBe('caught');
    expect(m.caughtBy).toContain(r.property);
    if (r.suite === 'replication') {
      expect(r.shrunk).not.toBeNull();
      expect(r.shrunk!.to).toBeLessThanOrEqual(r.shrunk!.from);
      expect(r.shrunk!.replay).toContain(`--mutant ${id}`);
    }
  }, TIMEOUT_MS);

  it('a shrunk schedule replays to the same property, and the full recorded one does too', () => {
    // Seed 3 of the clean code fails nothing: shrinking has nothing to do.
    expect(shrinkReplicationSeed(3)).toBeNull();
    const full = runReplicationSeed(7);
    expect(full.violation).toBeNull();
    // Replaying a seed's recorded schedule is the same run.
    const again = runReplicationSeed(7, full.schedule);
    expect(again.simulatedMs).toBe(full.simulatedMs);
    expect(again.schedule).toEqual(full.schedule);
  });
});
