/**
 * The log workload: the queue workload's clients (workloads/queue.ts) read as a Kafka partition log
 * and checked for linearizability (checkers/linearizability, model `log`), on top of the queue
 * checker's anomalies.
 *
 * Op shapes (history.jsonl, as the queue workload records them):
 * - send (append): invoke {key, value} -> ok {key, value, offset}: the value was appended at `offset`
 *   of topic-partition `key`; fail: never appended; info (or ok without offset, acks=0): unknown.
 * - poll (read at offsets): ok {key: [[offset, value], ...]}: each pair says "offset holds value";
 *   one poll's pairs of one key are one read at those offsets.
 * - assign: consumer bookkeeping, not an op of the model.
 * Values are unique, so each read traces to one append.
 *
 * Verdict: false over unknown over true of the queue checker and the linearizability check. The
 * linearizability result (verdict, per-partition stats, and for a failure the longest partial
 * linearization and the ops that cannot be placed) is in results.json under `linearizability`.
 * The check is bounded by `linTimeLimitMs` in test.json (default 60 s) and yields 'unknown' beyond.
 */
import type { History } from '../checkers/history.ts';
import type { HistoryInput, RunResults } from '../checkers/index.ts';
import { mergeValid } from '../checkers/result.ts';
import { checkLogHistory } from '../checkers/linearizability/log-history.ts';
import type { LinResult } from '../checkers/linearizability/types.ts';
import type { HistoryRecorder } from '../harness/store/history-writer.ts';
import type { Rng } from '../harness/rng.ts';
import { queue, queueChecker, type QueueOptions, type QueueWorkload } from './queue.ts';

export type LogResults = RunResults & { linearizability: LinResult };

export const defaultLinTimeLimitMs = 60_000;

export function logChecker(history: History, test: Record<string, unknown>, input?: HistoryInput): LogResults {
  const base = queueChecker(history, test, input);
  const limit = test['linTimeLimitMs'];
  const linearizability = checkLogHistory(history, { timeLimitMs: typeof limit === 'number' && limit > 0 ? limit : defaultLinTimeLimitMs });
  return { ...base, valid: mergeValid([base.valid, linearizability.valid]), linearizability };
}

export type LogWorkload = Omit<QueueWorkload, 'name' | 'checker'> & {
  name: 'log';
  checker: (history: History, test: Record<string, unknown>, input?: HistoryInput) => LogResults;
};

/** The log workload for one run: the queue workload's client and generators, the log checker. */
export function log(o: QueueOptions, history: HistoryRecorder, rng: Rng): LogWorkload {
  const { name: _name, checker: _checker, ...rest } = queue(o, history, rng);
  return { ...rest, name: 'log', checker: logChecker };
}
