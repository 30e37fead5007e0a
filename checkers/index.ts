/**
 * `checkRun(history, test)`: the results.json object of design.md ("results.json") for a queue run.
 * Composes the queue checker (stats, anomalies) and the perf checker (availability, latencyMs); the
 * verdict is `mergeValid` of the two (false over unknown over true). `test` (the contents of
 * test.json) is echoed in and read for `idempotence` (boolean; anything else counts as false),
 * `acks` ("0", "1" or "all"; anything else is ignored), `nodes`, `replicationFactor` and `minInsync`
 * (underreplicated-ack is judged only with all three), and optionally `settleMs`. `input` carries what
 * the history reader left out (malformed lines), so a verdict never rests on discarded data. Pure;
 * never throws.
 */
import type { History, MalformedLine } from './history.ts';
import type { Availability, LatencyMs } from './perf.ts';
import { checkPerf } from './perf.ts';
import type { Anomalies, AnomalyType, ConsumerLag, HistoryPhases, QueueStats } from './queue.ts';
import { checkQueue } from './queue.ts';
import { mergeValid } from './result.ts';
import type { Validity } from './result.ts';

export interface RunResults {
  valid: Validity;
  test: Record<string, unknown>;
  stats: QueueStats;
  anomalies: Anomalies;
  availability: Availability;
  latencyMs: LatencyMs;
  /** the anomaly types that made the queue verdict false */
  breaking: AnomalyType[];
  /** the phases the history's own phase lines record */
  historyPhases: HistoryPhases;
  /** consumer lag in real time and unseen values over time */
  lag: ConsumerLag;
  /** present when a checker could not decide: what went wrong */
  errors?: string[];
  malformed?: string;
  malformedLines?: MalformedLine[];
}

/** What the history reader learned that the ops do not say (lines it left out). */
export interface HistoryInput {
  malformedLines?: readonly MalformedLine[];
}

function acksOf(test: Record<string, unknown>): '0' | '1' | 'all' | undefined {
  const a = test['acks'];
  return a === '0' || a === '1' || a === 'all' ? a : undefined;
}

/** nodes, replicationFactor and minInsync from test.json, when all three are positive integers. */
function replicationOf(test: Record<string, unknown>): { nodes: number; replicationFactor: number; minInsync: number } | undefined {
  const n = test['nodes'];
  const rf = test['replicationFactor'];
  const mi = test['minInsync'];
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x > 0;
  return ok(n) && ok(rf) && ok(mi) ? { nodes: n, replicationFactor: rf, minInsync: mi } : undefined;
}

export function checkRun(history: History, test: Record<string, unknown>, input: HistoryInput = {}): RunResults {
  const acks = acksOf(test);
  const replication = replicationOf(test);
  const queue = checkQueue(history, {
    idempotent: test['idempotence'] === true,
    ...(acks !== undefined ? { acks } : {}),
    ...(replication !== undefined ? { replication } : {}),
    ...(input.malformedLines !== undefined ? { malformedLines: input.malformedLines } : {}),
  });
  const settle = test['settleMs'];
  const perf = checkPerf(history, typeof settle === 'number' && settle >= 0 ? { settleMs: settle } : {});
  const out: RunResults = {
    valid: mergeValid([queue.valid, perf.valid]),
    test,
    stats: queue.stats,
    anomalies: queue.anomalies,
    availability: perf.availability,
    latencyMs: perf.latencyMs,
    breaking: queue.breaking,
    historyPhases: queue.phases,
    lag: queue.lag,
  };
  const errors = [queue.error, perf.error].filter((e): e is string => e !== undefined);
  if (errors.length > 0) out.errors = errors;
  if (queue.malformed !== undefined) out.malformed = queue.malformed;
  if (queue.malformedLines !== undefined) out.malformedLines = queue.malformedLines;
  return out;
}
