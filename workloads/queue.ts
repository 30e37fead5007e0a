/**
 * The queue workload (Jepsen's Kafka workload, reference/jepsen-kafka-testing.md section 1), as a plain
 * object built from options: `{ client, generator, finalGenerator, checker }` (style.md item 2).
 *
 * Op shapes (design.md "history.jsonl"; a key is "<topic>-<partition>", values are unique integers):
 * - send:   invoke {key, value} -> ok {key, value, offset} (no offset under acks=0)
 *                                 | fail/info {key, value, error}   (workloads/errors.ts decides which)
 * - poll:   one per batch a consumer delivers: invoke null -> ok {key: [[offset, value], ...]}
 * - assign: one ok line {keys} on every consumer group join (the member's partitions), and when the
 *           final drain's consumer starts; reads may restart anywhere after it.
 *
 * Processes: producers are 0..concurrency-1 (one kafkajs producer each, one send in flight each);
 * group consumers follow; then the recovery-probe producer and the drain consumer. Every id is an
 * integer and every process has at most one op in flight.
 *
 * Final phase (`finalGenerator`): `recover` sends one probe value (acks all) to every partition until
 * each succeeds, proving every partition has a leader that accepts writes and its high watermark has
 * passed everything committed before; the probes are ordinary history sends. Then `drain` reads every
 * partition from offset 0 with a fresh consumer group until each partition's read position reaches its
 * high watermark, bounded by a deadline.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer, EachBatchPayload, Producer } from 'kafkajs';
import type { History, PollValue, SendValue } from '../checkers/history.ts';
import { checkRun } from '../checkers/index.ts';
import type { HistoryInput, RunResults } from '../checkers/index.ts';
import type { HistoryRecorder } from '../harness/store/history-writer.ts';
import type { Rng } from '../harness/rng.ts';
import { classifySendError, errorName } from './errors.ts';

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
  /** group consumers polling during the load */
  consumers: number;
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

/** A batch as kafkajs delivers it, reduced to the poll op's value; non-integer payloads are skipped. */
export function pollValueOf(key: string, messages: ReadonlyArray<{ offset: string; value: Buffer | null }>): PollValue {
  const pairs: Array<[number, number]> = [];
  for (const m of messages) {
    const v = m.value === null ? NaN : Number(m.value.toString());
    if (Number.isInteger(v)) pairs.push([Number(m.offset), v]);
  }
  return pairs.length === 0 ? {} : { [key]: pairs };
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolve a promise or give up after ms (the promise keeps running; callers only use this on teardown). */
async function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(t);
  }
}

