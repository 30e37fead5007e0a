import { describe, expect, it } from 'vitest';
import type { Roles } from '../../harness/backend.ts';
import { createRng } from '../../harness/rng.ts';
import { parseSchedule, planLanes, sequenceError, startNemesis, type NemesisSchedule } from '../../nemesis/index.ts';
import type { NemesisRecord } from '../../nemesis/index.ts';
import { groupSize } from '../../nemesis/targets.ts';
import { FakePartitionBackend, fakeNodes } from './fake-backend.ts';

const roles: Roles = {
  controller: 1,
  leaders: { 't-0': 2, 't-1': 3 },
  replicas: { 't-0': { replicas: [2, 3, 1], isr: [2, 3, 1] }, 't-1': { replicas: [3, 1, 2], isr: [3, 1] } },
};

interface Run {
  records: NemesisRecord[];
  schedule: NemesisSchedule;
  backend: FakePartitionBackend;
}

/** Run until `steps` ops are recorded; sleeps yield (setImmediate) but take no time. */
async function run(seed: number, names: string[], steps: number, opts: { roles?: Roles; replay?: NemesisSchedule; nodes?: number; failing?: string[]; sequence?: boolean } = {}): Promise<Run> {
  const backend = new FakePartitionBackend(fakeNodes(opts.nodes ?? 5));
  for (const f of opts.failing ?? []) backend.failing.add(f);
  const records: NemesisRecord[] = [];
  let reached!: () => void;
  const done = new Promise<void>((r) => (reached = r));
  const h = await startNemesis({
    backend,
    faults: names,
    intervalMs: 1000,
    rng: createRng(seed).fork('nemesis'),
    topic: 't',
    roles: async () => opts.roles ?? roles,
    sleep: () => new Promise<void>((r) => setImmediate(r)),
    record: (op) => {
      records.push(op);
      if (records.length === steps) reached();
    },
    ...(opts.replay === undefined ? {} : { replay: opts.replay }),
    ...(opts.sequence === undefined ? {} : { sequence: opts.sequence }),
  });
  if (opts.replay !== undefined) {
    // a replay ends by itself once every recorded fault has run
    await Promise.race([done, new Promise<void>((r) => setTimeout(r, 200))]);
  } else await done;
  const schedule = h.schedule();
  await h.stop().catch(() => {});
  return { records, schedule, backend };
}

const starts = new Set(['kill', 'stop', 'pause', 'partition']);

