/**
 * The queue workload (Jepsen's Kafka workload, reference/jepsen-kafka-testing.md section 1), as a plain
 * object built from options: `{ client, generator, finalGenerator, checker }` (style.md item 2).
 *
 * Op shapes (design.md "history.jsonl"; a key is "<topic>-<partition>", values are unique integers):
 * - send:   invoke {key, value} -> ok {key, value, offset} (no offset under acks=0)
 *                                 | fail/info {key, value, error}   (workloads/errors.ts decides which)
 * - poll:   one per Fetch a consumer sends (workloads/consumer.ts): invoke null when the request goes
 *           out -> ok {key: [[offset, value], ...]} when the answer arrives, `{}` when it is empty; a
 *           payload that is not an integer is recorded as its string; fail {error} for no answer.
 * - assign: one ok line {keys} whenever a consumer's partitions change (group join, an assign-mode
 *           seek to the beginning, the drain's assign); reads may restart anywhere after it.
 * - commit: invoke {key: next offset, ...} -> ok the same | fail/info the same plus `error`; every
 *           committing consumer of a run commits to the one group `faultline-<runId>`.
 * - reposition: one info line {key, from, to, reason: "OFFSET_OUT_OF_RANGE"} (no invoke) when a
 *           consumer reset its own position: how a high watermark moving back shows up.
 * A client process that is killed (stuck past a deadline, or crashed on purpose) completes its open
 * op as `info` with `error` "CLIENT_KILLED: client <name> <why>" (workloads/client-host.ts).
 *
 * Processes: producers are 0..concurrency-1 (one kafkajs producer, in its own client process, each
 * with one send in flight); then each consumer (`--consumers N`, in `--consumer-mode subscribe|assign|
 * mixed`), each consumer that rejoins after a crash under a fresh id, the recovery probe and the drain
 * reader take the next id. Every process has at most one op in flight.
 *
 * Final phase (`finalGenerator`): `recover` sends one probe value (acks all) to every partition until
 * each succeeds, proving every partition has a leader that accepts writes and its high watermark has
 * passed everything committed before; the probes are ordinary history sends. Then `drain` assigns
 * every partition to a fresh consumer, seeks each to offset 0 (no group coordination right after the
 * faults) and reads until each partition's position reaches its high watermark and the highest offset
 * the run has seen (a bounded grace past the high watermark), bounded by a deadline.
 */
import type { History, PollValue, SendValue } from '../checkers/history.ts';
import { checkRun } from '../checkers/index.ts';
import type { HistoryInput, RunResults } from '../checkers/index.ts';
import type { HistoryRecorder, OpInput } from '../harness/store/history-writer.ts';
import type { Rng } from '../harness/rng.ts';
import { sleep } from '../harness/util/time.ts';
import { ClientHost, ClientKilledError } from './client-host.ts';
import type { ClientSpec, ConsumeArgs, DrainArgs, DrainResult, TopicSpec } from './client-process.ts';
import { errorName } from './errors.ts';

export const consumerModes = ['subscribe', 'assign', 'mixed'] as const;
export type ConsumerMode = (typeof consumerModes)[number];

export interface QueueOptions {
  brokers: string[];
  topic: string;
  partitions: number;
  replicationFactor: number;
  minInsync: number;
  uncleanElection: boolean;
  acks: '0' | '1' | 'all';
  idempotence: boolean;
  retries: number;
  concurrency: number;
  /** consumers polling during the load */
  consumers: number;
  consumerMode: ConsumerMode;
  /** mean ms between consumer crashes (kill and rejoin) or assign-mode reassignments; 0: none */
  consumerCrashIntervalMs: number;
  /** ms between a consumer's explicit commits; 0: none */
  commitIntervalMs: number;
  /** tests only: the first client of each role listed spins without yielding at its first op */
  plant?: { roles: ReadonlyArray<'producer' | 'consumer' | 'drain'>; kind: 'spin' };
  /** a unique id for this run, used in client and group ids */
  runId: string;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  /** how long the broker may wait for acks=all replication before answering (produce `timeout`) */
  ackTimeoutMs: number;
  log: (msg: string) => void;
}

