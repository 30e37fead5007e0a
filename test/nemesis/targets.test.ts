import { describe, expect, it } from 'vitest';
import type { Roles } from '../../harness/backend.ts';
import { createRng } from '../../harness/rng.ts';
import { candidates, pickTarget } from '../../nemesis/targets.ts';
import { fakeNodes } from './fake-backend.ts';

const nodes = fakeNodes(3);
const roles: Roles = {
  controller: 2,
  leaders: { 't-0': 3, 't-1': 1, 'other-0': 2, 't-x': 2 },
  replicas: {
    't-0': { replicas: [3, 1, 2], isr: [3, 1] },
    't-1': { replicas: [1, 3], isr: [1, 3] },
    'other-0': { replicas: [2], isr: [2] },
  },
};

describe('targets by role', () => {
  it('resolves leader, controller, follower and random from the metadata of the workload topic only', () => {
    expect(candidates('leader', roles, nodes, 't')).toEqual(['n1', 'n3']);
    expect(candidates('controller', roles, nodes, 't')).toEqual(['n2']);
    expect(candidates('follower', roles, nodes, 't')).toEqual(['n1', 'n2', 'n3']);
    expect(candidates('follower', { ...roles, leaders: { 't-1': 1 }, replicas: { 't-1': { replicas: [1, 3], isr: [1] } } }, nodes, 't')).toEqual(['n3']);
    expect(candidates('random', null, nodes, 't')).toEqual(['n1', 'n2', 'n3']);
  });

  it('says why a role cannot be resolved', () => {
    expect(candidates('leader', null, nodes, 't')).toMatch(/metadata unavailable/);
    expect(candidates('controller', { ...roles, controller: null }, nodes, 't')).toMatch(/no active controller/);
    expect(candidates('leader', { controller: 1, leaders: { 't-0': -1 }, replicas: {} }, nodes, 't')).toMatch(/no leader of t/);
    expect(candidates('leader', roles, nodes, 'missing')).toMatch(/no partitions/);
  });

  it('picks a free node of the role, else a random free node with a note, else null', () => {
    const rng = createRng(1);
    expect(pickTarget('controller', roles, nodes, 't', new Set(), rng)).toEqual({ node: 'n2', role: 'controller' });
    const busyController = pickTarget('controller', roles, nodes, 't', new Set(['n2']), rng)!;
    expect(busyController.role).toBe('random');
    expect(busyController.note).toMatch(/already under a fault/);
    expect(['n1', 'n3']).toContain(busyController.node);
    const unknown = pickTarget('leader', null, nodes, 't', new Set(['n1']), rng)!;
    expect(unknown.role).toBe('random');
    expect(unknown.note).toMatch(/metadata unavailable/);
    expect(['n2', 'n3']).toContain(unknown.node);
    expect(pickTarget('random', roles, nodes, 't', new Set(['n1', 'n2', 'n3']), rng)).toBeNull();
  });
});
