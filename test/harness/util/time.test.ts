import { describe, expect, it } from 'vitest';
import { DeadlineError, sleep, waitUntil, withDeadline } from '../../../harness/util/time.ts';

describe('time helpers', () => {
  it('withDeadline passes the outcome through, or rejects naming what did not finish', async () => {
    await expect(withDeadline(Promise.resolve(7), 1000, 'x')).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('boom')), 1000, 'x')).rejects.toThrow('boom');
    const never = new Promise<never>(() => {});
    await expect(withDeadline(never, 5, 'the heal')).rejects.toThrow(/the heal took longer than 5 ms/);
    await expect(withDeadline(never, 5, 'x')).rejects.toBeInstanceOf(DeadlineError);
    class Mine extends Error {}
    await expect(withDeadline(never, 5, 'x', (m) => new Mine(m))).rejects.toBeInstanceOf(Mine);
  });

  it('sleep resolves early on abort and never rejects', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    await expect(p).resolves.toBeUndefined();
    await expect(sleep(1_000_000, AbortSignal.abort())).resolves.toBeUndefined();
  });

  it('waitUntil returns true once the condition holds, false at the deadline or on abort', async () => {
    let n = 0;
    await expect(waitUntil(() => ++n >= 3, { timeoutMs: 5000, pollMs: 1 })).resolves.toBe(true);
    expect(n).toBe(3);
    await expect(waitUntil(() => false, { timeoutMs: 10, pollMs: 2 })).resolves.toBe(false);
    await expect(waitUntil(async () => false, { timeoutMs: 60_000, pollMs: 10, signal: AbortSignal.abort() })).resolves.toBe(false);
    let once = 0;
    await expect(waitUntil(() => (once++, true), { timeoutMs: 0, pollMs: 1 })).resolves.toBe(true);
    expect(once).toBe(1);
  });
});
