/**
 * The queue checker (design.md "history.jsonl" and "results.json"; Jepsen's `tests/kafka.clj` is the
 * anchor; docs/results.md is the user's account). `checkQueue(history, opts)` is pure and never throws
 * (an exception inside becomes `valid: 'unknown'` with `error`).
 *
 * Structure: one indexing pass (queue/index-history.ts) validates the ops and gathers sends, the version
 * order, first reads, consumer events, commits and phases; then one function per anomaly
 * (queue/rules.ts, each with its rule in its doc) and the consumer lag (queue/lag.ts) read that index.
 * What each anomaly means for the verdict is data (queue/anomalies.ts: `ANOMALIES`).
 * Cost: one pass over the history, a few over the sends and the consumer events, one sort for the lag.
 *
 * Inputs it looks at: client `send` (invoke + completion), `poll` (`ok` completions; an empty poll is
 * `{}`), `assign`, `reposition` and `commit` ops, and harness `phase` lines; nemesis ops and unknown
 * `f`s are ignored. Keys are topic-partitions; values are unique integers (a read payload that is not
 * an integer is kept, and is an unexpected read). A send's verdict is its completion's `type`; a send
 * invoked and never completed (a crashed run) counts as indeterminate, like `info`.
 *
 * Version order: for each key, the offsets and values that `ok` polls read plus the offsets that `ok`
 * send acknowledgements report (an `ok` send without an offset, as under acks=0, adds nothing): the
 * "offsets known to exist".
 *
 * Anomalies, each `{ count, examples }` with at most `maxExamples` examples (each naming its history
 * lines, 1-based), all present even when 0: lost-write, unseen, duplicate, inconsistent-offsets,
 * aborted-read, nonmonotonic-send, poll-skip, nonmonotonic-poll, unexpected-read, commit-regress,
 * resume-mismatch, reposition, underreplicated-ack (needs `acks` and `replication`); the rule of each
 * is the doc of its function in queue/rules.ts.
 *
 * Completeness, from the history alone: a history with harness `phase` lines read everything back when
 * its last `drain` phase line has status `done`; a history with no phase line at all (another tool's)
 * is taken as complete.
 *
 * Validity: `false` when some anomaly breaks the guarantee (`breaksValidity`: always, or when the
 * producer is idempotent) and is not explained away: by an incomplete drain
 * (`explainableByIncompleteDrain`) when the drain did not complete, or by discarded lines
 * (`explainableByDiscardedLines`) when some line was malformed or missing by `index`. Otherwise
 * `'unknown'` when nothing was tested (no send), a line was discarded, the drain did not complete, or a
 * breaking anomaly was explained away; `true` otherwise.
 *
 * Stats: sends (invoked), acked, sendFailed, sendIndeterminate (`info` or never completed), recovered
 * (indeterminate sends whose value some `ok` poll read), ackedWithoutOffset, polls (`ok`), emptyPolls,
 * pollsFailed (`fail`/`info`), valuesRead (distinct), readsTotal (pairs read), readsOfUnknownValues
 * (distinct values read that no send carried), assigns, repositions, commits (invoked), commitsOk,
 * commitsFailed, commitsIndeterminate, keys, malformedOps (lines or ops left out: the parser's and the
 * checker's), missingLines (indexes absent between ops), phaseLines.
 */
import type { History, MalformedLine } from './history.ts';
import { checkSafe } from './result.ts';
import type { Validity } from './result.ts';
import { ANOMALIES, ANOMALY_TYPES, breakingAnomalies } from './queue/anomalies.ts';
import type { AnomalyType } from './queue/anomalies.ts';
import { indexHistory } from './queue/index-history.ts';
import type { QueueIndex } from './queue/index-history.ts';
import { consumerLag } from './queue/lag.ts';
import type { ConsumerLag } from './queue/lag.ts';
import * as rules from './queue/rules.ts';
import type { Anomaly } from './queue/rules.ts';

export { ALWAYS_BAD, ANOMALIES, ANOMALY_TYPES, IDEMPOTENT_BAD, breakingAnomalies, breaks } from './queue/anomalies.ts';
export type { AnomalyRule, AnomalyType, Breaks, VerdictContext } from './queue/anomalies.ts';
export type { Anomaly } from './queue/rules.ts';
export type { ConsumerLag, KeyLag, LagPoint } from './queue/lag.ts';

export type Anomalies = Record<AnomalyType, Anomaly>;

