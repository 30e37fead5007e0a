/**
 * A hunt (design.md "CLI", "hunt.json"): for each planted bug, and for the clean broker, repeated runs
 * until the first invalid run or the budget, to measure whether and how fast the harness catches
 * known defects.
 *
 * Rules:
 * - Target t (a bug, or the clean broker) gets `budgetMs` of wall time. A run is started only
 *   while less than the budget has elapsed since the target's first run started; a started run
 *   finishes (so the last run may overshoot the budget by one run's length).
 * - A bug target stops at its first run whose verdict is `false`: caught, with the runs and seconds
 *   (from the target's start to the end of that run) it took. `unknown` runs do not count as
 *   detection.
 * - The clean broker runs for its own budget (`cleanBudgetMs`; default the per-bug budget, 0 skips it)
 *   and never stops early: its runs, invalid and unknown verdicts are counted; any invalid one fails
 *   the hunt (a false alarm of the harness, or a real broker bug).
 * - Run i of a target (0-based) uses seed (seed + i) mod 2^32 and fault-mix cell i mod cells (the
 *   clean broker: clean plan i mod plans, every cell of every bug plan), so one hunt seed reproduces
 *   every run, and every bug sees the same seeds.
 * - Every run is an ordinary `faultline run` (its own run directory) at the hunt's base options
 *   (acks=all, min.insync=2, RF=3 unless the flags say otherwise) with the plan's workload shape,
 *   broker settings and idempotence over them; the clean broker's run of a plan cell gets that plan's.
 * - Units: the config and the clock are milliseconds; the outcomes are hunt.json's contract, in
 *   seconds to one decimal (`budgetS`, `secondsToDetection`, `elapsedS`), converted once by `toS`.
 * Exit code: 0 when every bug was caught and the clean broker never invalid, 1 otherwise (2, a
 * harness error, is the caller's).
 */
import type { BugName } from '../../broker/bugs.ts';
import type { Validity } from '../../checkers/result.ts';
import { nemesisLabel, xml } from './campaign.ts';
import { formatFigure } from '../format.ts';
import type { NemesisFault, RunOptions } from './options.ts';
import type { RunEventSink } from './events.ts';

/**
 * The workload shape a plan may pick (Jepsen picks a nemesis and a workload per test): fields of the
 * run options that say what the load looks like, how big the cluster is and how the topic is
 * replicated, and, where a bug's window needs faults in a set order, the fault pace and the sequence
 * (`nemesisIntervalMs`, `nemesisSequence`); never how long it runs (the hunt's flags).
 */
export type HuntWorkload = Partial<Pick<RunOptions, 'nodes' | 'partitions' | 'minInsync' | 'replicationFactor' | 'consumers' | 'consumerMode' | 'concurrency' | 'rate' | 'nemesisIntervalMs' | 'nemesisSequence'>>;

/** How a hunt goes after one bug: the fault-mix cells it cycles, and run options the bug needs. */
export interface HuntPlan {
  cells: NemesisFault[][];
  idempotence?: boolean;
  /** broker settings the bug's runs need (over `--set`), e.g. a flush policy that promises durability */
  set?: Record<string, string>;
  /** the workload shape the bug's runs use (over the flags) */
  workload?: HuntWorkload;
  /** a fault or setting the bug needs that this build cannot provide yet (reported, never dropped) */
  needs?: string;
}

/** Followers leave the ISR 1 s after they stop catching up (the harness's default is 3 s). */
const fastIsr = { 'replica.lag.time.max.ms': '1000' } as const;
/**
 * Kafka's automatic preferred-leader rebalance checked every second (the default is 300 s): once the
 * preferred replica is back in the ISR it is elected again, so a replica that rejoined with a wrong
 * log becomes the leader whose log consumers and the final drain read.
 */
const rebalance = { 'leader.imbalance.check.interval.seconds': '1' } as const;

