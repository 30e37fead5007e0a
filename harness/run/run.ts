/**
 * Orchestration of one `faultline run` (design.md "How data flows"):
 *   print seed -> run directory + test.json -> history.jsonl (incremental) -> backend start ->
 *   workload setup -> load + nemesis for the time limit -> nemesis final generator (heal) ->
 *   recovery (every partition has a leader that accepts an acks=all produce, bounded) -> drain ->
 *   stop the cluster -> node data listings -> each node's own log read from disk (replicas) ->
 *   checker -> results.json, report.html, `latest` -> exit code.
 *
 * Invariants:
 * - One seed drives every random choice: the workload and the nemesis get `rng.fork(label)` streams.
 * - The backend is stopped on every path (success, error, abort) before `runTest` returns; client
 *   connections are closed first so nothing retries against dead nodes.
 * - results.json is written on every path once the run directory exists, from whatever history was
 *   recorded; a harness error or an interrupt can only make the verdict `unknown` (never `true`), and
 *   only anomalies that the missing final reads cannot explain (everything but `unseen`) make it false.
 * - Every phase has a deadline; nothing waits unboundedly.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { canAccess, type Backend, type NodeInfo } from '../backend.ts';
import { dataListing } from '../backends/collect.ts';
import { loadSystem } from '../backends/system.ts';
import { UsageError } from '../errors.ts';
import type { History, Op } from '../../checkers/history.ts';
import type { Validity } from '../../checkers/result.ts';
import type { RunResults as CheckerResults } from '../../checkers/index.ts';
import { breakingAnomalies } from '../../checkers/queue/anomalies.ts';
import type { Rng } from '../rng.ts';
import { createRng } from '../rng.ts';
import { HistoryWriter } from '../store/history-writer.ts';
import type { HistoryRecorder, OpInput } from '../store/history-writer.ts';
import { createRunDir, runFiles, updateLatest, writeFileAtomic, writeJson } from '../store/run-dir.ts';
import type { QueueWorkload } from '../../workloads/queue.ts';
import type { LogWorkload } from '../../workloads/log.ts';
import { logHistoryHtml } from '../../checkers/linearizability/log-history.ts';
import { checkFaultsSupported, needsClockLayer, needsDiskLayer, needsMembership, needsPowerLossLayer, parseFaults } from '../../nemesis/faults.ts';
import { parseSchedule, type NemesisSchedule } from '../../nemesis/index.ts';
import { brokerSettings, testName, testOptions } from './options.ts';
import type { NemesisFault, RunOptions } from './options.ts';
import { runLoad } from './load.ts';
import { readReplicaLogs } from './replica-logs.ts';
import { checkReplicas } from '../../checkers/replicas.ts';
import type { ReplicasResult } from '../../checkers/replicas.ts';
import type { Roles } from '../backend.ts';
import { fetchRolesByMajority, type ControllerDiscovery } from '../backends/roles.ts';
import { DeadlineError, monotonicMs, sleep, withDeadline } from '../util/time.ts';
import { fmtMs } from '../format.ts';
import { NodeTracker, OpMeter, noEvents, rolesEvent } from './events.ts';
import type { RunEvent, RunEventSink } from './events.ts';

/** A running nemesis: `stop()` ends the schedule and runs its final generator (heal everything). */
export interface NemesisHandle {
  stop(): Promise<void>;
  /** the faults carried out so far (stored in test.json as `nemesisSchedule`, for `--replay`) */
  schedule?(): NemesisSchedule;
}

export interface NemesisArgs {
  backend: Backend;
  faults: NemesisFault[];
  intervalMs: number;
  /** the faults as one chained sequence in the listed order (`--nemesis-sequence`) */
  sequence: boolean;
  rng: Rng;
  record: (op: OpInput) => void;
  topic: string;
  signal: AbortSignal;
  log: (msg: string) => void;
  /** play this recorded schedule instead of drawing faults (`--replay`) */
  replay?: NemesisSchedule;
  /** where the nemesis emits fault-start, fault-end and fault-next (harness/run/events.ts) */
  events?: RunEventSink;
  /** how role lookups find the controller (the system definition's `roles.controller`) */
  controllerVia?: ControllerDiscovery;
}

