/**
 * The nemesis: a seeded schedule of faults, carried out through the Backend / Partitioner interfaces.
 *
 *   const n = await startNemesis({ backend, faults: ['kill-leader', 'partition'], intervalMs: 5000,
 *                                  rng: rng.fork('nemesis'), record: (op) => history.append(op), topic });
 *   ...load...
 *   await n.stop();   // ends the schedule, then the final generator heals everything
 *
 * Lanes (Jepsen's combined nemesis): every requested fault runs on its own schedule, concurrently with the
 * others, so faults overlap in time (a node killed while another is cut off, a pause followed by a kill).
 * Faults that act on the network share one lane, because the network holds one grudge at a time and a
 * heal ends every cut. A lane's schedule: quiet period, one fault, fault period, its end, repeat. Each
 * period lasts intervalMs times a factor drawn uniformly from [0.5, 1.5). A lane with several faults (the
 * network lane) draws one uniformly each round (the next in order if it cannot act now). Each lane draws
 * from its own stream `rng.fork('lane:<name>')`, so adding a lane never changes another's choices. Node
 * faults never pick a node that another lane has killed, stopped or paused (`busy`); isolating a node
 * does not care, nor does a clock fault (its node stays free for node faults: `sharesNodes`). The package's generator picks targets from the cluster's roles (`roles()`, default
 * `fetchRolesByMajority` on the nodes' Kafka addresses, so a partitioned node's stale view does not
 * decide; null when unknown).
 *
 * Recording: after each action, `record({ process: 'nemesis', type: 'info', f, value })` with f in
 * kill/stop/power-loss/restart/pause/resume/partition/packet-loss/bandwidth/heal/clock-bump/clock-strobe/clock-reset/
 * rolling-restart/rolling-restart-end/disk-full/disk-free/corrupt/reassign/reassign-done/add-broker/decommission
 * and value { nodes, role?, shape?, grudge?, probability?, rateKbit?, deltaMs?, periodMs?, corruption?, ids?,
 * reassignment?, moves?, note?, error?, tookMs }
 * (`error` when the backend action failed; `tookMs` how long the action took, rounded up, so the action
 * began at most that long before the op's time). `schedule()` returns every fault carried out so far with its
 * lane, its times since the nemesis started, and its start and end ops: the run stores it in test.json.
 *
 * Sequence (`sequence: true`, `--nemesis-sequence`): the faults run in the order listed, as one chained
 * fault, on one stream `rng.fork('sequence')`. A round: quiet period (as a lane's); the first fault; then
 * each next fault a gap of intervalMs times [0.2, 0.5) after the previous one's start began,
 * its target chosen when its turn comes (so `stop-random` after `stop-leader` picks among the nodes still
 * free; a role still held by a busy node is asked again a few times before the target falls back to a
 * random node); all held for a fault period; then ended in reverse order, each end a gap (as above) after
 * the previous end finished. A fault that cannot act when its turn comes is left out of that round. This
 * is the shape a defect with a narrow window needs, which independent lanes hit only by chance: a
 * follower paused, the leader stopped, then its successor stopped while the first is still paused; or
 * a node's links throttled, the node stopped, restarted, and its links healed only a gap later, so it
 * comes back behind a slow link. The i-th fault's lane is
 * `sequence:<i>:<fault>`, so a replay plays each position in turn at its recorded times. A fault may
 * repeat (`stop-leader+stop-leader`: the leader, then its successor). At most one network fault per
 * sequence (`sequenceError`).
 *
 * Replay (`replay`: a stored schedule): each lane plays its recorded faults at their recorded times, in
 * order, instead of drawing new ones. Targets chosen by role (leader, controller, follower) are chosen
 * again by that role against the live cluster (the leader then may be another node); random and group
 * targets, and the grudges of random shapes, are the recorded nodes. A fault whose end was left to the
 * final generator stays in force until stop().
 *
 * Invariants:
 * - at most one fault is in progress per lane at a time; a fault whose end failed stays active;
 * - `stop()` (idempotent) ends the schedule (it aborts the current wait and lets the current backend
 *   action finish, each bounded by opTimeoutMs), then runs every package's final generator: heal
 *   partitions, resume paused nodes, restart killed nodes. Afterwards every recorded fault start has a
 *   matching recorded end. If some final action failed, stop() rejects after trying all of them.
 * - an aborted `signal` ends the schedule like stop() but does not heal (the caller's stop() does).
 * - faults a backend cannot inject (partition without a Partitioner) are refused at start with a
 *   UsageError naming what is missing; unknown names likewise, listing the allowed ones.
 */
