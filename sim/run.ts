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
import { describeStep, FAULT_KINDS, planFaults, scheduleFaults, type FaultKind, type FaultStep } from './faults.ts';
import { ackedWritesKept, idempotentNoDuplicates, readsBelowHw, readsCommitted, replicasAgree, replicasConverge, type Violation } from './properties.ts';
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
  /** A power loss may tear an unsynced write, keeping whole sectors of it (fs.ts); off: kept or lost whole. */
  tornWrites: boolean;
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
  tornWrites: true,
};

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
  stats: { sends: number; acked: number; reads: number; checker: string };
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
  const world = new SimWorld({ ...wo, nodes: o.nodes, settings: { ...wo.settings, ...o.settings }, logLines: o.logLines, tornSectorBytes: o.tornWrites ? wo.tornSectorBytes : 0 });
  const sched = world.sched;
  const clientHost = world.addClientHost('c1');
  const rt = simRuntime(sched, world.net, clientHost, world.prng.int(0, 2 ** 31));
  const prng = new Prng(world.prng.int(0, 2 ** 31));
  const history = new History(() => Math.round(sched.nowMs * 1e6));
  const ids = world.nodes.map((n) => n.id);
  const loadStart = BOOT_MS + 4_000;
  const loadEnd = loadStart + o.loadMs;
  const schedule = o.schedule ? o.schedule.map((s) => ({ ...s })) : o.faults ? planFaults(new Prng(prng.int(0, 2 ** 31)), { startMs: loadStart + 1_000, endMs: loadEnd - 1_000, nodes: o.nodes, kinds: o.kinds, minGapMs: 500, maxGapMs: 3_000, minDurationMs: 300, maxDurationMs: 4_000 }) : [];
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
    stats: { sends: sent.size, acked: acked.length, reads: consumer.reads.length + drainer.reads.length, checker: String(verdict.valid) },
    history: history.ops,
    nodeLogs: world.nodes.map((n) => [...n.log]),
  };
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
  const extra = [options.bug ? ` --bug ${options.bug}` : '', options.faults === false ? ' --no-faults' : '', options.tornWrites === false ? ' --no-torn-writes' : '', options.loadMs !== undefined && options.loadMs !== defaultSimOptions.loadMs ? ` --load-ms ${options.loadMs}` : '', options.kinds !== undefined && options.kinds.join(',') !== FAULT_KINDS.join(',') ? ` --kinds ${options.kinds.join(',')}` : '', ...Object.entries(options.settings ?? {}).map(([k, v]) => ` --set ${k}=${v}`)].join('');
  return `npm run sim -- --seed ${seed}${extra}`;
}

export { describeStep };
