import { describe, expect, it } from 'vitest';
import { bugNames } from '../../../broker/bugs.ts';
import { nemesisFaults, validateRunFlags } from '../../../harness/run/options.ts';
import type { RunOptions } from '../../../harness/run/options.ts';
import { cleanPlans, formatHuntTable, huntBug, huntExitCode, huntJunitXml, huntPlans, planOf, runHunt } from '../../../harness/run/hunt.ts';
import type { HuntConfig, HuntDeps, HuntRunResult } from '../../../harness/run/hunt.ts';
import { parseBugList, parseHuntFlags } from '../../../harness/commands/hunt.ts';

const base: RunOptions = validateRunFlags({ nemesis: 'none', seed: '100' });

/** A fake runner over a fake clock (ms): each run takes `runMs`; `verdict` decides each run. */
function fake(verdict: (o: RunOptions, i: number) => HuntRunResult['valid'], runMs = 10_000): { deps: HuntDeps; calls: RunOptions[] } {
  let t = 0;
  const calls: RunOptions[] = [];
  return {
    calls,
    deps: {
      nowMs: () => t,
      log: () => undefined,
      runner: async (o) => {
        const i = calls.length;
        calls.push(o);
        t += runMs;
        const valid = verdict(o, i);
        const anomalies: Record<string, { count: number }> = valid === false ? { 'lost-write': { count: 3 }, unseen: { count: 0 } } : { 'lost-write': { count: 0 } };
        return { valid, runDir: `results/run-${i}`, anomalies };
      },
    },
  };
}

const config = (over: Partial<HuntConfig> = {}): HuntConfig => ({ base, bugs: ['ack-before-replication'], budgetMs: 60_000, cleanBudgetMs: 30_000, cellsOverride: null, ...over });