export type StartNemesis = (args: NemesisArgs) => NemesisHandle | Promise<NemesisHandle>;

export interface WorkloadArgs {
  options: RunOptions;
  brokers: string[];
  topic: string;
  runId: string;
  history: HistoryRecorder;
  rng: Rng;
  log: (msg: string) => void;
}

export type TestJson = ReturnType<typeof testOptions> & {
  /** the faults the nemesis carried out (written when the run ends; `faultline run --replay` plays it) */
  nemesisSchedule?: NemesisSchedule;
  name: string;
  seed: number;
  backend: RunOptions['backend'];
  versions: Record<string, string>;
  startedAt: string;
  topic: string;
};

export interface RunDeps {
  createBackend(o: RunOptions): Promise<Backend>;
  startNemesis: StartNemesis;
  createWorkload(a: WorkloadArgs): QueueWorkload | LogWorkload;
  check(history: History, test: TestJson): CheckerResults;
  renderReport(results: RunResults, history: History): string;
  versions: Record<string, string>;
  log(msg: string): void;
  signal: AbortSignal;
  now?: () => Date;
  timing?: Partial<RunTiming>;
  /**
   * The run-event stream (harness/run/events.ts). Without it nothing is emitted and the cluster's
   * roles are not polled; with it the roles are polled every `rolesPollMs` while the workload runs.
   */
  events?: RunEventSink;
  /** the cluster's roles now, or null; default fetchRolesByMajority over the nodes (bounded) */
  roles?: (nodes: readonly NodeInfo[], topic: string) => Promise<Roles | null>;
  rolesPollMs?: number;
}

export interface RunTiming {
  setupTimeoutMs: number;
  recoverTimeoutMs: number;
  drainTimeoutMs: number;
  inFlightWaitMs: number;
  /** how far past its own deadline a final phase may run before the orchestrator cuts it off */
  finalMarginMs: number;
}

export const defaultTiming: RunTiming = {
  setupTimeoutMs: 60_000,
  recoverTimeoutMs: 30_000,
  drainTimeoutMs: 30_000,
  inFlightWaitMs: 15_000,
  finalMarginMs: 15_000,
};

export interface RunResults extends CheckerResults {
  test: TestJson;
  runDir: string;
  phases: { load: string; heal?: string; recover: string; drain: string };
  interrupted: boolean;
  error?: string;
  checkerValid: Validity;
}

export interface RunOutcome {
  runDir: string;
  results: RunResults;
  exitCode: 0 | 1 | 2;
}

/**
 * Turns a checker's output and the run's outcome into results.json and writes it with report.html
 * (and, when the log workload's linearizability check did not pass, linearizability.html: ops per
 * process on a time axis, the longest partial linearization, the op that cannot be placed). Shared
 * by `run` and `check`, so a re-check decides and writes exactly as the run did.
 */
export function writeResults(a: {
  runDir: string;
  checked: CheckerResults;
  test: TestJson;
  phases: RunResults['phases'];
  interrupted: boolean;
  error: string | undefined;
  history: History;
  renderReport(results: RunResults, history: History): string;
}): RunResults {
  const complete = a.error === undefined && !a.interrupted && a.phases.drain === 'done';
  const results: RunResults = {
    ...a.checked,
    valid: finalVerdict(a.checked.valid, a.checked.anomalies, complete, a.test.idempotence === true),
    checkerValid: a.checked.valid,
    test: a.test,
    runDir: a.runDir,
    phases: a.phases,
    interrupted: a.interrupted,
    ...(a.error === undefined ? {} : { error: a.error }),
  };
  writeJson(join(a.runDir, runFiles.results), results);
  const lin = (a.checked as { linearizability?: { valid: unknown } }).linearizability;
  if (lin !== undefined && lin.valid !== true) writeFileAtomic(join(a.runDir, 'linearizability.html'), logHistoryHtml(a.history, a.test.name));
  writeFileAtomic(join(a.runDir, runFiles.report), a.renderReport(results, a.history));
  return results;
}

export function exitCodeOf(v: Validity): 0 | 1 | 2 {
  return v === true ? 0 : v === false ? 1 : 2;
}