export interface QueueStats {
  sends: number;
  acked: number;
  sendFailed: number;
  sendIndeterminate: number;
  recovered: number;
  ackedWithoutOffset: number;
  polls: number;
  emptyPolls: number;
  pollsFailed: number;
  valuesRead: number;
  readsTotal: number;
  readsOfUnknownValues: number;
  assigns: number;
  repositions: number;
  commits: number;
  commitsOk: number;
  commitsFailed: number;
  commitsIndeterminate: number;
  keys: number;
  malformedOps: number;
  missingLines: number;
  phaseLines: number;
}

export interface QueueOptions {
  idempotent: boolean;
  acks?: '0' | '1' | 'all';
  /** the run's nodes, replication factor and min.insync.replicas (underreplicated-ack needs them) */
  replication?: { nodes: number; replicationFactor: number; minInsync: number };
  /** examples kept per anomaly type (default 16) */
  maxExamples?: number;
  /** lines the history reader left out (`readHistory(...).malformed`) */
  malformedLines?: readonly MalformedLine[];
}

/** The run's phases as its history's `phase` lines tell them (the last status of each). */
export interface HistoryPhases {
  /** the history has at least one phase line */
  recorded: boolean;
  load: string;
  heal: string;
  recover: string;
  drain: string;
  /** drain done, or no phase line at all */
  drainComplete: boolean;
}

export type QueueResult = {
  valid: Validity;
  acks?: '0' | '1' | 'all';
  idempotent: boolean;
  stats: QueueStats;
  anomalies: Anomalies;
  /** the anomaly types that made the verdict false (empty unless it is false) */
  breaking: AnomalyType[];
  phases: HistoryPhases;
  lag: ConsumerLag;
  /** the first malformed line's description, when there was one */
  malformed?: string;
  /** the first malformed lines (at most maxExamples) */
  malformedLines?: MalformedLine[];
  error?: string;
};

export const DEFAULT_MAX_EXAMPLES = 16;

/** Every anomaly rule, by type (one function each, queue/rules.ts). */
const RULES: Record<AnomalyType, (ix: QueueIndex, max: number, ctx: rules.ReplicationContext) => Anomaly> = {
  'lost-write': rules.lostWrites,
  unseen: rules.unseen,
  duplicate: rules.duplicates,
  'inconsistent-offsets': rules.inconsistentOffsets,
  'aborted-read': rules.abortedReads,
  'nonmonotonic-send': rules.nonmonotonicSends,
  'poll-skip': rules.pollSkips,
  'nonmonotonic-poll': rules.nonmonotonicPolls,
  'unexpected-read': rules.unexpectedReads,
  'commit-regress': rules.commitRegressions,
  'resume-mismatch': rules.resumeMismatches,
  reposition: rules.repositions,
  'underreplicated-ack': rules.underreplicatedAcks,
};

const PHASE_NAMES = ['load', 'heal', 'recover', 'drain'] as const;

/** The phases a history records (completeness judged from the history alone). */
export function historyPhases(ix: Pick<QueueIndex, 'phases'>): HistoryPhases {
  const last: Record<string, string> = {};
  for (const p of ix.phases) last[p.name] = p.status;
  const out = { recorded: ix.phases.length > 0 } as HistoryPhases;
  for (const n of PHASE_NAMES) out[n] = last[n] ?? 'absent';
  out.drainComplete = !out.recorded || out.drain === 'done';
  return out;
}

