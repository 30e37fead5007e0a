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
const ctx = (seed: number, over: Partial<PlanContext> = {}): PlanContext => ({ rng: createRng(seed), nodes: fakeNodes(5), roles, topic: 't', busy: new Set(), ...over });

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
