/**
 * Linearizability of a run's history.jsonl (already parsed, `checkers/history.ts` ops) against the
 * `log` model: sends are appends at their acknowledged offsets, polls are reads at offsets
 * (from-queue-history.ts), one partition per topic-partition key. Nemesis ops are ignored; time is
 * `timeNs`. Pure and never throws: an op that cannot be interpreted gives `valid: 'unknown'`.
 * `logHistoryHtml` renders the same check as the HTML view (html.ts).
 */
import type { History } from '../history.ts';
import { checkOperations } from './engine.ts';
import { logSpec } from './models/log.ts';
import { toLinOps } from './models/common.ts';
import { pairEvents, type Event, type EventType } from './parse/ops.ts';
import type { CheckOptions, LinOp, LinResult } from './types.ts';
import type { LogInput, LogOutput } from './models/log.ts';
import type { LinReport } from './check.ts';
import { renderLinHtml } from './html.ts';

export function historyEvents(history: History): Event[] {
  const events: Event[] = [];
  for (const op of history) {
    if (typeof op.process !== 'number') continue;
    events.push({ process: op.process, type: op.type as EventType, f: op.f, value: op.value, fields: {}, time: op.timeNs });
  }
  return events;
}

export function checkLogHistory(history: History, options: CheckOptions = {}): LinResult {
  return checkLogHistoryReport(history, options).result;
}

/** As `checkLogHistory`, plus the checked ops with labels, for `renderLinHtml` (the run's linearizability.html). */
export function checkLogHistoryReport(history: History, options: CheckOptions = {}): LinReport {
  const spec = logSpec();
  let ops: LinOp<LogInput, LogOutput>[];
  try {
    ops = toLinOps(spec, pairEvents(historyEvents(history)));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { result: { valid: 'unknown', model: 'log', ops: 0, partitions: [], elapsedMs: 0, reason }, ops: [] };
  }
  const result = checkOperations(spec.model, ops, options);
  return { result, ops: ops.map((op) => ({ ...op, label: spec.model.describeOp(op.input, op.output) })) };
}

/** The HTML view of a run's log-model check (for the run directory's linearizability.html). */
export function logHistoryHtml(history: History, title: string, options: CheckOptions = {}): string {
  return renderLinHtml(checkLogHistoryReport(history, options), title);
}
