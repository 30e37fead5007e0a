import { existsSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend, ClusterSpec, NodeInfo } from '../../../harness/backend.ts';
import { parseHistory } from '../../../checkers/history.ts';
import { checkRun } from '../../../checkers/index.ts';
import { renderReport } from '../../../harness/report/html.ts';
import { parseFlags, runTable, validateRunFlags } from '../../../harness/run/options.ts';
import type { RunOptions } from '../../../harness/run/options.ts';
import { finalVerdict, runTest } from '../../../harness/run/run.ts';
import { replayOptions } from '../../../harness/commands/run.ts';
import type { NemesisSchedule } from '../../../nemesis/index.ts';
import type { RunDeps, WorkloadArgs } from '../../../harness/run/run.ts';
import type { RunEvent } from '../../../harness/run/events.ts';
import type { Completion, FinalOp, QueueWorkload, SendInvocation } from '../../../workloads/queue.ts';
import { ValueCounter, keyOf, queueGenerator } from '../../../workloads/queue.ts';

class FakeBackend implements Backend {
  readonly name = 'local' as const;
  calls: string[] = [];
  #nodes: NodeInfo[] = [];
  readonly failStart: boolean;
  constructor(failStart = false) {
    this.failStart = failStart;
  }
  async start(spec: ClusterSpec): Promise<NodeInfo[]> {
    this.calls.push(`start ${spec.nodes} ${spec.brokerSettings['min.insync.replicas']}`);
    if (this.failStart) throw new Error('node n2 did not open its Kafka port');
    this.#nodes = Array.from({ length: spec.nodes }, (_, i) => ({
      name: `n${i + 1}`, id: i + 1, kafkaAddress: `127.0.0.1:${9000 + i}`, controllerAddress: `127.0.0.1:${9100 + i}`,
      dataDir: join(spec.workDir, `n${i + 1}`, 'data'), logFile: join(spec.workDir, `n${i + 1}`, 'broker.log'),
    }));
    return this.#nodes;
  }
  async stop(): Promise<void> { this.calls.push('stop'); }
  nodes(): NodeInfo[] { return this.#nodes; }
  async kill(node: string): Promise<void> { this.calls.push(`kill ${node}`); }
  async restart(node: string): Promise<void> { this.calls.push(`restart ${node}`); }
  async pause(node: string): Promise<void> { this.calls.push(`pause ${node}`); }
  async resume(node: string): Promise<void> { this.calls.push(`resume ${node}`); }
  async logs(): Promise<string> { return ''; }
}

/** An in-memory queue: sends append to a per-key log; `loseEvery` drops every n-th acked value. */
function fakeWorkload(a: WorkloadArgs, loseEvery = 0): QueueWorkload {
  const keys = Array.from({ length: a.options.partitions }, (_, p) => keyOf(a.topic, p));
  const logs = new Map<string, number[]>(keys.map((k) => [k, []]));
  const values = new ValueCounter();
  let acked = 0;
  const drainProcess = a.options.concurrency + 1;
  return {
    name: 'queue',
    keys,
    generator: queueGenerator(keys, a.rng, values),
    finalGenerator: (): FinalOp[] => [{ f: 'recover', keys }, { f: 'drain', keys }],
    checker: checkRun,
    client: {
      async setup() {},
      async startConsumers() {},
      async stopConsumers() {},
      async teardown() {},
      async invoke(_p: number, op: SendInvocation): Promise<Completion> {
        const log = logs.get(op.value.key)!;
        const offset = log.length;
        acked++;
        log.push(loseEvery > 0 && acked % loseEvery === 0 ? -1 : op.value.value);
        return { type: 'ok', value: { ...op.value, offset } };
      },
      async final(op: FinalOp) {
        if (op.f === 'recover') return true;
        a.history.append({ process: drainProcess, type: 'ok', f: 'assign', value: { keys } });
        for (const k of keys) {
          const pairs = logs.get(k)!.map((v, o) => [o, v] as [number, number]).filter(([, v]) => v >= 0);
          a.history.append({ process: drainProcess, type: 'invoke', f: 'poll', value: null });
          a.history.append({ process: drainProcess, type: 'ok', f: 'poll', value: { [k]: pairs } });
        }
        return true;
      },
    },
  };
}

