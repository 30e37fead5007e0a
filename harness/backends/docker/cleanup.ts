/**
 * Labels of the docker backend's objects and the removal of what dead runs left behind.
 *
 * Invariant: every container, volume and network the docker backend creates carries
 * `faultline.run=<runId>`, `faultline.owner-pid` and `faultline.owner-start` (the owner's start time in
 * clock ticks, so a recycled pid is not taken for the owner) from the moment it exists. So whatever a
 * harness killed with SIGKILL leaves is found by label, and `cleanupDockerLeftovers` removes every
 * object whose owner is dead; a live owner's objects are never touched.
 */
import type Docker from 'dockerode';
import { ownerAlive } from '../state.ts';
import { withDeadline } from '../../util/time.ts';

export const runLabel = 'faultline.run';

export function labels(runId: string, ownerPid: number, ownerStartTicks: number | null): Record<string, string> {
  return { [runLabel]: runId, 'faultline.owner-pid': String(ownerPid), 'faultline.owner-start': ownerStartTicks === null ? 'null' : String(ownerStartTicks) };
}

/** Pure: is the owner named by these labels dead (or the labels unreadable)? */
export function ownerDead(l: Record<string, string> | undefined, alive: typeof ownerAlive = ownerAlive): boolean {
  const pid = Number(l?.['faultline.owner-pid']);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  const ticks = l?.['faultline.owner-start'];
  return !alive({ ownerPid: pid, ownerStartTicks: ticks === undefined || ticks === 'null' ? null : Number(ticks) });
}

export interface DockerCleanupReport {
  runs: string[];
  removed: string[];
}

const bound = <T>(p: Promise<T>, what: string): Promise<T> => withDeadline(p, 30_000, `docker: ${what}`);

/** Remove the containers, then volumes and networks, of every run whose owner is dead. */
export async function cleanupDockerLeftovers(docker: Docker): Promise<DockerCleanupReport> {
  const report: DockerCleanupReport = { runs: [], removed: [] };
  const filters = JSON.stringify({ label: [runLabel] });
  const runs = new Set<string>();
  for (const c of await bound(docker.listContainers({ all: true, filters }), 'listing containers')) {
    if (!ownerDead(c.Labels)) continue;
    runs.add(c.Labels[runLabel]!);
    await bound(docker.getContainer(c.Id).remove({ force: true, v: true }), `removing container ${c.Id}`).catch(() => {});
    report.removed.push(`container ${c.Names[0]?.replace(/^\//, '') ?? c.Id}`);
  }
  const volumes = (await bound(docker.listVolumes({ filters }), 'listing volumes')).Volumes ?? [];
  for (const v of volumes) {
    if (!ownerDead(v.Labels ?? undefined)) continue;
    runs.add(v.Labels[runLabel]!);
    await bound(docker.getVolume(v.Name).remove(), `removing volume ${v.Name}`).catch(() => {});
    report.removed.push(`volume ${v.Name}`);
  }
  for (const n of await bound(docker.listNetworks({ filters }), 'listing networks')) {
    if (!ownerDead(n.Labels)) continue;
    runs.add(n.Labels?.[runLabel] ?? n.Name);
    await bound(docker.getNetwork(n.Id).remove(), `removing network ${n.Name}`).catch(() => {});
    report.removed.push(`network ${n.Name}`);
  }
  report.runs = [...runs].sort();
  return report;
}