/** A 1.5 s broker session (heartbeats every 0.5 s): a node paused for one nemesis period is fenced. */
const shortSession = { 'broker.session.timeout.ms': '1500' } as const;

/**
 * Kafka's 9 s broker session (the harness's default is 3 s) and a 10 s replica lag: a follower paused
 * for one nemesis period stays unfenced and in the ISR, so it can still be elected when it resumes.
 */
const longSession = { 'broker.session.timeout.ms': '9000', 'replica.lag.time.max.ms': '10000' } as const;

/**
 * The fault mix and workload shape for each bug, chosen from the mechanism the bug breaks, as Jepsen
 * picks nemeses per test (docs/bugs.md has the reasoning and the measured figures). A plan never looks
 * at the verdict: it only decides which faults and load the runs get, and the clean broker runs every
 * plan too (`cleanPlans`), so a plan that would make a correct broker fail shows as a false alarm.
 * Every catalogue name must have a plan (checked by the type).
 */
export const huntPlans = {
  // a cut-off leader keeps appending and acking for the session timeout; the new leader never had it
  'ack-before-replication': { cells: [['partition-leader'], ['kill-leader']] },
  // a follower that cannot append (disk full) still fetches, and each fetch counts it at the log end:
  // it stays in the ISR without the records, and is elected when the leader dies
  // (or whose fetch responses crawl over a slow link)
  'hw-counts-sent-records': { cells: [['disk-full-follower', 'kill-leader'], ['bandwidth', 'kill-leader']] },
  // no loss shows it (the lone ISR member keeps what it acknowledged), but an acks=all ack while fewer
  // than min.insync nodes are up does (underreplicated-ack): min.insync=3 on RF=3, one follower down
  // longer than the 1 s lag time, and the ISR of two still acknowledges
  'hw-ignores-min-insync': { cells: [['pause-follower'], ['kill-follower']], workload: { minInsync: 3 }, set: fastIsr },
  // every node restarts at once: each replica comes up a follower and truncates to its checkpointed HW,
  // and the one elected lacks acknowledged records (KIP-101 case b)
  'truncate-to-hw': { cells: [['kill-all'], ['kill-majority']] },
  // a bridge partition cuts a follower off from its leader but not from the controller quorum: it drops
  // out of the ISR and stays unfenced; the leader dies and the controller elects it anyway
  // (or shuts down: the controlled shutdown elects at once, with no session timeout to wait out)
  'elect-outside-isr': { cells: [['partition-bridge', 'stop-leader'], ['partition-bridge', 'kill-leader']], set: fastIsr },
  // the old leader, paused or cut off, writes on in the same epoch; the suffix passes the epoch check
  'epoch-not-bumped': { cells: [['pause-leader'], ['partition-leader'], ['kill-leader']] },
  // one partition, so the slow link (bandwidth-leader, 8 to 32 kbit/s, below the replication rate) and
  // the node fault land on the same pair of nodes: the preferred leader, paused past its 1.5 s session
  // (fenced, the other replica elected) or stopped, comes back with seconds of acknowledged records to
  // fetch over the slow link; with the bug it joins the ISR as soon as it is unfenced, still below the
  // HW, and the rebalance elects it at once. Not caught yet on a real cluster (docs/bugs.md says why)
  'isr-join-below-hw': { cells: [['bandwidth-leader', 'pause-leader'], ['bandwidth-leader', 'stop-leader']], set: { ...fastIsr, ...rebalance, ...shortSession }, workload: { partitions: 1, rate: 1000, concurrency: 16 } },
  // consumers read an isolated leader's uncommitted suffix, which the failover truncates and overwrites
  'consumer-reads-past-hw': { cells: [['partition-leader'], ['kill-leader']] },
  // a sequence: a paused follower (unfenced and in the ISR for the 9 s session) holds the HW back; a
  // graceful stop of the leader elects the other follower, whose HW the bug sets to its log end,
  // exposing what the paused one lacks; consumers read it; stopping that leader in turn elects the
  // paused one, which overwrites those offsets. Five nodes, so the controller quorum outlives one node
  // paused and two stopped; faults every 2 s so consumers read inside the window
  'new-leader-hw-at-leo': { cells: [['pause-follower', 'stop-leader', 'stop-leader']], set: longSession, workload: { nodes: 5, partitions: 1, rate: 1000, concurrency: 16, consumers: 4, nemesisSequence: true, nemesisIntervalMs: 2_000 } },
  // a cut-off leader's unreplicated suffix in its epoch survives its return as follower; the rebalance
  // elects it again, and the drain reads the suffix where the others hold other records
  'divergence-epoch-only': { cells: [['partition-leader']], set: rebalance },
  // a request timeout makes the producer retry a batch the leader already appended
  'idempotent-replay-appended': { cells: [['pause-leader'], ['partition-leader']], idempotence: true },
  // a coordinator cut off from the others acknowledges commits with acks=1; the failover loses them and
  // group members resume below an acknowledged commit (resume-mismatch): every consumer in the group
  'offsets-acks-1': { cells: [['partition-one'], ['kill-random']], workload: { consumerMode: 'subscribe' } },
  // Under log.flush.interval.messages=1 every acknowledged write is fsynced, so a power cut of every
  // node loses nothing (test/nemesis/power-loss.int.test.ts); with the fsync skipped it loses the tail.
  'flush-skipped': { cells: [['power-loss-all']], set: { 'log.flush.interval.messages': '1' } },
} as const satisfies Record<BugName, { cells: readonly (readonly NemesisFault[])[]; idempotence?: boolean; set?: Record<string, string>; workload?: HuntWorkload; needs?: string }>;

