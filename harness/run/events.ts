/**
 * The run-event stream (docs/live.md): what a run, a campaign or a hunt is doing, as typed events, for
 * renderers (the live terminal view, the plain timestamped lines) to subscribe to.
 *
 * Events:
 * - `log`: one of the lines the run has always printed (`msg`).
 * - `run-start` / `run-end`: a run's name, seed, directory, time limit and faults; its verdict at the end.
 * - `phase`: the orchestrator's phase events, as the history's `phase` lines (load, heal, recover, drain).
 * - `nodes`: every node's conditions after a change (`[]` = up; e.g. `['killed']`, `['cut-off', 'paused']`).
 * - `roles`: who leads each partition and who is the controller (node names; polled from the cluster).
 * - `fault-start` / `fault-end`: the nemesis ops that start and end a fault (nodes, role, shape, error);
 *   `fault-next`: when a lane's next fault starts or its current one ends.
 * - `progress`: once a second while a run is on: op completions (ok/fail/info totals), ops per second
 *   and latency over the last second, elapsed time and, during the load, the time remaining.
 * - `plan`, `cell-start`, `cell-end`, `cell-done`: a campaign's or hunt's cells; each run's verdict,
 *   and each cell's when it is done (a campaign cell: its run's verdict; a hunt target: caught or not).
 *
 * Invariants:
 * - Emitting never throws and never waits: a listener that throws is dropped (reported once through
 *   the remaining listeners as a `log` event), so nothing in a run's correctness depends on a renderer.
 * - Every buffer here is bounded (`OpMeter` keeps at most `maxWindowOps` completions and one open
 *   invoke per process).
 * - Node conditions are derived from fault starts and ends only (`NodeTracker`): a condition is added
 *   by a fault's start op and removed by its end op (or, for the final generator's ops that end every
 *   fault of a kind at once, by the conditions that end op undoes), so a node shows `up` exactly when
 *   no fault that hit it is still in force.
 */
import type { Op } from '../../checkers/history.ts';
import type { Validity } from '../../checkers/result.ts';
import type { Roles } from '../backend.ts';
import type { NemesisOp } from '../../nemesis/types.ts';

/** What a fault does to a node, as shown. */
export type NodeCondition = 'killed' | 'stopped' | 'paused' | 'power-lost' | 'cut-off' | 'clock-skewed' | 'lossy' | 'throttled' | 'disk-full' | 'corrupted' | 'faulted';

export interface FaultInfo {
  /** the nemesis lane (one per node fault, `network` for network faults); null for the final generator's ends */
  lane: string | null;
  /** the fault name (`kill-leader`, ...); null when not known (the final generator) */
  fault: string | null;
  op: NemesisOp;
  /** set when the backend action failed */
  error?: string;
}

export type RunEvent =
  | { type: 'log'; msg: string }
  | { type: 'run-start'; name: string; seed: number; runDir: string; timeLimitMs: number; nemesis: string[] }
  | { type: 'run-end'; name: string; runDir: string; valid: Validity; interrupted: boolean; error?: string }
  | { type: 'phase'; name: string; status: string }
  | { type: 'nodes'; nodes: Record<string, NodeCondition[]> }
  | { type: 'roles'; controller: string | null; leaders: Record<string, string | null> }
  | ({ type: 'fault-start'; end: NemesisOp | null } & FaultInfo)
  | ({ type: 'fault-end' } & FaultInfo)
  | { type: 'fault-next'; lane: string; what: 'start' | 'end'; inMs: number }
  | ({ type: 'progress'; elapsedMs: number; remainingMs: number | null } & OpCounts)
  | { type: 'plan'; kind: 'campaign' | 'hunt'; cells: string[] }
  | { type: 'cell-start'; cell: number; run: number; detail: string }
  | { type: 'cell-end'; cell: number; run: number; valid: Validity; runDir: string }
  | { type: 'cell-done'; cell: number; verdict: string; ok: boolean | null };

export type RunEventType = RunEvent['type'];
export type Listener = (e: RunEvent) => void;

/** Where events go: `emit` is all the orchestration needs. */
export interface RunEventSink {
  emit(e: RunEvent): void;
}

/** The event bus: renderers subscribe; the run, campaign and hunt emit (see the invariants above). */
export class RunEvents implements RunEventSink {
  #listeners: Listener[] = [];

  subscribe(l: Listener): () => void {
    this.#listeners.push(l);
    return () => {
      this.#listeners = this.#listeners.filter((x) => x !== l);
    };
  }