function check(history: History, opts: QueueOptions): QueueResult {
  const max = opts.maxExamples ?? DEFAULT_MAX_EXAMPLES;
  const ix = indexHistory(history, opts.malformedLines ?? []);
  const anomalies = {} as Anomalies;
  const ctx: rules.ReplicationContext = { ...(opts.acks === undefined ? {} : { acks: opts.acks }), ...(opts.replication === undefined ? {} : { replication: opts.replication }) };
  for (const t of ANOMALY_TYPES) anomalies[t] = RULES[t](ix, max, ctx);
  const c = ix.counts;
  let recovered = 0;
  for (const [value, s] of ix.sends) if (s.status === 'info' && ix.firstRead.has(value)) recovered++;
  let unknownValues = 0;
  for (const v of ix.firstRead.keys()) if (typeof v !== 'number' || !ix.sends.has(v)) unknownValues++;
  const stats: QueueStats = {
    sends: c.sends,
    acked: c.acked,
    sendFailed: c.sendFailed,
    sendIndeterminate: c.sendIndeterminate,
    recovered,
    ackedWithoutOffset: c.ackedWithoutOffset,
    polls: c.polls,
    emptyPolls: c.emptyPolls,
    pollsFailed: c.pollsFailed,
    valuesRead: ix.firstRead.size,
    readsTotal: c.readsTotal,
    readsOfUnknownValues: unknownValues,
    assigns: c.assigns,
    repositions: anomalies.reposition.count,
    commits: c.commits,
    commitsOk: c.commitsOk,
    commitsFailed: c.commitsFailed,
    commitsIndeterminate: c.commitsIndeterminate,
    keys: ix.keyNames.length,
    malformedOps: ix.malformed.length,
    missingLines: ix.missingLines,
    phaseLines: ix.phases.length,
  };
  const phases = historyPhases(ix);
  const { valid, breaking } = queueVerdict(anomalies, { idempotent: opts.idempotent, drainComplete: phases.drainComplete, discardedLines: stats.malformedOps + stats.missingLines }, stats.sends);
  const result: QueueResult = { valid, idempotent: opts.idempotent, stats, anomalies, breaking, phases, lag: consumerLag(ix) };
  if (opts.acks !== undefined) result.acks = opts.acks;
  const first = ix.malformed[0];
  if (first !== undefined) {
    result.malformed = `line ${first.line}: ${first.why}`;
    result.malformedLines = ix.malformed.slice(0, max);
  }
  if (stats.missingLines > 0 && result.malformed === undefined) result.malformed = `${stats.missingLines} line(s) missing by index`;
  return result;
}

/** The validity rule (module docstring) over counted anomalies, with the types that made it false. */
export function queueVerdict(anomalies: Anomalies, ctx: { idempotent: boolean; drainComplete: boolean; discardedLines: number }, sends: number): { valid: Validity; breaking: AnomalyType[] } {
  const breaking = breakingAnomalies(anomalies, ctx);
  if (breaking.length > 0) return { valid: false, breaking };
  const explainedAway = breakingAnomalies(anomalies, { ...ctx, drainComplete: true, discardedLines: 0 }).length > 0;
  if (sends === 0 || ctx.discardedLines > 0 || !ctx.drainComplete || explainedAway) return { valid: 'unknown', breaking };
  return { valid: true, breaking };
}

/** The design's validity rule for a complete history (kept for callers of the first version). */
export function queueValidity(anomalies: Anomalies, idempotent: boolean, stats: Pick<QueueStats, 'sends' | 'malformedOps'>): Validity {
  return queueVerdict(anomalies, { idempotent, drainComplete: true, discardedLines: stats.malformedOps }, stats.sends).valid;
}

/** An anomaly table with every type at count 0 (what an unknown verdict still reports). */
export function emptyAnomalies(): Anomalies {
  const out = {} as Anomalies;
  for (const t of ANOMALY_TYPES) out[t] = { count: 0, examples: [] };
  return out;
}

function emptyStats(): QueueStats {
  return {
    sends: 0, acked: 0, sendFailed: 0, sendIndeterminate: 0, recovered: 0, ackedWithoutOffset: 0, polls: 0, emptyPolls: 0,
    pollsFailed: 0, valuesRead: 0, readsTotal: 0, readsOfUnknownValues: 0, assigns: 0, repositions: 0, commits: 0, commitsOk: 0,
    commitsFailed: 0, commitsIndeterminate: 0, keys: 0, malformedOps: 0, missingLines: 0, phaseLines: 0,
  };
}

/** Check a history as a queue; never throws (an exception becomes `valid: 'unknown'`). */
export function checkQueue(history: History, opts: QueueOptions): QueueResult {
  const r = checkSafe((h: History) => check(h, opts), history);
  if ('stats' in r) return r;
  return {
    valid: 'unknown',
    idempotent: opts.idempotent,
    ...(opts.acks !== undefined ? { acks: opts.acks } : {}),
    stats: emptyStats(),
    anomalies: emptyAnomalies(),
    breaking: [],
    phases: historyPhases({ phases: [] }),
    lag: { worstMs: null, perKey: {}, overTime: { bucketMs: 100, points: [] } },
    error: r.error,
  };
}

/** For docs and tests: every anomaly's rule data, in ANOMALY_TYPES order. */
export const anomalyTable = (): Array<{ type: AnomalyType } & (typeof ANOMALIES)[AnomalyType]> => ANOMALY_TYPES.map((type) => ({ type, ...ANOMALIES[type] }));
