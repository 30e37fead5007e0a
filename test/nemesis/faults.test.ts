import { describe, expect, it } from 'vitest';
import type { Roles } from '../../harness/backend.ts';
import { createRng } from '../../harness/rng.ts';
import { faults, planPartition } from '../../nemesis/faults.ts';
import type { PlanContext } from '../../nemesis/types.ts';
import { fakeNodes } from './fake-backend.ts';

const roles: Roles = {
  controller: 3,
  leaders: { 't-0': 1, 't-1': 1 },
  replicas: { 't-0': { replicas: [1, 2], isr: [1, 2] }, 't-1': { replicas: [1, 2, 3], isr: [1, 2, 3] } },
};
const ctx = (seed: number, over: Partial<PlanContext> = {}): PlanContext => ({ rng: createRng(seed), nodes: fakeNodes(5), roles, topic: 't', busy: new Set(), shared: new Set(), ...over });

describe('fault packages', () => {
  it('partition shapes leader and controller isolate the node holding that role', () => {
    for (let seed = 0; seed < 20; seed++) {
      const c = planPartition('controller', ctx(seed));
      expect(c).toMatchObject({ nodes: ['n3'], role: 'controller', grudge: { n3: ['n1', 'n2', 'n4', 'n5'], n1: ['n3'] } });
      const l = planPartition('leader', ctx(seed));
      expect(l).toMatchObject({ nodes: ['n1'], role: 'leader' });
    }
  });

  it('partition-follower isolates a non-leader replica, partition-random any one node (design.md targets)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const f = faults['partition-follower'].generator(ctx(seed))!;
      expect(['n2', 'n3']).toContain(f.start.value.nodes[0]);
      expect(f.start).toMatchObject({ f: 'partition', value: { role: 'follower', shape: 'follower' } });
      const node = f.start.value.nodes[0]!;
      expect(f.start.value.grudge?.[node]).toHaveLength(4);
      const r = faults['partition-random'].generator(ctx(seed))!;
      expect(r.start.value.nodes).toHaveLength(1);
      expect(r.start.value.role).toBe('random');
      expect(r.end).toMatchObject({ f: 'heal' });
    }
  });

  it('unknown roles fall back to a random node and say so; too few nodes skip the shape', () => {
    const p = planPartition('controller', ctx(1, { roles: null }));
    expect(p).toMatchObject({ role: 'random', note: expect.stringMatching(/metadata unavailable/) });
    expect(planPartition('majorities-ring', ctx(1, { nodes: fakeNodes(2) }))).toEqual({ skip: expect.stringMatching(/needs more nodes/) });
    expect(faults['partition-bridge'].generator(ctx(1, { nodes: fakeNodes(2) }))).toBeNull();
  });

  it('kill-follower hits a non-leader replica; its end restarts the same node', () => {
    for (let seed = 0; seed < 20; seed++) {
      const f = faults['kill-follower'].generator(ctx(seed))!;
      expect(['n2', 'n3']).toContain(f.start.value.nodes[0]);
      expect(f.start).toMatchObject({ f: 'kill', value: { role: 'follower' } });
      expect(f.end).toEqual({ f: 'restart', value: { nodes: f.start.value.nodes, role: 'follower' } });
    }
  });

  it('pause with a drawn role never targets a busy node', () => {
    for (let seed = 0; seed < 30; seed++) {
      const f = faults.pause.generator(ctx(seed, { busy: new Set(['n1', 'n3']) }))!;
      expect(['n2', 'n4', 'n5']).toContain(f.start.value.nodes[0]);
      expect(f.end.f).toBe('resume');
    }
  });

  it('a clock fault may hit a killed or paused node, never one another clock lane holds off', () => {
    for (let seed = 0; seed < 30; seed++) {
      const f = faults['clock-random'].generator(ctx(seed, { busy: new Set(['n1', 'n2', 'n3', 'n4']), shared: new Set(['n2', 'n5']) }))!;
      expect(['n1', 'n3', 'n4']).toContain(f.start.value.nodes[0]);
      expect(f.end.f).toBe('clock-reset');
    }
    expect(faults['clock-random'].generator(ctx(1, { shared: new Set(['n1', 'n2', 'n3', 'n4', 'n5']) }))).toBeNull();
  });

  it('final generators undo exactly what is active: one heal for partitions, each restart and resume', () => {
    const active = [
      { f: 'heal' as const, value: { nodes: ['n1'], shape: 'one' as const } },
      { f: 'heal' as const, value: { nodes: ['n2'], shape: 'one' as const } },
    ];
    expect(faults.partition.finalGenerator(active)).toEqual([{ f: 'heal', value: { nodes: ['n1', 'n2'], shape: 'one' } }]);
    expect(faults.partition.finalGenerator([])).toEqual([]);
    const ends = [{ f: 'restart' as const, value: { nodes: ['n4'] } }];
    expect(faults.kill.finalGenerator(ends)).toEqual(ends);
  });
});