describe('hunt loop', () => {
  it('every bug has a plan whose faults exist, and the clean broker runs every cell of every plan with its options', () => {
    const clean = cleanPlans();
    const key = (cell: readonly string[], p: ReturnType<typeof planOf>): string => JSON.stringify([cell, p.idempotence === true, p.set ?? {}, p.workload ?? {}]);
    const cleanKeys = new Set(clean.map((c) => JSON.stringify([c.cell, c.idempotence, c.set, c.workload])));
    for (const n of bugNames) {
      const plan = planOf(n);
      expect(plan.cells.length, n).toBeGreaterThan(0);
      for (const cell of plan.cells) {
        for (const f of cell) expect(nemesisFaults).toContain(f);
        expect(cleanKeys.has(key(cell, plan)), `${n}: ${cell.join('+')}`).toBe(true);
      }
    }
    expect(cleanKeys.size).toBe(clean.length);
    // round-robin: the first cells of the plans come before any second cell
    expect(clean.slice(0, 3).map((c) => c.from)).toEqual(bugNames.slice(0, 3));
  });

  it("a sequence plan's runs are sequences with its pace and nodes, labelled with >; cells given with --nemesis run as the flags say", async () => {
    const { deps, calls } = fake(() => false);
    const caught = await huntBug('new-leader-hw-at-leo', config({ budgetMs: 5_000 }), deps);
    expect(calls[0]).toMatchObject({ nemesis: ['pause-follower', 'stop-leader', 'stop-leader'], nemesisSequence: true, nemesisIntervalMs: 2_000, nodes: 5 });
    expect(caught.nemesis).toBe('pause-follower>stop-leader>stop-leader');
    const own = await huntBug('new-leader-hw-at-leo', config({ budgetMs: 5_000, cellsOverride: [['kill-leader', 'pause-leader']] }), deps);
    expect(calls[1]).toMatchObject({ nemesis: ['kill-leader', 'pause-leader'], nemesisSequence: false, nemesisIntervalMs: base.nemesisIntervalMs, nodes: base.nodes, partitions: 1 });
    expect(own.nemesis).toBe('kill-leader+pause-leader');
  });

  it('a plan\'s workload shape and settings reach its runs', async () => {
    const { deps, calls } = fake(() => true);
    await huntBug('hw-ignores-min-insync', config({ budgetMs: 15_000 }), deps);
    expect(calls.map((c) => [c.nemesis.join('+'), c.minInsync, c.set['replica.lag.time.max.ms']])).toEqual([['pause-follower', 3, '1000'], ['kill-follower', 3, '1000']]);
    await huntBug('offsets-acks-1', config({ budgetMs: 5_000 }), deps);
    expect(calls[2]).toMatchObject({ consumerMode: 'subscribe', minInsync: 2, nemesis: ['partition-one'] });
    expect(huntPlans['flush-skipped'].set['log.flush.interval.messages']).toBe('1');
  });

  it('stops a bug at its first invalid run, with runs, seconds, anomalies, fault mix and run dir of that run', async () => {
    const { deps, calls } = fake((_o, i) => (i === 2 ? false : true));
    const b = await huntBug('ack-before-replication', config(), deps);
    expect(calls.length).toBe(3);
    expect(b).toMatchObject({ name: 'ack-before-replication', caught: true, runs: 3, secondsToDetection: 30, anomalies: { 'lost-write': 3 }, nemesis: 'partition-leader', runDir: 'results/run-2' });
  });

  it('cycles the fault mix and the seed, passes the bug and the options the bug needs', async () => {
    const { deps, calls } = fake(() => true);
    await huntBug('idempotent-replay-appended', config({ budgetMs: 35_000 }), deps);
    expect(calls.map((c) => c.nemesis.join('+'))).toEqual(['pause-leader', 'partition-leader', 'pause-leader', 'partition-leader']);
    expect(calls.map((c) => c.seed)).toEqual([100, 101, 102, 103]);
    expect(calls.every((c) => c.bug === 'idempotent-replay-appended' && c.idempotence && c.acks === 'all' && c.minInsync === 2 && c.replicationFactor === 3)).toBe(true);
  });

  it('respects the budget: starts no run once it is spent; unknown is not detection', async () => {
    const { deps, calls } = fake(() => 'unknown', 25_000);
    const b = await huntBug('truncate-to-hw', config({ budgetMs: 60_000 }), deps);
    expect(calls.length).toBe(3); // starts at 0, 25, 50; not at 75
    expect(b).toMatchObject({ caught: false, runs: 3, secondsToDetection: null, anomalies: {}, unknown: 3, runDir: 'results/run-2' });
    expect(b.nemesis).toBe('kill-all,kill-majority');
  });

  it('the clean broker runs its whole budget without a bug, counting invalid and unknown', async () => {
    const { deps, calls } = fake((o, i) => (o.bug !== null ? false : i === 2 ? false : i === 3 ? 'unknown' : true));
    const s = await runHunt(config({ cleanBudgetMs: 50_000 }), deps, new Date(0));
    expect(s.bugs.map((b) => b.caught)).toEqual([true]);
    const clean = calls.slice(1);
    expect(clean.length).toBe(5);
    expect(clean.every((c) => c.bug === null)).toBe(true);
    // the clean broker runs the plans in cleanPlans order, each with its plan's options, seeds counting up
    const plans = cleanPlans();
    expect(clean.map((c) => c.nemesis)).toEqual(plans.slice(0, 5).map((p) => p.cell));
    expect(clean.map((c) => c.seed)).toEqual([100, 101, 102, 103, 104]);
    expect(clean[2]).toMatchObject({ minInsync: 3, set: { 'replica.lag.time.max.ms': '1000' }, idempotence: false });
    expect(s.clean).toMatchObject({ runs: 5, invalid: 1, unknown: 1, invalidRunDirs: ['results/run-2'] });
    expect(s.exitCode).toBe(1);
  });

  it('exit code: 0 only when every bug is caught and the clean broker never invalid', () => {
    const caught = { caught: true } as never;
    const missed = { caught: false } as never;
    const clean = { runs: 3, invalid: 0, unknown: 1, elapsedS: 1, invalidRunDirs: [] };
    expect(huntExitCode([caught, caught], clean)).toBe(0);
    expect(huntExitCode([caught, missed], clean)).toBe(1);
    expect(huntExitCode([caught], { ...clean, invalid: 1 })).toBe(1);
  });

  it('hunt.json has the design.md shape; table and JUnit have one row / testcase per bug', async () => {
    const { deps } = fake((o) => (o.bug === 'ack-before-replication' ? false : true));
    const s = await runHunt(config({ bugs: ['ack-before-replication', 'offsets-acks-1'], budgetMs: 20_000, cleanBudgetMs: 10_000 }), deps, new Date(0));
    const json = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
    expect(json['budgetS']).toBe(20);
    expect(json['clean']).toMatchObject({ runs: 1, invalid: 0, unknown: 0 });
    for (const b of json['bugs'] as Array<Record<string, unknown>>) {
      for (const k of ['name', 'caught', 'runs', 'secondsToDetection', 'anomalies', 'nemesis', 'runDir']) expect(b).toHaveProperty(k);
    }
    expect(s.bugs[1]).toMatchObject({ name: 'offsets-acks-1', caught: false, runs: 2, secondsToDetection: null });
    expect(s.exitCode).toBe(1);
    const table = formatHuntTable(s).split('\n');
    expect(table).toHaveLength(4);
    expect(table[1]).toMatch(/^ack-before-replication\s+yes\s+1\s+10\s+lost-write:3\s+partition-leader$/);
    expect(table[2]).toMatch(/^offsets-acks-1\s+NO\s+2/);
    const junit = huntJunitXml(s);
    expect(junit.match(/<testcase /g)).toHaveLength(3);
    expect(junit.match(/<failure /g)).toHaveLength(1);
    expect(junit).toContain('name="offsets-acks-1"');
  });
});