function options(out: string, extra: Partial<RunOptions> = {}): RunOptions {
  return { ...validateRunFlags({ 'time-limit': '0.3', rate: '200', nemesis: 'kill', out }, () => 99), ...extra };
}

function deps(backend: Backend, over: Partial<RunDeps> = {}): RunDeps & { logs: string[]; nemesisCalls: string[] } {
  const logs: string[] = [];
  const nemesisCalls: string[] = [];
  return {
    logs,
    nemesisCalls,
    createBackend: async () => backend,
    startNemesis: (n) => {
      nemesisCalls.push(`start ${n.faults.join(',')} ${n.intervalMs}`);
      n.record({ process: 'nemesis', type: 'info', f: 'kill', value: { nodes: ['n1'] } });
      return {
        stop: async () => {
          nemesisCalls.push('stop');
          n.record({ process: 'nemesis', type: 'info', f: 'restart', value: { nodes: ['n1'] } });
        },
      };
    },
    createWorkload: (a) => fakeWorkload(a),
    check: checkRun,
    renderReport: (r, h) => renderReport(r, h),
    versions: { faultline: 'test' },
    log: (m) => logs.push(m),
    signal: new AbortController().signal,
    now: () => new Date('2026-11-24T21:00:00.000Z'),
    ...over,
  };
}

