/**
 * The live terminal view (ink 6 + react 19), drawn on stderr while a run, campaign or hunt goes on
 * (docs/live.md): the cluster (each node's conditions, who leads which partition, who is the
 * controller), the faults now active and the next, throughput and latency, elapsed and remaining time,
 * a campaign's or hunt's cells with each finished cell's verdict, and the run's own log lines printed
 * once above the panel (ink's <Static>).
 *
 * The view is a function of `LiveState` (state.ts); `LiveApp` folds the event stream into it and
 * redraws at most `maxFps` times a second. Text is coloured with the palette given (color.ts), never by
 * ink's own detection. The view never reads stdin and never handles Ctrl-C: interrupts stay with
 * harness/run/signals.ts.
 */
import { Box, Static, Text, useStdout } from 'ink';
import type { ChalkInstance } from 'chalk';
import { createElement as h, useEffect, useSyncExternalStore } from 'react';
import type { ReactElement } from 'react';
import type { RunEvent, RunEvents } from '../run/events.ts';
import { countsText, opText, seconds, verdictText } from './format.ts';
import { initialState, reduce } from './state.ts';
import type { CellState, LiveState } from './state.ts';
import type { Validity } from '../../checkers/result.ts';

/** Log lines one <Static> holds before the next one takes over (bounds the view's memory). */
export const maxStaticLines = 2000;
/** Partitions listed per leader before "+N more". */
const maxLeadsShown = 4;
/** Cells listed before the rest are summarized. */
const maxCellsShown = 12;

function paintVerdict(c: ChalkInstance, v: Validity): string {
  return v === true ? c.green(verdictText(v)) : v === false ? c.red.bold(verdictText(v)) : c.yellow(verdictText(v));
}

function nodeRows(s: LiveState, c: ChalkInstance): ReactElement[] {
  const leads = new Map<string, string[]>();
  for (const [k, n] of Object.entries(s.roles?.leaders ?? {})) if (n !== null) leads.set(n, [...(leads.get(n) ?? []), k]);
  const leaderless = Object.entries(s.roles?.leaders ?? {}).filter(([, n]) => n === null).map(([k]) => k);
  const rows = Object.entries(s.nodes).map(([name, cs]) => {
    const label = (cs.length === 0 ? 'up' : cs.join(', ')).padEnd(14);
    const state = cs.length === 0 ? c.green(label) : c.red.bold(label);
    const ls = leads.get(name) ?? [];
    const roles = [
      s.roles?.controller === name ? c.magenta('controller') : '',
      ls.length === 0 ? '' : `leads ${ls.slice(0, maxLeadsShown).join(', ')}${ls.length > maxLeadsShown ? ` +${ls.length - maxLeadsShown} more` : ''}`,
    ].filter((x) => x !== '').join('; ');
    return h(Text, { key: name }, `${c.bold(name.padEnd(5))} ${state} ${roles}`);
  });
  if (leaderless.length > 0) rows.push(h(Text, { key: '-leaderless' }, c.yellow(`no leader: ${leaderless.slice(0, maxLeadsShown).join(', ')}${leaderless.length > maxLeadsShown ? ` +${leaderless.length - maxLeadsShown} more` : ''}`)));
  if (rows.length === 0) rows.push(h(Text, { key: '-none', dimColor: true }, 'starting the cluster...'));
  return rows;
}

function faultLines(s: LiveState, nowMs: number, c: ChalkInstance): ReactElement[] {
  const now = s.faults.map((f, i) =>
    h(Text, { key: `f${i}` }, `${c.red('now ')} ${c.bold(f.fault ?? f.lane ?? '')} ${opText(f.op)} ${c.dim(`for ${seconds(nowMs - f.sinceMs)}`)}${f.error === undefined ? '' : c.yellow(` (failed: ${f.error})`)}`),
  );
  const next = Object.entries(s.next)
    .sort((a, b) => a[1].atMs - b[1].atMs)
    .map(([lane, n]) => `${lane} ${n.what === 'start' ? 'starts' : 'ends'} in ${seconds(n.atMs - nowMs)}`);
  const lines = [...now];
  if (next.length > 0) lines.push(h(Text, { key: 'next' }, `${c.cyan('next')} ${next.join('; ')}`));
  const last = s.recent[s.recent.length - 1];
  if (last !== undefined) lines.push(h(Text, { key: 'last', dimColor: true }, `last ${last.fault ?? last.lane ?? ''} ${opText(last.op)}`));
  if (lines.length === 0) lines.push(h(Text, { key: 'none', dimColor: true }, s.run?.nemesis.length === 0 ? 'no nemesis' : 'none yet'));
  return lines;
}

function cellMark(cell: CellState, c: ChalkInstance): string {
  if (cell.status === 'running') return c.cyan('>');
  if (cell.status === 'pending') return c.dim('.');
  return cell.ok === true ? c.green('ok') : cell.ok === false ? c.red('NO') : c.yellow('?');
}

function cellLines(s: LiveState, c: ChalkInstance): ReactElement[] {
  const done = s.cells.filter((x) => x.status === 'done').length;
  const shown = s.cells.slice(0, maxCellsShown).map((cell, i) => {
    const runs = cell.verdicts.length === 0 ? '' : ` ${cell.verdicts.map((v) => (v === true ? c.green('v') : v === false ? c.red('X') : c.yellow('?'))).join('')}`;
    const what = cell.status === 'done' ? ` ${cell.verdict ?? ''}` : cell.status === 'running' ? c.dim(` run ${cell.runs + 1}: ${cell.detail ?? ''}`) : '';
    return h(Text, { key: `c${i}` }, `${cellMark(cell, c)} ${cell.label}${runs}${what}`);
  });
  if (s.cells.length > maxCellsShown) shown.push(h(Text, { key: 'more', dimColor: true }, `... ${s.cells.length - maxCellsShown} more cells`));
  return [h(Text, { key: 'head', bold: true }, `${s.kind} ${done}/${s.cells.length} cells done`), ...shown];
}