import { canChangeMembership, canCorrupt, canDegrade, canFillDisk, canPartition, canPowerLoss, canSkewClock, canStopNode, type Backend, type Roles } from '../harness/backend.ts';
import { kafkaAdmin, type ClusterAdmin } from '../harness/backends/admin.ts';
import { UsageError } from '../harness/errors.ts';
import { fetchRolesByMajority, type ControllerDiscovery } from '../harness/backends/roles.ts';
import type { Rng } from '../harness/rng.ts';
import { checkFaultsSupported, faults, parseFaults, type FaultName } from './faults.ts';
import type { FaultPackage, NemesisEnv, NemesisOp, NemesisValue, PlannedFault } from './types.ts';
import { sleep as sleepFor, withDeadline } from '../harness/util/time.ts';
import type { RunEventSink } from '../harness/run/events.ts';

export { faults, parseFaults, checkFaultsSupported, type FaultName } from './faults.ts';

/** The drawn parameters of a fault that a replay keeps when it chooses the target again by role. */
const replayedDraws = ['rateKbit', 'probability', 'deltaMs', 'periodMs', 'corruption'] as const satisfies ReadonlyArray<keyof NemesisValue>;
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
  /** how the default `roles` finds the controller (the system definition's `roles.controller`; default metadata) */
  controllerVia?: ControllerDiscovery;
  signal?: AbortSignal;
  log?: (msg: string) => void;
  /** bound on one backend action (default 60000) */
  opTimeoutMs?: number;
  /** injectable wait, for tests; must resolve early when signal aborts */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** injectable monotonic clock in ms, for tests (default performance.now) */
  now?: () => number;
  /** the cluster's admin APIs for reassign and membership; default kafkaAdmin over every node's Kafka address */
  admin?: ClusterAdmin;
  /** play this stored schedule instead of drawing faults (see Replay above) */
  replay?: NemesisSchedule;
  /** run the faults as one chained sequence instead of independent lanes (see Sequence above) */
  sequence?: boolean;
  /** fault-start, fault-end and fault-next events (harness/run/events.ts), for the live view and plain lines */
  events?: RunEventSink;
}

export interface NemesisHandle {
  stop(): Promise<void>;
  /** the faults carried out so far, in start order */
  schedule(): NemesisSchedule;
}

/** One fault as it was carried out: what test.json stores and `--replay` plays again. */
export interface ScheduledFault {
  lane: string;
  fault: FaultName;
  /** ms since the nemesis started, when the start op began */
  startMs: number;
  /** ms since the nemesis started, when the end op began; null when the final generator ended it */
  endMs: number | null;
  start: NemesisOp;
  end: NemesisOp;
}

export interface NemesisSchedule {
  faults: ScheduledFault[];
}

/** Validate a stored schedule (test.json's `nemesisSchedule`), naming what is wrong. */
export function parseSchedule(raw: unknown): NemesisSchedule {
  const bad = (why: string): never => {
    throw new UsageError(`the stored nemesis schedule is not usable: ${why}`);
  };
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { faults?: unknown }).faults)) bad('expected { faults: [...] }');
  const out: ScheduledFault[] = [];
  for (const [i, f] of ((raw as { faults: unknown[] }).faults).entries()) {
    const x = f as Partial<ScheduledFault>;
    if (typeof x !== 'object' || x === null) bad(`fault ${i} is not an object`);
    if (typeof x.lane !== 'string' || typeof x.fault !== 'string' || !Object.hasOwn(faults, x.fault)) bad(`fault ${i} has no known lane/fault`);
    if (typeof x.startMs !== 'number' || !(x.endMs === null || typeof x.endMs === 'number')) bad(`fault ${i} has no startMs/endMs`);
    for (const k of ['start', 'end'] as const) {
      const op = x[k];
      if (typeof op !== 'object' || op === null || typeof op.f !== 'string' || !Array.isArray(op.value?.nodes)) bad(`fault ${i} has no ${k} op`);
    }
    out.push(x as ScheduledFault);
  }
  return { faults: out };
}

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> => sleepFor(ms, signal);
const neverAborted = new AbortController().signal;