describe('runTest', () => {
  it('writes test.json, an incremental history, results.json, report.html and latest; valid run exits 0', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-'));
    const backend = new FakeBackend();
    const d = deps(backend);
    const r = await runTest(options(out), d);
    expect(r.exitCode).toBe(0);
    expect(r.results.valid).toBe(true);
    expect(r.runDir).toBe(join(out, 'queue-acksall-kill', '20261124T210000.000Z'));
    expect(d.logs[0]).toBe('faultline run queue-acksall-kill: seed 99');
    const test = JSON.parse(readFileSync(join(r.runDir, 'test.json'), 'utf8')) as Record<string, unknown>;
    expect(test).toMatchObject({ acks: 'all', nodes: 3, replicationFactor: 3, minInsync: 2, uncleanElection: false, idempotence: false,
      nemesis: ['kill'], seed: 99, backend: 'local', versions: { faultline: 'test' }, name: 'queue-acksall-kill' });
    const history = parseHistory(readFileSync(join(r.runDir, 'history.jsonl'), 'utf8'));
    expect(history.length).toBeGreaterThan(20);
    expect(history.map((o) => o.index)).toEqual(history.map((_, i) => i));
    const results = JSON.parse(readFileSync(join(r.runDir, 'results.json'), 'utf8')) as Record<string, unknown>;
    expect(results['valid']).toBe(true);
    expect(results['test']).toEqual(test);
    expect(Object.keys(results['anomalies'] as object)).toContain('lost-write');
    expect(results).toHaveProperty('availability');
    expect(results).toHaveProperty('latencyMs');
    expect(readFileSync(join(r.runDir, 'report.html'), 'utf8')).toContain('id="faultline-data"');
    expect(readlinkSync(join(out, 'latest'))).toBe(join('queue-acksall-kill', '20261124T210000.000Z'));
    expect(existsSync(join(r.runDir, 'nodes', 'n1', 'data-listing.txt'))).toBe(true);
    expect(backend.calls).toEqual(['start 3 2', 'stop']);
    expect(d.nemesisCalls).toEqual(['start kill 5000', 'stop']);
  });

  it('seconds flags reach the run in ms: --time-limit 0.5 gives a load phase of about 0.5 s in the history, --nemesis-interval 2 a 2000 ms nemesis, and test.json keeps the seconds', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-'));
    const flags = parseFlags(['--time-limit', '0.5', '--nemesis-interval', '2', '--rate', '200', '--nemesis', 'kill', '--out', out], runTable).values;
    const d = deps(new FakeBackend());
    const r = await runTest(validateRunFlags(flags, () => 99), d);
    const history = parseHistory(readFileSync(join(r.runDir, 'history.jsonl'), 'utf8'));
    const loadAt = (status: string): number => history.find((op) => op.f === 'phase' && (op.value as { name: string; status: string }).name === 'load' && (op.value as { status: string }).status === status)!.timeNs;
    const loadMs = (loadAt('done') - loadAt('start')) / 1e6;
    // 0.5 s, not 0.5 ms (a dropped * 1000) nor 500 s (a doubled one, which would time the test out)
    expect(loadMs).toBeGreaterThanOrEqual(500);
    expect(loadMs).toBeLessThan(5_000);
    const sends = history.filter((op) => op.f === 'send' && op.type === 'invoke');
    expect((sends[sends.length - 1]!.timeNs - loadAt('start')) / 1e6).toBeGreaterThan(250);
    expect(d.nemesisCalls[0]).toBe('start kill 2000');
    const test = JSON.parse(readFileSync(join(r.runDir, 'test.json'), 'utf8')) as Record<string, unknown>;
    expect(test).toMatchObject({ timeLimit: 0.5, nemesisInterval: 2, consumerCrashInterval: 5, commitInterval: 1 });
    expect(test).not.toHaveProperty('timeLimitMs');
  });

  it('a lost acknowledged write makes the run invalid (exit 1)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-'));
    const r = await runTest(options(out), deps(new FakeBackend(), { createWorkload: (a) => fakeWorkload(a, 7) }));
    expect(r.results.valid).toBe(false);
    expect(r.exitCode).toBe(1);
    expect(r.results.anomalies['lost-write'].count + r.results.anomalies['unseen'].count).toBeGreaterThan(0);
  });

  it('a backend that fails to start still leaves results (unknown, exit 2) and is stopped', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-'));
    const backend = new FakeBackend(true);
    const r = await runTest(options(out), deps(backend));
    expect(r.exitCode).toBe(2);
    expect(r.results.valid).toBe('unknown');
    expect(r.results.error).toMatch(/did not open its Kafka port/);
    expect(backend.calls).toEqual(['start 3 2', 'stop']);
    expect(existsSync(join(r.runDir, 'results.json'))).toBe(true);
  });

  it('an interrupt stops the load, skips the drain, stops the cluster and reports unknown', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-'));
    const backend = new FakeBackend();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const d = deps(backend, { signal: ac.signal });
    const t0 = Date.now();
    const r = await runTest(options(out, { timeLimitMs: 30_000 }), d);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.results.interrupted).toBe(true);
    expect(r.results.phases.drain).toBe('not started');
    expect(r.exitCode).toBe(2);
    expect(backend.calls.at(-1)).toBe('stop');
    expect(d.nemesisCalls).toEqual(['start kill 5000', 'stop']);
  });

  it('writes a phase line at each phase event, in order', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-'));
    const r = await runTest(options(out), deps(new FakeBackend()));
    const ops = parseHistory(readFileSync(join(r.runDir, 'history.jsonl'), 'utf8'));
    const phases = ops.filter((op) => op.f === 'phase').map((op) => {
      expect(op).toMatchObject({ process: 'harness', type: 'info' });
      const v = op.value as { name: string; status: string };
      return `${v.name}:${v.status}`;
    });
    expect(phases).toEqual(['load:start', 'load:done', 'heal:start', 'heal:done', 'recover:start', 'recover:done', 'drain:start', 'drain:done']);
  });

  it('a heal that fails (a node crashing in recovery) still recovers and drains, and names the node and why', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-'));
    const d = deps(new FakeBackend(), {
      startNemesis: (n) => ({
        stop: async () => {
          n.record({ process: 'nemesis', type: 'info', f: 'restart', value: { nodes: ['n2'], error: 'node n2 exited with code 1 during log recovery' } });
          throw new Error('nemesis final generator could not restart n2');
        },
      }),
    });
    const r = await runTest(options(out), d);
    expect(r.results.phases.heal).toBe('failed: nemesis final generator could not restart n2; restart n2: node n2 exited with code 1 during log recovery');
    expect(r.results.phases.recover).toBe('done');
    expect(r.results.phases.drain).toBe('done');
    const ops = parseHistory(readFileSync(join(r.runDir, 'history.jsonl'), 'utf8'));
    expect(ops.some((op) => op.f === 'phase' && (op.value as { name: string; status: string }).name === 'heal' && (op.value as { status: string }).status === 'failed')).toBe(true);
    expect(r.results.error).toBeUndefined();
  });

  it('a final phase that never settles is cut off by its outer bound and the run reaches its verdict', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-'));
    const d = deps(new FakeBackend(), {
      createWorkload: (a) => {
        const w = fakeWorkload(a);
        return { ...w, client: { ...w.client, final: (op: FinalOp) => (op.f === 'drain' ? new Promise<boolean>(() => undefined) : Promise.resolve(true)) } };
      },
      timing: { drainTimeoutMs: 10, recoverTimeoutMs: 10, finalMarginMs: 50 },
    });
    const r = await runTest(options(out), d);
    expect(r.results.phases.drain).toMatch(/^timeout: the drain phase took longer than 60 ms/);
    expect(r.results.valid).toBe('unknown');
  });

  it('finalVerdict trusts only guarantee-breaking anomalies other than unseen in an incomplete run', () => {
    const a = (t: string) => ({ [t]: { count: 1 } });
    expect(finalVerdict(true, {}, true, false)).toBe(true);
    expect(finalVerdict(false, a('unseen'), true, false)).toBe(false);
    expect(finalVerdict(false, a('unseen'), false, false)).toBe('unknown');
    expect(finalVerdict(true, {}, false, false)).toBe('unknown');
    expect(finalVerdict(false, a('lost-write'), false, false)).toBe(false);
    expect(finalVerdict(false, a('duplicate'), false, true)).toBe(false);
    expect(finalVerdict(true, a('duplicate'), false, false)).toBe('unknown');
  });
});