/** A bug's plan as the mutable shape the hunt reads. */
export function planOf(name: BugName): HuntPlan {
  return huntPlans[name] as unknown as HuntPlan;
}

/** One cell of one plan, with that plan's options: what one run of the clean broker gets. */
export interface CleanPlan {
  cell: NemesisFault[];
  idempotence: boolean;
  set: Record<string, string>;
  workload: HuntWorkload;
  /** the bug whose plan it is */
  from: BugName;
}

/**
 * The clean broker's runs: every cell of every bug plan, with that plan's options, so each plan is also
 * a check of the harness against a correct broker (a plan that failed a correct broker would be a false
 * alarm, not a detection). Ordered round-robin over the plans (first cells of every plan, then second
 * cells, ...), duplicates (same faults and options) dropped, so a short clean budget covers most plans.
 */
export function cleanPlans(): CleanPlan[] {
  const plans = (Object.keys(huntPlans) as BugName[]).map((n): [BugName, HuntPlan] => [n, planOf(n)]);
  const out: CleanPlan[] = [];
  const seen = new Set<string>();
  const depth = Math.max(...plans.map(([, p]) => p.cells.length));
  for (let i = 0; i < depth; i++) {
    for (const [name, p] of plans) {
      const cell = p.cells[i];
      if (cell === undefined) continue;
      const c: CleanPlan = { cell: [...cell], idempotence: p.idempotence === true, set: { ...p.set }, workload: { ...p.workload }, from: name };
      const key = JSON.stringify([c.cell, c.idempotence, c.set, c.workload]);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(c);
    }
  }
  return out;
}

/** What the hunt needs from one finished run. */
export interface HuntRunResult {
  valid: Validity;
  anomalies: Record<string, { count: number }>;
  runDir: string;
  error?: string;
}

export type HuntRunner = (o: RunOptions) => Promise<HuntRunResult>;