  emit(e: RunEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch (err) {
        this.#listeners = this.#listeners.filter((x) => x !== l);
        this.emit({ type: 'log', msg: `a renderer failed and was dropped: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }
}

/** A sink that drops everything (the default when nobody listens). */
export const noEvents: RunEventSink = { emit: () => {} };

export interface OpCounts {
  ok: number;
  fail: number;
  info: number;
  /** completions in the last window, per second */
  opsPerS: number;
  /** latency of the completions in the last window (null when there were none) */
  latencyP50Ms: number | null;
  latencyMaxMs: number | null;
}

/**
 * Counts client op completions and measures their latency from the history's own times (an op's
 * completion `timeNs` minus its invoke's). Nemesis and harness lines are not ops and are ignored.
 */
export class OpMeter {
  readonly windowMs: number;
  readonly maxWindowOps: number;
  #ok = 0;
  #fail = 0;
  #info = 0;
  #invokedNs = new Map<string, number>();
  /** completions in the window: [timeNs, latencyMs] */
  #recent: Array<[number, number]> = [];

  constructor(windowMs = 1000, maxWindowOps = 100_000) {
    this.windowMs = windowMs;
    this.maxWindowOps = maxWindowOps;
  }

  observe(op: Op): void {
    if (typeof op.process !== 'number') return;
    const key = `${op.process}\u0000${op.f}`;
    if (op.type === 'invoke') {
      this.#invokedNs.set(key, op.timeNs);
      return;
    }
    if (op.type === 'ok') this.#ok++;
    else if (op.type === 'fail') this.#fail++;
    else this.#info++;
    const from = this.#invokedNs.get(key);
    if (from === undefined) return; // a completion without invoke (assign): counted, no latency
    this.#invokedNs.delete(key);
    this.#recent.push([op.timeNs, (op.timeNs - from) / 1e6]);
    if (this.#recent.length > this.maxWindowOps) this.#recent.splice(0, this.#recent.length - this.maxWindowOps);
  }

  /** Totals, and rate and latency over the window ending at `nowNs` (the history's clock). */
  snapshot(nowNs: number): OpCounts {
    const from = nowNs - this.windowMs * 1e6;
    let drop = 0;
    while (drop < this.#recent.length && this.#recent[drop]![0] < from) drop++;
    if (drop > 0) this.#recent.splice(0, drop);
    const lat = this.#recent.map(([, l]) => l).sort((a, b) => a - b);
    return {
      ok: this.#ok,
      fail: this.#fail,
      info: this.#info,
      opsPerS: (lat.length * 1000) / this.windowMs,
      latencyP50Ms: lat.length === 0 ? null : lat[Math.floor((lat.length - 1) / 2)]!,
      latencyMaxMs: lat.length === 0 ? null : lat[lat.length - 1]!,
    };
  }
}

/** The condition a fault's start op puts its nodes in. */
export function conditionOf(startF: string): NodeCondition {
  const table: Record<string, NodeCondition> = {
    kill: 'killed',
    stop: 'stopped',
    pause: 'paused',
    'power-loss': 'power-lost',
    partition: 'cut-off',
    'packet-loss': 'lossy',
    bandwidth: 'throttled',
    'disk-full': 'disk-full',
    corrupt: 'corrupted',
  };
  return table[startF] ?? (startF.includes('clock') ? 'clock-skewed' : 'faulted');
}

/** The conditions an end op undoes when it is not paired with its start (the final generator). */
export function conditionsEndedBy(endF: string): readonly NodeCondition[] | 'all' {
  const table: Record<string, readonly NodeCondition[]> = {
    restart: ['killed', 'stopped', 'power-lost', 'corrupted'],
    resume: ['paused'],
    heal: ['cut-off', 'lossy', 'throttled'],
  };
  return table[endF] ?? 'all';
}

/** Each node's conditions, kept from fault starts and ends (see the invariants above). */
export class NodeTracker {
  #nodes = new Map<string, NodeCondition[]>();
  /** per fault in force: its nodes and condition, keyed by lane */
  #byLane = new Map<string, { nodes: string[]; condition: NodeCondition }>();

  constructor(nodes: readonly string[]) {
    for (const n of nodes) this.#nodes.set(n, []);
  }

  /** The `nodes` event after a fault start or end, or null when nothing changed. */
  onFault(e: Extract<RunEvent, { type: 'fault-start' | 'fault-end' }>): Extract<RunEvent, { type: 'nodes' }> | null {
    const before = JSON.stringify([...this.#nodes]);
    if (e.type === 'fault-start') {
      const condition = conditionOf(e.op.f);
      if (e.lane !== null) this.#byLane.set(e.lane, { nodes: e.op.value.nodes, condition });
      // a start that failed (the backend could not act) leaves its nodes as they were
      if (e.error === undefined) for (const n of e.op.value.nodes) this.#add(n, condition);
    } else if (e.error === undefined) {
      const paired = e.lane === null ? undefined : this.#byLane.get(e.lane);
      if (paired !== undefined && e.lane !== null) {
        this.#byLane.delete(e.lane);
        for (const n of paired.nodes) this.#remove(n, [paired.condition]);
      } else {
        const ended = conditionsEndedBy(e.op.f);
        for (const n of e.op.value.nodes) this.#remove(n, ended === 'all' ? [...(this.#nodes.get(n) ?? [])] : ended);
        for (const [lane, f] of this.#byLane) if (ended === 'all' || ended.includes(f.condition)) this.#byLane.delete(lane);
      }
    }
    return JSON.stringify([...this.#nodes]) === before ? null : this.event();
  }

  event(): Extract<RunEvent, { type: 'nodes' }> {
    return { type: 'nodes', nodes: Object.fromEntries([...this.#nodes].map(([n, c]) => [n, [...c]])) };
  }

  #add(node: string, c: NodeCondition): void {
    const cs = this.#nodes.get(node) ?? [];
    if (!cs.includes(c)) cs.push(c);
    this.#nodes.set(node, cs);
  }

  #remove(node: string, cs: readonly NodeCondition[]): void {
    const cur = this.#nodes.get(node);
    if (cur !== undefined) this.#nodes.set(node, cur.filter((c) => !cs.includes(c)));
  }
}

/** The `roles` event: broker ids turned into node names (unknown ids as `id N`). */
export function rolesEvent(roles: Roles, nodes: ReadonlyArray<{ id: number; name: string }>): Extract<RunEvent, { type: 'roles' }> {
  const nameOf = (id: number | null): string | null => (id === null || id < 0 ? null : (nodes.find((n) => n.id === id)?.name ?? `id ${id}`));
  const leaders: Record<string, string | null> = {};
  for (const [k, id] of Object.entries(roles.leaders)) leaders[k] = nameOf(id);
  return { type: 'roles', controller: nameOf(roles.controller), leaders };
}
