import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Roles } from '../../harness/backend.ts';
import { UsageError } from '../../harness/errors.ts';
import { createRng } from '../../harness/rng.ts';
import { faults, parseFaults, startNemesis, type NemesisHandle } from '../../nemesis/index.ts';
import type { NemesisRecord } from '../../nemesis/index.ts';
import { FakeAdmin, FakeBackend, FakePartitionBackend, fakeNodes } from './fake-backend.ts';

const roles: Roles = {
  controller: 1,
  leaders: { 't-0': 2, 't-1': 3 },
  replicas: { 't-0': { replicas: [2, 3, 1], isr: [2, 3, 1] }, 't-1': { replicas: [3, 1, 2], isr: [3, 1] } },
};

interface Outcome {
  records: NemesisRecord[];
  sleeps: number[];
  backend: FakePartitionBackend;
}

/**
 * Run a schedule with instant sleeps until `steps` ops are recorded, then stop (final heal).
 * Sleeps yield to the event loop so the run is a real interleaving, but take no time.
 */
async function runSchedule(seed: number, names: string[], steps: number, opts: { nodes?: number; backend?: FakePartitionBackend; pollsToComplete?: number } = {}): Promise<Outcome> {
  const backend = opts.backend ?? new FakePartitionBackend(fakeNodes(opts.nodes ?? 5));
  const records: NemesisRecord[] = [];
  const sleeps: number[] = [];
  let handle: NemesisHandle | null = null;
  let stopped: Promise<void> | null = null;
  let reached!: () => void;
  const done = new Promise<void>((r) => (reached = r));
  let virtualMs = 0;
  handle = await startNemesis({
    backend,
    faults: names,
    intervalMs: 1000,
    rng: createRng(seed).fork('nemesis'),
    topic: 't',
    roles: async () => roles,
    // moves complete at once here (no real-time polling in a schedule property)
    admin: Object.assign(new FakeAdmin(backend, Object.fromEntries(Object.entries(roles.replicas).map(([k, r]) => [k, r.replicas]))), { pollsToComplete: opts.pollsToComplete ?? 0 }),
    // virtual time: a sleep advances the clock at once, so waits inside a fault end at their bound without real waiting
    now: () => virtualMs,
    sleep: async (ms) => {
      sleeps.push(ms);
      virtualMs += ms;
      await new Promise<void>((r) => setImmediate(r));
    },
    record: (op) => {
      records.push(op);
      if (records.length === steps) reached();
    },
  });
  await done;
  stopped = handle.stop();
  await stopped.catch(() => {});
  return { records, sleeps, backend };
}

function checkPaired(records: NemesisRecord[]): void {
  const open = new Map<string, number>();
  for (const r of records) {
    const key = (f: string): string => `${f}:${r.value.nodes.join(',')}`;
    const kind = (f: string): string => (f === 'stop' || f === 'power-loss' || f === 'corrupt' ? 'kill' : f);
    if (r.f === 'kill' || r.f === 'stop' || r.f === 'power-loss' || r.f === 'corrupt' || r.f === 'pause') open.set(key(kind(r.f)), (open.get(key(kind(r.f))) ?? 0) + 1);
    if (r.f === 'restart' || r.f === 'resume') {
      const start = r.f === 'restart' ? 'kill' : 'pause';
      const k = `${start}:${r.value.nodes.join(',')}`;
      expect(open.get(k) ?? 0).toBeGreaterThan(0);
      open.set(k, (open.get(k) ?? 0) - 1);
    }
  }
  for (const [k, v] of open) expect(v, `unended ${k}`).toBe(0);
  // clock, disk and rolling-restart faults each end with their own op on the same nodes
  for (const [starts, end] of [[['clock-bump', 'clock-strobe'], 'clock-reset'], [['disk-full'], 'disk-free'], [['rolling-restart'], 'rolling-restart-end'], [['reassign'], 'reassign-done'], [['add-broker'], 'decommission']] as const) {
    const count = new Map<string, number>();
    for (const r of records) {
      const k = r.value.nodes.join(',');
      if ((starts as readonly string[]).includes(r.f)) count.set(k, (count.get(k) ?? 0) + 1);
      if (r.f === end) {
        expect(count.get(k) ?? 0, `${end} ${k} without a start`).toBeGreaterThan(0);
        count.set(k, count.get(k)! - 1);
      }
    }
    for (const [k, v] of count) expect(v, `unended ${starts[0]} ${k}`).toBe(0);
  }
  const parts = records.filter((r) => r.f === 'partition' || r.f === 'packet-loss' || r.f === 'bandwidth' || r.f === 'heal');
  if (parts.length > 0) expect(parts[parts.length - 1]!.f).toBe('heal');
}