export interface BugOutcome {
  name: BugName;
  caught: boolean;
  runs: number;
  secondsToDetection: number | null;
  /** the detecting run's anomaly counts (non-zero only); empty when not caught */
  anomalies: Record<string, number>;
  /** the detecting run's fault mix; when not caught, the cells cycled, comma-joined */
  nemesis: string;
  /** the detecting run's directory; when not caught, the last run's (null: no run) */
  runDir: string | null;
  /** seconds the target ran in total */
  elapsedS: number;
  invalid: number;
  unknown: number;
  needs?: string;
  error?: string;
}

export interface CleanOutcome {
  runs: number;
  invalid: number;
  unknown: number;
  elapsedS: number;
  /** run directories of the invalid runs (false alarms to look at) */
  invalidRunDirs: string[];
}

export interface HuntSummary {
  budgetS: number;
  cleanBudgetS: number;
  seed: number;
  startedAt: string;
  bugs: BugOutcome[];
  clean: CleanOutcome;
  exitCode: 0 | 1;
}

export interface HuntConfig {
  base: RunOptions;
  bugs: BugName[];
  budgetMs: number;
  cleanBudgetMs: number;
  /** fault-mix cells for every target instead of the per-bug plans (`--nemesis`) */
  cellsOverride: NemesisFault[][] | null;
}

export interface HuntDeps {
  runner: HuntRunner;
  /** monotonic milliseconds */
  nowMs: () => number;
  log: (msg: string) => void;
  signal?: AbortSignal;
  /** cell events (harness/run/events.ts): cell i is bug i of the config, the clean broker the last */
  events?: RunEventSink;
}

/** The hunt's cells as the event stream names them: each bug, then the clean broker. */
export function huntCells(c: Pick<HuntConfig, 'bugs'>): string[] {
  return [...c.bugs, 'clean broker'];
}

function nonZero(anomalies: Record<string, { count: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [t, a] of Object.entries(anomalies)) if (a.count > 0) out[t] = a.count;
  return out;
}

/** The options of run i of a target: the base, the plan's workload shape and settings, cell i mod cells. */
export function runOptionsFor(base: RunOptions, bug: BugName | null, cells: NemesisFault[][], i: number, idempotence: boolean, set: Record<string, string> = {}, workload: HuntWorkload = {}): RunOptions {
  return { ...base, ...workload, bug, nemesis: cells[i % cells.length]!, seed: (base.seed + i) >>> 0, idempotence: base.idempotence || idempotence, set: { ...base.set, ...set }, json: false };
}

/** A plan's workload without what shapes its own cells' faults (pace, sequence, cluster size). */
function withoutFaultShape(w: HuntWorkload): HuntWorkload {
  const { nemesisIntervalMs: _i, nemesisSequence: _s, nodes: _n, ...rest } = w;
  return rest;
}

