/**
 * The live view's state, folded from the run-event stream by a pure reducer (`reduce`), so the view
 * is a function of the events and is tested from a scripted sequence (test/harness/ui/*).
 *
 * Rules:
 * - `run-start` begins a run: the cluster, roles, faults, progress and phase of the previous run of a
 *   campaign or hunt are forgotten; the cells are kept.
 * - A fault is active from its `fault-start` to the `fault-end` of its lane; an end from the final
 *   generator (no lane) ends every active fault whose condition that op undoes (events.ts).
 * - `fault-next` is stored as an absolute time (`atMs` on the reducer's clock), so the view counts down.
 * - The log keeps the last `maxLogLines` lines (the ink view prints every line once, above the panel).
 */
import type { Validity } from '../../checkers/result.ts';
import type { NemesisOp } from '../../nemesis/types.ts';
import { conditionOf, conditionsEndedBy } from '../run/events.ts';
import type { NodeCondition, OpCounts, RunEvent } from '../run/events.ts';

export interface ActiveFault {
  lane: string | null;
  fault: string | null;
  op: NemesisOp;
  error?: string;
  sinceMs: number;
}

export interface CellState {
  label: string;
  status: 'pending' | 'running' | 'done';
  runs: number;
  /** the verdict of each finished run, in order (bounded by the cell's runs) */
  verdicts: Validity[];
  detail?: string;
  verdict?: string;
  ok?: boolean | null;
}

export interface LiveState {
  kind: 'run' | 'campaign' | 'hunt';
  run: { name: string; seed: number; runDir: string; timeLimitMs: number; nemesis: string[]; startedAtMs: number } | null;
  phase: { name: string; status: string } | null;
  nodes: Record<string, NodeCondition[]>;
  roles: { controller: string | null; leaders: Record<string, string | null> } | null;
  faults: ActiveFault[];
  /** per lane, when its next fault starts or its current one ends */
  next: Record<string, { what: 'start' | 'end'; atMs: number }>;
  /** faults that ended, newest last (at most `maxRecentFaults`) */
  recent: ActiveFault[];
  progress: (OpCounts & { elapsedMs: number; remainingMs: number | null; atMs: number }) | null;
  cells: CellState[];
  lastRun: { name: string; valid: Validity; runDir: string; interrupted: boolean; error?: string } | null;
}

export const maxRecentFaults = 3;
/** per cell, the verdicts kept for the view */
export const maxCellVerdicts = 50;

export function initialState(): LiveState {
  return { kind: 'run', run: null, phase: null, nodes: {}, roles: null, faults: [], next: {}, recent: [], progress: null, cells: [], lastRun: null };
}

function setCell(cells: CellState[], i: number, f: (c: CellState) => CellState): CellState[] {
  if (i < 0 || i >= cells.length) return cells;
  return cells.map((c, j) => (j === i ? f(c) : c));
}

export function reduce(s: LiveState, e: RunEvent, nowMs: number): LiveState {
  switch (e.type) {
    case 'log':
      return s;
    case 'run-start':
      return {
        ...s,
        run: { name: e.name, seed: e.seed, runDir: e.runDir, timeLimitMs: e.timeLimitMs, nemesis: e.nemesis, startedAtMs: nowMs },
        phase: null, nodes: {}, roles: null, faults: [], next: {}, recent: [], progress: null,
      };
    case 'run-end':
      return { ...s, lastRun: { name: e.name, valid: e.valid, runDir: e.runDir, interrupted: e.interrupted, ...(e.error === undefined ? {} : { error: e.error }) }, next: {} };
    case 'phase':
      return { ...s, phase: { name: e.name, status: e.status } };
    case 'nodes':
      return { ...s, nodes: e.nodes };
    case 'roles':
      return { ...s, roles: { controller: e.controller, leaders: e.leaders } };
    case 'fault-start': {
      const f: ActiveFault = { lane: e.lane, fault: e.fault, op: e.op, sinceMs: nowMs, ...(e.error === undefined ? {} : { error: e.error }) };
      return { ...s, faults: [...s.faults.filter((a) => e.lane === null || a.lane !== e.lane), f] };
    }
    case 'fault-end': {
      let ended: ActiveFault[];
      if (e.lane !== null) ended = s.faults.filter((a) => a.lane === e.lane);
      else {
        const undone = conditionsEndedBy(e.op.f);
        ended = s.faults.filter((a) => undone === 'all' || undone.includes(conditionOf(a.op.f)));
      }
      const faults = s.faults.filter((a) => !ended.includes(a));
      const next = { ...s.next };
      if (e.lane !== null && next[e.lane]?.what === 'end') delete next[e.lane];
      return { ...s, faults, next, recent: [...s.recent, ...ended].slice(-maxRecentFaults) };
    }
    case 'fault-next':
      return { ...s, next: { ...s.next, [e.lane]: { what: e.what, atMs: nowMs + e.inMs } } };
    case 'progress': {
      const { type: _t, ...p } = e;
      return { ...s, progress: { ...p, atMs: nowMs } };
    }
    case 'plan':
      return { ...s, kind: e.kind, cells: e.cells.map((label) => ({ label, status: 'pending', runs: 0, verdicts: [] })) };
    case 'cell-start':
      return { ...s, cells: setCell(s.cells, e.cell, (c) => ({ ...c, status: 'running', detail: e.detail })) };
    case 'cell-end':
      return { ...s, cells: setCell(s.cells, e.cell, (c) => ({ ...c, runs: Math.max(c.runs, e.run), verdicts: [...c.verdicts, e.valid].slice(-maxCellVerdicts) })) };
    case 'cell-done':
      return { ...s, cells: setCell(s.cells, e.cell, (c) => ({ ...c, status: 'done', verdict: e.verdict, ok: e.ok })) };
  }
}
