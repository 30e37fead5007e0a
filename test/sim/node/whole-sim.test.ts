/**
 * The whole-node simulation (sim/): real BrokerNodes on a simulated network, disk and clock.
 * - A seed replays exactly: two runs give the same event-trace hash and the same history.
 * - A small seed budget is clean, and its fault schedules really crashed, powered off, partitioned
 *   and paused nodes while acks=all writes were acknowledged (a test that checks its own power).
 * `SIM_SEED=S` replays one seed; the longer soak is `npm run sim -- --seeds N`.
 */
import { describe, expect, it } from 'vitest';
import { replayCommand, runSeed, type SimResult } from '../../../sim/run.ts';

const SHORT = { loadMs: 4_000, recoverMs: 4_000 };
const envSeed = process.env['SIM_SEED'] !== undefined ? Number(process.env['SIM_SEED']) : null;

function explain(r: SimResult): string {
  return `seed ${r.seed} (${replayCommand(r.seed, SHORT)}): ${r.violations.map((v) => `${v.property}: ${v.detail}`).join('\n')}`;
}

describe('whole-node simulation', () => {
  it('replays a seed exactly (same trace hash, same history)', async () => {
    const a = await runSeed(envSeed ?? 3, { loadMs: 2_000, recoverMs: 3_000 });
    const b = await runSeed(envSeed ?? 3, { loadMs: 2_000, recoverMs: 3_000 });
    expect(a.events).toBeGreaterThan(1000);
    expect(b.traceHash).toBe(a.traceHash);
    expect(JSON.stringify(b.history)).toBe(JSON.stringify(a.history));
  });

  it('a small seed budget is clean, under faults that really happened', async () => {
    const seeds = envSeed !== null ? [envSeed] : [1, 2];
    const results: SimResult[] = [];
    for (const seed of seeds) results.push(await runSeed(seed, SHORT));
    for (const r of results) expect(r.valid, explain(r)).toBe(true);
    const total = (k: keyof SimResult['counts']) => results.reduce((n, r) => n + r.counts[k], 0);
    if (envSeed === null) expect(total('kills') + total('powerLosses') + total('partitions') + total('pauses')).toBeGreaterThan(0);
    expect(results.reduce((n, r) => n + r.stats.acked, 0)).toBeGreaterThan(50);
  });
});