/**
 * The verdict of a run. A complete run (no harness error, no interrupt, drain finished) keeps the
 * checker's verdict. An incomplete run never reads everything back, so "nothing found" proves little:
 * it is `false` only when the checker found it false and some anomaly that breaks the guarantee (for
 * this producer) is one an incomplete drain cannot explain (the checker's `ANOMALIES` table), else
 * `unknown`. A checker `false` already excludes anomalies that discarded lines explain, and those
 * include every one an incomplete drain explains, so both reasons compose.
 */
export function finalVerdict(checkerValid: Validity, anomalies: Record<string, { count: number }>, complete: boolean, idempotent: boolean): Validity {
  if (complete) return checkerValid;
  if (checkerValid !== false) return 'unknown';
  return breakingAnomalies(anomalies, { idempotent, drainComplete: false, discardedLines: 0 }).length > 0 ? false : 'unknown';
}

/** What each nemesis op that failed says: its fault, nodes and error (e.g. a node that crashed in recovery). */
function nemesisErrors(ops: readonly Op[]): string[] {
  return ops.flatMap((op) => {
    const v = op.value as { nodes?: string[]; error?: string } | null;
    return op.process === 'nemesis' && v !== null && typeof v === 'object' && typeof v.error === 'string' ? [`${op.f} ${(v.nodes ?? []).join(',')}: ${v.error}`] : [];
  });
}

export type PhaseName = 'load' | 'heal' | 'recover' | 'drain';
export type PhaseStatus = 'start' | 'done' | 'failed' | 'timeout';

/** Await a phase's promise within `ms`: done with its value, failed with its error, or timed out. */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<{ status: 'done'; value: T; error?: undefined } | { status: 'failed' | 'timeout'; error: string }> {
  try {
    return { status: 'done', value: await withDeadline(p, ms, what) };
  } catch (err) {
    if (err instanceof DeadlineError) return { status: 'timeout', error: err.message };
    return { status: 'failed', error: err instanceof Error ? err.message : String(err) };
  }
}

/** The fault schedule recorded in a run directory's test.json (for `--replay`), or a clear UsageError. */
export function readReplaySchedule(runDir: string): NemesisSchedule {
  let test: { nemesisSchedule?: unknown };
  try {
    test = JSON.parse(readFileSync(join(runDir, runFiles.test), 'utf8')) as { nemesisSchedule?: unknown };
  } catch (err) {
    throw new UsageError(`--replay ${runDir}: cannot read its ${runFiles.test} (${(err as Error).message})`);
  }
  if (test.nemesisSchedule === undefined) throw new UsageError(`--replay ${runDir}: its ${runFiles.test} records no fault schedule (a run from before schedules were recorded, or one that never started its nemesis)`);
  return parseSchedule(test.nemesisSchedule);
}

/** How often a run with an event stream emits `progress`. */
export const progressIntervalMs = 1000;

/** Bound on one poll of the cluster's roles for the live view (the cluster may be partitioned). */
const rolesTimeoutMs = 2000;

/**
 * Polls the roles every `intervalMs` (one poll at a time, each bounded) and emits them, until `stop()`
 * (which waits for the poll in flight, at most `rolesTimeoutMs`).
 */
function pollRoles(poll: () => Promise<Roles | null>, nodes: readonly NodeInfo[], intervalMs: number, events: RunEventSink): { stop(): Promise<void> } {
  const ac = new AbortController();
  const loop = (async () => {
    while (!ac.signal.aborted) {
      const r = await withDeadline(poll(), rolesTimeoutMs, 'polling roles').catch(() => null);
      if (r !== null && !ac.signal.aborted) events.emit(rolesEvent(r, nodes));
      await sleep(intervalMs, ac.signal);
    }
  })();
  return {
    stop: async () => {
      ac.abort();
      await loop;
    },
  };
}

