/**
 * The consumer group workload of the whole-node simulation (sim/group-client.ts): its members join,
 * rebalance, commit and crash during the load, and the run's group properties judge it. A test that
 * checks its own power: the seeds must really have completed rebalances, acknowledged commits,
 * answered offset fetches and crashed members, and the group's ops must reach the queue checker.
 */
import { describe, expect, it } from 'vitest';
import { replayCommand, runSeed, strongHistory, type SimResult } from '../../../sim/run.ts';

const OPTS = { loadMs: 8_000, groups: true };

describe('whole-node simulation: consumer groups', () => {
  it('members rebalance, commit and crash, and every property holds', async () => {
    const results: SimResult[] = [];
    for (const seed of [2, 3]) results.push(await runSeed(seed, OPTS));
    for (const r of results) expect(r.valid, `${replayCommand(r.seed, OPTS)}: ${r.violations.map((v) => `${v.property}: ${v.detail}`).join('\n')}`).toBe(true);
    const sum = (k: keyof SimResult['stats']['groups']) => results.reduce((n, r) => n + r.stats.groups[k], 0);
    expect(sum('assigns')).toBeGreaterThan(10);
    expect(sum('commitsOk')).toBeGreaterThan(20);
    expect(sum('offsetFetchesOk')).toBeGreaterThan(10);
    expect(sum('crashed')).toBeGreaterThan(0);
    // The queue checker sees the group's commits and assigns (strongHistory keeps them).
    const strong = strongHistory(results[0]!.history);
    expect(strong.some((op) => op.f === 'commit' && op.type === 'ok')).toBe(true);
    expect(strong.some((op) => op.f === 'assign')).toBe(true);
  });

  it('groups off: no group op is recorded', async () => {
    const r = await runSeed(2, { loadMs: 2_000, recoverMs: 2_000, groups: false });
    expect(r.history.some((op) => op.f === 'commit' || op.f === 'assign' || op.f === 'offset-fetch')).toBe(false);
    expect(r.stats.groups.members).toBe(0);
  });
});