describe('corrupt: the file and the bytes follow from the drawn numbers alone', () => {
  it('chooses among non-empty segment, index and checkpoint files, the same for the same numbers in any listing order', async () => {
    const { chooseFile, planCorruption, fileClass } = await import('../../nemesis/corrupt.ts');
    const files = [
      { path: 't-0/00000000000000000000.log', sizeBytes: 900 },
      { path: 't-0/00000000000000000000.index', sizeBytes: 0 },
      { path: 't-1/00000000000000000000.index', sizeBytes: 96 },
      { path: 'replication-offset-checkpoint', sizeBytes: 30 },
      { path: 'meta.properties', sizeBytes: 50 },
    ];
    expect(files.map((f) => fileClass(f.path))).toEqual(['segment', 'index', 'index', 'checkpoint', null]);
    const classes = new Set<string>();
    for (let p = 0; p < 12; p++) {
      const a = chooseFile(files, p, 7)!;
      expect(chooseFile([...files].reverse(), p, 7)).toEqual(a);
      expect(a.sizeBytes).toBeGreaterThan(0);
      classes.add(a.class);
    }
    expect(classes).toEqual(new Set(['segment', 'index', 'checkpoint']));
    expect(chooseFile([{ path: 'x.log', sizeBytes: 0 }], 1, 1)).toBeNull();
    for (let pick = 0; pick < 50; pick++) {
      const t = planCorruption(900, 'truncate', pick * 7919);
      expect(t.mode === 'truncate' && t.toBytes >= 0 && t.toBytes < 900).toBe(true);
      const b = planCorruption(900, 'bitflip', pick * 7919);
      if (b.mode !== 'bitflip') throw new Error('bitflip expected');
      expect(b.flips.length).toBeGreaterThan(0);
      expect(new Set(b.flips.map((f) => f.offset * 8 + f.bit)).size).toBe(b.flips.length); // no flip undoes another
      for (const f of b.flips) expect(f.offset >= 0 && f.offset < 900 && f.bit >= 0 && f.bit < 8).toBe(true);
      expect(planCorruption(900, 'bitflip', pick * 7919)).toEqual(b);
    }
  });

  it('the corrupt package kills the node, corrupts a file of the stopped node, records what it did, and restarts it at the end', async () => {
    const { FakeBackend } = await import('./fake-backend.ts');
    const backend = new FakeBackend(fakeNodes(3));
    const pf = faults['corrupt-follower'].generator(ctx(3, { nodes: fakeNodes(3) }))!;
    expect(pf.start.f).toBe('corrupt');
    const env = { backend, partitioner: null, degrader: null, powerLosser: null, stopper: null, clock: null, disk: null, corrupter: backend, roles: async () => roles, topic: 't', record: () => {} };
    await faults['corrupt-follower'].nemesis(pf.start, env);
    const node = pf.start.value.nodes[0]!;
    expect(backend.calls.map((c) => c.f).slice(0, 2)).toEqual(['kill', 'data-files']);
    expect(backend.corrupted).toHaveLength(1);
    expect(pf.start.value.corruption?.files?.[node]).toMatch(/^(t-0\/0+\.log|replication-offset-checkpoint) /);
    await faults['corrupt-follower'].nemesis(pf.end, env);
    expect(backend.killed.size).toBe(0);
  });
});