/** Final actions run heals (network, clock, disk) first, then resumes, then restarts. */
const finalOrder: Record<string, number> = { heal: 0, 'clock-reset': 0, 'disk-free': 0, resume: 1, restart: 2 };

/** A sequence's gaps between starts, as fractions of the interval: long enough for a fault to take effect (an election), short enough to land inside the window it opens. */
const SEQUENCE_GAP_MIN = 0.2;
const SEQUENCE_GAP_MAX = 0.5;
/** How often a sequence asks the roles again when a role target fell back to random (within a minimum gap's length in all). */
const SEQUENCE_ROLE_RETRIES = 4;

/** The lane of the fault at 0-based position i of a sequence (`sequence:1:...` is the first): one lane per position, so a replay plays each position's faults in turn. */
export function sequenceLane(i: number, fault: FaultName): string {
  return `sequence:${i + 1}:${fault}`;
}

/**
 * Why `names` cannot run as one sequence (null: they can): a fault that ends by itself (rolling-restart,
 * reassign, membership) cannot be held, and a network fault's heal ends every cut, so at most one.
 */
export function sequenceError(names: readonly FaultName[]): string | null {
  const ownPeriod = names.filter((n) => faults[n].during !== undefined || n === 'reassign' || n === 'membership');
  if (ownPeriod.length > 0) return `${ownPeriod.join(', ')} cannot be held in a sequence (it ends by itself); allowed: node faults, clock, disk-full and one network fault`;
  const network = names.filter((n) => faults[n].needsPartitioner);
  return network.length > 1 ? `a sequence holds at most one network fault (a heal ends every cut), got ${network.join(', ')}` : null;
}

/** Pure: the lanes for a list of faults: network faults share the lane `network`, others one each. */
export function planLanes(names: readonly FaultName[]): Array<{ lane: string; names: FaultName[] }> {
  const lanes: Array<{ lane: string; names: FaultName[] }> = [];
  const network = names.filter((n) => faults[n].needsPartitioner);
  for (const n of names) if (!faults[n].needsPartitioner) lanes.push({ lane: n, names: [n] });
  if (network.length > 0) lanes.push({ lane: 'network', names: network });
  return lanes;
}

/** Roles whose targets a replay chooses again against the live cluster. */
const rechosenRoles: ReadonlySet<string> = new Set(['leader', 'controller', 'follower']);

