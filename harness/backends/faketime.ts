/**
 * Clock faults for any broker process: Debian's libfaketime, preloaded (LD_PRELOAD) when the node starts,
 * reads the node's offset from a control file (FAKETIME_TIMESTAMP_FILE) on every time call
 * (FAKETIME_NO_CACHE=1), so the harness changes a running node's clock by rewriting that file.
 *
 * Only the wall clock is faked (DONT_FAKE_MONOTONIC=1): CLOCK_REALTIME (Date.now, new Date, gettimeofday)
 * jumps, CLOCK_MONOTONIC (libuv's loop time, so every setTimeout/setInterval, and performance.now) does
 * not. That is what a real clock jump does (settimeofday or a bad NTP step moves only the wall clock;
 * Jepsen's bump-time and strobe-time do the same), and it is the only setting that works for Node:
 * measured here, with the monotonic clock faked too a backwards step stalls every timer until the
 * faked time catches up again (a node 2 minutes behind stops running timers for 2 minutes).
 *
 * Cost: with FAKETIME_NO_CACHE each wall-clock read also reads the control file, about 30 µs instead of
 * 0.6 µs here; nodes run under libfaketime only when a run asks for clock faults (ClusterSpec.clock).
 *
 * The control file holds one relative offset in seconds (`+1.5`, `-600`), written atomically (a
 * temporary file renamed over it), so a reader never sees a half-written file.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';

/** Where Debian (and a source install) put the multi-thread-safe preload library; Node is multi-threaded. */
const libraryCandidates = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/faketime/libfaketimeMT.so.1',
  '/usr/local/lib/faketime/libfaketimeMT.so.1',
] as const;

/** The preload library, or null when libfaketime is not installed. */
export function faketimeLibrary(): string | null {
  return libraryCandidates.find((p) => existsSync(p)) ?? null;
}

/** What clock faults need here, or the list of what is missing (with the Debian package). */
export function faketimeSupport(): { ok: true; library: string } | { ok: false; missing: string[] } {
  const library = faketimeLibrary();
  return library === null ? { ok: false, missing: ['libfaketime (Debian package libfaketime: libfaketimeMT.so.1)'] } : { ok: true, library };
}

/** The environment that puts a process under the control file's clock. */
export function faketimeEnv(library: string, controlFile: string): Record<string, string> {
  return { LD_PRELOAD: library, FAKETIME_TIMESTAMP_FILE: controlFile, FAKETIME_NO_CACHE: '1', DONT_FAKE_MONOTONIC: '1' };
}

/** Pure: the control file's text for an offset in ms (libfaketime's relative form, seconds). */
export function offsetText(offsetMs: number): string {
  if (!Number.isFinite(offsetMs)) throw new RangeError(`clock offset must be a finite number of ms, got ${offsetMs}`);
  const s = (Math.abs(offsetMs) / 1000).toFixed(3);
  return `${offsetMs < 0 ? '-' : '+'}${s}\n`;
}

/** Set the clock of every process reading `controlFile` to real time + offsetMs (atomically). */
export function writeClockOffset(controlFile: string, offsetMs: number): void {
  const tmp = `${controlFile}.${process.pid}.tmp`;
  writeFileSync(tmp, offsetText(offsetMs));
  renameSync(tmp, controlFile);
}
