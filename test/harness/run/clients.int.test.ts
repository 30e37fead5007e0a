/**
 * Real runs on 3 local nodes with the production wiring (harness/run/wiring.ts) and the queue workload's
 * client processes:
 * - a consumer and the drain reader planted to spin without yielding (kafkajs issue #1384's shape: a
 *   promise chain that starves timers) cannot hold the run: each is killed on its deadline, its open
 *   poll completes as `info` naming the client, and the run reaches a verdict within its bound;
 * - a clean run records real polls: empty ones as `{}`, a poll p50 well above 0.01 ms and of the
 *   order of a send's, phase lines for every phase, and a drain that assigns every partition.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { startNemesis } from '../../../nemesis/index.ts';
import { validateRunFlags } from '../../../harness/run/options.ts';
import { runTest } from '../../../harness/run/run.ts';
import type { RunDeps } from '../../../harness/run/run.ts';
import { queueOptions, realDeps } from '../../../harness/run/wiring.ts';
import { queue } from '../../../workloads/queue.ts';
import type { Op } from '../../../checkers/history.ts';

function deps(o: ReturnType<typeof validateRunFlags>, logs: string[], plant?: Array<'producer' | 'consumer' | 'drain'>): RunDeps {
  const d = realDeps(o, new AbortController().signal, (m) => logs.push(m), startNemesis);
  return {
    ...d,
    createWorkload: (a) => queue({ ...queueOptions(o, a), ...(plant ? { plant: { roles: plant, kind: 'spin' as const } } : {}) }, a.history, a.rng),
    // the final phases' budgets include starting their client processes, slow on a loaded machine
    timing: { drainTimeoutMs: 20_000, recoverTimeoutMs: 30_000 },
  };
}

/** Client processes of runs with this seed still alive (client ids are faultline-r<seed base 36>...). */
async function clientProcessesOfSeed(seed: number): Promise<string[]> {
  const ps = await execa('ps', ['-eo', 'args'], { reject: false });
  return ps.stdout.split('\n').filter((l) => l.includes('client-process.ts') && l.includes(`"clientId":"faultline-r${seed.toString(36)}`));
}

function phases(ops: Op[]): string[] {
  return ops.filter((op) => op.f === 'phase').map((op) => {
    const v = op.value as { name: string; status: string };
    return `${v.name}:${v.status}`;
  });
}

describe('workload client processes', () => {
  it('kills a consumer and a drain reader that spin without yielding; the run still reaches its verdict', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-spin-'));
    const o = validateRunFlags({ nemesis: 'none', 'time-limit': '4', rate: '50', seed: '11', consumers: '2', 'consumer-mode': 'assign', 'consumer-crash-interval': '0', out });
    const logs: string[] = [];
    const started = Date.now();
    const r = await runTest(o, deps(o, logs, ['consumer', 'drain']));
    const tookMs = Date.now() - started;
    const ops = (await import('node:fs')).readFileSync(join(r.runDir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Op);
    const killed = ops.filter((op) => op.type === 'info' && op.f === 'poll' && String((op.value as { error?: string }).error).startsWith('CLIENT_KILLED'));
    const names = killed.map((op) => (op.value as { error: string }).error);
    expect(names.some((n) => /client consumer-\d+ killed: stop gave no answer within \d+ ms/.test(n)), names.join('\n')).toBe(true);
    expect(names.some((n) => /client drain-\d+ killed: drain gave no answer within \d+ ms/.test(n)), names.join('\n')).toBe(true);
    // every planted client's open poll was completed
    for (const op of killed) expect(ops.some((x) => x.process === op.process && x.type === 'invoke' && x.f === 'poll' && x.index < op.index)).toBe(true);
    expect(phases(ops)).toEqual(['load:start', 'load:done', 'heal:start', 'heal:done', 'recover:start', 'recover:done', 'drain:start', 'drain:failed']);
    expect(r.results.phases.drain).toMatch(/failed: .*drain-\d+ killed/);
    expect(r.results.valid).toBe('unknown');
    // setup + 4 s load + consumer stop bound (11 s) + drain bound (20 s + 5 s) + cluster stop, with slack
    expect(tookMs).toBeLessThan(120_000);
    expect(await clientProcessesOfSeed(11)).toEqual([]);
  });

  it('records real polls (empty ones too, latencies of the order of a send), commits, and consumers that crash and rejoin', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-int-polls-'));
    // a low rate, so that some Fetches find nothing new (empty polls are recorded as {})
    const o = validateRunFlags({ nemesis: 'none', 'time-limit': '6', rate: '8', seed: '12', consumers: '2', 'consumer-mode': 'mixed', 'consumer-crash-interval': '1.5', 'commit-interval': '0.2', out });
    const logs: string[] = [];
    const r = await runTest(o, deps(o, logs));
    expect(r.results.phases.drain).toBe('done');
    const ops = (await import('node:fs')).readFileSync(join(r.runDir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Op);
    const polls = ops.filter((op) => op.f === 'poll' && op.type === 'ok');
    expect(polls.some((op) => Object.keys(op.value as object).length === 0)).toBe(true);
    const latency = r.results.latencyMs as unknown as Record<string, { p50: number }>;
    expect(latency['poll']!.p50).toBeGreaterThan(0.5);
    expect(latency['poll']!.p50).toBeLessThan(latency['send']!.p50 * 50);
    // the drain assigned every partition and read them from offset 0
    const drainAssign = ops.filter((op) => op.f === 'assign').at(-1)!;
    expect((drainAssign.value as { keys: string[] }).keys).toEqual(['faultline-0', 'faultline-1', 'faultline-2']);
    expect(phases(ops)).toEqual(['load:start', 'load:done', 'heal:start', 'heal:done', 'recover:start', 'recover:done', 'drain:start', 'drain:done']);
    // explicit commits are recorded as ops with completions (whether the coordinator takes them depends
    // on who is in the group when: consumer.int.test.ts shows both kinds succeed); the crash-client killed
    // consumers mid-load, and a consumer under a fresh process id (past the first two, 4 and 5) joined
    expect(ops.some((op) => op.f === 'commit' && op.type !== 'invoke')).toBe(true);
    const crashed = ops.filter((op) => op.type === 'info' && /CLIENT_KILLED: client consumer-\d+ crashed by the workload/.test(String((op.value as { error?: string } | null)?.error)));
    expect(crashed.length).toBeGreaterThan(0);
    const drainProcess = drainAssign.process as number;
    expect(ops.some((op) => typeof op.process === 'number' && op.process > 5 && op.process < drainProcess && op.f === 'assign' && ops.some((x) => x.process === op.process && x.f === 'send') === false)).toBe(true);
    expect(r.results.valid).toBe(true);
    // no client process outlives its run, a rejoin still loading at the end included
    expect(await clientProcessesOfSeed(12)).toEqual([]);
  });
});
