// The reassign and membership faults against an in-memory cluster (FakeAdmin over a FakeBackend): what
// they choose, that a reassignment's end is recorded only once the move is complete, and that a
// decommission moves every replica off the added broker before it removes and unregisters it.
import { describe, expect, it } from 'vitest';
import type { Roles } from '../../harness/backend.ts';
import { createRng } from '../../harness/rng.ts';
import { planReassignment, replacementFor } from '../../nemesis/cluster-ops.ts';
import { checkFaultsSupported, startNemesis, type NemesisRecord } from '../../nemesis/index.ts';
import { UsageError } from '../../harness/errors.ts';
import { FakeAdmin, FakeBackend, fakeNodes } from './fake-backend.ts';

const roles: Roles = {
  controller: 1,
  leaders: { 't-0': 1, 't-1': 2 },
  replicas: { 't-0': { replicas: [1, 2, 3], isr: [1, 2, 3] }, 't-1': { replicas: [2, 3, 4], isr: [2, 3, 4] } },
};

describe('planReassignment', () => {
  it('keeps the replica count, changes the list, avoids busy nodes; deterministic by seed; null without roles', () => {
    const nodes = fakeNodes(4);
    for (let seed = 0; seed < 50; seed++) {
      const busy = new Set(seed % 2 === 0 ? ['n4'] : []);
      const a = planReassignment({ rng: createRng(seed), nodes, roles, topic: 't', busy, shared: new Set<string>() })!;
      const b = planReassignment({ rng: createRng(seed), nodes, roles, topic: 't', busy, shared: new Set<string>() })!;
      expect(a).toEqual(b);
      const r = a.reassignment;
      expect(r.to).toHaveLength(r.from.length);
      expect(r.to).not.toEqual(r.from);
      expect(new Set(r.to).size).toBe(r.to.length);
      if (busy.has('n4')) expect(r.to).not.toContain(4);
      expect(a.nodes).toEqual(r.to.map((id) => `n${id}`));
      if (r.to.every((x) => r.from.includes(x))) expect(a.note).toMatch(/new order/);
    }
    expect(planReassignment({ rng: createRng(1), nodes, roles: null, topic: 't', busy: new Set(), shared: new Set() })).toBeNull();
    // fewer free brokers than replicas: cannot act
    expect(planReassignment({ rng: createRng(1), nodes, roles, topic: 't', busy: new Set(['n1', 'n2']), shared: new Set() })).toBeNull();
  });

  it('replacementFor picks the lowest live broker holding none of the partition', () => {
    expect(replacementFor([4, 2, 3], 4, [1, 2, 3])).toBe(1);
    expect(replacementFor([4, 1, 2, 3], 4, [1, 2, 3])).toBeNull();
  });
});

async function runUntil(backend: FakeBackend, admin: FakeAdmin, faults: string[], until: (records: NemesisRecord[]) => boolean, onRecord?: (op: NemesisRecord) => void): Promise<NemesisRecord[]> {
  const records: NemesisRecord[] = [];
  let reached!: () => void;
  const done = new Promise<void>((r) => (reached = r));
  const h = await startNemesis({
    backend,
    faults,
    intervalMs: 1000,
    rng: createRng(5),
    topic: 't',
    roles: async () => roles,
    admin,
    sleep: async () => new Promise<void>((r) => setImmediate(r)),
    record: (op) => {
      onRecord?.(op);
      records.push(op);
      if (until(records)) reached();
    },
  });
  await done;
  await h.stop();
  return records;
}

describe('reassign fault', () => {
  it('records reassign-done only once the controller lists no reassignment and the metadata shows the new replicas', async () => {
    const backend = new FakeBackend(fakeNodes(4));
    const admin = new FakeAdmin(backend, { 't-0': [1, 2, 3], 't-1': [2, 3, 4] });
    admin.pollsToComplete = 3;
    const seenAtEnd: Array<{ pending: boolean; replicas: number[] }> = [];
    const records = await runUntil(backend, admin, ['reassign'], (rs) => rs.filter((r) => r.f === 'reassign-done').length >= 3, (op) => {
      if (op.f !== 'reassign-done') return;
      const key = op.value.reassignment!.key;
      seenAtEnd.push({ pending: admin.pending.has(key), replicas: [...admin.partitions.get(key)!.replicas] });
    });
    const ends = records.filter((r) => r.f === 'reassign-done');
    expect(ends.length).toBeGreaterThanOrEqual(3);
    for (const [i, e] of ends.entries()) {
      expect(e.value.error).toBeUndefined();
      expect(seenAtEnd[i]!.pending, 'the move was still in progress when its end was recorded').toBe(false);
      expect(seenAtEnd[i]!.replicas).toEqual(e.value.reassignment!.to);
      expect(e.value.reassignment!.observed!.replicas).toEqual(e.value.reassignment!.to);
    }
    const starts = records.filter((r) => r.f === 'reassign');
    expect(starts.every((s) => s.value.reassignment!.accepted === true && s.value.ids!.length === 3)).toBe(true);
  });
});

describe('membership fault', () => {
  it('adds a broker-only node, moves a partition onto it (leading), then moves everything off, removes and unregisters it', async () => {
    const backend = new FakeBackend(fakeNodes(3));
    const admin = new FakeAdmin(backend, { 't-0': [1, 2, 3], 't-1': [2, 3, 1] });
    const order: string[] = [];
    const origRemove = backend.removeNode.bind(backend);
    backend.removeNode = async (n) => {
      order.push(`remove ${n}`);
      await origRemove(n);
    };
    const origUnregister = admin.unregisterBroker.bind(admin);
    admin.unregisterBroker = async (id) => {
      order.push(`unregister ${id}`);
      await origUnregister(id);
    };
    const records = await runUntil(backend, admin, ['membership'], (rs) => rs.some((r) => r.f === 'decommission'));
    const add = records.find((r) => r.f === 'add-broker')!;
    const dec = records.find((r) => r.f === 'decommission')!;
    expect(add.value.error).toBeUndefined();
    expect(dec.value.error).toBeUndefined();
    expect(add.value).toMatchObject({ nodes: ['n4'], ids: [4] });
    expect(add.value.reassignment!.to[0]).toBe(4);
    expect(add.value.reassignment!.observed!.replicas).toEqual(add.value.reassignment!.to);
    expect(add.value.reassignment!.to).not.toContain(add.value.reassignment!.from[0]);
    expect(dec.value).toMatchObject({ nodes: ['n4'], ids: [4] });
    expect(dec.value.moves!.length).toBeGreaterThan(0);
    for (const m of dec.value.moves!) expect(m.to).not.toContain(4);
    for (const p of admin.partitions.values()) expect(p.replicas).not.toContain(4);
    expect(order).toEqual(['remove n4', 'unregister 4']);
    expect(backend.added.size).toBe(0);
  });
});

describe('refusals', () => {
  it('membership is refused, naming why, by a backend that cannot add nodes', () => {
    const b = new FakeBackend(fakeNodes(3));
    Object.defineProperty(b, 'addNode', { value: undefined });
    expect(() => checkFaultsSupported(['membership'], b)).toThrow(UsageError);
    expect(() => checkFaultsSupported(['membership'], b)).toThrow(/cannot add or remove nodes/);
    expect(() => checkFaultsSupported(['reassign'], b)).not.toThrow();
  });
});