export async function runTest(o: RunOptions, deps: RunDeps): Promise<RunOutcome> {
  const timing = { ...defaultTiming, ...deps.timing };
  const now = deps.now ?? (() => new Date());
  const log = deps.log;
  const events = deps.events ?? noEvents;
  const name = testName(o);
  log(`faultline run ${name}: seed ${o.seed}`);
  const started = now();
  const runDir = createRunDir(o.out, name, started);
  events.emit({ type: 'run-start', name, seed: o.seed, runDir, timeLimitMs: o.timeLimitMs, nemesis: o.nemesis });
  const runId = `r${o.seed.toString(36)}${started.getTime().toString(36)}`;
  const topic = 'faultline';
  const test: TestJson = {
    ...testOptions(o),
    name,
    seed: o.seed,
    backend: o.backend,
    versions: deps.versions,
    startedAt: started.toISOString(),
    topic,
  };
  writeJson(join(runDir, runFiles.test), test);
  log(`run directory ${runDir}`);
  const writer = new HistoryWriter(join(runDir, runFiles.history));
  // Every op appended goes through the meter that counts completions for the event stream.
  const meter = new OpMeter();
  const history = {
    append: (op: OpInput, atNs?: bigint): Op => {
      const full = writer.append(op, atNs);
      meter.observe(full);
      return full;
    },
    ops: () => writer.ops(),
    nowNs: () => writer.nowNs(),
    close: () => writer.close(),
  };
  const t0Ms = monotonicMs();
  let loadEndMs: number | null = null;
  const ticker = deps.events === undefined ? null : setInterval(() => {
    const t = monotonicMs();
    events.emit({ type: 'progress', elapsedMs: t - t0Ms, remainingMs: loadEndMs === null ? null : Math.max(0, loadEndMs - t), ...meter.snapshot(history.nowNs()) });
  }, progressIntervalMs);
  ticker?.unref();
  let tracker: NodeTracker | null = null;
  /** the nemesis's events, with the node conditions they change */
  const faultEvents: RunEventSink = {
    emit: (e: RunEvent) => {
      events.emit(e);
      if (tracker !== null && (e.type === 'fault-start' || e.type === 'fault-end')) {
        const changed = tracker.onFault(e);
        if (changed !== null) events.emit(changed);
      }
    },
  };
  let roles: { stop(): Promise<void> } | null = null;
  const rng = createRng(o.seed);
  const phases: RunResults['phases'] = { load: 'not started', heal: 'not started', recover: 'not started', drain: 'not started' };
  /** design.md: one `phase` info line per phase event, written by the orchestrator */
  let openPhase: PhaseName | null = null;
  const phase = (name: PhaseName, status: PhaseStatus): void => {
    openPhase = status === 'start' ? name : null;
    history.append({ process: 'harness', type: 'info', f: 'phase', value: { name, status } });
    events.emit({ type: 'phase', name, status });
  };
  let error: string | undefined;
  let backend: Backend | null = null;
  let nodes: NodeInfo[] = [];
  let workload: QueueWorkload | LogWorkload | null = null;
  let nemesis: NemesisHandle | null = null;
  /** the nemesis whose schedule goes into test.json when the run ends */
  let scheduleOf: NemesisHandle | null = null;
  const nemesisAbort = new AbortController();
  // On an interrupt the consumers stop at once, before the cluster goes away under them.
  const onAbort = (): void => {
    nemesisAbort.abort();
    if (workload !== null) void workload.client.stopConsumers().catch(() => undefined);
  };
  deps.signal.addEventListener('abort', onAbort, { once: true });

  try {
    backend = await deps.createBackend(o);
    // Refuse a fault this backend cannot inject before any node starts (e.g. partitions without root).
    checkFaultsSupported(parseFaults(o.nemesis), backend);
    log(`starting ${o.nodes} ${backend.name} nodes`);
    const replay = o.replay === null ? null : readReplaySchedule(o.replay);
    const powerLoss = needsPowerLossLayer(o.nemesis) || (replay !== null && needsPowerLossLayer(replay.faults.map((f) => f.fault)));
    const clock = needsClockLayer(o.nemesis) || (replay !== null && needsClockLayer(replay.faults.map((f) => f.fault)));
    const diskFull = needsDiskLayer(o.nemesis) || (replay !== null && needsDiskLayer(replay.faults.map((f) => f.fault)));
    const system = o.system === null ? null : loadSystem(o.system);
    if (system !== null && system.brokerOnly === undefined && needsMembership(o.nemesis)) {
      throw new UsageError(`nemesis membership cannot run: system '${system.name}' has no "brokerOnly" args to start an added node as a broker only (docs/backends.md)`);
    }
    // how role lookups (live view, nemesis targets) find the controller: the system definition says
    const controllerVia = system?.roles.controller ?? 'metadata';
    nodes = await backend.start({
      nodes: o.nodes,
      brokerSettings: brokerSettings(o),
      workDir: join(runDir, runFiles.nodes),
      runId,
      ...(o.bug === null ? {} : { bug: o.bug }),
      ...(powerLoss ? { powerLoss } : {}),
      ...(system === null ? {} : { system }),
      ...(clock ? { clock } : {}),
      ...(diskFull ? { diskFull } : {}),
    });
    tracker = new NodeTracker(nodes.map((n) => n.name));
    events.emit(tracker.event());
    if (deps.signal.aborted) throw new Error('interrupted');
    workload = deps.createWorkload({
      options: o,
      brokers: nodes.map((n) => n.kafkaAddress),
      topic,
      runId,
      history,
      rng: rng.fork('workload'),
      log,
    });
    const wl = workload;
    await wl.client.setup(Date.now() + timing.setupTimeoutMs);
    await withDeadline(wl.client.startConsumers(), timing.setupTimeoutMs, 'starting consumers');
    if (deps.signal.aborted) throw new Error('interrupted');
    if (deps.events !== undefined) {
      const b = backend;
      const poll = deps.roles ?? ((ns: readonly NodeInfo[], t: string) => fetchRolesByMajority(ns.map((n) => n.kafkaAddress), [t], { timeoutMs: rolesTimeoutMs, controllerVia }).catch(() => null));
      roles = pollRoles(() => poll(b.nodes(), topic), b.nodes(), deps.rolesPollMs ?? 1000, events);
    }
    nemesis = await deps.startNemesis({
      backend,
      faults: o.nemesis,
      controllerVia,
      intervalMs: o.nemesisIntervalMs,
      sequence: o.nemesisSequence,
      rng: rng.fork('nemesis'),
      record: (op) => history.append(op),
      topic,
      signal: nemesisAbort.signal,
      log,
      ...(replay === null ? {} : { replay }),
      ...(deps.events === undefined ? {} : { events: faultEvents }),
    });
    scheduleOf = nemesis;
    if (replay !== null) log(`replaying the ${replay.faults.length} faults recorded in ${o.replay}`);
    log(`load: ${o.rate} ops/s over ${o.concurrency} processes for ${fmtMs(o.timeLimitMs)}; nemesis ${o.nemesis.join(',') || 'none'}`);
    phases.load = 'running';
    phase('load', 'start');
    loadEndMs = monotonicMs() + o.timeLimitMs;
    const load = await runLoad({
      processes: o.concurrency,
      rate: o.rate,
      durationMs: o.timeLimitMs,
      drainInFlightMs: timing.inFlightWaitMs,
      signal: deps.signal,
      next: (p) => wl.generator.next(p),
      invoke: (p, op) => wl.client.invoke(p, op),
      history,
    });
    loadEndMs = null;
    phases.load = deps.signal.aborted ? 'interrupted' : `done (${load.invoked} ops, ${load.abandoned} abandoned)`;
    phase('load', deps.signal.aborted ? 'failed' : 'done');
    log(`load ${phases.load}; healing`);
    // The consumers stop before the heal: the drain reads with a fresh consumer of its own.
    await withDeadline(wl.client.stopConsumers(), timing.inFlightWaitMs, 'stopping consumers').catch((e: unknown) => log(String(e)));
    const n = nemesis;
    nemesis = null;
    // A heal or restart that fails (a node that crashes in recovery) does not end the run: recovery
    // and the drain still run on the nodes that are up, and the phase says which node failed and why.
    phase('heal', 'start');
    const healFrom = history.ops().length;
    const healed = await bounded(n.stop(), timing.recoverTimeoutMs, 'the nemesis final generator (heal)');
    phases.heal = healed.status === 'done' ? 'done' : `${healed.status}: ${[healed.error, ...nemesisErrors(history.ops().slice(healFrom))].join('; ')}`;
    phase('heal', healed.status);
    log(`heal: ${phases.heal}`);
    if (!deps.signal.aborted) {
      for (const op of wl.finalGenerator()) {
        const budget = op.f === 'recover' ? timing.recoverTimeoutMs : timing.drainTimeoutMs;
        phase(op.f, 'start');
        // The phase keeps its own deadline; this outer bound (budget + a margin for client start-up
        // and in-flight requests) makes sure a stuck client cannot hold the run past it: the client
        // processes are killed on their own deadlines (workloads/client-host.ts) well before.
        const r = await bounded(wl.client.final(op, Date.now() + budget, deps.signal), budget + timing.finalMarginMs, `the ${op.f} phase`);
        const status: PhaseStatus = r.status === 'done' ? (r.value === true ? 'done' : 'timeout') : r.status;
        phases[op.f] = deps.signal.aborted ? 'interrupted' : status === 'done' ? 'done' : status === 'timeout' && r.status === 'done' ? `incomplete after ${budget} ms` : `${status}: ${r.error ?? ''}`;
        phase(op.f, status);
        log(`${op.f}: ${phases[op.f]}`);
        if (op.f === 'recover' && status !== 'done') {
          log('the cluster did not recover; draining anyway');
        }
      }
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    log(`error: ${error}`);
    // the phase the error broke off gets its end line
    if (openPhase !== null) phase(openPhase, 'failed');
  } finally {
    deps.signal.removeEventListener('abort', onAbort);
    nemesisAbort.abort();
    if (nemesis !== null) {
      await withDeadline(nemesis.stop(), timing.recoverTimeoutMs, 'nemesis stop').catch((e: unknown) => log(`nemesis stop: ${String(e)}`));
    }
    if (roles !== null) await roles.stop();
    if (workload !== null) {
      await withDeadline(workload.client.stopConsumers(), 10_000, 'stopping consumers').catch((e: unknown) => log(String(e)));
      await withDeadline(workload.client.teardown(), 10_000, 'client teardown').catch((e: unknown) => log(String(e)));
    }
    if (backend !== null) {
      log('stopping the cluster');
      await withDeadline(backend.stop(), 60_000, 'stopping the cluster').catch((e: unknown) => {
        error ??= String(e);
        log(`stop: ${String(e)}`);
      });
    }
    history.close();
    if (ticker !== null) clearInterval(ticker);
  }
  if (scheduleOf?.schedule !== undefined) {
    // The schedule as carried out, so `faultline run --replay RUN_DIR` can play it again.
    test.nemesisSchedule = scheduleOf.schedule();
    writeJson(join(runDir, runFiles.test), test);
  }

  // Each node's logs, data listing and data into `nodes/<node>/` (the backend brings them from wherever
  // the node ran); everything after this reads the run directory only.
  const collected: Array<{ name: string; dataDir: string }> = [];
  // the backend's nodes now: a broker the membership fault added and did not remove is collected too
  for (const node of backend?.nodes() ?? nodes) {
    const nodeDir = join(runDir, runFiles.nodes, node.name);
    try {
      if (backend !== null && canAccess(backend)) collected.push({ name: node.name, dataDir: (await backend.collect(node.name, nodeDir)).dataDir });
      else {
        mkdirSync(nodeDir, { recursive: true });
        writeFileSync(join(nodeDir, 'data-listing.txt'), dataListing(node.dataDir));
        collected.push({ name: node.name, dataDir: node.dataDir });
      }
    } catch (err) {
      log(`collecting ${node.name}: ${(err as Error).message}`);
      collected.push({ name: node.name, dataDir: join(nodeDir, 'data') });
    }
  }

  const ops = history.ops() as History;
  // Each node's own log, read from its data directory now that every node has stopped (additive
  // `replicas` section: per-node divergence and lost-on-node; docs/replicas.md).
  const checked: CheckerResults & { replicas?: ReplicasResult } = deps.check(ops, test);
  if (nodes.length > 0) checked.replicas = checkReplicas(ops, readReplicaLogs(collected, topic));
  const results = writeResults({
    runDir,
    checked,
    test,
    phases,
    interrupted: deps.signal.aborted,
    error,
    history: ops,
    renderReport: deps.renderReport,
  });
  updateLatest(o.out, runDir);
  events.emit({ type: 'run-end', name, runDir, valid: results.valid, interrupted: deps.signal.aborted, ...(error === undefined ? {} : { error }) });
  return { runDir, results, exitCode: exitCodeOf(results.valid) };
}
