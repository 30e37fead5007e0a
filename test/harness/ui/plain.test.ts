import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../harness/run/events.ts';
import { colorLevel } from '../../../harness/ui/color.ts';
import { outputMode } from '../../../harness/ui/index.ts';
import { plainRenderer } from '../../../harness/ui/plain.ts';

const events: RunEvent[] = [
  { type: 'log', msg: 'faultline run x: seed 1' },
  { type: 'run-start', name: 'x', seed: 1, runDir: '/r', timeLimitMs: 30_000, nemesis: ['kill-leader'] },
  { type: 'progress', elapsedMs: 1000, remainingMs: 29_000, ok: 10, fail: 0, info: 0, opsPerS: 10, latencyP50Ms: 2, latencyMaxMs: 5 },
  { type: 'fault-start', lane: 'kill-leader', fault: 'kill-leader', op: { f: 'kill', value: { nodes: ['n2'], role: 'leader' } }, end: null },
  { type: 'progress', elapsedMs: 5000, remainingMs: 25_000, ok: 50, fail: 0, info: 1, opsPerS: 10, latencyP50Ms: 2, latencyMaxMs: 5 },
  { type: 'fault-end', lane: 'kill-leader', fault: 'kill-leader', op: { f: 'restart', value: { nodes: ['n2'], role: 'leader' } } },
  { type: 'progress', elapsedMs: 11_000, remainingMs: 19_000, ok: 110, fail: 2, info: 1, opsPerS: 10, latencyP50Ms: 2, latencyMaxMs: 5 },
  { type: 'fault-end', lane: null, fault: null, op: { f: 'heal', value: { nodes: ['n1', 'n2', 'n3'] } } },
  { type: 'plan', kind: 'hunt', cells: ['truncate-to-hw', 'clean broker'] },
  { type: 'cell-done', cell: 0, verdict: 'caught in 2 runs, 31 s', ok: true },
];

function lines(level: 0 | 1): string[] {
  const out: string[] = [];
  const r = plainRenderer({ write: (s) => out.push(s), level, now: () => new Date('2026-12-01T10:00:00.000Z') });
  for (const e of events) r(e);
  return out;
}

describe('plain lines', () => {
  it('one timestamped line per log line, fault start and end, cell verdict; progress every 10 s', () => {
    expect(lines(0)).toEqual([
      '10:00:00.000 faultline run x: seed 1\n',
      '10:00:00.000 progress 1.0 s, 29.0 s left: 10 ok, 0 fail, 0 info; 10 ops/s; latency p50 2.0 ms, max 5.0 ms\n',
      '10:00:00.000 fault start kill-leader: kill n2 (leader)\n',
      '10:00:00.000 fault end kill-leader: restart n2 (leader)\n',
      '10:00:00.000 progress 11.0 s, 19.0 s left: 110 ok, 2 fail, 1 info; 10 ops/s; latency p50 2.0 ms, max 5.0 ms\n',
      '10:00:00.000 fault end final: heal n1,n2,n3\n',
      '10:00:00.000 cell 1/2 truncate-to-hw: caught in 2 runs, 31 s\n',
    ]);
  });

  it('escape codes only at a colour level above 0', () => {
    expect(lines(0).join('')).not.toMatch(/\u001b/);
    expect(lines(1).join('')).toMatch(/\u001b\[31mfault start/);
  });
});

describe('colour rules', () => {
  it('NO_COLOR wins over everything; FORCE_COLOR sets the level; else only a terminal gets colour', () => {
    expect(colorLevel({ NO_COLOR: '1', FORCE_COLOR: '3' }, true)).toBe(0);
    expect(colorLevel({ NO_COLOR: '' }, true)).toBe(1);
    expect(colorLevel({ FORCE_COLOR: '1' }, false)).toBe(1);
    expect(colorLevel({ FORCE_COLOR: '' }, false)).toBe(1);
    expect(colorLevel({ FORCE_COLOR: '3' }, false)).toBe(3);
    expect(colorLevel({ FORCE_COLOR: '0' }, true)).toBe(0);
    expect(colorLevel({ FORCE_COLOR: 'false' }, true)).toBe(0);
    expect(colorLevel({}, false)).toBe(0);
    expect(colorLevel({ TERM: 'xterm-256color' }, true)).toBe(2);
    expect(colorLevel({ TERM: 'xterm' }, true)).toBe(1);
  });

  it('the live view only on a terminal, without --json, CI or FAULTLINE_UI=plain', () => {
    expect(outputMode(true, false, {})).toBe('live');
    expect(outputMode(false, false, {})).toBe('plain');
    expect(outputMode(true, true, {})).toBe('plain');
    expect(outputMode(true, false, { CI: 'true' })).toBe('plain');
    expect(outputMode(true, false, { CI: '0' })).toBe('live');
    expect(outputMode(true, false, { FAULTLINE_UI: 'plain' })).toBe('plain');
  });
});
