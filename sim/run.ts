/**
 * One seed, end to end: the world (world.ts) boots, the clients (clients.ts) load it while the fault
 * schedule (faults.ts) runs, everything heals, the cluster recovers, a consumer drains every
 * partition, and the properties (properties.ts) and the harness's queue checker judge the run.
 *
 * Public API (stable; sim/main.ts and the mutation runner build on it):
 *   runSeed(seed, options?) -> SimResult   (same seed and options: same traceHash, same verdict)
 *   replayCommand(seed, options?) -> the one-line command that replays it
 */
import { parseBugName, plantBug } from '../broker/bugs.ts';
import { checkQueue } from '../checkers/queue.ts';
import type { Op } from '../checkers/history.ts';
import { ClusterClient, Consumer, createTopic, History, Producer, type ProducerConfig } from './clients.ts';
import { fetchCommitted, findCoordinator, GroupMember } from './group-client.ts';
import { CHURN_TARGETS, describeStep, FAULT_KINDS, OFFSETS_CHURN_TARGET, planFaults, scheduleFaults, type FaultKind, type FaultStep } from './faults.ts';
import { ackedWritesKept, groupOffsetsMonotonic, idempotentNoDuplicates, readsBelowHw, readsCommitted, replicasAgree, replicasConverge, type Violation } from './properties.ts';
import { Prng } from './prng.ts';
import { simRuntime } from './runtime.ts';
import { SimUncaughtError } from './scheduler.ts';
import { RaftMonitor, ReplicationMonitor } from './step-properties.ts';
import { defaultWorldOptions, SimWorld } from './world.ts';

/** The acks=all topic (judged by the queue checker) and the acks=0/1 one (judged by replica agreement). */
export const STRONG_TOPIC = 'strong';
export const WEAK_TOPIC = 'weak';

export interface SimOptions {
  nodes: number;
  partitions: number;
  /** Virtual ms of load (faults run inside it). */
  loadMs: number;
  /** Virtual ms between healing and the drain. */
  recoverMs: number;
  faults: boolean;
  kinds: readonly FaultKind[];
  /** A schedule to run instead of the one the seed draws (shrinking, hand-written cases). */
  schedule?: readonly FaultStep[];
  /** Broker settings over the simulation's (world.ts SIM_BROKER_SETTINGS). */
  settings: Record<string, string>;
  /** Keep this many log lines per node (0: none). */
  logLines: number;
  /** Plant one defect of broker/bugs.ts's catalogue for the run (process-wide; reset after). */
  bug?: string | null;
  /**
   * Consumer group members (group-client.ts) on the strong topic, which commit offsets, crash and
   * rejoin; `leader-churn` then also aims at the offsets partition. Off: the run is the one seeds
   * drew before groups existed (the regression seeds pin it off).
   */
  groups: boolean;
}

export const defaultSimOptions: SimOptions = {
  nodes: 3,
  partitions: 2,
  loadMs: 20_000,
  recoverMs: 8_000,
  faults: true,
  kinds: FAULT_KINDS,
  settings: {},
  logLines: 0,
  groups: true,
};

/** The run's consumer group, its members (slots; a crashed member's successor takes the next process id) and their timings. */
export const GROUP_ID = 'sim-group';
const GROUP_SLOTS = 3;
const GROUP_FIRST_PROCESS = 20;
/** The process of the fresh OffsetFetch after recovery. */
const GROUP_FINAL_PROCESS = 99;
/** Session and rebalance timeouts short enough for several rebalances per run (the broker's minimum is lowered to match). */
const GROUP_SESSION_TIMEOUT_MS = 2_000;
const GROUP_REBALANCE_TIMEOUT_MS = 3_000;
const GROUP_SETTINGS: Record<string, string> = { 'group.min.session.timeout.ms': '500' };

export interface SimResult {
  seed: number;
  valid: boolean;
  violations: Violation[];
  traceHash: string;
  simMs: number;
  wallMs: number;
  events: number;
  schedule: FaultStep[];
  counts: SimWorld['counts'];
  stats: { sends: number; acked: number; reads: number; checker: string; groups: GroupStats };
  history: Op[];
  nodeLogs: string[][];
}

const BOOT_MS = 500;

export async function runSeed(seed: number, options: Partial<SimOptions> = {}): Promise<SimResult> {
  plantBug(options.bug ? parseBugName(options.bug) : null);
  try {
    return await runPlanted(seed, options);
  } finally {
    plantBug(null);
  }
}