describe('nemesis lanes (combined faults overlap)', () => {
  it('network faults share one lane, every other fault has its own', () => {
    expect(planLanes(['kill', 'partition-halves', 'pause-leader', 'partition-one'])).toEqual([
      { lane: 'kill', names: ['kill'] },
      { lane: 'pause-leader', names: ['pause-leader'] },
      { lane: 'network', names: ['partition-halves', 'partition-one'] },
    ]);
  });

  it('faults of different lanes are in force at the same time, and node faults never share a node', async () => {
    let overlapped = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const o = await run(seed, ['kill-random', 'pause-random', 'partition-halves'], 60);
      const inForce = new Map<string, string[]>(); // kind -> nodes
      for (const r of o.records) {
        if (starts.has(r.f)) {
          if (inForce.size > 0) overlapped++;
          if (r.f !== 'partition') {
            const held = [...inForce.entries()].filter(([k]) => k !== 'partition').flatMap(([, v]) => v);
            for (const n of r.value.nodes) expect(held, `${r.f} ${n} while it is already down`).not.toContain(n);
          }
          inForce.set(r.f, r.value.nodes);
        } else {
          const kind = r.f === 'restart' ? 'kill' : r.f === 'resume' ? 'pause' : 'partition';
          inForce.delete(kind);
        }
      }
      expect(o.backend.killed.size + o.backend.paused.size).toBe(0);
      expect(o.backend.grudge).toEqual({});
    }
    expect(overlapped).toBeGreaterThan(10);
  });

  it("adding a lane does not change another lane's choices (independent seeded streams)", async () => {
    const alone = await run(21, ['kill-random'], 20);
    const joined = await run(21, ['kill-random', 'partition-halves'], 40);
    const kills = (o: Run): unknown[] => o.records.filter((r) => r.f === 'kill').slice(0, 8).map((r) => r.value.nodes);
    expect(kills(joined)).toEqual(kills(alone));
  });

  it('a sequence starts its faults in the listed order, each on a node still free, holds them all, and ends them in reverse order', async () => {
    const threeNodes: Roles = { controller: 1, leaders: { 't-0': 2 }, replicas: { 't-0': { replicas: [2, 3, 1], isr: [2, 3, 1] } } };
    const o = await run(7, ['pause-follower', 'stop-leader', 'stop-random'], 36, { sequence: true, nodes: 3, roles: threeNodes });
    const rounds: string[][] = [];
    for (let i = 0; i + 6 <= o.records.length; i += 6) rounds.push(o.records.slice(i, i + 6).map((r) => `${r.f} ${r.value.nodes.join(',')}`));
    expect(rounds.length).toBe(6);
    for (const r of rounds) {
      // pause a follower, stop the leader (n2), stop the one node left; then restart, restart, resume.
      expect(r.map((x) => x.split(' ')[0])).toEqual(['pause', 'stop', 'stop', 'restart', 'restart', 'resume']);
      const [paused, leader, last] = [r[0]!.split(' ')[1], r[1]!.split(' ')[1], r[2]!.split(' ')[1]];
      expect(leader).toBe('n2');
      expect(new Set([paused, leader, last]).size).toBe(3);
      expect(r.slice(3).map((x) => x.split(' ')[1])).toEqual([last, leader, paused]);
    }
    // one lane per position, whose faults never overlap, so a replay plays each position in turn.
    expect(new Set(o.schedule.faults.map((f) => f.lane))).toEqual(new Set(['sequence:1:pause-follower', 'sequence:2:stop-leader', 'sequence:3:stop-random']));
    expect(o.backend.killed.size + o.backend.paused.size).toBe(0);
  });

  it('a sequence holds at most one network fault', () => {
    expect(sequenceError(['pause-follower', 'partition-leader'])).toBeNull();
    expect(sequenceError(['partition-leader', 'kill-leader', 'bandwidth-follower'])).toMatch(/at most one network fault.*partition-leader, bandwidth-follower/);
  });

  it('group targets hit minority, majority or all nodes together', async () => {
    expect([1, 2, 3, 4, 5, 7].map((n) => [groupSize('minority', n), groupSize('majority', n), groupSize('all', n)])).toEqual([
      [1, 1, 1], [1, 2, 2], [1, 2, 3], [1, 3, 4], [2, 3, 5], [3, 4, 7],
    ]);
    for (const [name, size] of [['kill-minority', 2], ['kill-majority', 3], ['kill-all', 5], ['pause-majority', 3], ['stop-all', 5]] as const) {
      const o = await run(7, [name], 8);
      const hits = o.records.filter((r) => starts.has(r.f));
      expect(hits.length).toBeGreaterThan(0);
      for (const r of hits) {
        expect(r.value.nodes.length, name).toBe(size);
        expect(new Set(r.value.nodes).size).toBe(size);
        expect(r.value.role).toBe(name.split('-')[1]);
      }
    }
  });

  it('stop is a graceful stop (the backend is asked to stop, not kill), ended by a restart', async () => {
    const o = await run(3, ['stop-leader'], 6);
    expect(o.records.map((r) => r.f).slice(0, 6)).toEqual(['stop', 'restart', 'stop', 'restart', 'stop', 'restart']);
    expect(o.backend.calls.filter((c) => c.f === 'stop').length).toBe(3);
    expect(o.backend.calls.some((c) => c.f === 'kill')).toBe(false);
  });

  it('replay plays the recorded faults again: same order and nodes, role targets chosen again by role', async () => {
    const first = await run(5, ['kill-leader', 'pause-random', 'partition-halves'], 30);
    const stored = parseSchedule(JSON.parse(JSON.stringify(first.schedule)));
    expect(stored.faults.length).toBeGreaterThan(5);
    // the leaders moved: t-0 now led by 4, t-1 by 5
    const moved: Roles = { ...roles, leaders: { 't-0': 4, 't-1': 5 } };
    const again = await run(999, ['none'], 1_000, { replay: stored, roles: moved });
    // lanes run concurrently, so compare each lane's own sequence
    const shape = (s: NemesisSchedule) => [...s.faults].sort((a, b) => a.lane.localeCompare(b.lane)).map((f) => ({ lane: f.lane, fault: f.fault, f: f.start.f, grudge: f.start.value.grudge ?? null, random: f.start.value.role === 'random' ? f.start.value.nodes : null }));
    expect(shape(again.schedule)).toEqual(shape(stored));
    for (const f of again.schedule.faults.filter((x) => x.fault === 'kill-leader')) expect(['n4', 'n5']).toContain(f.start.value.nodes[0]);
    expect(again.backend.killed.size + again.backend.paused.size).toBe(0);
  });

  it('replay chooses a role target again but keeps what was drawn with it (a rate, a clock delta, bump or strobe)', async () => {
    const first = await run(7, ['bandwidth-leader', 'clock-leader'], 30);
    const stored = parseSchedule(JSON.parse(JSON.stringify(first.schedule)));
    const moved: Roles = { ...roles, leaders: { 't-0': 4, 't-1': 5 } };
    const again = await run(999, ['none'], 1_000, { replay: stored, roles: moved });
    const draws = (s: NemesisSchedule) => [...s.faults].sort((a, b) => a.lane.localeCompare(b.lane) || a.startMs - b.startMs).map((f) => ({ fault: f.fault, f: f.start.f, rateKbit: f.start.value.rateKbit, deltaMs: f.start.value.deltaMs, periodMs: f.start.value.periodMs }));
    expect(stored.faults.some((f) => f.fault === 'bandwidth-leader')).toBe(true);
    expect(draws(again.schedule)).toEqual(draws(stored));
    for (const f of again.schedule.faults) expect(['n4', 'n5']).toContain(f.start.value.nodes[0]);
  });

  it('clock faults bump or strobe the target clocks, each reset at its end, and leave their nodes free for kills', async () => {
    const o = await run(11, ['clock-random', 'kill-random'], 80);
    const clockStarts = o.records.filter((r) => r.f === 'clock-bump' || r.f === 'clock-strobe');
    expect(new Set(clockStarts.map((r) => r.f))).toEqual(new Set(['clock-bump', 'clock-strobe']));
    for (const r of clockStarts) {
      expect(Math.abs(r.value.deltaMs ?? 0)).toBeGreaterThan(0);
      expect(r.value.periodMs === undefined).toBe(r.f === 'clock-bump');
    }
    expect(o.records.filter((r) => r.f === 'clock-reset').length).toBe(clockStarts.length);
    expect(o.backend.clocks.size).toBe(0); // every clock is true again after stop()
    // a node killed while its clock is off: the kill lane does not wait for the clock lane
    let skewed: string | null = null;
    let killedWhileSkewed = 0;
    for (const r of o.records) {
      if (r.f === 'clock-bump' || r.f === 'clock-strobe') skewed = r.value.nodes[0]!;
      else if (r.f === 'clock-reset') skewed = null;
      else if (r.f === 'kill' && r.value.nodes.includes(skewed ?? '')) killedWhileSkewed++;
    }
    expect(killedWhileSkewed).toBeGreaterThan(0);
  });

  it('rolling-restart stops and restarts every node in turn between its start and end, and no other node fault runs meanwhile', async () => {
    const o = await run(4, ['rolling-restart', 'kill-random'], 60, { nodes: 3, roles: { ...roles, replicas: { 't-0': { replicas: [1, 2, 3], isr: [1, 2, 3] } }, leaders: { 't-0': 1 } } });
    const fs = o.records.map((r) => `${r.f}${r.value.note?.startsWith('rolling') ? '*' : ''}`);
    const first = fs.indexOf('rolling-restart');
    expect(first).toBeGreaterThanOrEqual(0);
    const roll = o.records.slice(first, fs.indexOf('rolling-restart-end', first) + 1);
    expect(roll.map((r) => r.f)).toEqual(['rolling-restart', 'stop', 'restart', 'stop', 'restart', 'stop', 'restart', 'rolling-restart-end']);
    const order = roll[0]!.value.nodes;
    expect([...order].sort()).toEqual(['n1', 'n2', 'n3']);
    expect(roll.filter((r) => r.f === 'stop').map((r) => r.value.nodes[0])).toEqual(order);
    expect(roll.slice(1, -1).every((r) => r.value.note?.startsWith('rolling-restart '))).toBe(true);
    expect(o.backend.calls.filter((c) => c.f === 'stop').length).toBeGreaterThanOrEqual(3);
    expect(o.backend.killed.size).toBe(0);
  });

  it('a rolling restart whose restart throws still records it (with the error): the history never keeps a node down that may be up', async () => {
    const o = await run(4, ['rolling-restart'], 4, { nodes: 3, failing: ['restart'], roles: { ...roles, replicas: { 't-0': { replicas: [1, 2, 3], isr: [1, 2, 3] } }, leaders: { 't-0': 1 } } });
    const i = o.records.findIndex((r) => r.f === 'stop');
    expect(i).toBeGreaterThanOrEqual(0);
    expect(o.records[i + 1]).toMatchObject({ f: 'restart', value: { nodes: o.records[i]!.value.nodes, error: expect.stringMatching(/fake/) } });
  });

  it('a backend without a clock layer refuses clock faults before anything runs, naming what is missing', async () => {
    const backend = new FakePartitionBackend(fakeNodes(3));
    backend.clockMissing.push('libfaketime (Debian package libfaketime)');
    await expect(startNemesis({ backend, faults: ['clock-leader'], intervalMs: 1000, rng: createRng(1), topic: 't', record: () => {} })).rejects.toThrow(/clock-leader cannot run: clock faults need libfaketime/);
    expect(backend.calls).toEqual([]);
  });

  it('a stored schedule that is not one is refused with what is wrong', () => {
    expect(() => parseSchedule({})).toThrow(/expected \{ faults/);
    expect(() => parseSchedule({ faults: [{ lane: 'x', fault: 'explode', startMs: 0, endMs: 1 }] })).toThrow(/fault 0 has no known lane\/fault/);
  });
});
