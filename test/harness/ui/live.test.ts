import { render } from 'ink-testing-library';
import { createElement as h } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { RunEvents } from '../../../harness/run/events.ts';
import type { RunEvent } from '../../../harness/run/events.ts';
import { palette } from '../../../harness/ui/color.ts';
import { LiveApp, LiveStore } from '../../../harness/ui/live.ts';

/** A scripted run: nodes up, roles, a kill of the leader and a partition, progress, the end, the verdict. */
const script: RunEvent[] = [
  { type: 'log', msg: 'faultline run queue-acksall-kill-leader: seed 7' },
  { type: 'run-start', name: 'queue-acksall-kill-leader', seed: 7, runDir: '/tmp/r/1', timeLimitMs: 10_000, nemesis: ['kill-leader', 'partition-one'] },
  { type: 'nodes', nodes: { n1: [], n2: [], n3: [] } },
  { type: 'roles', controller: 'n1', leaders: { 'faultline-0': 'n2', 'faultline-1': 'n3' } },
  { type: 'phase', name: 'load', status: 'start' },
  { type: 'fault-next', lane: 'kill-leader', what: 'start', inMs: 2000 },
  { type: 'fault-start', lane: 'kill-leader', fault: 'kill-leader', op: { f: 'kill', value: { nodes: ['n2'], role: 'leader' } }, end: { f: 'restart', value: { nodes: ['n2'] } } },
  { type: 'nodes', nodes: { n1: [], n2: ['killed'], n3: [] } },
  { type: 'fault-start', lane: 'network', fault: 'partition-one', op: { f: 'partition', value: { nodes: ['n3'], shape: 'one' } }, end: null },
  { type: 'nodes', nodes: { n1: [], n2: ['killed'], n3: ['cut-off'] } },
  { type: 'fault-next', lane: 'network', what: 'end', inMs: 1500 },
  { type: 'progress', elapsedMs: 4200, remainingMs: 5800, ok: 321, fail: 4, info: 2, opsPerS: 97, latencyP50Ms: 3.2, latencyMaxMs: 41 },
];

const after: RunEvent[] = [
  { type: 'fault-end', lane: 'network', fault: 'partition-one', op: { f: 'heal', value: { nodes: ['n3'], shape: 'one' } } },
  { type: 'nodes', nodes: { n1: [], n2: ['killed'], n3: [] } },
  { type: 'fault-end', lane: null, fault: null, op: { f: 'restart', value: { nodes: ['n2'] } } },
  { type: 'nodes', nodes: { n1: [], n2: [], n3: [] } },
  { type: 'phase', name: 'drain', status: 'done' },
  { type: 'run-end', name: 'queue-acksall-kill-leader', runDir: '/tmp/r/1', valid: false, interrupted: false },
];

function mount(level: 0 | 1 = 0): { events: RunEvents; frame: () => string; unmount: () => void; frames: string[] } {
  const events = new RunEvents();
  let t = 0;
  const store = new LiveStore(events, () => (t += 10), () => '12:00:00.000');
  const app = render(h(LiveApp, { store, c: palette(level), tickMs: 10_000 }));
  return { events, frame: () => app.lastFrame() ?? '', unmount: app.unmount, frames: app.frames };
}

const line = (frame: string, re: RegExp): string => frame.split('\n').find((l) => re.test(l)) ?? '';

describe('LiveApp', () => {
  it('shows the nodes with their conditions and roles, the faults now and next, throughput, time', async () => {
    const v = mount();
    for (const e of script) v.events.emit(e);
    // React redraws after the events (a passive update): wait for the last one to show
    await vi.waitFor(() => expect(v.frame()).toContain('97 ops/s'));
    const f = v.frame();
    expect(f).toContain('queue-acksall-kill-leader');
    expect(f).toContain('seed 7');
    expect(f).toContain('load start');
    expect(f).toContain('5.8 s left');
    expect(line(f, /n1 /)).toMatch(/n1\s+up\s+controller/);
    expect(line(f, /n2 /)).toMatch(/n2\s+killed/);
    expect(line(f, /n3 /)).toMatch(/n3\s+cut-off\s+leads faultline-1/);
    expect(f).toMatch(/now\s+kill-leader kill n2 \(leader\)/);
    expect(f).toMatch(/now\s+partition-one partition n3 \(one\)/);
    expect(f).toMatch(/next\s+.*network ends in/);
    expect(f).toContain('321 ok, 4 fail, 2 info; 97 ops/s; latency p50 3.2 ms, max 41 ms');
    // the run's own lines are printed above the panel
    expect(f).toContain('12:00:00.000 faultline run queue-acksall-kill-leader: seed 7');
    // no colour at level 0
    expect(f).not.toMatch(/\u001b\[/);
    v.unmount();
  });

  it('ends faults (by lane, and the final generator by what its op undoes) and shows the verdict', async () => {
    const v = mount();
    for (const e of [...script, ...after]) v.events.emit(e);
    await vi.waitFor(() => expect(v.frame()).toContain('verdict'));
    const f = v.frame();
    expect(f).not.toMatch(/now\s+/);
    expect(line(f, /n2 /)).toMatch(/n2\s+up/);
    expect(f).toMatch(/verdict INVALID \/tmp\/r\/1/);
    expect(f).toMatch(/last kill-leader kill n2/);
    v.unmount();
  });

  it('a campaign: every cell with its finished verdict and the one running', async () => {
    const v = mount();
    v.events.emit({ type: 'plan', kind: 'campaign', cells: ['acks=1 kill', 'acks=all kill', 'acks=all partition'] });
    v.events.emit({ type: 'cell-start', cell: 0, run: 1, detail: 'seed 7' });
    v.events.emit({ type: 'cell-end', cell: 0, run: 1, valid: false, runDir: '/r/0' });
    v.events.emit({ type: 'cell-done', cell: 0, verdict: 'INVALID', ok: false });
    v.events.emit({ type: 'cell-start', cell: 1, run: 1, detail: 'seed 8' });
    v.events.emit({ type: 'cell-end', cell: 1, run: 1, valid: true, runDir: '/r/1' });
    v.events.emit({ type: 'cell-done', cell: 1, verdict: 'valid', ok: true });
    v.events.emit({ type: 'cell-start', cell: 2, run: 1, detail: 'seed 9' });
    await vi.waitFor(() => expect(v.frame()).toContain('seed 9'));
    const f = v.frame();
    expect(f).toContain('campaign 2/3 cells done');
    expect(line(f, /acks=1 kill/)).toMatch(/NO acks=1 kill X INVALID/);
    expect(line(f, /acks=all kill/)).toMatch(/ok acks=all kill v valid/);
    expect(line(f, /acks=all partition/)).toMatch(/> acks=all partition run 1: seed 9/);
    v.unmount();
  });

  it('colours on a colour level, and the frames hold escape codes only then', async () => {
    const v = mount(1);
    for (const e of [...script, ...after]) v.events.emit(e);
    await vi.waitFor(() => expect(v.frame()).toContain('verdict'));
    expect(v.frame()).toMatch(/\u001b\[31m/);
    v.unmount();
  });
});
