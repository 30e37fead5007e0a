/**
 * The one set of time helpers for the harness (style.md item 9: every wait bounded, units in names).
 * Deadlines are measured on the monotonic clock (`performance.now()`), never the wall clock, so a clock
 * fault on the host cannot stretch or cut them. Durations are milliseconds everywhere inside; CLI
 * seconds become milliseconds where the flags are parsed.
 *
 * - `sleep(ms, signal?)`: resolves after `ms`, or at once when `signal` aborts; never rejects.
 * - `withDeadline(p, timeoutMs, what, makeError?)`: `p`'s outcome, or a rejection naming `what` once
 *   `timeoutMs` passes (the work behind `p` keeps running: callers use it where the result no longer
 *   matters after the deadline). The timer is always cleared.
 * - `waitUntil(cond, { timeoutMs, pollMs, signal? })`: polls `cond` every `pollMs` until it holds
 *   (true), the deadline passes or `signal` aborts (false). `cond` runs at least once.
 */

/** A deadline that passed: `code` is stable for callers that tell it from other failures. */
export class DeadlineError extends Error {
  readonly code = 'FAULTLINE_DEADLINE';
}

export const monotonicMs = (): number => performance.now();

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function withDeadline<T>(p: Promise<T>, timeoutMs: number, what: string, makeError: (message: string) => Error = (m) => new DeadlineError(m)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(makeError(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, o: { timeoutMs: number; pollMs: number; signal?: AbortSignal }): Promise<boolean> {
  const end = monotonicMs() + o.timeoutMs;
  for (;;) {
    if (await cond()) return true;
    const left = end - monotonicMs();
    if (left <= 0 || o.signal?.aborted === true) return false;
    await sleep(Math.min(o.pollMs, left), o.signal);
  }
}