describe('the fault schedule in test.json, and --replay', () => {
  const schedule: NemesisSchedule = {
    faults: [{ lane: 'kill', fault: 'kill-random', startMs: 10, endMs: 20, start: { f: 'kill', value: { nodes: ['n2'], role: 'random' } }, end: { f: 'restart', value: { nodes: ['n2'], role: 'random' } } }],
  };
  const recording = (seen: Array<NemesisSchedule | undefined>): Partial<RunDeps> => ({
    startNemesis: (n) => {
      seen.push(n.replay);
      return { stop: async () => {}, schedule: () => schedule };
    },
  });

  it('stores what the nemesis carried out; a replay reads it, takes the stored options and seed, and hands the schedule to the nemesis', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-replay-'));
    const seen: Array<NemesisSchedule | undefined> = [];
    const firstOptions = options(out, { seed: 4242, partitions: 2 });
    const first = await runTest(firstOptions, deps(new FakeBackend(), recording(seen)));
    const stored = JSON.parse(readFileSync(join(first.runDir, 'test.json'), 'utf8')) as { nemesisSchedule: NemesisSchedule; seed: number };
    expect(stored.nemesisSchedule).toEqual(schedule);
    expect(seen).toEqual([undefined]);

    // flags given with --replay override the stored options; the rest (seed included) come from test.json
    const o = replayOptions(validateRunFlags({ replay: first.runDir, out, 'time-limit': '0.3' }, () => 1), { replay: first.runDir, out, 'time-limit': '0.3' });
    expect(o).toMatchObject({ seed: 4242, partitions: 2, timeLimitMs: 300, replay: first.runDir });
    // with nothing given but --replay, every ms option comes back identical through test.json's seconds
    const same = replayOptions(validateRunFlags({ replay: first.runDir, out }, () => 1), { replay: first.runDir, out });
    expect(same).toEqual({ ...firstOptions, replay: first.runDir });
    await runTest(o, deps(new FakeBackend(), recording(seen)));
    expect(seen[1]).toEqual(schedule);
    // the stored options and the given flags are validated together
    expect(() => replayOptions(validateRunFlags({ replay: first.runDir, nodes: '1' }, () => 1), { replay: first.runDir, nodes: '1' })).toThrow(/--replication-factor 3 exceeds --nodes 1/);
  });

  it('a directory without a schedule is refused before anything starts, naming why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-replay-none-'));
    expect(() => replayOptions(validateRunFlags({ replay: dir }, () => 1), { replay: dir })).toThrow(/--replay .*cannot read its test.json/);
    writeFileSync(join(dir, 'test.json'), JSON.stringify({ seed: 1 }));
    expect(() => replayOptions(validateRunFlags({ replay: dir }, () => 1), { replay: dir })).toThrow(/records no fault schedule/);
  });

  it('a power-loss fault starts the cluster with its power-loss layer; --set reaches every node over the defaults', async () => {
    const specs: ClusterSpec[] = [];
    class Recording extends FakeBackend {
      readonly powerLossMissing: string[] = [];
      async powerLoss(node: string): Promise<void> {
        this.calls.push(`power-loss ${node}`);
      }
      override async start(spec: ClusterSpec): Promise<NodeInfo[]> {
        specs.push(spec);
        return super.start(spec);
      }
    }
    const out = mkdtempSync(join(tmpdir(), 'fl-pl-'));
    const o = options(out, { nemesis: ['power-loss-all'], set: { 'log.flush.interval.messages': '1', 'replica.lag.time.max.ms': '9000' } });
    await runTest(o, deps(new Recording()));
    expect(specs[0]!.powerLoss).toBe(true);
    expect(specs[0]!.brokerSettings).toMatchObject({ 'log.flush.interval.messages': '1', 'replica.lag.time.max.ms': '9000', 'min.insync.replicas': '2' });
    await runTest(options(out), deps(new Recording()));
    expect(specs[1]!.powerLoss).toBeUndefined();
  });

  it('--set is validated as the broker validates it', () => {
    expect(validateRunFlags({ set: ['log.flush.interval.messages=1', 'min.insync.replicas=2'] }, () => 1).set).toEqual({ 'log.flush.interval.messages': '1', 'min.insync.replicas': '2' });
    expect(() => validateRunFlags({ set: ['no.such.setting=1'] }, () => 1)).toThrow(/--set no.such.setting=1: unknown setting 'no.such.setting'/);
    expect(() => validateRunFlags({ set: ['justakey'] }, () => 1)).toThrow(/--set justakey: --set expects key=value/);
  });
});

