/**
 * `checkRun(history, test)`: the results.json object of design.md ("results.json") for a queue run.
 * Composes the queue checker (stats, anomalies) and the perf checker (availability, latencyMs); the
 * verdict is `mergeValid` of the two (false over unknown over true). `test` (the contents of
 * test.json) is echoed in and read for `idempotence` (boolean; anything else counts as false) and
 * `acks` ("0", "1" or "all"; anything else is ignored), and optionally `settleMs`. Pure; never throws.
 */
import type { History } from './history.ts';
import type { Availability, LatencyMs } from './perf.ts';
import { checkPerf } from './perf.ts';
import type { Anomalies, QueueStats } from './queue.ts';
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
  /** present when a checker could not decide: what went wrong */
  errors?: string[];
  malformed?: string;
}

function acksOf(test: Record<string, unknown>): '0' | '1' | 'all' | undefined {
  const a = test['acks'];
  return a === '0' || a === '1' || a === 'all' ? a : undefined;
}

export function checkRun(history: History, test: Record<string, unknown>): RunResults {
  const acks = acksOf(test);
  const queue = checkQueue(history, { idempotent: test['idempotence'] === true, ...(acks !== undefined ? { acks } : {}) });
  const settle = test['settleMs'];
  const perf = checkPerf(history, typeof settle === 'number' && settle >= 0 ? { settleMs: settle } : {});
  const out: RunResults = {
    valid: mergeValid([queue.valid, perf.valid]),
    test,
    stats: queue.stats,
    anomalies: queue.anomalies,
    availability: perf.availability,
    latencyMs: perf.latencyMs,
  };
  const errors = [queue.error, perf.error].filter((e): e is string => e !== undefined);
  if (errors.length > 0) out.errors = errors;
  if (queue.malformed !== undefined) out.malformed = queue.malformed;
  return out;
}