export async function startNemesis(args: StartNemesisArgs): Promise<NemesisHandle> {
  const names: FaultName[] = parseFaults(args.faults, args.sequence === true);
  checkFaultsSupported(names, args.backend);
  if (!(args.intervalMs > 0)) throw new RangeError(`nemesis interval must be > 0 ms, got ${args.intervalMs}`);
  const seqError = args.sequence === true ? sequenceError(names) : null;
  if (seqError !== null) throw new UsageError(`nemesis sequence: ${seqError}`);
  const replay = args.replay ?? null;
  if (replay !== null) checkFaultsSupported(parseFaults([...new Set(replay.faults.map((f) => f.fault))]), args.backend);
  const log = args.log ?? (() => {});
  const sleep = args.sleep ?? defaultSleep;
  const now = args.now ?? (() => performance.now());
  const t0 = now();
  const elapsedMs = (): number => Math.round(now() - t0);
  const opTimeoutMs = args.opTimeoutMs ?? 60_000;
  const env: NemesisEnv = {
    backend: args.backend,
    partitioner: canPartition(args.backend) ? args.backend : null,
    stopper: canStopNode(args.backend) ? args.backend : null,
    degrader: canDegrade(args.backend) ? args.backend : null,
    powerLosser: canPowerLoss(args.backend) ? args.backend : null,
    clock: canSkewClock(args.backend) ? args.backend : null,
    disk: canFillDisk(args.backend) ? args.backend : null,
    corrupter: canCorrupt(args.backend) ? args.backend : null,
    admin: args.admin ?? kafkaAdmin(() => args.backend.nodes().map((n) => n.kafkaAddress)),
    membership: canChangeMembership(args.backend) ? args.backend : null,
    roles: () => roles(),
    topic: args.topic,
    record: (op) => args.record({ process: 'nemesis', type: 'info', f: op.f, value: op.value }),
    // the schedule's own clock and sleep (injected together by tests), for waits inside a fault
    time: { nowMs: () => now(), sleep: (ms, signal) => sleep(ms, signal ?? neverAborted) },
  };
  const roles =
    args.roles ??
    (() => fetchRolesByMajority(args.backend.nodes().map((n) => n.kafkaAddress), [args.topic], args.controllerVia === undefined ? {} : { controllerVia: args.controllerVia }).catch(() => null));
  const stopCtl = new AbortController();
  const onAbort = (): void => stopCtl.abort();
  args.signal?.addEventListener('abort', onAbort, { once: true });
  if (args.signal?.aborted) stopCtl.abort();
  const active: Array<{ pkg: FaultPackage; end: NemesisOp; entry: ScheduledFault }> = [];
  const done: ScheduledFault[] = [];

  const events = args.events ?? { emit: () => {} };
  /** Carries out one op, records it, and emits it as a fault's start or end (`as`). */
  const exec = async (pkg: FaultPackage, op: NemesisOp, as: { kind: 'start'; lane: string; fault: FaultName; end: NemesisOp } | { kind: 'end'; lane: string | null; fault: FaultName | null }): Promise<boolean> => {
    let error: string | undefined;
    const beganMs = now();
    try {
      await withDeadline(pkg.nemesis(op, env), opTimeoutMs, `nemesis ${op.f} ${op.value.nodes.join(',')}`);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      log(`nemesis ${op.f} ${op.value.nodes.join(',')} failed: ${error}`);
    }
    const tookMs = Math.ceil(now() - beganMs);
    // a copy: a fault's start and end share parts of their values, which the end's action fills in later
    args.record({ process: 'nemesis', type: 'info', f: op.f, value: structuredClone(error === undefined ? { ...op.value, tookMs } : { ...op.value, error, tookMs }) });
    const info = { lane: as.lane, fault: as.fault, op, ...(error === undefined ? {} : { error }) };
    events.emit(as.kind === 'start' ? { type: 'fault-start', ...info, end: as.end } : { type: 'fault-end', ...info });
    return error === undefined;
  };
  /** Nodes under a node fault of any lane (killed, stopped, paused), which node faults avoid; a clock fault shares its node. */
  const busyNodes = (): Set<string> => new Set(active.flatMap((a) => (a.end.f === 'heal' || a.pkg.sharesNodes === true ? [] : a.end.value.nodes)));
  /** Nodes under a fault that shares them (a clock fault of any lane): another such fault avoids them. */
  const sharedNodes = (): Set<string> => new Set(active.flatMap((a) => (a.pkg.sharesNodes === true ? a.end.value.nodes : [])));

  /**
   * Carry out one planned fault: start, fault period (until `waitForEnd` returns, or the package's
   * `during`), end.
   */
  const runFault = async (lane: string, fault: FaultName, planned: PlannedFault, waitForEnd: () => Promise<boolean>): Promise<void> => {
    const pkg = faults[fault];
    const entry: ScheduledFault = { lane, fault, startMs: elapsedMs(), endMs: null, start: planned.start, end: planned.end };
    const a = { pkg, end: planned.end, entry };
    active.push(a); // before acting: a half-done start still gets its end
    done.push(entry);
    const started = await exec(pkg, planned.start, { kind: 'start', lane, fault, end: planned.end });
    if (pkg.during !== undefined) {
      // the fault's own work is its period (a rolling restart), however long the schedule meant it to be
      if (started) {
        try {
          await pkg.during(planned.start, env, stopCtl.signal);
        } catch (err) {
          log(`nemesis ${fault} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (stopCtl.signal.aborted) return;
    } else if (!(await waitForEnd())) return;
    entry.endMs = elapsedMs();
    if (await exec(pkg, planned.end, { kind: 'end', lane, fault })) active.splice(active.indexOf(a), 1);
    else entry.endMs = null;
  };

  const drawLane = async (lane: string, laneNames: readonly FaultName[]): Promise<void> => {
    const rng = args.rng.fork(`lane:${lane}`);
    const jitter = (): number => args.intervalMs * (0.5 + rng.next());
    for (let round = 0; !stopCtl.signal.aborted; round++) {
      const quietMs = jitter();
      events.emit({ type: 'fault-next', lane, what: 'start', inMs: quietMs });
      await sleep(quietMs, stopCtl.signal);
      if (stopCtl.signal.aborted) return;
      const r = await roles();
      if (stopCtl.signal.aborted) return;
      const busy = busyNodes();
      const first = rng.int(laneNames.length);
      let chosen: { fault: FaultName; planned: PlannedFault } | null = null;
      for (let i = 0; i < laneNames.length && chosen === null; i++) {
        const fault = laneNames[(first + i) % laneNames.length]!;
        const planned = faults[fault].generator({ rng, nodes: args.backend.nodes(), roles: r, topic: args.topic, busy, shared: sharedNodes() });
        if (planned !== null) chosen = { fault, planned };
      }
      if (chosen === null) {
        log(`nemesis ${lane} round ${round}: no fault can act now`);
        continue;
      }
      await runFault(lane, chosen.fault, chosen.planned, async () => {
        const faultMs = jitter();
        events.emit({ type: 'fault-next', lane, what: 'end', inMs: faultMs });
        await sleep(faultMs, stopCtl.signal);
        return !stopCtl.signal.aborted;
      });
    }
  };

  /**
   * The sequence (see Sequence above): quiet period; each fault in the listed order, its target
   * chosen when its turn comes and each started a gap after the previous one's start began;
   * all held; then ended in reverse order, each end a gap after the previous end finished; repeat.
   */
  const drawSequence = async (seqNames: readonly FaultName[]): Promise<void> => {
    const rng = args.rng.fork('sequence');
    const jitter = (): number => args.intervalMs * (0.5 + rng.next());
    const gap = (): number => args.intervalMs * (SEQUENCE_GAP_MIN + (SEQUENCE_GAP_MAX - SEQUENCE_GAP_MIN) * rng.next());
    for (let round = 0; !stopCtl.signal.aborted; round++) {
      const quietMs = jitter();
      events.emit({ type: 'fault-next', lane: sequenceLane(0, seqNames[0]!), what: 'start', inMs: quietMs });
      await sleep(quietMs, stopCtl.signal);
      const held: Array<{ lane: string; release: (go: boolean) => void; run: Promise<void> }> = [];
      try {
        for (let i = 0; i < seqNames.length && !stopCtl.signal.aborted; i++) {
          const lane = sequenceLane(i, seqNames[i]!);
          if (i > 0) {
            const gapMs = gap();
            events.emit({ type: 'fault-next', lane, what: 'start', inMs: gapMs });
            await sleep(gapMs, stopCtl.signal);
            if (stopCtl.signal.aborted) break;
          }
          const fault = seqNames[i]!;
          // A role the previous fault is moving (the leader a graceful stop hands on) may still name a
          // busy node: ask again, up to SEQUENCE_ROLE_RETRIES times, before falling back to random.
          let planned: PlannedFault | null = null;
          for (let attempt = 0; attempt <= SEQUENCE_ROLE_RETRIES && !stopCtl.signal.aborted; attempt++) {
            if (attempt > 0) await sleep((args.intervalMs * SEQUENCE_GAP_MIN) / SEQUENCE_ROLE_RETRIES, stopCtl.signal);
            const r = await roles();
            if (stopCtl.signal.aborted) break;
            planned = faults[fault].generator({ rng, nodes: args.backend.nodes(), roles: r, topic: args.topic, busy: busyNodes(), shared: sharedNodes() });
            if (planned === null || planned.start.value.role !== 'random' || planned.start.value.note === undefined) break;
          }
          if (stopCtl.signal.aborted) break;
          if (planned === null) {
            log(`nemesis sequence round ${round}: ${fault} cannot act now; the sequence goes on without it`);
            continue;
          }
          let release!: (go: boolean) => void;
          const gate = new Promise<boolean>((res) => (release = res));
          // Not awaited: the next gap counts from this start's beginning (a graceful stop's election comes
          // at once, its exit seconds later); `runFault` marks the target busy before it acts.
          held.push({ lane, release, run: runFault(lane, fault, planned, () => gate) });
        }
        if (!stopCtl.signal.aborted && held.length > 0) {
          const holdMs = jitter();
          events.emit({ type: 'fault-next', lane: held.at(-1)!.lane, what: 'end', inMs: holdMs });
          await sleep(holdMs, stopCtl.signal);
        }
        for (let j = held.length - 1; j >= 0; j--) {
          if (j < held.length - 1 && !stopCtl.signal.aborted) {
            const gapMs = gap();
            events.emit({ type: 'fault-next', lane: held[j]!.lane, what: 'end', inMs: gapMs });
            await sleep(gapMs, stopCtl.signal);
          }
          held[j]!.release(!stopCtl.signal.aborted);
          await held[j]!.run;
        }
      } finally {
        // Whatever ended the round (a roles lookup or a generator that threw, an abort), no held fault
        // is left waiting on its gate: each is let go without its end (the final generator ends it) and
        // awaited, so its start has finished before stop() heals.
        for (const h of held) h.release(false);
        await Promise.all(held.map((h) => h.run.catch(() => {})));
      }
    }
  };

  const sleepUntil = async (atMs: number, lane: string, what: 'start' | 'end'): Promise<boolean> => {
    const wait = atMs - elapsedMs();
    events.emit({ type: 'fault-next', lane, what, inMs: Math.max(0, wait) });
    if (wait > 0) await sleep(wait, stopCtl.signal);
    return !stopCtl.signal.aborted;
  };
  const replayLane = async (lane: string, recorded: readonly ScheduledFault[]): Promise<void> => {
    const rng = args.rng.fork(`replay:${lane}`);
    for (const f of recorded) {
      if (!(await sleepUntil(f.startMs, lane, 'start'))) return;
      let planned: PlannedFault = { start: f.start, end: f.end };
      const role = f.start.value.role;
      if (role !== undefined && rechosenRoles.has(role)) {
        const r = await roles();
        if (stopCtl.signal.aborted) return;
        const again = faults[f.fault].generator({ rng, nodes: args.backend.nodes(), roles: r, topic: args.topic, busy: busyNodes(), shared: sharedNodes() });
        // only the target is chosen again (with what follows from it, a grudge); what was drawn beside it (a
        // rate, a loss probability, a clock delta or period, a corruption, bump or strobe) is replayed as recorded
        if (again !== null) {
          const keep = (chosen: NemesisValue, recorded: NemesisValue): NemesisValue => {
            const v: NemesisValue = { ...chosen };
            for (const k of replayedDraws) {
              if (recorded[k] === undefined) delete v[k];
              else Object.assign(v, { [k]: recorded[k] });
            }
            return v;
          };
          planned = { start: { f: f.start.f, value: keep(again.start.value, f.start.value) }, end: { f: f.end.f, value: keep(again.end.value, f.end.value) } };
        }
      }
      await runFault(lane, f.fault, planned, async () => (f.endMs === null ? false : sleepUntil(f.endMs, lane, 'end')));
    }
  };

  const lanes: Array<Promise<void>> = [];
  if (replay !== null) {
    const byLane = new Map<string, ScheduledFault[]>();
    for (const f of [...replay.faults].sort((a, b) => a.startMs - b.startMs)) byLane.set(f.lane, [...(byLane.get(f.lane) ?? []), f]);
    for (const [lane, recorded] of byLane) lanes.push(replayLane(lane, recorded));
  } else if (args.sequence === true && names.length > 0) {
    lanes.push(drawSequence(names));
  } else {
    for (const { lane, names: laneNames } of planLanes(names)) lanes.push(drawLane(lane, laneNames));
  }
  const running = Promise.all(lanes.map((l) => l.catch((err: unknown) => log(`nemesis schedule failed: ${String(err)}`))));

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
      if (!(await exec(pkg, op, { kind: 'end', lane: null, fault: null }))) failed.push(`${op.f} ${op.value.nodes.join(',')}`);
    }
    active.length = 0;
    if (failed.length > 0) throw new Error(`nemesis final generator could not ${failed.join('; ')}`);
  };
  return {
    stop: () => (stopping ??= finish()),
    schedule: () => ({ faults: done.map((f) => structuredClone(f)) }),
  };
}