/** The panel for one state at one moment (pure). */
export function LiveView(props: { state: LiveState; nowMs: number; c: ChalkInstance; columns?: number }): ReactElement {
  const { state: s, nowMs, c } = props;
  const p = s.progress;
  const elapsed = p === null ? (s.run === null ? 0 : nowMs - s.run.startedAtMs) : p.elapsedMs + (nowMs - p.atMs);
  const remaining = p === null || p.remainingMs === null ? null : Math.max(0, p.remainingMs - (nowMs - p.atMs));
  const title = s.run === null
    ? c.bold('faultline')
    : `${c.bold('faultline')} ${s.run.name} ${c.dim(`seed ${s.run.seed}`)}  ${c.cyan(s.phase === null ? 'starting' : `${s.phase.name} ${s.phase.status}`)}  ${seconds(elapsed)}${remaining === null ? '' : ` (${seconds(remaining)} left)`}`;
  const section = (name: string, children: ReactElement[]): ReactElement =>
    h(Box, { flexDirection: 'row' }, h(Box, { width: 8, flexShrink: 0 }, h(Text, { bold: true }, name)), h(Box, { flexDirection: 'column' }, ...children));
  const parts: ReactElement[] = [
    h(Text, { key: 'title' }, title),
    h(Box, { key: 'cluster' }, section('cluster', nodeRows(s, c))),
    h(Box, { key: 'faults' }, section('faults', faultLines(s, nowMs, c))),
    h(Box, { key: 'ops' }, section('ops', [h(Text, { key: 'o' }, p === null ? c.dim('waiting for the load') : countsText(p))])),
  ];
  if (s.cells.length > 0) parts.push(h(Box, { key: 'cells' }, section('cells', cellLines(s, c))));
  if (s.lastRun !== null) {
    const r = s.lastRun;
    parts.push(h(Text, { key: 'verdict' }, `${c.bold('verdict')} ${paintVerdict(c, r.valid)}${r.interrupted ? c.yellow(' (interrupted)') : ''} ${c.dim(r.runDir)}`));
  }
  // never the terminal's full width: a line that ends in the last column leaves the cursor pending a
  // wrap, and the next redraw then erases one line too few
  return h(Box, { flexDirection: 'column', borderStyle: 'round', paddingX: 1, ...(props.columns === undefined ? {} : { width: Math.max(40, props.columns - 2) }) }, ...parts);
}

/** What the app shows: the folded state and the log lines not yet handed to a <Static>. */
export interface LiveSnapshot {
  state: LiveState;
  logs: { gen: number; lines: Array<{ at: string; msg: string }> };
  nowMs: number;
}

/**
 * Folds the event stream into a snapshot from the moment it is built (before React mounts, so no
 * event is missed), and tells the app when it changed. `dispose()` unsubscribes.
 */
export class LiveStore {
  #snap: LiveSnapshot;
  #listeners = new Set<() => void>();
  #off: () => void;
  readonly nowMs: () => number;

  constructor(events: RunEvents, nowMs: () => number, wallClock: () => string = () => new Date().toISOString().slice(11, 23)) {
    this.nowMs = nowMs;
    this.#snap = { state: initialState(), logs: { gen: 0, lines: [] }, nowMs: nowMs() };
    this.#off = events.subscribe((e: RunEvent) => {
      const at = nowMs();
      const prev = this.#snap;
      if (e.type !== 'log') this.#snap = { ...prev, state: reduce(prev.state, e, at), nowMs: at };
      else {
        const line = { at: wallClock(), msg: e.msg };
        const full = prev.logs.lines.length >= maxStaticLines;
        this.#snap = { ...prev, nowMs: at, logs: full ? { gen: prev.logs.gen + 1, lines: [line] } : { gen: prev.logs.gen, lines: [...prev.logs.lines, line] } };
      }
      this.#notify();
    });
  }

  /** Moves the clock on (countdowns) without an event. */
  tick(): void {
    this.#snap = { ...this.#snap, nowMs: this.nowMs() };
    this.#notify();
  }

  get = (): LiveSnapshot => this.#snap;

  subscribe = (l: () => void): (() => void) => {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  };

  dispose(): void {
    this.#off();
    this.#listeners.clear();
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }
}

/** The app: the log lines once each above the panel; redraws on events and every `tickMs` (countdowns). */
export function LiveApp(props: { store: LiveStore; c: ChalkInstance; tickMs?: number }): ReactElement {
  const { store, c } = props;
  const s = useSyncExternalStore(store.subscribe, store.get);
  const { stdout } = useStdout();
  useEffect(() => {
    const t = setInterval(() => store.tick(), props.tickMs ?? 250);
    return () => clearInterval(t);
  }, [store]);
  return h(
    Box,
    { flexDirection: 'column' },
    h(Static, { key: `log${s.logs.gen}`, items: s.logs.lines, children: (item: unknown, i: number) => {
      const line = item as { at: string; msg: string };
      return h(Text, { key: i }, `${c.dim(line.at)} ${line.msg}`);
    } }),
    h(LiveView, { state: s.state, nowMs: s.nowMs, c, ...(stdout.columns > 0 ? { columns: stdout.columns } : {}) }),
  );
}
