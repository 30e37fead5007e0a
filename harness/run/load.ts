/**
 * The load phase: `concurrency` client processes, each with at most one op in flight, together issuing
 * at most `rate` ops per second until the time limit or an abort.
 *
 * Invariants:
 * - Process i starts its ops on a fixed grid: start + i*period/n + k*period, period = n / rate seconds;
 *   a process that falls behind skips grid slots rather than bursting to catch up, so the total rate
 *   never exceeds `rate` (over any window of one period, at most n ops start).
 * - Every invoke is recorded before the client is called and every completion after it returns, with
 *   the same process and f; no new op starts after the deadline or an abort.
 * - Waiting for in-flight ops at the end is bounded by `drainInFlightMs`: an op still running then is
 *   completed at once as `info` (its invoke's value plus `error: "ABANDONED: ..."`), indeterminate, and
 *   a completion the client gives later is not recorded.
 */
import type { HistoryRecorder } from '../store/history-writer.ts';
import { sleep } from '../util/time.ts';

export interface LoadOptions<I extends { f: string; value: unknown }, C extends { type: 'ok' | 'fail' | 'info'; value: unknown }> {
  processes: number;
  rate: number;
  durationMs: number;
  drainInFlightMs: number;
  signal: AbortSignal;
  next(process: number): I;
  invoke(process: number, op: I): Promise<C>;
  history: HistoryRecorder;
  /** injectable for tests */
  nowMs?: () => number;
  sleepMs?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface LoadSummary {
  invoked: number;
  completed: number;
  /** ops still in flight when the bounded end-of-load wait ran out */
  abandoned: number;
}

export async function runLoad<I extends { f: string; value: unknown }, C extends { type: 'ok' | 'fail' | 'info'; value: unknown }>(
  o: LoadOptions<I, C>,
): Promise<LoadSummary> {
  const now = o.nowMs ?? Date.now;
  const sleepFor = o.sleepMs ?? sleep;
  const start = now();
  const deadline = start + o.durationMs;
  const periodMs = (o.processes / o.rate) * 1000;
  let invoked = 0;
  let completed = 0;
  let closed = false;
  /** per process, the op in flight (its invoke's f and value) */
  const inFlight = new Map<number, I>();
  const maxOpsPerProcess = Math.ceil(o.durationMs / periodMs) + 1;

  async function worker(p: number): Promise<void> {
    let slot = start + (p * periodMs) / o.processes;
    for (let k = 0; k < maxOpsPerProcess; k++) {
      if (slot > now()) await sleepFor(slot - now(), o.signal);
      if (o.signal.aborted || now() >= deadline) return;
      const op = o.next(p);
      o.history.append({ process: p, type: 'invoke', f: op.f, value: op.value });
      invoked++;
      inFlight.set(p, op);
      const c = await o.invoke(p, op);
      inFlight.delete(p);
      // Past the end-of-load wait the op was abandoned: it stays an invoke without completion
      // (indeterminate), so the history the run checks is the one on disk.
      if (closed) return;
      o.history.append({ process: p, type: c.type, f: op.f, value: c.value });
      completed++;
      slot += periodMs;
      const t = now();
      if (slot < t) slot += Math.ceil((t - slot) / periodMs) * periodMs;
    }
  }

  const all = Promise.all(Array.from({ length: o.processes }, (_, p) => worker(p)));
  let timer: NodeJS.Timeout | undefined;
  const endWait = new Promise<void>((resolve) => {
    const arm = (): void => {
      timer = setTimeout(resolve, Math.max(0, deadline - now()) + o.drainInFlightMs);
    };
    if (o.signal.aborted) {
      timer = setTimeout(resolve, o.drainInFlightMs);
    } else {
      arm();
      o.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          timer = setTimeout(resolve, o.drainInFlightMs);
        },
        { once: true },
      );
    }
  });
  await Promise.race([all, endWait]);
  closed = true;
  for (const [p, op] of inFlight) {
    const error = `ABANDONED: no answer within ${o.drainInFlightMs} ms after the load ended`;
    o.history.append({ process: p, type: 'info', f: op.f, value: op.value !== null && typeof op.value === 'object' ? { ...(op.value as object), error } : { error } });
  }
  clearTimeout(timer);
  return { invoked, completed, abandoned: invoked - completed };
}
