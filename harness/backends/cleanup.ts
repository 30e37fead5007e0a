/**
 * `cleanupLeftovers()`: remove everything that local-backend runs with a dead owner left behind.
 *
 * Spec: for every state file in the state directory whose owner (pid + start time) is dead:
 * SIGKILL each recorded node process group whose environment still carries that run's
 * FAULTLINE_RUN_ID (a recycled pid is never touched), kill whatever still lives in the run's
 * namespaces, unmount its power-loss layers, delete the namespaces, veths, bridge and FORWARD rule, release the subnet claim,
 * then delete the state file. Runs with a live owner are never touched, nor (unless we are root)
 * runs of other users. Returns what was removed.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, processEnv, signalGroup, waitForExit } from '../proc/process.ts';
import { unmountLazyfs } from './lazyfs/lazyfs.ts';
import { destroyNetwork, releaseSubnet } from './netns.ts';
import { listStates, ownerAlive, removeState, stateDir, statePath } from './state.ts';

export interface CleanupReport {
  runs: string[];
  removed: string[];
}

export async function cleanupLeftovers(): Promise<CleanupReport> {
  const report: CleanupReport = { runs: [], removed: [] };
  const uid = process.getuid?.() ?? 0;
  for (const s of listStates()) {
    if (ownerAlive(s)) continue;
    try {
      // another user's run is theirs (or root's) to clean: we could not remove its pieces anyway
      if (uid !== 0 && statSync(statePath(s.runId)).uid !== uid) continue;
    } catch {
      continue; // removed meanwhile
    }
    report.runs.push(s.runId);
    for (const [node, pid] of Object.entries(s.pids)) {
      if (isAlive(pid) && processEnv(pid, 'FAULTLINE_RUN_ID') === s.runId) {
        signalGroup(pid, 'SIGKILL');
        await waitForExit(pid, 5_000);
        report.removed.push(`process ${node} (pid ${pid})`);
      }
    }
    for (const m of s.mounts ?? []) if (await unmountLazyfs(m)) report.removed.push(`mount ${m}`);
    if (s.mode === 'netns') {
      report.removed.push(...(await destroyNetwork({ namespaces: s.namespaces, vethHost: s.vethHost, bridge: s.bridge, forwardRule: s.forwardRule })));
      if (s.subnetIndex !== null) releaseSubnet(s.subnetIndex);
    }
    removeState(s.runId);
  }
  // subnet claims whose owner died before writing a state file
  let names: string[] = [];
  try {
    names = readdirSync(stateDir());
  } catch {
    names = [];
  }
  for (const name of names) {
    if (!/^subnet-\d+\.claim$/.test(name)) continue;
    const path = join(stateDir(), name);
    try {
      const [pid, ticks] = readFileSync(path, 'utf8').trim().split(/\s+/);
      if (!ownerAlive({ ownerPid: Number(pid), ownerStartTicks: ticks === undefined || ticks === 'null' ? null : Number(ticks) })) rmSync(path, { force: true });
    } catch {
      // being written or already gone
    }
  }
  return report;
}
