import { describe, expect, it } from 'vitest';
import type { Op } from '../../../checkers/history.ts';
import { createRng } from '../../../harness/rng.ts';
import { NodeTracker, OpMeter, RunEvents, rolesEvent } from '../../../harness/run/events.ts';
import type { RunEvent } from '../../../harness/run/events.ts';
import { startNemesis } from '../../../nemesis/index.ts';
import type { NemesisRecord } from '../../../nemesis/index.ts';
import { FakePartitionBackend, fakeNodes } from '../../nemesis/fake-backend.ts';

const op = (index: number, ms: number, process: Op['process'], type: Op['type'], f = 'send'): Op => ({ index, timeNs: ms * 1e6, process, type, f, value: null });

describe('RunEvents', () => {
  it('a listener that throws is dropped, the others still get every event, and emit never throws', () => {
    const bus = new RunEvents();
    const got: RunEvent[] = [];
    bus.subscribe(() => {
      throw new Error('broken renderer');
    });
    bus.subscribe((e) => got.push(e));
    expect(() => bus.emit({ type: 'phase', name: 'load', status: 'start' })).not.toThrow();
    bus.emit({ type: 'phase', name: 'load', status: 'done' });
    expect(got.map((e) => e.type)).toEqual(['log', 'phase', 'phase']);
    expect(got[0]).toMatchObject({ msg: expect.stringContaining('broken renderer') });
  });
});

describe('OpMeter', () => {
  it('counts completions by type and measures latency over the last window only', () => {
    const m = new OpMeter(1000);
    m.observe(op(0, 0, 1, 'invoke'));
    m.observe(op(1, 10, 1, 'ok'));
    m.observe(op(2, 1500, 2, 'invoke'));
    m.observe(op(3, 1530, 2, 'fail'));
    m.observe(op(4, 1600, 3, 'invoke'));
    m.observe(op(5, 1700, 3, 'info'));
    m.observe(op(6, 1700, 'nemesis', 'info', 'kill'));
    const s = m.snapshot(1800e6);
    expect({ ok: s.ok, fail: s.fail, info: s.info }).toEqual({ ok: 1, fail: 1, info: 1 });
    // the first op (10 ms latency) completed more than a window ago
    expect(s.opsPerS).toBe(2);
    expect(s.latencyP50Ms).toBe(30);
    expect(s.latencyMaxMs).toBe(100);
    expect(m.snapshot(5000e6).latencyP50Ms).toBeNull();
  });

  it('keeps at most maxWindowOps completions', () => {
    const m = new OpMeter(1000, 10);
    for (let i = 0; i < 100; i++) {
      m.observe(op(2 * i, i, 1, 'invoke'));
      m.observe(op(2 * i + 1, i + 1, 1, 'ok'));
    }
    expect(m.snapshot(100e6).opsPerS).toBe(10);
    expect(m.snapshot(100e6).ok).toBe(100);
  });
});

describe('NodeTracker', () => {
  const start = (lane: string | null, f: string, nodes: string[], error?: string): Extract<RunEvent, { type: 'fault-start' }> => ({
    type: 'fault-start', lane, fault: lane, op: { f: f as 'kill', value: { nodes } }, end: null, ...(error === undefined ? {} : { error }),
  });
  const end = (lane: string | null, f: string, nodes: string[]): Extract<RunEvent, { type: 'fault-end' }> => ({ type: 'fault-end', lane, fault: lane, op: { f: f as 'restart', value: { nodes } } });

  it('a node is up exactly when no fault that hit it is in force; lanes overlap', () => {
    const t = new NodeTracker(['n1', 'n2', 'n3']);
    expect(t.onFault(start('kill-leader', 'kill', ['n2']))?.nodes).toEqual({ n1: [], n2: ['killed'], n3: [] });
    expect(t.onFault(start('network', 'partition', ['n2', 'n3']))?.nodes).toEqual({ n1: [], n2: ['killed', 'cut-off'], n3: ['cut-off'] });
    expect(t.onFault(end('kill-leader', 'restart', ['n2']))?.nodes).toEqual({ n1: [], n2: ['cut-off'], n3: ['cut-off'] });
    // the final generator's heal (no lane) ends every cut-off
    expect(t.onFault(end(null, 'heal', ['n1', 'n2', 'n3']))?.nodes).toEqual({ n1: [], n2: [], n3: [] });
    expect(t.onFault(end(null, 'heal', ['n1']))).toBeNull();
  });

  it('a start that failed leaves its nodes as they were', () => {
    const t = new NodeTracker(['n1']);
    expect(t.onFault(start('pause-leader', 'pause', ['n1'], 'no such process'))).toBeNull();
  });
});

describe('rolesEvent', () => {
  it('names nodes by broker id; a leaderless partition is null', () => {
    const e = rolesEvent({ controller: 2, leaders: { 't-0': 1, 't-1': -1 }, replicas: {} }, fakeNodes(3));
    expect(e).toEqual({ type: 'roles', controller: 'n2', leaders: { 't-0': 'n1', 't-1': null } });
  });
});

describe('the nemesis emits fault events', () => {
  it('every recorded start and end op is one fault-start or fault-end, in the same order, with lane and fault; next faults are announced', async () => {
    const backend = new FakePartitionBackend(fakeNodes(5));
    const records: NemesisRecord[] = [];
    const events: RunEvent[] = [];
    let reached!: () => void;
    const done = new Promise<void>((r) => (reached = r));
    const h = await startNemesis({
      backend,
      faults: ['kill-random', 'partition-halves', 'pause-random'],
      intervalMs: 1000,
      rng: createRng(5),
      topic: 't',
      roles: async () => null,
      sleep: async () => new Promise<void>((r) => setImmediate(r)),
      record: (o) => {
        records.push(o);
        if (records.length === 20) reached();
      },
      events: { emit: (e) => events.push(e) },
    });
    await done;
    await h.stop();
    const faultEvents = events.filter((e) => e.type === 'fault-start' || e.type === 'fault-end');
    expect(faultEvents.map((e) => [e.op.f, e.op.value.nodes])).toEqual(records.map((r) => [r.f, r.value.nodes]));
    for (const e of faultEvents) {
      if (e.type === 'fault-start') expect(e.lane).not.toBeNull();
      if (e.type === 'fault-end' && e.lane !== null) expect(e.fault).not.toBeNull();
    }
    expect(faultEvents.filter((e) => e.type === 'fault-end').length).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'fault-next' && e.what === 'start')).toBe(true);
    expect(events.some((e) => e.type === 'fault-next' && e.what === 'end')).toBe(true);
    // the tracker fed these events ends with every node up (the final generator ended every fault)
    const t = new NodeTracker(fakeNodes(5).map((n) => n.name));
    for (const e of faultEvents) t.onFault(e);
    expect(Object.values(t.event().nodes).every((cs) => cs.length === 0)).toBe(true);
  });
});