/** Runs one bug's target until the first invalid run or the budget. */
export async function huntBug(name: BugName, c: HuntConfig, d: HuntDeps): Promise<BugOutcome> {
  const plan = planOf(name);
  const cells = c.cellsOverride ?? plan.cells;
  // The user's own cells (`--nemesis`) run as the flags say: the plan's fault pace, sequence and
  // cluster size belong to its own cells, and the clean broker's runs of those cells get none of them.
  const workload = c.cellsOverride === null ? (plan.workload ?? {}) : withoutFaultShape(plan.workload ?? {});
  const t0 = d.nowMs();
  let runs = 0;
  let invalid = 0;
  let unknown = 0;
  let last: HuntRunResult | null = null;
  const cell = c.bugs.indexOf(name);
  while (d.nowMs() - t0 < c.budgetMs && d.signal?.aborted !== true) {
    const o = runOptionsFor(c.base, name, cells, runs, plan.idempotence === true, plan.set ?? {}, workload);
    d.events?.emit({ type: 'cell-start', cell, run: runs + 1, detail: `${nemesisLabel(o.nemesis, o.nemesisSequence)}, seed ${o.seed}` });
    const r = await d.runner(o);
    runs++;
    last = r;
    d.events?.emit({ type: 'cell-end', cell, run: runs, valid: r.valid, runDir: r.runDir });
    d.log(`hunt ${name}: run ${runs} (${nemesisLabel(o.nemesis, o.nemesisSequence)}, seed ${o.seed}): valid=${String(r.valid)} -> ${r.runDir}`);
    if (r.valid === 'unknown') unknown++;
    if (r.valid === false) {
      invalid++;
      d.events?.emit({ type: 'cell-done', cell, verdict: `caught in ${runs} runs, ${toS(d.nowMs() - t0)} s`, ok: true });
      return {
        name, caught: true, runs, secondsToDetection: toS(d.nowMs() - t0), anomalies: nonZero(r.anomalies), nemesis: nemesisLabel(o.nemesis, o.nemesisSequence),
        runDir: r.runDir, elapsedS: toS(d.nowMs() - t0), invalid, unknown, ...(plan.needs === undefined ? {} : { needs: plan.needs }),
      };
    }
  }
  d.events?.emit({ type: 'cell-done', cell, verdict: `not caught in ${runs} runs`, ok: false });
  return {
    name, caught: false, runs, secondsToDetection: null, anomalies: {}, nemesis: cells.map((cell) => nemesisLabel(cell, workload.nemesisSequence ?? c.base.nemesisSequence)).join(','), runDir: last?.runDir ?? null,
    elapsedS: toS(d.nowMs() - t0), invalid, unknown, ...(plan.needs === undefined ? {} : { needs: plan.needs }), ...(last?.error === undefined ? {} : { error: last.error }),
  };
}

/**
 * Runs the clean broker for its budget, counting invalid and unknown verdicts. Run i gets clean plan
 * i mod plans (`cleanPlans`: every bug plan's cells and options), or, with `--nemesis`, cell i mod cells
 * at the base options.
 */
export async function huntClean(c: HuntConfig, d: HuntDeps): Promise<CleanOutcome> {
  const plans: CleanPlan[] = c.cellsOverride === null ? cleanPlans() : c.cellsOverride.map((cell) => ({ cell, idempotence: false, set: {}, workload: {}, from: c.bugs[0]! }));
  const t0 = d.nowMs();
  const out: CleanOutcome = { runs: 0, invalid: 0, unknown: 0, elapsedS: 0, invalidRunDirs: [] };
  const cell = c.bugs.length;
  while (d.nowMs() - t0 < c.cleanBudgetMs && d.signal?.aborted !== true) {
    const p = plans[out.runs % plans.length]!;
    const o = runOptionsFor(c.base, null, [p.cell], 0, p.idempotence, p.set, p.workload);
    o.seed = (c.base.seed + out.runs) >>> 0;
    d.events?.emit({ type: 'cell-start', cell, run: out.runs + 1, detail: `${nemesisLabel(o.nemesis, o.nemesisSequence)}, seed ${o.seed}` });
    const r = await d.runner(o);
    out.runs++;
    d.events?.emit({ type: 'cell-end', cell, run: out.runs, valid: r.valid, runDir: r.runDir });
    d.log(`hunt clean: run ${out.runs} (${nemesisLabel(o.nemesis, o.nemesisSequence)}, seed ${o.seed}): valid=${String(r.valid)} -> ${r.runDir}`);
    if (r.valid === false) {
      out.invalid++;
      out.invalidRunDirs.push(r.runDir);
    } else if (r.valid === 'unknown') out.unknown++;
  }
  out.elapsedS = toS(d.nowMs() - t0);
  d.events?.emit({ type: 'cell-done', cell, verdict: out.runs === 0 ? 'skipped' : out.invalid === 0 ? `no false alarm in ${out.runs} runs` : `${out.invalid} of ${out.runs} runs INVALID`, ok: out.runs === 0 ? null : out.invalid === 0 });
  return out;
}

export function huntExitCode(bugs: BugOutcome[], clean: CleanOutcome): 0 | 1 {
  return bugs.every((b) => b.caught) && clean.invalid === 0 ? 0 : 1;
}