describe('runTest: the run-event stream', () => {
  it('emits run-start, the nodes, phases, roles, fault events with the node conditions they change, progress and run-end', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-ev-'));
    const events: RunEvent[] = [];
    const d = deps(new FakeBackend(), {
      events: { emit: (e) => events.push(e) },
      roles: async () => ({ controller: 1, leaders: { 'faultline-0': 2 }, replicas: {} }),
      rolesPollMs: 50,
      startNemesis: (n) => {
        const start = { f: 'kill' as const, value: { nodes: ['n2'], role: 'leader' as const } };
        n.record({ process: 'nemesis', type: 'info', f: 'kill', value: start.value });
        n.events?.emit({ type: 'fault-start', lane: 'kill-leader', fault: 'kill-leader', op: start, end: null });
        return {
          stop: async () => {
            const end = { f: 'restart' as const, value: { nodes: ['n2'], role: 'leader' as const } };
            n.record({ process: 'nemesis', type: 'info', f: 'restart', value: end.value });
            n.events?.emit({ type: 'fault-end', lane: 'kill-leader', fault: 'kill-leader', op: end });
          },
        };
      },
    });
    const r = await runTest(options(out, { timeLimitMs: 1_300 }), d);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('run-start');
    expect(types[types.length - 1]).toBe('run-end');
    expect(events.find((e) => e.type === 'run-end')).toMatchObject({ valid: r.results.valid, runDir: r.runDir });
    const nodes = events.filter((e) => e.type === 'nodes').map((e) => e.nodes['n2']);
    expect(nodes).toEqual([[], ['killed'], []]);
    expect(events.filter((e) => e.type === 'phase').map((e) => `${e.name} ${e.status}`)).toEqual(['load start', 'load done', 'heal start', 'heal done', 'recover start', 'recover done', 'drain start', 'drain done']);
    expect(events.find((e) => e.type === 'roles')).toEqual({ type: 'roles', controller: 'n1', leaders: { 'faultline-0': 'n2' } });
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((p) => p.ok > 0 && p.remainingMs !== null)).toBe(true);
  });

  it('emits nothing and polls no roles without an event stream', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-run-ev-'));
    let polled = 0;
    await runTest(options(out), deps(new FakeBackend(), { roles: async () => (polled++, null) }));
    expect(polled).toBe(0);
  });
});
