/**
 * The nemesis: a seeded schedule of faults, carried out through the Backend / Partitioner interfaces.
 *
 *   const n = await startNemesis({ backend, faults: ['kill-leader', 'partition'], intervalMs: 5000,
 *                                  rng: rng.fork('nemesis'), record: (op) => history.append(op), topic });
 *   ...load...
 *   await n.stop();   // ends the schedule, then the final generator heals everything
 *
 * Schedule: quiet period, one fault, fault period, its end, repeat. Each period lasts intervalMs times a
 * factor drawn uniformly from [0.5, 1.5) (so about intervalMs on average). Each fault round draws one
 * package uniformly among the requested ones (the next in order if it cannot act now); the package's
 * generator picks targets from the cluster's roles (`roles()`, default `fetchRolesByMajority` on the
 * nodes' Kafka addresses, so a partitioned node's stale view does not decide; null when unknown). Every random choice comes from the one `rng`, so the same seed,
 * the same roles answers and the same backend results give the same sequence of faults.
 *
 * Recording: after each action, `record({ process: 'nemesis', type: 'info', f, value })` with f in
 * kill/restart/pause/resume/partition/heal and value { nodes, role?, shape?, grudge?, note?, error? }
 * (`error` when the backend action failed).
 *
 * Invariants:
 * - at most one fault round is in progress at a time; a fault whose end failed stays active;
 * - `stop()` (idempotent) ends the schedule (it aborts the current wait and lets the current backend
 *   action finish, each bounded by opTimeoutMs), then runs every package's final generator: heal
 *   partitions, resume paused nodes, restart killed nodes. Afterwards every recorded fault start has a
 *   matching recorded end. If some final action failed, stop() rejects after trying all of them.
 * - an aborted `signal` ends the schedule like stop() but does not heal (the caller's stop() does).
 * - faults a backend cannot inject (partition without a Partitioner) are refused at start with a
 *   UsageError naming what is missing; unknown names likewise, listing the allowed ones.
 */
import { canPartition, type Backend, type Roles } from '../harness/backend.ts';
import { fetchRolesByMajority } from '../harness/backends/roles.ts';
import type { Rng } from '../harness/rng.ts';
import { checkFaultsSupported, faults, parseFaults, type FaultName } from './faults.ts';
import type { FaultPackage, NemesisEnv, NemesisOp, NemesisValue } from './types.ts';
import { sleep as sleepFor, withDeadline } from '../harness/util/time.ts';

export { faults, parseFaults, checkFaultsSupported, type FaultName } from './faults.ts';
export type { NemesisOp, NemesisValue, Role, Shape } from './types.ts';

export interface NemesisRecord {
  process: 'nemesis';
  type: 'info';
  f: string;
  value: NemesisValue;
}

