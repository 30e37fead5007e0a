/**
 * The whole-node simulation (sim/): real BrokerNodes on a simulated network, disk and clock.
 * - A seed replays exactly: two runs give the same event-trace hash and the same history.
 * - A small seed budget is clean, and its fault schedules really crashed, powered off, partitioned
 *   and paused nodes while acks=all writes were acknowledged (a test that checks its own power).
 * - The same with Kafka's default flush policy (the cluster's own is flush-every-message), where
 *   leader appends are group-committed (broker/log/write-behind.ts), under kills and partitions.
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

  it("replays a seed from its recorded schedule exactly (a run given its own schedule, a corrupt step among it, is the same run)", async () => {
    const opts = { loadMs: 3_000, recoverMs: 3_000, kinds: ['corrupt', 'kill', 'partition'] as ('corrupt' | 'kill' | 'partition')[] };
    // The first seed whose schedule damages a sector (the recorded choice then replaces the draw).
    let a: SimResult | null = null;
    for (let seed = 1; seed <= 20 && a === null; seed++) {
      const r = await runSeed(seed, opts);
      if (r.schedule.some((s) => s.kind === 'corrupt' && s.corruption)) a = r;
    }
    expect(a, 'a seed in 1..20 that corrupts a sector').not.toBeNull();
    const b = await runSeed(a!.seed, { ...opts, schedule: a!.schedule });
    expect(b.traceHash).toBe(a!.traceHash);
    expect(JSON.stringify(b.history)).toBe(JSON.stringify(a!.history));
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

  it("with Kafka's default flush (leader appends group-committed, not fsynced), kills and partitions lose nothing acknowledged", async () => {
    // No power faults (`power`, `bounce`): without fsync on append, a power loss may lose acknowledged data by design.
    const opts = { ...SHORT, settings: { 'log.flush.interval.messages': String(Number.MAX_SAFE_INTEGER) }, kinds: ['kill', 'partition', 'one-way', 'pause', 'leader-churn'] as const };
    const results: SimResult[] = [];
    for (const seed of envSeed !== null ? [envSeed] : [1, 2, 3]) results.push(await runSeed(seed, { ...opts, kinds: [...opts.kinds] }));
    for (const r of results) expect(r.valid, explain(r)).toBe(true);
    expect(results.reduce((n, r) => n + r.counts.kills + r.counts.partitions, 0)).toBeGreaterThan(0);
    expect(results.reduce((n, r) => n + r.stats.acked, 0)).toBeGreaterThan(50);
  });
  it('reassignments and topic re-creation during load, with kills: every property holds on the moved partitions and the new incarnations', async () => {
    const results: SimResult[] = [];
    for (const seed of envSeed !== null ? [envSeed] : [1, 5]) results.push(await runSeed(seed, { loadMs: 8_000, kinds: ['reassign', 'recreate', 'kill'] }));
    for (const r of results) expect(r.valid, explain(r)).toBe(true);
    // The faults really ran: reassignments finished (a shrink among them) and the topic came back with a new id.
    if (envSeed === null) {
      expect(results.reduce((n, r) => n + r.stats.admin.reassigned, 0)).toBeGreaterThan(0);
      expect(results.reduce((n, r) => n + r.stats.admin.recreated, 0)).toBeGreaterThan(0);
      expect(results.some((r) => r.schedule.some((s) => s.kind === 'reassign' && s.replicas?.length === 2))).toBe(true);
    }
  });

  it('a run given a schedule with a recreate step has the churn topic, whatever its kinds (a replay or shrink of such a seed is the same run)', async () => {
    // Load runs from 4.5 s (boot and settling) for 4 s; one delete and re-creation inside it.
    const schedule = [{ atMs: 5_500, kind: 'recreate' as const, nodes: [], durationMs: 1_000 }];
    const r = await runSeed(envSeed ?? 1, { ...SHORT, kinds: ['kill'], schedule });
    expect(r.valid, explain(r)).toBe(true);
    expect(r.stats.admin.recreated).toBe(1);
  });
});
