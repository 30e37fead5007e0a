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
import { Admin, ClusterClient, Consumer, createTopic, History, Producer, type AckedSend, type ProducerConfig } from './clients.ts';
import { fetchCommitted, findCoordinator, GroupMember } from './group-client.ts';
import { CHURN_TARGETS, DEFAULT_FAULT_KINDS, describeStep, OFFSETS_CHURN_TARGET, planFaults, scheduleFaults, type AdminFaults, type FaultKind, type FaultStep } from './faults.ts';
import { ackedWritesKept, groupOffsetsMonotonic, idempotentNoDuplicates, incarnationNotMixed, readsBelowHw, readsCommitted, readsWereWritten, recreatedAckedKept, replicasAgree, replicasConverge, type Incarnation, type Violation } from './properties.ts';
import { Prng } from './prng.ts';
import { simRuntime } from './runtime.ts';
import { SimUncaughtError } from './scheduler.ts';
import { CoordinatorMonitor, RaftMonitor, ReplicationMonitor } from './step-properties.ts';
import { defaultWorldOptions, SimWorld } from './world.ts';

/** The acks=all topic (judged by the queue checker) and the acks=0/1 one (judged by replica agreement). */
export const STRONG_TOPIC = 'strong';
export const WEAK_TOPIC = 'weak';
/**
 * The topic the `recreate` fault deletes and creates again (one partition, RF 3, acks=all, its own
 * producer and consumer). It exists, with its clients, only when the run draws or is given
 * `recreate` steps (`churnTopicRuns`). Its ops are kept out of the history the queue checker judges
 * (values of a deleted topic are lost by design); `incarnations-not-mixed` and
 * `recreated-acked-kept` judge it instead.
 */
export const CHURN_TOPIC = 'churn';
/** Bound on one admin operation of a fault step (virtual ms), and on the settling after recovery. */
const ADMIN_DEADLINE_MS = 15_000;

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
  /** A power loss may tear an unsynced write, keeping whole sectors of it (fs.ts); off: kept or lost whole. */
  tornWrites: boolean;
  /**
   * Consumer group members (group-client.ts) on the strong topic, which commit offsets, crash and
   * rejoin; `leader-churn` then also aims at the offsets partition. On by default (since seeds 1 to
   * 100 ran clean with it, docs/simulation.md); off, the run is the one seeds drew before groups
   * existed (the regression seeds found before groups pin it off).
   */
  groups: boolean;
}

export const defaultSimOptions: SimOptions = {
  nodes: 3,
  partitions: 2,
  loadMs: 20_000,
  recoverMs: 8_000,
  faults: true,
  kinds: DEFAULT_FAULT_KINDS,
  settings: {},
  logLines: 0,
  tornWrites: true,
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
  stats: { sends: number; acked: number; reads: number; checker: string; admin: AdminStats; groups: GroupStats };
  history: Op[];
  nodeLogs: string[][];
}

const BOOT_MS = 500;

/** What the admin fault kinds did (a run checks its own power). */
export interface AdminStats {
  /** Reassignments that finished (ListPartitionReassignments no longer listed them), were superseded by the next, or timed out. */
  reassigned: number;
  superseded: number;
  reassignTimeouts: number;
  /** Incarnations of the churn topic after the first (re-creations that made a new topic id). */
  recreated: number;
}

/**
 * Whether a run has the churn topic (and its clients): when its kinds hold `recreate`, or the
 * schedule it is given (a replay, a shrink, a hand-written case) has a `recreate` step.
 */
export function churnTopicRuns(o: Pick<SimOptions, 'kinds' | 'schedule'>): boolean {
  return o.kinds.includes('recreate') || (o.schedule?.some((s) => s.kind === 'recreate') ?? false);
}