describe('hunt flags', () => {
  it('--bugs all or a list, validated against the catalogue', () => {
    expect(parseBugList(undefined)).toEqual(bugNames);
    expect(parseBugList('all')).toEqual(bugNames);
    expect(parseBugList('truncate-to-hw, epoch-not-bumped')).toEqual(['truncate-to-hw', 'epoch-not-bumped']);
    expect(() => parseBugList('truncate-to-hw,nope')).toThrow(/--bugs: 'nope' is not in the planted-bug catalogue; allowed: ack-before-replication/);
    expect(() => parseBugList(',')).toThrow(/--bugs is empty/);
  });

  it('defaults: acks=all, min.insync=2, RF=3, 300 s budget, clean budget = budget, short runs; --bug is refused', () => {
    const p = parseHuntFlags(['--seed', '7']);
    if (p === 'help') throw new Error('help');
    expect(p).toMatchObject({ budgetMs: 300_000, cleanBudgetMs: 300_000, cellsOverride: null, junit: null });
    expect(p.base).toMatchObject({ acks: 'all', minInsync: 2, replicationFactor: 3, seed: 7, timeLimitMs: 12_000, nemesisIntervalMs: 3_000, bug: null });
    const q = parseHuntFlags(['--budget', '20', '--clean-budget', '0', '--nemesis', 'kill,kill+pause', '--time-limit', '5']);
    if (q === 'help') throw new Error('help');
    expect(q).toMatchObject({ budgetMs: 20_000, cleanBudgetMs: 0, cellsOverride: [['kill'], ['kill', 'pause']] });
    expect(q.base.timeLimitMs).toBe(5_000);
    expect(() => parseHuntFlags(['--budget', '0'])).toThrow(/--budget must be a number of seconds from 1/);
    const seq = parseHuntFlags(['--nemesis', 'stop-leader+stop-leader,kill', '--nemesis-sequence']);
    if (seq === 'help') throw new Error('help');
    expect(seq.cellsOverride).toEqual([['stop-leader', 'stop-leader'], ['kill']]);
    expect(() => parseHuntFlags(['--nemesis', 'partition-one+bandwidth', '--nemesis-sequence'])).toThrow(/cell 'partition-one\+bandwidth': a sequence holds at most one network fault/);
    expect(() => parseHuntFlags(['--bug', 'truncate-to-hw'])).toThrow(/unknown flag --bug; did you mean --bugs\?/);
  });
});