async function runPlanted(seed: number, options: Partial<SimOptions>): Promise<SimResult> {
  const o: SimOptions = { ...defaultSimOptions, ...options };
  const started = Date.now();
  const wo = defaultWorldOptions(seed);
  const world = new SimWorld({ ...wo, nodes: o.nodes, settings: { ...wo.settings, ...(o.groups ? GROUP_SETTINGS : {}), ...o.settings }, logLines: o.logLines });
  const sched = world.sched;
  const clientHost = world.addClientHost('c1');
  const rt = simRuntime(sched, world.net, clientHost, world.prng.int(0, 2 ** 31));
  const prng = new Prng(world.prng.int(0, 2 ** 31));
  const history = new History(() => Math.round(sched.nowMs * 1e6));
  const ids = world.nodes.map((n) => n.id);
  const loadStart = BOOT_MS + 4_000;
  const loadEnd = loadStart + o.loadMs;
  const schedule = o.schedule ? [...o.schedule] : o.faults ? planFaults(new Prng(prng.int(0, 2 ** 31)), { startMs: loadStart + 1_000, endMs: loadEnd - 1_000, nodes: o.nodes, kinds: o.kinds, churnTargets: o.groups ? [...CHURN_TARGETS, OFFSETS_CHURN_TARGET] : CHURN_TARGETS, minGapMs: 500, maxGapMs: 3_000, minDurationMs: 300, maxDurationMs: 4_000 }) : [];
  for (const n of world.nodes) world.start(n);
  scheduleFaults(world, schedule, () => [clientHost]);
  const raft = new RaftMonitor();
  const repl = new ReplicationMonitor();
  sched.onStep(() => {
    raft.step(world);
    repl.step(world);
  });
  const violations: Violation[] = [];

  const producerCfgs: ProducerConfig[] = [
    { process: 0, topic: STRONG_TOPIC, partitions: o.partitions, acks: -1, idempotent: true, retries: 3 },
    { process: 1, topic: STRONG_TOPIC, partitions: o.partitions, acks: -1, idempotent: false, retries: 0 },
    { process: 2, topic: STRONG_TOPIC, partitions: o.partitions, acks: -1, idempotent: true, retries: 3 },
    { process: 3, topic: WEAK_TOPIC, partitions: o.partitions, acks: 1, idempotent: false, retries: 0 },
    { process: 4, topic: WEAK_TOPIC, partitions: o.partitions, acks: 0, idempotent: false, retries: 0 },
  ];
  const producers = producerCfgs.map((c) => new Producer(c, new ClusterClient(rt, ids, new Prng(prng.int(0, 2 ** 31)), `p${c.process}`), history, new Prng(prng.int(0, 2 ** 31))));
  const consumer = new Consumer(10, STRONG_TOPIC, o.partitions, new ClusterClient(rt, ids, new Prng(prng.int(0, 2 ** 31)), 'c10'), history);
  const drainer = new Consumer(11, STRONG_TOPIC, o.partitions, new ClusterClient(rt, ids, new Prng(prng.int(0, 2 ** 31)), 'c11'), history);
  // The group's own stream, seeded from the seed alone: a run without groups draws exactly what it did before.
  const gprng = new Prng((seed ^ 0x5bd1e995) >>> 0);
  const members: GroupMember[] = [];
  const sent = new Set<number>();
  const idempotentValues = new Set<number>();
  let nextValue = 1;
  const sleep = (ms: number) => new Promise<void>((r) => rt.timers.setTimeout(r, ms));
  const now = () => sched.nowMs;
  let done = false;

  const main = async (): Promise<void> => {
    await sleep(BOOT_MS);
    const admin = new ClusterClient(rt, ids, new Prng(prng.int(0, 2 ** 31)), 'admin');
    const deadline = rt.clock.nowMs() + 10_000;
    const created = (await createTopic(admin, STRONG_TOPIC, o.partitions, 3, deadline)) && (await createTopic(admin, WEAK_TOPIC, o.partitions, 3, deadline));
    if (!created) {
      violations.push({ property: 'cluster-available', detail: 'the topics could not be created within 10 s of boot' });
      return;
    }
    history.add('harness', 'info', 'phase', { name: 'load', status: 'start' });
    const loops = producers.map(async (p) => {
      while (now() < loadEnd) {
        const v = nextValue++;
        sent.add(v);
        if (p.cfg.idempotent) idempotentValues.add(v);
        await p.send(v);
        await sleep(prng.int(10, 80));
      }
    });
    loops.push((async () => {
      while (now() < loadEnd) {
        await consumer.poll();
        await sleep(prng.int(20, 100));
      }
    })());
    if (o.groups) {
      let nextProcess = GROUP_FIRST_PROCESS;
      for (let slot = 0; slot < GROUP_SLOTS; slot++) {
        const sp = new Prng(gprng.int(0, 2 ** 31));
        loops.push((async () => {
          await sleep(sp.int(0, 500));
          while (now() < loadEnd - 500) {
            const process = nextProcess++;
            const m = new GroupMember(
              { process, groupId: GROUP_ID, topic: STRONG_TOPIC, partitions: o.partitions, sessionTimeoutMs: GROUP_SESSION_TIMEOUT_MS, rebalanceTimeoutMs: GROUP_REBALANCE_TIMEOUT_MS, heartbeatIntervalMs: 300, pollsPerCommit: 3 },
              new ClusterClient(rt, ids, new Prng(sp.int(0, 2 ** 31)), `g${process}`),
              history,
            );
            members.push(m);
            // Three in five members crash (no LeaveGroup) 1 to 5 s after they start; a successor joins 0.3 to 2.5 s later.
            const crashAfterMs = sp.chance(0.6) ? sp.int(1_000, 5_000) : null;
            const timer = crashAfterMs === null ? null : rt.timers.setTimeout(() => m.crash(), crashAfterMs);
            await m.run(() => now() >= loadEnd, () => sp.int(20, 100));
            if (timer !== null) rt.timers.clearTimeout(timer);
            await sleep(sp.int(300, 2_500));
          }
        })());
      }
    }
    await Promise.all(loops);
    history.add('harness', 'info', 'phase', { name: 'load', status: 'done' });
    world.healAll();
    history.add('harness', 'info', 'phase', { name: 'heal', status: 'done' });
    await sleep(o.recoverMs);
    history.add('harness', 'info', 'phase', { name: 'recover', status: 'done' });
    history.add('harness', 'info', 'phase', { name: 'drain', status: 'start' });
    // Drain: read every partition from 0 to its high watermark (bounded: 200 polls).
    let drained = false;
    for (let i = 0; i < 200 && !drained; i++) {
      const hws = await drainer.poll();
      drained = hws.size === o.partitions && [...hws].every(([p, h]) => (drainer.position.get(p) ?? 0) >= h);
      if (!drained) await sleep(50);
    }
    history.add('harness', 'info', 'phase', { name: 'drain', status: drained ? 'done' : 'timeout' });
    if (!drained) violations.push({ property: 'cluster-available', detail: `the drain did not reach every partition's high watermark within 200 polls after ${o.recoverMs} ms of recovery` });
    if (o.groups) {
      // A fresh OffsetFetch of every partition after recovery (bounded: 20 tries), judged like the members'.
      const probe = new ClusterClient(rt, ids, new Prng(gprng.int(0, 2 ** 31)), 'group-probe');
      const all = Array.from({ length: o.partitions }, (_, i) => i);
      let fetched = false;
      for (let i = 0; i < 20 && !fetched; i++) {
        const coordinator = await findCoordinator(probe, GROUP_ID);
        fetched = coordinator !== null && (await fetchCommitted(probe, history, GROUP_FINAL_PROCESS, coordinator, GROUP_ID, STRONG_TOPIC, all)) !== null;
        if (!fetched) await sleep(200);
      }
      if (!fetched) violations.push({ property: 'cluster-available', detail: `no coordinator answered the final OffsetFetch of ${GROUP_ID} in 20 tries` });
    }
  };
  let crashed: string | null = null;
  main().then(
    () => {
      done = true;
    },
    (err: unknown) => {
      crashed = err instanceof Error ? (err.stack ?? err.message) : String(err);
      done = true;
    },
  );
  const capMs = loadEnd + o.recoverMs + 60_000;
  try {
    await sched.run(capMs, () => done);
  } catch (err) {
    if (err instanceof SimUncaughtError) violations.push({ property: 'no-uncaught-exception', detail: err.message.slice(0, 2000) });
    else throw err;
  }
  if (crashed) violations.push({ property: 'harness', detail: `the simulated clients failed: ${crashed}` });
  if (!done && violations.length === 0) violations.push({ property: 'cluster-available', detail: `the run did not finish by ${capMs} ms of virtual time` });
  for (const f of world.failures) violations.push({ property: 'node-starts', detail: `n${f.node} at ${f.atMs} ms: ${f.error.slice(0, 1000)}` });

  const acked = producers.flatMap((p) => p.acked);
  if (done && violations.length === 0) {
    violations.push(...ackedWritesKept(world, acked));
    violations.push(...replicasAgree(world, STRONG_TOPIC, o.partitions), ...replicasAgree(world, WEAK_TOPIC, o.partitions));
    violations.push(...readsCommitted(world, [...consumer.reads, ...drainer.reads], sent));
    violations.push(...idempotentNoDuplicates(world, STRONG_TOPIC, o.partitions, idempotentValues));
    violations.push(...replicasConverge(world, STRONG_TOPIC, o.partitions), ...replicasConverge(world, WEAK_TOPIC, o.partitions));
  }
  violations.push(...raft.violations, ...repl.violations, ...readsBelowHw([...consumer.aboveHw, ...drainer.aboveHw]));
  const strong = strongHistory(history.ops);
  violations.push(...groupOffsetsMonotonic(strong));
  const verdict = checkQueue(strong, { idempotent: false, acks: 'all' });
  if (verdict.valid === false) {
    const detail = verdict.breaking.map((t) => `${t}: ${verdict.anomalies[t].count} (e.g. ${JSON.stringify(verdict.anomalies[t].examples[0] ?? null)})`).join('; ');
    violations.push({ property: 'queue-checker', detail });
  }
  return {
    seed,
    valid: violations.length === 0,
    violations,
    traceHash: sched.traceHash,
    simMs: sched.nowMs,
    wallMs: Date.now() - started,
    events: sched.eventsRun,
    schedule,
    counts: { ...world.counts },
    stats: { sends: sent.size, acked: acked.length, reads: consumer.reads.length + drainer.reads.length, checker: String(verdict.valid), groups: groupStats(strong, members) },
    history: history.ops,
    nodeLogs: world.nodes.map((n) => [...n.log]),
  };
}