export const queueTimeouts = {
  requestTimeoutMs: 3000,
  connectionTimeoutMs: 1000,
  ackTimeoutMs: 2000,
} as const;

export type SendInvocation = { f: 'send'; value: { key: string; value: number } };
export type Completion = { type: 'ok' | 'fail' | 'info'; value: SendValue };
export type FinalOp = { f: 'recover'; keys: string[] } | { f: 'drain'; keys: string[] };

export interface QueueClient {
  setup(deadlineMs: number): Promise<void>;
  startConsumers(): Promise<void>;
  stopConsumers(): Promise<void>;
  invoke(process: number, op: SendInvocation): Promise<Completion>;
  /** run one final op; true when it completed, false when its deadline passed first */
  final(op: FinalOp, deadlineMs: number, signal: AbortSignal): Promise<boolean>;
  teardown(): Promise<void>;
}

export interface QueueGenerator {
  /** the next op for a process: a send of a fresh unique value to a seeded-random partition */
  next(process: number): SendInvocation;
}

export interface QueueWorkload {
  name: 'queue';
  keys: string[];
  client: QueueClient;
  generator: QueueGenerator;
  finalGenerator: () => FinalOp[];
  /** results.json's verdict, stats, anomalies, availability and latency (checkers/index.ts) */
  checker: (history: History, test: Record<string, unknown>) => RunResults;
}

/** How long the drain keeps reading past the reported high watermark for offsets the run has seen. */
const DRAIN_BEYOND_HW_GRACE_MS = 5000;
/** How long a broker may hold a consumer's empty Fetch: a poll's latency when nothing is new. */
const CONSUMER_MAX_WAIT_MS = 250;
/** A subscribe-mode member's session (and rebalance) timeout: a crashed member leaves the group after it. */
const CONSUMER_SESSION_TIMEOUT_MS = 6000;