export async function runHunt(c: HuntConfig, d: HuntDeps, startedAt: Date): Promise<HuntSummary> {
  const bugs: BugOutcome[] = [];
  d.events?.emit({ type: 'plan', kind: 'hunt', cells: huntCells(c) });
  for (const name of c.bugs) {
    if (d.signal?.aborted === true) break;
    bugs.push(await huntBug(name, c, d));
  }
  const clean = await huntClean(c, d);
  return { budgetS: toS(c.budgetMs), cleanBudgetS: toS(c.cleanBudgetMs), seed: c.base.seed, startedAt: startedAt.toISOString(), bugs, clean, exitCode: huntExitCode(bugs, clean) };
}

/** Milliseconds as hunt.json's seconds, to one decimal: the hunt's only ms -> s conversion. */
function toS(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function anomalyText(a: Record<string, number>): string {
  const parts = Object.entries(a).map(([t, n]) => `${t}:${n}`);
  return parts.length === 0 ? '-' : parts.join(' ');
}

/** The table printed at the end (and pasted in the README): one row per bug, then the clean broker. */
export function formatHuntTable(s: Pick<HuntSummary, 'bugs' | 'clean'>): string {
  const header = ['bug', 'caught', 'runs', 'seconds', 'anomalies', 'fault mix'];
  const body = s.bugs.map((b) => [b.name, b.caught ? 'yes' : 'NO', String(b.runs), b.secondsToDetection === null ? `-(${formatFigure(b.elapsedS)})` : formatFigure(b.secondsToDetection), anomalyText(b.anomalies), b.nemesis]);
  body.push(['(clean broker)', s.clean.invalid === 0 ? 'no false alarm' : `${s.clean.invalid} INVALID`, String(s.clean.runs), formatFigure(s.clean.elapsedS), `unknown:${s.clean.unknown}`, '']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...body.map(line)].join('\n');
}

/** JUnit XML: one testcase per bug (failure when not caught) and one for the clean broker (failure when any run was invalid). */
export function huntJunitXml(s: HuntSummary): string {
  const cases = s.bugs.map((b) => {
    const summary = b.caught
      ? `caught after ${b.runs} runs, ${b.secondsToDetection} s (${anomalyText(b.anomalies)}) under ${b.nemesis}`
      : `not caught in ${b.runs} runs, ${b.elapsedS} s, under ${b.nemesis}${b.needs === undefined ? '' : `; needs ${b.needs}`}`;
    const body = b.caught ? '' : `<failure message="${xml(summary)}">${xml(b.runDir ?? '')}</failure>`;
    return `    <testcase classname="faultline.hunt" name="${xml(b.name)}" time="${b.elapsedS.toFixed(1)}">${body}<system-out>${xml(`${summary}\n${b.runDir ?? ''}`)}</system-out></testcase>`;
  });
  const cleanSummary = `${s.clean.runs} runs: ${s.clean.invalid} invalid, ${s.clean.unknown} unknown`;
  const cleanBody = s.clean.invalid === 0 ? '' : `<failure message="${xml(cleanSummary)}">${xml(s.clean.invalidRunDirs.join('\n'))}</failure>`;
  cases.push(`    <testcase classname="faultline.hunt" name="clean broker" time="${s.clean.elapsedS.toFixed(1)}">${cleanBody}<system-out>${xml(cleanSummary)}</system-out></testcase>`);
  const failures = s.bugs.filter((b) => !b.caught).length + (s.clean.invalid > 0 ? 1 : 0);
  const time = s.bugs.reduce((t, b) => t + b.elapsedS, s.clean.elapsedS);
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="${cases.length}" failures="${failures}" errors="0" time="${time.toFixed(1)}">
  <testsuite name="faultline hunt" tests="${cases.length}" failures="${failures}" errors="0" time="${time.toFixed(1)}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