/** What the group members did (zero when `groups` is off): their commits by verdict, fetches, assigns, crashes. */
export interface GroupStats {
  members: number;
  crashed: number;
  assigns: number;
  commitsOk: number;
  commitsFailed: number;
  commitsInfo: number;
  offsetFetchesOk: number;
}

function groupStats(ops: readonly Op[], members: readonly GroupMember[]): GroupStats {
  const s: GroupStats = { members: members.length, crashed: members.filter((m) => m.crashed).length, assigns: 0, commitsOk: 0, commitsFailed: 0, commitsInfo: 0, offsetFetchesOk: 0 };
  for (const op of ops) {
    if (op.f === 'assign') s.assigns++;
    else if (op.f === 'offset-fetch' && op.type === 'ok') s.offsetFetchesOk++;
    else if (op.f === 'commit' && op.type !== 'invoke') {
      if (op.type === 'ok') s.commitsOk++;
      else if (op.type === 'fail') s.commitsFailed++;
      else s.commitsInfo++;
    }
  }
  return s;
}

/** The acks=all topic's ops (and the phase lines), re-indexed: what the queue checker judges. */
export function strongHistory(ops: readonly Op[]): Op[] {
  const prefix = `${STRONG_TOPIC}-`;
  const out: Op[] = [];
  const strongProcesses = new Set<unknown>();
  for (const op of ops) {
    if (op.f === 'send') {
      const key = (op.value as { key?: string } | null)?.key;
      if (typeof key === 'string' && key.startsWith(prefix)) strongProcesses.add(op.process);
    }
  }
  for (const op of ops) {
    if (op.f === 'send' && !strongProcesses.has(op.process)) continue;
    out.push({ ...op, index: out.length });
  }
  return out;
}

export function replayCommand(seed: number, options: Partial<SimOptions> = {}): string {
  const extra = [options.bug ? ` --bug ${options.bug}` : '', options.faults === false ? ' --no-faults' : '', options.loadMs !== undefined && options.loadMs !== defaultSimOptions.loadMs ? ` --load-ms ${options.loadMs}` : '', options.kinds !== undefined && options.kinds.join(',') !== FAULT_KINDS.join(',') ? ` --kinds ${options.kinds.join(',')}` : '', options.groups === false ? ' --no-groups' : '', ...Object.entries(options.settings ?? {}).map(([k, v]) => ` --set ${k}=${v}`)].join('');
  return `npm run sim -- --seed ${seed}${extra}`;
}

export { describeStep };