export function keyOf(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export function partitionOf(key: string): number {
  const p = Number(key.slice(key.lastIndexOf('-') + 1));
  if (!Number.isInteger(p) || p < 0) throw new Error(`bad key '${key}'`);
  return p;
}

export function kafkaAcks(acks: QueueOptions['acks']): -1 | 0 | 1 {
  return acks === 'all' ? -1 : acks === '1' ? 1 : 0;
}

/** Values are unique over the whole run: one counter shared by the generator and the probes. */
export class ValueCounter {
  #next = 0;
  take(): number {
    return this.#next++;
  }
}

export function queueGenerator(keys: string[], rng: Rng, values: ValueCounter): QueueGenerator {
  return {
    next: () => ({ f: 'send', value: { key: rng.pick(keys), value: values.take() } }),
  };
}

/** Highest offset per key that any ok send or ok poll in the history reports. */
export function highestOffsets(history: History): Record<string, number> {
  const hi: Record<string, number> = {};
  for (const op of history) {
    if (op.type !== 'ok') continue;
    if (op.f === 'send') {
      const v = op.value as SendValue;
      if (typeof v.offset === 'number') hi[v.key] = Math.max(hi[v.key] ?? -1, v.offset);
    } else if (op.f === 'poll' && op.value !== null && typeof op.value === 'object') {
      for (const [k, pairs] of Object.entries(op.value as PollValue)) {
        for (const [o] of pairs) hi[k] = Math.max(hi[k] ?? -1, o);
      }
    }
  }
  return hi;
}

/** How long a client may take to answer one call beyond its own bounded work. */
const CALL_MARGIN_MS = 5000;

/** The history ops a client process reported, seen on their way to the history (highest offsets). */
function observing(history: HistoryRecorder, seen: (op: OpInput) => void): HistoryRecorder {
  return {
    append(op, atNs) {
      seen(op);
      return history.append(op, atNs);
    },
  };
}

/**
 * The queue workload's client, as the orchestrator sees it: every producer, consumer, the topic admin,
 * the recovery probe and the drain reader is its own child process (workloads/client-process.ts),
 * driven through a `ClientHost` whose every call is bounded here. Nothing of kafkajs or of our
 * consumer runs on this event loop, so no client can keep the run from reaching its verdict.
 */
export function queueClient(o: QueueOptions, history: HistoryRecorder, values: ValueCounter, rng: Rng): QueueClient {
  const acks = kafkaAcks(o.acks);
  const keys = Array.from({ length: o.partitions }, (_, p) => keyOf(o.topic, p));
  const groupId = `faultline-${o.runId}`;
  const producers = new Map<number, ClientHost>();
  const consumers = new Map<number, { host: ClientHost; mode: ConsumerMode }>();
  const others = new Set<ClientHost>();
  /** process ids past the producers: each new consumer (a rejoin too), the probe and the drain get the next */
  let nextProcess = o.concurrency;
  const plantLeft = new Set(o.plant?.roles ?? []);
  let churnTimer: NodeJS.Timeout | null = null;
  let stopping = false;
  let tornDown = false;
  const sendTimeoutMs = o.requestTimeoutMs * (o.retries + 1) + 1000 * o.retries + 2 * o.connectionTimeoutMs + CALL_MARGIN_MS;

  /** Per partition, the highest offset any acknowledgement or read has shown: the drain reads up to it. */
  const highestSeen: Record<string, number> = {};
  function noteSeen(key: string, offset: number): void {
    const p = String(partitionOf(key));
    if (offset > (highestSeen[p] ?? -1)) highestSeen[p] = offset;
  }
  const recorder = observing(history, (op) => {
    if (op.type !== 'ok' || op.f !== 'poll' || op.value === null || typeof op.value !== 'object') return;
    for (const [k, pairs] of Object.entries(op.value as Record<string, Array<[number, unknown]>>)) {
      for (const [off] of pairs) noteSeen(k, off);
    }
  });

  function spec(role: ClientSpec['role'], process: number, name: string, producer?: { retries: number; idempotent: boolean; acks: -1 | 0 | 1 }): ClientSpec {
    const planted = plantLeft.delete(role as 'producer' | 'consumer' | 'drain');
    return {
      role,
      process,
      name,
      brokers: o.brokers,
      topic: o.topic,
      clientId: `faultline-${o.runId}-${name}`,
      requestTimeoutMs: o.requestTimeoutMs,
      connectionTimeoutMs: o.connectionTimeoutMs,
      retries: producer?.retries ?? o.retries,
      idempotent: producer?.idempotent ?? o.idempotence,
      acks: producer?.acks ?? acks,
      ackTimeoutMs: o.ackTimeoutMs,
      maxWaitMs: CONSUMER_MAX_WAIT_MS,
      ...(planted ? { plant: 'spin' as const } : {}),
    };
  }

  async function sendVia(host: ClientHost, op: SendInvocation, timeoutMs: number): Promise<Completion> {
    try {
      const c = await host.call<Completion>('send', op.value, timeoutMs);
      if (c.type === 'ok' && typeof c.value.offset === 'number') noteSeen(c.value.key, c.value.offset);
      return c;
    } catch (err) {
      // no answer: the send may or may not have happened
      return { type: 'info', value: { ...op.value, error: err instanceof ClientKilledError ? `CLIENT_KILLED: ${err.message}` : `CLIENT_ERROR: ${(err as Error).message}` } };
    }
  }

  async function producerFor(process: number): Promise<ClientHost | string> {
    const have = producers.get(process);
    if (have?.alive) return have;
    try {
      const h = await spawnOwned(spec('producer', process, `producer-${process}`));
      producers.set(process, h);
      return h;
    } catch (err) {
      return errorName(err);
    }
  }

  function consumerModeFor(i: number): ConsumerMode {
    if (o.consumerMode !== 'mixed') return o.consumerMode;
    return i % 2 === 0 ? 'subscribe' : 'assign';
  }

  /** A seeded non-empty subset of the partitions, for an assign-mode consumer (Jepsen's `assign`). */
  function randomPartitions(): number[] {
    const out = Array.from({ length: o.partitions }, (_, p) => p).filter(() => rng.int(2) === 1);
    return out.length > 0 ? out : [rng.int(o.partitions)];
  }

  /**
   * Spawn a client process that the workload owns from the start: one that finishes loading after the
   * consumers were stopped or the client torn down (a crash-client rejoin in flight) is closed at once,
   * so no client process outlives the run.
   */
  async function spawnOwned(s: ClientSpec): Promise<ClientHost> {
    const h = await ClientHost.spawn(s, recorder, o.log);
    others.add(h);
    if (tornDown || (stopping && s.role === 'consumer')) {
      await h.close(CALL_MARGIN_MS);
      throw new Error(`client ${s.name} started after the workload stopped its ${tornDown ? 'clients' : 'consumers'}`);
    }
    return h;
  }

  function spawnConsumer(): Promise<ClientHost> {
    const process = nextProcess++;
    return spawnOwned(spec('consumer', process, `consumer-${process}`));
  }
  /** the first consumers' processes, spawned while the topic is created (loading a client takes a second or two) */
  let firstConsumers: Array<Promise<ClientHost>> = [];

  async function startConsumer(mode: ConsumerMode, spawned: Promise<ClientHost> = spawnConsumer()): Promise<void> {
    const host = await spawned;
    const process = host.spec.process;
    consumers.set(process, { host, mode });
    const args: ConsumeArgs = {
      mode: mode === 'assign' ? 'assign' : 'subscribe',
      groupId,
      partitions: randomPartitions(),
      partitionCount: o.partitions,
      commitEveryMs: o.commitIntervalMs,
      sessionTimeoutMs: CONSUMER_SESSION_TIMEOUT_MS,
    };
    await host.call('consume', args, CALL_MARGIN_MS);
  }

  /**
   * Jepsen's crash-client generator, on the workload's seeded stream: now and then a consumer process
   * is killed outright (no LeaveGroup, as a crash) and a new one with a fresh process id joins; or an
   * assign-mode consumer takes new partitions, seeking each to its start. Rebalances happen all run long.
   */
  function churn(): void {
    if (stopping || consumers.size === 0) return;
    const ids = [...consumers.keys()];
    const victim = ids[rng.int(ids.length)]!;
    const c = consumers.get(victim)!;
    if (c.mode === 'assign' && rng.int(2) === 0) {
      void c.host.call('assign', { partitions: randomPartitions() }, CALL_MARGIN_MS).catch(() => undefined);
    } else {
      consumers.delete(victim);
      c.host.kill('crashed by the workload (crash-client)');
      void startConsumer(c.mode).catch((err: unknown) => o.log(`consumer rejoin: ${errorName(err)}`));
    }
    scheduleChurn();
  }

  function scheduleChurn(): void {
    if (o.consumerCrashIntervalMs <= 0 || stopping) return;
    const jitter = 0.5 + rng.next();
    churnTimer = setTimeout(churn, o.consumerCrashIntervalMs * jitter);
  }

  async function recover(recoverKeys: string[], deadlineMs: number, signal: AbortSignal): Promise<boolean> {
    const pending = new Set(recoverKeys);
    const maxRounds = 10_000;
    // a probe only proves liveness: one attempt per send, never idempotent, acks=all so the high
    // watermark covers it; its own process, respawned if it dies
    const probeProcess = nextProcess++;
    let probe: ClientHost | null = null;
    for (let round = 0; round < maxRounds && pending.size > 0 && Date.now() < deadlineMs && !signal.aborted; round++) {
      if (probe === null || !probe.alive) {
        probe = await spawnOwned(spec('producer', probeProcess, `probe-${probeProcess}`, { retries: 0, idempotent: false, acks: -1 })).catch(() => null);
      }
      if (probe === null) {
        await sleep(250, signal);
        continue;
      }
      for (const key of [...pending]) {
        if (Date.now() >= deadlineMs || signal.aborted) break;
        const op: SendInvocation = { f: 'send', value: { key, value: values.take() } };
        history.append({ process: probeProcess, type: 'invoke', f: 'send', value: op.value });
        const c = await sendVia(probe, op, Math.max(1000, Math.min(sendTimeoutMs, deadlineMs - Date.now())));
        history.append({ process: probeProcess, type: c.type, f: 'send', value: c.value });
        if (c.type === 'ok') pending.delete(key);
      }
      if (pending.size > 0) await sleep(250, signal);
    }
    return pending.size === 0;
  }

  async function drain(drainKeys: string[], deadlineMs: number): Promise<boolean> {
    const process = nextProcess++;
    const host = await spawnOwned(spec('drain', process, `drain-${process}`));
    const args: DrainArgs = { partitions: drainKeys.map(partitionOf), highestSeen: { ...highestSeen }, deadlineMs, graceMs: DRAIN_BEYOND_HW_GRACE_MS };
    try {
      const r = await host.call<DrainResult>('drain', args, Math.max(0, deadlineMs - Date.now()) + CALL_MARGIN_MS);
      o.log(`drain read to ${JSON.stringify(r.positions)} (high watermarks ${JSON.stringify(r.highWatermarks)})`);
      return r.done;
    } finally {
      await host.close(CALL_MARGIN_MS);
    }
  }

  return {
    async setup(deadlineMs) {
      // every client process loads while the topic is created; producers connect on their first send
      const producersReady = Promise.all(Array.from({ length: o.concurrency }, (_, p) => producerFor(p)));
      firstConsumers = Array.from({ length: o.consumers }, () => spawnConsumer());
      for (const c of firstConsumers) c.catch(() => undefined);
      const admin = await spawnOwned(spec('admin', -1, 'admin'));
      try {
        const topic: TopicSpec = { partitions: o.partitions, replicationFactor: o.replicationFactor, minInsync: o.minInsync, uncleanElection: o.uncleanElection };
        await admin.call('setupTopic', { topic, deadlineMs }, Math.max(0, deadlineMs - Date.now()) + CALL_MARGIN_MS);
      } finally {
        await admin.close(CALL_MARGIN_MS);
      }
      await producersReady;
      o.log(`topic ${o.topic} ready; ${o.concurrency} producer processes up`);
    },
    async startConsumers() {
      await Promise.all(firstConsumers.map((spawned, i) => startConsumer(consumerModeFor(i), spawned)));
      o.log(`${o.consumers} consumers started (${o.consumerMode})`);
      scheduleChurn();
    },
    async stopConsumers() {
      stopping = true;
      if (churnTimer !== null) clearTimeout(churnTimer);
      await Promise.all([...consumers.values()].map(async ({ host }) => {
        await host.call('stop', null, CONSUMER_SESSION_TIMEOUT_MS + CALL_MARGIN_MS).catch(() => undefined);
        await host.close(CALL_MARGIN_MS);
      }));
      consumers.clear();
    },
    async invoke(process, op) {
      const host = await producerFor(process);
      // nothing was sent: the client process could not start; the next op starts one afresh
      if (typeof host === 'string') return { type: 'fail', value: { ...op.value, error: `CONNECT_FAILED:${host}` } };
      return sendVia(host, op, sendTimeoutMs);
    },
    async final(op, deadlineMs, signal) {
      return op.f === 'recover' ? recover(op.keys, deadlineMs, signal) : drain(op.keys, deadlineMs);
    },
    async teardown() {
      stopping = true;
      tornDown = true;
      if (churnTimer !== null) clearTimeout(churnTimer);
      const all = [...producers.values(), ...[...consumers.values()].map((c) => c.host), ...others];
      await Promise.all(all.map((h) => h.close(CALL_MARGIN_MS)));
      producers.clear();
      consumers.clear();
      others.clear();
    },
  };
}


/** The queue workload for one run. */
export function queue(o: QueueOptions, history: HistoryRecorder, rng: Rng): QueueWorkload {
  const values = new ValueCounter();
  const keys = Array.from({ length: o.partitions }, (_, p) => keyOf(o.topic, p));
  return {
    name: 'queue',
    keys,
    client: queueClient(o, history, values, rng.fork('clients')),
    generator: queueGenerator(keys, rng, values),
    finalGenerator: () => [
      { f: 'recover', keys },
      { f: 'drain', keys },
    ],
    checker: queueChecker,
  };
}

/** The queue workload's checker, usable without building the workload (`faultline check`). */
export const queueChecker: (history: History, test: Record<string, unknown>, input?: HistoryInput) => RunResults = checkRun;
