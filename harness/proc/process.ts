/**
 * Process-table helpers: liveness, signals to process groups, bounded waits for exit.
 *
 * Spec: every wait is bounded by a caller-given `timeoutMs` and polls at most every `pollMs`;
 * signalling a process that is already gone is not an error (it returns false).
 * Nodes are spawned detached, so each is the leader of its own process group and `signalGroup`
 * reaches the node and anything it forked.
 */
import { readFileSync } from 'node:fs';
import { waitUntil } from '../util/time.ts';

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // a zombie (exited, not yet reaped) counts as dead
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** The process's state letter from /proc (R, S, T for stopped, Z, ...), or null if unknown. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null;
  } catch {
    return null;
  }
}

/** Send a signal to the process group led by pid, falling back to the pid alone. False if gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** Wait until pid is dead, at most timeoutMs. Returns whether it died. */
export function waitForExit(pid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  return waitUntil(() => !isAlive(pid), { timeoutMs, pollMs });
}

/** Wait until the process's /proc state letter satisfies ok (null: no such process), at most timeoutMs. */
export function waitForState(pid: number, ok: (state: string | null) => boolean, timeoutMs: number, pollMs = 10): Promise<boolean> {
  return waitUntil(() => ok(processState(pid)), { timeoutMs, pollMs });
}

/** SIGCONT (in case it is stopped), SIGTERM, wait graceMs, then SIGKILL and wait killWaitMs. */
export async function terminate(pid: number, graceMs = 3_000, killWaitMs = 2_000): Promise<boolean> {
  if (!isAlive(pid)) return true;
  signalGroup(pid, 'SIGCONT');
  signalGroup(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) return true;
  signalGroup(pid, 'SIGKILL');
  return waitForExit(pid, killWaitMs);
}

/** The value of one environment variable of a live process (needs same user or root), or null. */
export function processEnv(pid: number, name: string): string | null {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    for (const entry of env.split('\0')) {
      if (entry.startsWith(`${name}=`)) return entry.slice(name.length + 1);
    }
  } catch {
    return null;
  }
  return null;
}