describe('nemesis schedule', () => {
  it('same seed -> same fault sequence and same period lengths; another seed -> another', async () => {
    const all = ['kill', 'pause', 'partition'];
    const a = await runSchedule(11, all, 30);
    const b = await runSchedule(11, all, 30);
    const c = await runSchedule(12, all, 30);
    // tookMs is a measurement of the backend action, not a choice of the schedule
    const strip = (o: Outcome): unknown => o.records.slice(0, 30).map(({ value: { tookMs: _t, ...value }, ...r }) => ({ ...r, value }));
    expect(strip(a)).toEqual(strip(b));
    expect(a.sleeps.slice(0, 20)).toEqual(b.sleeps.slice(0, 20));
    expect(strip(c)).not.toEqual(strip(a));
  });

  it('periods last intervalMs x [0.5, 1.5), faults and quiet periods alternate', async () => {
    const o = await runSchedule(5, ['kill'], 20);
    for (const ms of o.sleeps) expect(ms >= 500 && ms < 1500).toBe(true);
    const fs = o.records.slice(0, 20).map((r) => r.f);
    for (let i = 0; i < fs.length; i++) expect(fs[i]).toBe(i % 2 === 0 ? 'kill' : 'restart');
  });

  it('records ops as process "nemesis", type "info", with nodes, role and shape', async () => {
    const o = await runSchedule(3, ['kill-leader', 'partition-halves', 'pause-controller'], 12);
    for (const r of o.records) {
      expect(r.process).toBe('nemesis');
      expect(r.type).toBe('info');
      expect(['kill', 'restart', 'pause', 'resume', 'partition', 'heal']).toContain(r.f);
      expect(r.value.nodes.length).toBeGreaterThan(0);
      // how long the action took, so a checker knows when a restart or resume began
      expect(Number.isInteger(r.value.tookMs) && r.value.tookMs! >= 0).toBe(true);
    }
    for (const r of o.records.filter((x) => x.f === 'kill')) expect(r.value).toMatchObject({ role: 'leader', nodes: [expect.stringMatching(/^n[23]$/)] });
    for (const r of o.records.filter((x) => x.f === 'pause')) expect(r.value).toMatchObject({ role: 'controller', nodes: ['n1'] });
    for (const r of o.records.filter((x) => x.f === 'partition')) {
      expect(r.value.shape).toBe('halves');
      expect(Object.keys(r.value.grudge ?? {}).length).toBe(5);
    }
  });

  it('bandwidth-<role> and packet-loss-<role> degrade the links of one node of that role; untargeted ones every link', async () => {
    const o = await runSchedule(4, ['bandwidth-follower', 'packet-loss-leader', 'bandwidth'], 24);
    const starts = o.records.filter((r) => r.f === 'bandwidth' || r.f === 'packet-loss');
    expect(new Set(starts.map((r) => r.value.role ?? 'all'))).toEqual(new Set(['follower', 'leader', 'all']));
    const degrades = o.backend.calls.filter((c) => c.f === 'bandwidth' || c.f === 'packet-loss');
    expect(degrades.length).toBe(starts.length);
    for (const [i, r] of starts.entries()) {
      if (r.value.role === undefined) {
        expect(r.value.nodes.length).toBe(5);
        expect(degrades[i]!.nodes).toBeUndefined(); // every link, not a node list
        continue;
      }
      expect(r.value.nodes.length).toBe(1);
      expect(degrades[i]!.nodes).toEqual(r.value.nodes);
      // roles above: t-0 led by n2 (followers n3, n1), t-1 by n3 (followers n1, n2)
      if (r.value.role === 'leader') expect(['n2', 'n3']).toContain(r.value.nodes[0]);
      else expect(['n1', 'n2', 'n3']).toContain(r.value.nodes[0]);
      expect(r.f === 'bandwidth' ? r.value.rateKbit : r.value.probability).toBeGreaterThan(0);
    }
  });

  it('every fault start has an end after stop, and the backend ends healthy (any seed, any stop point)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 25 }), fc.subarray(Object.keys(faults), { minLength: 1 }), async (seed, steps, names) => {
        const o = await runSchedule(seed, names, steps);
        checkPaired(o.records);
        expect(o.backend.killed.size).toBe(0);
        expect(o.backend.paused.size).toBe(0);
        expect(o.backend.grudge).toEqual({});
        expect(o.backend.degraded).toBe(null);
        expect(o.backend.clocks.size).toBe(0);
        expect(o.backend.fullDisks.size).toBe(0);
        expect(o.backend.added.size).toBe(0);
      }),
      { numRuns: 40 },
    );
  });

  it('a move that never completes ends at its bound in the schedule\'s own time: no real waiting', async () => {
    const t0 = performance.now();
    const o = await runSchedule(3, ['membership', 'reassign'], 6, { pollsToComplete: Number.MAX_SAFE_INTEGER });
    // each stuck move waits its full 20 s bound (several of them), on the virtual clock
    expect(o.records.some((r) => /not moved to .* within 20000 ms/.test(r.value.error ?? ''))).toBe(true);
    expect(performance.now() - t0).toBeLessThan(15_000);
  });

  it('a failed end stays active and the final generator retries it; a final failure rejects stop()', async () => {
    const backend = new FakePartitionBackend(fakeNodes(3));
    backend.failing.add('restart');
    const records: NemesisRecord[] = [];
    let reached!: () => void;
    const done = new Promise<void>((r) => (reached = r));
    const h = await startNemesis({
      backend,
      faults: ['kill-random'],
      intervalMs: 1000,
      rng: createRng(1),
      topic: 't',
      roles: async () => null,
      sleep: () => new Promise<void>((r) => setImmediate(r)),
      record: (op) => {
        records.push(op);
        if (records.length === 4) reached();
      },
    });
    await done;
    await expect(h.stop()).rejects.toThrow(/could not restart/);
    expect(records.filter((r) => r.f === 'restart').every((r) => /failed \(fake\)/.test(r.value.error ?? ''))).toBe(true);
    // the killed node was never restarted, so the schedule did not kill a second one while it was down
    const killed = records.filter((r) => r.f === 'kill').map((r) => r.value.nodes[0]);
    expect(new Set(killed).size).toBe(killed.length);
    backend.failing.clear();
    await expect(h.stop()).rejects.toThrow(); // idempotent: the same outcome, no second final run
  });

  it('refuses unknown faults and partitions without a Partitioner, naming what is missing', async () => {
    expect(() => parseFaults(['kill', 'explode'])).toThrow(UsageError);
    expect(() => parseFaults(['explode'])).toThrow(/unknown nemesis fault 'explode'; allowed: none, kill/);
    expect(parseFaults(['none', 'kill', 'kill'])).toEqual(['kill']);
    const plain = new FakeBackend(fakeNodes(3));
    const start = (names: string[]) =>
      startNemesis({ backend: plain, faults: names, intervalMs: 100, rng: createRng(1), topic: 't', record: () => {}, roles: async () => null });
    await expect(start(['kill', 'partition-halves'])).rejects.toThrow(/partition-halves cannot run: network partitions need root \(fake\)/);
    const h = await start(['kill', 'pause']);
    await h.stop();
    await expect(start(['kill'].concat([]))).resolves.toBeDefined();
    await expect(startNemesis({ backend: plain, faults: ['kill'], intervalMs: 0, rng: createRng(1), topic: 't', record: () => {} })).rejects.toThrow(/interval/);
  });

  it('no faults: stop() records nothing', async () => {
    const backend = new FakePartitionBackend(fakeNodes(3));
    const records: NemesisRecord[] = [];
    const h = await startNemesis({ backend, faults: ['none'], intervalMs: 10, rng: createRng(1), topic: 't', record: (op) => records.push(op) });
    await h.stop();
    expect(records).toEqual([]);
    expect(backend.calls).toEqual([]);
  });

  it('an aborted signal ends the schedule; stop() still heals', async () => {
    const backend = new FakePartitionBackend(fakeNodes(3));
    const ctl = new AbortController();
    const records: NemesisRecord[] = [];
    const h = await startNemesis({
      backend,
      faults: ['partition-one'],
      intervalMs: 1000,
      rng: createRng(9),
      topic: 't',
      roles: async () => null,
      signal: ctl.signal,
      sleep: async (_ms, signal) => {
        await new Promise<void>((r) => setImmediate(r));
        if (records.length === 1) ctl.abort(); // abort during the first fault period
        void signal;
      },
      record: (op) => records.push(op),
    });
    await new Promise<void>((r) => setTimeout(r, 50));
    expect(records.map((r) => r.f)).toEqual(['partition']);
    await h.stop();
    expect(records.map((r) => r.f)).toEqual(['partition', 'heal']);
    expect(backend.grudge).toEqual({});
  });
});
