/**
 * Per-run state files of the local backend, under `/tmp/faultline-state/` (or $FAULTLINE_STATE_DIR;
 * see stateDir() for users who cannot write there).
 *
 * Invariant: a run's state file is written BEFORE the first namespace, link, rule or process it names
 * is created, and updated as node pids appear, so whatever a crashed harness leaves behind is listed in
 * some state file whose owner is dead. `cleanupLeftovers` (in cleanup.ts) trusts only these files.
 * The owner is identified by pid AND its start time (from /proc), so a recycled pid is not mistaken
 * for a live owner.
 */
import { accessSync, chmodSync, constants, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../proc/process.ts';

export interface RunState {
  version: 1;
  runId: string;
  ownerPid: number;
  /** the owner's start time in clock ticks since boot (/proc/<pid>/stat field 22), or null. */
  ownerStartTicks: number | null;
  createdAt: string;
  mode: 'netns' | 'loopback';
  /** third octet of 10.208.X.0/24, or null in loopback mode */
  subnetIndex: number | null;
  bridge: string | null;
  namespaces: string[];
  vethHost: string[];
  /** root-namespace FORWARD rule allowing traffic across the bridge, if installed */
  forwardRule: string[] | null;
  /** node name -> last spawned pid (a process group leader); `lazyfs-<node>` for power-loss layers */
  pids: Record<string, number>;
  /** FUSE mountpoints (power-loss layers) to unmount */
  mounts?: string[];
}

const sharedStateDir = '/tmp/faultline-state';

/**
 * The state directory: $FAULTLINE_STATE_DIR, else /tmp/faultline-state, shared by all users like /tmp
 * (mode 1777, set by whoever creates it). A user who cannot write there (the directory was made by an
 * older run without the shared mode) gets /tmp/faultline-state-<uid>: such a user cannot create
 * namespaces anyway, so only its own processes are at stake.
 */
export function stateDir(): string {
  const fromEnv = process.env.FAULTLINE_STATE_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    mkdirSync(sharedStateDir, { recursive: true });
    if (statSync(sharedStateDir).uid === process.getuid?.()) chmodSync(sharedStateDir, 0o1777);
    accessSync(sharedStateDir, constants.W_OK);
    return sharedStateDir;
  } catch {
    return `${sharedStateDir}-${process.getuid?.() ?? 'user'}`;
  }
}

export function statePath(runId: string): string {
  return join(stateDir(), `${runId}.json`);
}

export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22 overall; fields here start at field 3
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

export function ownerAlive(state: Pick<RunState, 'ownerPid' | 'ownerStartTicks'>): boolean {
  if (!isAlive(state.ownerPid)) return false;
  if (state.ownerStartTicks === null) return true;
  const now = processStartTicks(state.ownerPid);
  return now === null || now === state.ownerStartTicks;
}

/** Atomic write (temp file + rename), so a reader never sees a torn state file. */
export function writeState(state: RunState): void {
  mkdirSync(stateDir(), { recursive: true });
  const path = statePath(state.runId);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, path);
}

export function removeState(runId: string): void {
  rmSync(statePath(runId), { force: true });
}

export function readState(path: string): RunState | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunState>;
    if (parsed.version !== 1 || typeof parsed.runId !== 'string' || typeof parsed.ownerPid !== 'number') return null;
    return {
      version: 1,
      runId: parsed.runId,
      ownerPid: parsed.ownerPid,
      ownerStartTicks: typeof parsed.ownerStartTicks === 'number' ? parsed.ownerStartTicks : null,
      createdAt: String(parsed.createdAt ?? ''),
      mode: parsed.mode === 'netns' ? 'netns' : 'loopback',
      subnetIndex: typeof parsed.subnetIndex === 'number' ? parsed.subnetIndex : null,
      bridge: typeof parsed.bridge === 'string' ? parsed.bridge : null,
      namespaces: Array.isArray(parsed.namespaces) ? parsed.namespaces.filter((x) => typeof x === 'string') : [],
      vethHost: Array.isArray(parsed.vethHost) ? parsed.vethHost.filter((x) => typeof x === 'string') : [],
      forwardRule: Array.isArray(parsed.forwardRule) ? parsed.forwardRule.filter((x) => typeof x === 'string') : null,
      pids: typeof parsed.pids === 'object' && parsed.pids !== null ? (parsed.pids as Record<string, number>) : {},
      mounts: Array.isArray(parsed.mounts) ? parsed.mounts.filter((x) => typeof x === 'string') : [],
    };
  } catch {
    return null;
  }
}

export function listStates(): RunState[] {
  let names: string[];
  try {
    names = readdirSync(stateDir());
  } catch {
    return [];
  }
  const states: RunState[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const s = readState(join(stateDir(), name));
    if (s !== null) states.push(s);
  }
  return states;
}