export interface StartNemesisArgs {
  backend: Backend;
  /** fault names from the `faults` registry (`none` and empty entries are ignored) */
  faults: readonly string[];
  /** mean length of both the fault and the quiet periods */
  intervalMs: number;
  rng: Rng;
  record: (op: NemesisRecord) => void;
  topic: string;
  /** current roles; default fetchRolesByMajority over every node's Kafka address; null when unknown */
  roles?: () => Promise<Roles | null>;
  signal?: AbortSignal;
  log?: (msg: string) => void;
  /** bound on one backend action (default 60000) */
  opTimeoutMs?: number;
  /** injectable wait, for tests; must resolve early when signal aborts */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface NemesisHandle {
  stop(): Promise<void>;
}

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> => sleepFor(ms, signal);

/** Final actions run heals first, then resumes, then restarts. */
const finalOrder: Record<string, number> = { heal: 0, resume: 1, restart: 2 };

export async function startNemesis(args: StartNemesisArgs): Promise<NemesisHandle> {
  const names: FaultName[] = parseFaults(args.faults);
  checkFaultsSupported(names, args.backend);
  if (!(args.intervalMs > 0)) throw new RangeError(`nemesis interval must be > 0 ms, got ${args.intervalMs}`);
  const log = args.log ?? (() => {});
  const sleep = args.sleep ?? defaultSleep;
  const opTimeoutMs = args.opTimeoutMs ?? 60_000;
  const env: NemesisEnv = { backend: args.backend, partitioner: canPartition(args.backend) ? args.backend : null };
  const roles =
    args.roles ??
    (() => fetchRolesByMajority(args.backend.nodes().map((n) => n.kafkaAddress), [args.topic]).catch(() => null));
  const stopCtl = new AbortController();
  const onAbort = (): void => stopCtl.abort();
  args.signal?.addEventListener('abort', onAbort, { once: true });
  if (args.signal?.aborted) stopCtl.abort();
  const active: Array<{ pkg: FaultPackage; end: NemesisOp }> = [];

  const exec = async (pkg: FaultPackage, op: NemesisOp): Promise<boolean> => {
    let error: string | undefined;
    try {
      await withDeadline(pkg.nemesis(op, env), opTimeoutMs, `nemesis ${op.f} ${op.value.nodes.join(',')}`);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      log(`nemesis ${op.f} ${op.value.nodes.join(',')} failed: ${error}`);
    }
    args.record({ process: 'nemesis', type: 'info', f: op.f, value: error === undefined ? op.value : { ...op.value, error } });
    return error === undefined;
  };
  const jitter = (): number => args.intervalMs * (0.5 + args.rng.next());

  const loop = async (): Promise<void> => {
    if (names.length === 0) return;
    for (let round = 0; !stopCtl.signal.aborted; round++) {
      await sleep(jitter(), stopCtl.signal);
      if (stopCtl.signal.aborted) return;
      const r = await roles();
      if (stopCtl.signal.aborted) return;
      const busy = new Set(active.flatMap((a) => (a.end.f === 'heal' ? [] : a.end.value.nodes)));
      const first = args.rng.int(names.length);
      let chosen: { pkg: FaultPackage; start: NemesisOp; end: NemesisOp } | null = null;
      for (let i = 0; i < names.length && chosen === null; i++) {
        const pkg = faults[names[(first + i) % names.length]!];
        const planned = pkg.generator({ rng: args.rng, nodes: args.backend.nodes(), roles: r, topic: args.topic, busy });
        if (planned !== null) chosen = { pkg, ...planned };
      }
      if (chosen === null) {
        log(`nemesis round ${round}: no fault can act now`);
        continue;
      }
      const entry = { pkg: chosen.pkg, end: chosen.end };
      active.push(entry); // before acting: a half-done start still gets its end
      await exec(chosen.pkg, chosen.start);
      await sleep(jitter(), stopCtl.signal);
      if (stopCtl.signal.aborted) return;
      if (await exec(chosen.pkg, chosen.end)) active.splice(active.indexOf(entry), 1);
    }
  };
  const running = loop().catch((err: unknown) => log(`nemesis schedule failed: ${String(err)}`));

  let stopping: Promise<void> | null = null;
  const finish = async (): Promise<void> => {
    stopCtl.abort();
    args.signal?.removeEventListener('abort', onAbort);
    await running;
    const finals: Array<{ pkg: FaultPackage; op: NemesisOp }> = [];
    const pkgs = [...new Set(active.map((a) => a.pkg))];
    for (const pkg of pkgs) {
      const mine = active.filter((a) => a.pkg === pkg).map((a) => a.end);
      for (const op of pkg.finalGenerator(mine)) finals.push({ pkg, op });
    }
    finals.sort((a, b) => (finalOrder[a.op.f] ?? 9) - (finalOrder[b.op.f] ?? 9));
    const failed: string[] = [];
    for (const { pkg, op } of finals) {
      if (!(await exec(pkg, op))) failed.push(`${op.f} ${op.value.nodes.join(',')}`);
    }
    active.length = 0;
    if (failed.length > 0) throw new Error(`nemesis final generator could not ${failed.join('; ')}`);
  };
  return {
    stop: () => (stopping ??= finish()),
  };
}