export function queueClient(o: QueueOptions, history: HistoryRecorder, values: ValueCounter): QueueClient {
  const kafka = new Kafka({
    clientId: `faultline-${o.runId}`,
    brokers: o.brokers,
    logLevel: logLevel.NOTHING,
    requestTimeout: o.requestTimeoutMs,
    connectionTimeout: o.connectionTimeoutMs,
    retry: { retries: o.retries, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const acks = kafkaAcks(o.acks);
  const producers = new Map<number, Producer>();
  const consumers: Consumer[] = [];
  const keys = Array.from({ length: o.partitions }, (_, p) => keyOf(o.topic, p));
  const firstConsumer = o.concurrency;
  const probeProcess = o.concurrency + o.consumers;
  const drainProcess = probeProcess + 1;
  let admin: Admin | null = null;
  let consumersStopping = false;

  function newProducer(retries: number, idempotent: boolean): Producer {
    return kafka.producer({
      allowAutoTopicCreation: false,
      idempotent,
      maxInFlightRequests: idempotent ? 1 : undefined,
      retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  }

  async function producerFor(process: number): Promise<Producer> {
    let p = producers.get(process);
    if (p === undefined) {
      p = newProducer(o.retries, o.idempotence);
      producers.set(process, p);
      await p.connect();
    }
    return p;
  }

  async function send(producer: Producer, retries: number, key: string, value: number, ackCode: -1 | 0 | 1): Promise<Completion> {
    try {
      const meta = await producer.send({
        topic: o.topic,
        acks: ackCode,
        timeout: o.ackTimeoutMs,
        messages: [{ partition: partitionOf(key), value: String(value) }],
      });
      const m = meta.find((r) => r.partition === partitionOf(key));
      const offset = m?.baseOffset === undefined ? undefined : Number(m.baseOffset);
      if (ackCode === 0 || offset === undefined || !Number.isInteger(offset) || offset < 0) return { type: 'ok', value: { key, value } };
      noteSeen(partitionOf(key), offset);
      return { type: 'ok', value: { key, value, offset } };
    } catch (err) {
      const c = classifySendError(err, retries);
      return { type: c.type, value: { key, value, error: c.error } };
    }
  }

  /** Per partition, the highest offset any acknowledgement or read has shown: the drain reads up to it. */
  const highestSeen = new Map<number, number>();
  function noteSeen(partition: number, offset: number): void {
    if (offset > (highestSeen.get(partition) ?? -1)) highestSeen.set(partition, offset);
  }

  /** Per process: the keys of its last assignment, and per key the offset after its last read. */
  const assignedKeys = new Map<number, string[]>();
  const nextOffset = new Map<number, Map<string, number>>();

  function recordBatch(process: number, payload: EachBatchPayload): void {
    const { batch } = payload;
    const key = keyOf(batch.topic, batch.partition);
    const value = pollValueOf(key, batch.messages);
    if (Object.keys(value).length === 0) return;
    // The client itself repositioned (kafkajs resets to the earliest offset on OFFSET_OUT_OF_RANGE
    // without a rebalance): record it as an `assign`, as design.md says for a seek, so the checker
    // does not take the client's jump for the broker's. A jump inside what the broker returned for
    // the requested offset is still the broker's and still counts.
    // kafkajs 2.2.4 keeps the offset it asked for on the batch (not in its type declarations).
    const fetched = (batch as typeof batch & { fetchedOffset?: string }).fetchedOffset;
    const expected = nextOffset.get(process)?.get(key);
    if (expected !== undefined && fetched !== undefined && Number(fetched) !== expected) {
      history.append({ process, type: 'ok', f: 'assign', value: { keys: assignedKeys.get(process) ?? [key], seek: { key, from: expected, to: Number(fetched) } } });
    }
    history.append({ process, type: 'invoke', f: 'poll', value: null });
    history.append({ process, type: 'ok', f: 'poll', value });
    const last = batch.messages[batch.messages.length - 1];
    if (last) noteSeen(batch.partition, Number(last.offset));
    if (last) {
      const perKey = nextOffset.get(process) ?? new Map<string, number>();
      perKey.set(key, Number(last.offset) + 1);
      nextOffset.set(process, perKey);
    }
  }

  function newConsumer(process: number, groupId: string): Consumer {
    const c = kafka.consumer({
      groupId,
      sessionTimeout: 6000,
      rebalanceTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
      // after stopConsumers() a crashed consumer must not restart: with the cluster going away, a
      // restarted kafkajs 2.2.4 runner can leave a fetcher spinning on microtasks (starving timers)
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000, restartOnFailure: async () => !consumersStopping },
    });
    c.on(c.events.GROUP_JOIN, (e) => {
      const assigned = e.payload.memberAssignment[o.topic] ?? [];
      const keys = [...assigned].sort((a, b) => a - b).map((p) => keyOf(o.topic, p));
      assignedKeys.set(process, keys);
      nextOffset.delete(process);
      history.append({ process, type: 'ok', f: 'assign', value: { keys } });
    });
    return c;
  }

  async function startGroupConsumer(process: number, groupId: string, onBatch: (p: EachBatchPayload) => void): Promise<Consumer> {
    const c = newConsumer(process, groupId);
    consumers.push(c);
    await c.connect();
    await c.subscribe({ topic: o.topic, fromBeginning: true });
    await c.run({
      partitionsConsumedConcurrently: 1,
      eachBatchAutoResolve: true,
      eachBatch: async (payload) => onBatch(payload),
    });
    return c;
  }

  async function highWatermarks(): Promise<Map<number, number> | null> {
    if (admin === null) return null;
    try {
      const offsets = await admin.fetchTopicOffsets(o.topic);
      return new Map(offsets.map((x) => [x.partition, Number(x.high)]));
    } catch {
      return null;
    }
  }

  async function recover(recoverKeys: string[], deadlineMs: number, signal: AbortSignal): Promise<boolean> {
    const pending = new Set(recoverKeys);
    const maxRounds = 10_000;
    try {
      // a probe only proves liveness: one attempt per send, never idempotent (kafkajs refuses
      // an idempotent producer without retries), acks=all so the high watermark covers it
      const probe = newProducer(0, false);
      producers.set(probeProcess, probe);
      await bounded(probe.connect(), Math.max(0, deadlineMs - Date.now()));
      for (let round = 0; round < maxRounds && pending.size > 0 && Date.now() < deadlineMs && !signal.aborted; round++) {
        for (const key of [...pending]) {
          const value = values.take();
          history.append({ process: probeProcess, type: 'invoke', f: 'send', value: { key, value } });
          const c = await send(probe, 0, key, value, -1);
          history.append({ process: probeProcess, ...c, f: 'send' });
          if (c.type === 'ok') pending.delete(key);
        }
        if (pending.size > 0) await sleep(250, signal);
      }
    } catch (err) {
      o.log(`recovery probe: ${errorName(err)}`);
    }
    return pending.size === 0;
  }

  async function drain(drainKeys: string[], deadlineMs: number, signal: AbortSignal): Promise<boolean> {
    const read = new Map<number, number>();
    const wanted = new Set(drainKeys.map(partitionOf));
    const consumer = await startGroupConsumer(drainProcess, `faultline-drain-${o.runId}`, (payload) => {
      recordBatch(drainProcess, payload);
      const last = payload.batch.messages.at(-1);
      if (last !== undefined) read.set(payload.batch.partition, Math.max(read.get(payload.batch.partition) ?? -1, Number(last.offset)));
    });
    const maxChecks = 100_000;
    let done = false;
    let atHwSinceMs: number | null = null;
    for (let i = 0; i < maxChecks && Date.now() < deadlineMs && !signal.aborted; i++) {
      await sleep(300, signal);
      const hw = await highWatermarks();
      if (hw === null) continue;
      // design.md: read every partition up to the highest offset seen in the run (acknowledged or
      // read). Offsets beyond the high watermark the cluster reports may be lost for good (acks=0/1),
      // or only hidden by a broker's stale view: once the reported high watermark is reached, keep
      // reading for a bounded grace period before taking the reported end as the end.
      const atHw = [...wanted].every((p) => (read.get(p) ?? -1) >= (hw.get(p) ?? 0) - 1);
      const atSeen = [...wanted].every((p) => (read.get(p) ?? -1) >= (highestSeen.get(p) ?? -1));
      if (atHw && atSeen) done = true;
      else if (atHw) {
        atHwSinceMs ??= Date.now();
        done = Date.now() - atHwSinceMs >= DRAIN_BEYOND_HW_GRACE_MS;
      } else atHwSinceMs = null;
      if (done) break;
    }
    await bounded(consumer.stop(), 5000);
    return done;
  }

  return {
    async setup(deadlineMs) {
      admin = kafka.admin({ retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
      let lastErr: unknown = null;
      const maxAttempts = 200;
      for (let i = 0; i < maxAttempts && Date.now() < deadlineMs; i++) {
        try {
          await admin.connect();
          const existing = await admin.listTopics();
          if (!existing.includes(o.topic)) {
            await admin.createTopics({
              waitForLeaders: true,
              timeout: Math.max(1000, Math.min(10_000, deadlineMs - Date.now())),
              topics: [
                {
                  topic: o.topic,
                  numPartitions: o.partitions,
                  replicationFactor: o.replicationFactor,
                  configEntries: [
                    { name: 'min.insync.replicas', value: String(o.minInsync) },
                    { name: 'unclean.leader.election.enable', value: String(o.uncleanElection) },
                  ],
                },
              ],
            });
          }
          const meta = await admin.fetchTopicMetadata({ topics: [o.topic] });
          const parts = meta.topics[0]?.partitions ?? [];
          if (parts.length === o.partitions && parts.every((p) => p.leader >= 0)) {
            for (let p = 0; p < o.concurrency; p++) await producerFor(p);
            return;
          }
          lastErr = new Error(`topic ${o.topic} has ${parts.length} partitions with leaders ${parts.map((p) => p.leader).join(',')}`);
        } catch (err) {
          lastErr = err;
        }
        await sleep(300);
      }
      throw new Error(`could not create topic ${o.topic} before the setup deadline: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
    },
    async startConsumers() {
      for (let i = 0; i < o.consumers; i++) {
        const process = firstConsumer + i;
        await startGroupConsumer(process, `faultline-${o.runId}`, (payload) => recordBatch(process, payload));
      }
    },
    async stopConsumers() {
      consumersStopping = true;
      await Promise.all(consumers.map((c) => bounded(c.stop(), 5000)));
    },
    async invoke(process, op) {
      let producer: Producer;
      try {
        producer = await producerFor(process);
      } catch (err) {
        // nothing was sent: the producer never connected; the next op connects afresh
        producers.delete(process);
        return { type: 'fail', value: { ...op.value, error: `CONNECT_FAILED:${errorName(err)}` } };
      }
      return send(producer, o.retries, op.value.key, op.value.value, acks);
    },
    async final(op, deadlineMs, signal) {
      return op.f === 'recover' ? recover(op.keys, deadlineMs, signal) : drain(op.keys, deadlineMs, signal);
    },
    async teardown() {
      const all: Array<Promise<unknown>> = [];
      for (const c of consumers) all.push(bounded(c.disconnect(), 5000));
      for (const p of producers.values()) all.push(bounded(p.disconnect(), 5000));
      if (admin !== null) all.push(bounded(admin.disconnect(), 5000));
      await Promise.all(all);
      consumers.length = 0;
      producers.clear();
      admin = null;
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
    client: queueClient(o, history, values),
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