/** The topic id of `topic` in the newest metadata image among live nodes (null when none has it). */
function currentTopicId(world: SimWorld, topic: string): string | null {
  let best: { offset: number; id: string } | null = null;
  for (const n of world.nodes) {
    if (n.broker === null || n.host.state !== 'up') continue;
    const image = n.broker.metadata.image;
    const t = image.topic(topic);
    if (t !== undefined && (best === null || image.lastOffset > best.offset)) best = { offset: image.lastOffset, id: t.topicId };
  }
  return best?.id ?? null;
}

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
  const world = new SimWorld({ ...wo, nodes: o.nodes, settings: { ...wo.settings, ...(o.groups ? GROUP_SETTINGS : {}), ...o.settings }, logLines: o.logLines, tornSectorBytes: o.tornWrites ? wo.tornSectorBytes : 0 });
  const sched = world.sched;
  const clientHost = world.addClientHost('c1');
  const rt = simRuntime(sched, world.net, clientHost, world.prng.int(0, 2 ** 31));
  const prng = new Prng(world.prng.int(0, 2 ** 31));
  const history = new History(() => Math.round(sched.nowMs * 1e6));
  const ids = world.nodes.map((n) => n.id);
  const loadStart = BOOT_MS + 4_000;
  const loadEnd = loadStart + o.loadMs;
  // Drawn whether or not it is used, so a run given its own recorded schedule (or none) draws
  // everything after this exactly as the seed's own run did: a replay is the same run.
  const planSeed = prng.int(0, 2 ** 31);
  const schedule = o.schedule ? o.schedule.map((s) => ({ ...s })) : o.faults ? planFaults(new Prng(planSeed), { startMs: loadStart + 1_000, endMs: loadEnd - 1_000, nodes: o.nodes, kinds: o.kinds, churnTargets: o.groups ? [...CHURN_TARGETS, OFFSETS_CHURN_TARGET] : CHURN_TARGETS, minGapMs: 500, maxGapMs: 3_000, minDurationMs: 300, maxDurationMs: 4_000 }) : [];
  for (const n of world.nodes) world.start(n);
  const raft = new RaftMonitor();
  const repl = new ReplicationMonitor();
  const coord = new CoordinatorMonitor(GROUP_ID);
  sched.onStep(() => {
    raft.step(world);
    repl.step(world);
    coord.step(world);
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
  /** Values sent to `strong` and `weak`; the churn topic's are in `churnSent`, so a read of one topic never passes on a value sent to another. */
  const sent = new Set<number>();
  const churnSent = new Set<number>();
  const idempotentValues = new Set<number>();
  let nextValue = 1;
  const sleep = (ms: number) => new Promise<void>((r) => rt.timers.setTimeout(r, ms));
  const now = () => sched.nowMs;
  let done = false;

  // The admin faults (reassign, recreate) and the churn topic. Their clients draw their randomness
  // from a stream of their own (so the other clients draw what they drew before these existed).
  const churnOn = churnTopicRuns(o);
  const adminPrng = new Prng((seed ^ 0x5eed_ad31) >>> 0);
  const churnHistory = new History(() => Math.round(sched.nowMs * 1e6));
  const churnProducer = churnOn ? new Producer({ process: 20, topic: CHURN_TOPIC, partitions: 1, acks: -1, idempotent: false, retries: 0 }, new ClusterClient(rt, ids, new Prng(adminPrng.int(0, 2 ** 31)), 'p20'), churnHistory, new Prng(adminPrng.int(0, 2 ** 31))) : null;
  const churnConsumer = churnOn ? new Consumer(21, CHURN_TOPIC, 1, new ClusterClient(rt, ids, new Prng(adminPrng.int(0, 2 ** 31)), 'c21'), churnHistory) : null;
  const churnDrainer = churnOn ? new Consumer(22, CHURN_TOPIC, 1, new ClusterClient(rt, ids, new Prng(adminPrng.int(0, 2 ** 31)), 'c22'), churnHistory) : null;
  const adminOps = new Admin(new ClusterClient(rt, ids, new Prng(adminPrng.int(0, 2 ** 31)), 'admin2'));
  const adminStats: AdminStats = { reassigned: 0, superseded: 0, reassignTimeouts: 0, recreated: 0 };
  const adminTasks: Array<Promise<unknown>> = [];
  /** Per reassigned partition, the last target asked for and whether it finished. */
  const lastReassign = new Map<string, { topic: string; partition: number; replicas: readonly number[]; done: boolean }>();
  const incarnations: Incarnation[] = [];
  /** Churn values by the virtual ms their send was acknowledged (the stale test of incarnation-not-mixed). */
  const churnAckedAt = new Map<number, number>();
  const churnAcked: Array<AckedSend & { invokedMs: number }> = [];
  let lastDeleteIssuedMs = -Infinity;
  let churnBusy: Promise<unknown> = Promise.resolve();
  /** Bumped by every delete issued and every creation answered: a search for an incarnation's id stops when a later one begins. */
  let churnGeneration = 0;
  /**
   * Records the incarnation a CreateTopics just answered for: its topic id is the one the newest
   * image among live nodes maps the name to, once that is an id not recorded yet. The answer (v4)
   * names no id, and no live node may have applied the creation yet (the one that answered may be
   * down by now), so it asks again every 50 ms, bounded by ADMIN_DEADLINE_MS, and gives up when a
   * later delete or creation begins (so no later incarnation's id is taken for this one's). Until
   * found the previous incarnation stays the last, which judges less, never wrongly. Its times are
   * the answer's: it existed then, and the delete before it was issued by then.
   */
  const noteIncarnation = async (): Promise<void> => {
    const generation = ++churnGeneration;
    const createdMs = now();
    const staleBeforeMs = incarnations.length === 0 ? -Infinity : lastDeleteIssuedMs;
    while (generation === churnGeneration) {
      const id = currentTopicId(world, CHURN_TOPIC);
      if (id !== null && !incarnations.some((i) => i.topicId === id)) {
        if (incarnations.length > 0) adminStats.recreated++;
        incarnations.push({ topicId: id, createdMs, staleBeforeMs });
        churnConsumer?.position.clear();
        return;
      }
      if (now() - createdMs >= ADMIN_DEADLINE_MS) return;
      await sleep(50);
    }
  };
  const adminFaults: AdminFaults = {
    reassign: (topic, partition, replicas) => {
      const entry = { topic, partition, replicas, done: false };
      lastReassign.set(`${topic}-${partition}`, entry);
      adminTasks.push(adminOps.reassign(topic, partition, replicas, rt.clock.nowMs() + ADMIN_DEADLINE_MS).then((r) => {
        if (r === 'done') adminStats.reassigned++;
        else if (r === 'superseded') adminStats.superseded++;
        else adminStats.reassignTimeouts++;
        entry.done = r === 'done';
      }));
    },
    deleteChurnTopic: () => {
      if (!churnOn) return;
      churnBusy = churnBusy.then(() => {
        // The incarnation about to be deleted is judged as it stands (its logs go with it).
        const inc = incarnations.at(-1);
        if (inc !== undefined) violations.push(...incarnationNotMixed(world, CHURN_TOPIC, inc, churnAckedAt));
        lastDeleteIssuedMs = now();
        churnGeneration++;
        return adminOps.deleteTopic(CHURN_TOPIC, rt.clock.nowMs() + ADMIN_DEADLINE_MS);
      });
      adminTasks.push(churnBusy);
    },
    createChurnTopic: () => {
      if (!churnOn) return;
      const created = churnBusy.then(() => createTopic(adminOps.client, CHURN_TOPIC, 1, 3, rt.clock.nowMs() + ADMIN_DEADLINE_MS));
      // The next delete waits for the answer only; the search for the new id runs beside it.
      churnBusy = created;
      adminTasks.push(created.then((ok) => (ok ? noteIncarnation() : undefined)));
    },
  };
  scheduleFaults(world, schedule, () => [clientHost], adminFaults);

  const main = async (): Promise<void> => {
    await sleep(BOOT_MS);
    const admin = new ClusterClient(rt, ids, new Prng(prng.int(0, 2 ** 31)), 'admin');
    const deadline = rt.clock.nowMs() + 10_000;
    const created = (await createTopic(admin, STRONG_TOPIC, o.partitions, 3, deadline)) && (await createTopic(admin, WEAK_TOPIC, o.partitions, 3, deadline)) && (!churnOn || (await createTopic(admin, CHURN_TOPIC, 1, 3, deadline)));
    if (!created) {
      violations.push({ property: 'cluster-available', detail: 'the topics could not be created within 10 s of boot' });
      return;
    }
    if (churnOn) await noteIncarnation();
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
    if (churnProducer !== null && churnConsumer !== null) {
      loops.push((async () => {
        while (now() < loadEnd) {
          const v = nextValue++;
          churnSent.add(v);
          const invokedMs = now();
          const before = churnProducer.acked.length;
          await churnProducer.send(v);
          const a = churnProducer.acked[before];
          if (a !== undefined) {
            churnAckedAt.set(v, now());
            churnAcked.push({ ...a, invokedMs });
          }
          await sleep(adminPrng.int(10, 80));
        }
      })());
      loops.push((async () => {
        while (now() < loadEnd) {
          await churnConsumer.poll();
          await sleep(adminPrng.int(20, 100));
        }
      })());
    }
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
    // Admin operations still running finish (each is bounded); a reassignment that did not finish
    // is asked again, now that everything is healed, so its partition ends on its last target.
    await Promise.all(adminTasks);
    await Promise.all([...lastReassign.values()].filter((e) => !e.done).map(async (e) => {
      if ((await adminOps.reassign(e.topic, e.partition, e.replicas, rt.clock.nowMs() + ADMIN_DEADLINE_MS)) === 'done') e.done = true;
    }));
    if (churnOn && currentTopicId(world, CHURN_TOPIC) === null && (await createTopic(adminOps.client, CHURN_TOPIC, 1, 3, rt.clock.nowMs() + ADMIN_DEADLINE_MS))) await noteIncarnation();
    history.add('harness', 'info', 'phase', { name: 'recover', status: 'done' });
    history.add('harness', 'info', 'phase', { name: 'drain', status: 'start' });
    // Drain: read every partition from 0 to its high watermark (bounded: 200 polls).
    let drained = false;
    for (let i = 0; i < 200 && !drained; i++) {
      const hws = await drainer.poll();
      drained = hws.size === o.partitions && [...hws].every(([p, h]) => (drainer.position.get(p) ?? 0) >= h);
      if (!drained) await sleep(50);
    }
    for (let i = 0; churnDrainer !== null && i < 200; i++) {
      const hws = await churnDrainer.poll();
      if (hws.size === 1 && [...hws].every(([p, h]) => (churnDrainer.position.get(p) ?? 0) >= h)) break;
      if (i === 199) drained = false;
      await sleep(50);
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
    const inc = incarnations.at(-1);
    if (churnOn && churnDrainer !== null && churnConsumer !== null) {
      if (inc === undefined) violations.push({ property: 'cluster-available', detail: `the ${CHURN_TOPIC} topic does not exist after recovery` });
      else violations.push(...incarnationNotMixed(world, CHURN_TOPIC, inc, churnAckedAt, churnDrainer.reads), ...recreatedAckedKept(world, inc, churnAcked));
      violations.push(...replicasAgree(world, CHURN_TOPIC, 1), ...replicasConverge(world, CHURN_TOPIC, 1));
      violations.push(...readsCommitted(world, churnDrainer.reads, churnSent), ...readsWereWritten(churnConsumer.reads, churnSent).slice(0, 10));
    }
  }
  violations.push(...raft.violations, ...repl.violations, ...coord.violations, ...readsBelowHw([...consumer.aboveHw, ...drainer.aboveHw, ...(churnConsumer?.aboveHw ?? []), ...(churnDrainer?.aboveHw ?? [])]));
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
    stats: { sends: sent.size + churnSent.size, acked: acked.length, reads: consumer.reads.length + drainer.reads.length, checker: String(verdict.valid), admin: adminStats, groups: { ...groupStats(strong, members), ...coord.stats } },
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
  /** Steps at which a node answered as the group's coordinator, and at which one that had loaded its partition was refused by the lease alone (step-properties.ts CoordinatorMonitor). */
  coordinatingSteps: number;
  leaseRefusedSteps: number;
}

function groupStats(ops: readonly Op[], members: readonly GroupMember[]): Omit<GroupStats, 'coordinatingSteps' | 'leaseRefusedSteps'> {
  const s: Omit<GroupStats, 'coordinatingSteps' | 'leaseRefusedSteps'> = { members: members.length, crashed: members.filter((m) => m.crashed).length, assigns: 0, commitsOk: 0, commitsFailed: 0, commitsInfo: 0, offsetFetchesOk: 0 };
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
  const extra = [options.bug ? ` --bug ${options.bug}` : '', options.faults === false ? ' --no-faults' : '', options.tornWrites === false ? ' --no-torn-writes' : '', options.groups === false ? ' --no-groups' : '', options.loadMs !== undefined && options.loadMs !== defaultSimOptions.loadMs ? ` --load-ms ${options.loadMs}` : '', options.kinds !== undefined && options.kinds.join(',') !== DEFAULT_FAULT_KINDS.join(',') ? ` --kinds ${options.kinds.join(',')}` : '', ...Object.entries(options.settings ?? {}).map(([k, v]) => ` --set ${k}=${v}`)].join('');
  return `npm run sim -- --seed ${seed}${extra}`;
}

export { describeStep };
