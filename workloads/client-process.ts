/**
 * A workload client process: the entry point of one child process that hosts exactly one client of
 * the queue workload (a producer, the admin that creates the topic, a consumer, or the drain reader).
 * Client library code (kafkajs, our consumer) runs only here, never on the orchestrator's event loop:
 * a client that spins without yielding (kafkajs issue #1384) stalls only its own process, which the
 * orchestrator kills on its deadline (workloads/client-host.ts).
 *
 * Protocol over the IPC channel (both directions are plain JSON):
 * - parent -> child `{t: 'call', id, method, args}`; child -> parent `{t: 'reply', id, ok, value | error}`.
 * - child -> parent `{t: 'op', op: {type, f, value}, atNs}`: a history op of this client's process,
 *   stamped with `process.hrtime.bigint()` (CLOCK_MONOTONIC, the history writer's clock, shared by all
 *   processes of the machine) at the moment it happened; the parent writes it.
 * - child -> parent `{t: 'log', msg}`.
 * The spec (role, process id, options) is argv[2] as JSON.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Producer } from 'kafkajs';
import { Consumer } from './consumer.ts';
import type { Emit } from './consumer.ts';
import { GroupMember } from './group.ts';
import { classifySendError, errorName } from './errors.ts';
import { sleep } from '../harness/util/time.ts';

export type ClientRole = 'admin' | 'producer' | 'consumer' | 'drain';

export interface ClientSpec {
  role: ClientRole;
  /** the history process id of this client ('admin' records nothing) */
  process: number;
  name: string;
  brokers: string[];
  topic: string;
  clientId: string;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  /** producer: retries, idempotence, acks; consumer: Fetch maxWaitMs */
  retries: number;
  idempotent: boolean;
  acks: -1 | 0 | 1;
  ackTimeoutMs: number;
  maxWaitMs: number;
  /** a defect planted for tests: 'spin' starts a microtask loop that never yields, at the first op */
  plant?: 'spin';
}

export interface TopicSpec {
  partitions: number;
  replicationFactor: number;
  minInsync: number;
  uncleanElection: boolean;
}

export type SendResult = { type: 'ok' | 'fail' | 'info'; value: { key: string; value: number; offset?: number; error?: string } };

export interface ConsumeArgs {
  mode: 'subscribe' | 'assign';
  groupId: string;
  /** assign mode: the partitions to read from the start */
  partitions: number[];
  /** the topic's partition count (a subscribe-mode group leader assigns them all) */
  partitionCount: number;
  /** explicit commits of the consumer's positions every this many ms (0: never) */
  commitEveryMs: number;
  sessionTimeoutMs: number;
}

export interface DrainArgs {
  partitions: number[];
  /** partition -> highest offset any ack or read of the run has shown */
  highestSeen: Record<string, number>;
  deadlineMs: number;
  graceMs: number;
}

export interface DrainResult {
  done: boolean;
  positions: Record<string, number>;
  highWatermarks: Record<string, number>;
}

function send(msg: unknown): void {
  process.send?.(msg);
}

/** kafkajs issue #1384's shape: microtasks that never let timers or I/O run again (in constant memory). */
function spinForever(): void {
  const spin = (): void => queueMicrotask(spin);
  spin();
}

function partitionOf(key: string): number {
  return Number(key.slice(key.lastIndexOf('-') + 1));
}

export function startClient(spec: ClientSpec): void {
  const emit: Emit = (op) => {
    if (spec.plant === 'spin' && op.type === 'invoke') {
      send({ t: 'op', op, atNs: process.hrtime.bigint().toString() });
      spinForever();
      return;
    }
    send({ t: 'op', op, atNs: process.hrtime.bigint().toString() });
  };
  const kafka = new Kafka({
    clientId: spec.clientId,
    brokers: spec.brokers,
    logLevel: logLevel.NOTHING,
    requestTimeout: spec.requestTimeoutMs,
    connectionTimeout: spec.connectionTimeoutMs,
    retry: { retries: spec.retries, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  let producer: Producer | null = null;
  let consumer: Consumer | null = null;
  let member: GroupMember | null = null;
  let running = false;
  let loop: Promise<void> | null = null;
  /** assign mode: partitions the workload asked this consumer to move to, applied between polls */
  let pendingAssign: number[] | null = null;

  async function setupTopic(t: TopicSpec, deadlineMs: number): Promise<void> {
    const admin = kafka.admin({ retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
    let lastErr: unknown = null;
    const maxAttempts = 200;
    try {
      for (let i = 0; i < maxAttempts && Date.now() < deadlineMs; i++) {
        try {
          await admin.connect();
          const existing = await admin.listTopics();
          if (!existing.includes(spec.topic)) {
            await admin.createTopics({
              waitForLeaders: true,
              timeout: Math.max(1000, Math.min(10_000, deadlineMs - Date.now())),
              topics: [
                {
                  topic: spec.topic,
                  numPartitions: t.partitions,
                  replicationFactor: t.replicationFactor,
                  configEntries: [
                    { name: 'min.insync.replicas', value: String(t.minInsync) },
                    { name: 'unclean.leader.election.enable', value: String(t.uncleanElection) },
                  ],
                },
              ],
            });
          }
          const meta = await admin.fetchTopicMetadata({ topics: [spec.topic] });
          const parts = meta.topics[0]?.partitions ?? [];
          if (parts.length === t.partitions && parts.every((p) => p.leader >= 0)) return;
          lastErr = new Error(`topic ${spec.topic} has ${parts.length} partitions with leaders ${parts.map((p) => p.leader).join(',')}`);
        } catch (err) {
          lastErr = err;
        }
        await sleep(300);
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    throw new Error(`could not create topic ${spec.topic} before the setup deadline: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
  }

  async function connectProducer(): Promise<void> {
    producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: spec.idempotent,
      maxInFlightRequests: spec.idempotent ? 1 : undefined,
      retry: { retries: spec.retries, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    await producer.connect();
  }

  let sends = 0;
  async function sendOne(a: { key: string; value: number }): Promise<SendResult> {
    if (spec.plant === 'spin' && sends++ === 0) spinForever();
    if (producer === null) {
      try {
        await connectProducer();
      } catch (err) {
        producer = null;
        return { type: 'fail', value: { ...a, error: `CONNECT_FAILED:${errorName(err)}` } };
      }
    }
    try {
      const meta = await producer!.send({ topic: spec.topic, acks: spec.acks, timeout: spec.ackTimeoutMs, messages: [{ partition: partitionOf(a.key), value: String(a.value) }] });
      const m = meta.find((r) => r.partition === partitionOf(a.key));
      const offset = m?.baseOffset === undefined ? undefined : Number(m.baseOffset);
      if (spec.acks === 0 || offset === undefined || !Number.isInteger(offset) || offset < 0) return { type: 'ok', value: a };
      return { type: 'ok', value: { ...a, offset } };
    } catch (err) {
      const c = classifySendError(err, spec.retries);
      if (spec.idempotent && c.type === 'info') {
        // kafkajs advances an idempotent producer's sequence only on success, so after a send of
        // unknown outcome its next batch reuses that sequence: a broker that did append the first batch
        // then answers the next one as its duplicate (with the first one's offset, as Kafka does), and a
        // value is acknowledged that was never written. A fresh producer (a new producer id, KIP-360's
        // answer) never reuses a sequence for other data.
        const stale = producer;
        producer = null;
        await stale?.disconnect().catch(() => undefined);
      }
      return { type: c.type, value: { ...a, error: c.error } };
    }
  }

  function newConsumer(): Consumer {
    return new Consumer({
      brokers: spec.brokers,
      topic: spec.topic,
      clientId: spec.clientId,
      requestTimeoutMs: spec.requestTimeoutMs,
      connectionTimeoutMs: spec.connectionTimeoutMs,
      maxWaitMs: spec.maxWaitMs,
      emit,
    });
  }

  /** The load consumer's loop: poll, commit now and then, follow the group (subscribe mode). */
  async function consume(a: ConsumeArgs): Promise<void> {
    const c = (consumer = newConsumer());
    if (a.mode === 'assign') await c.assign(a.partitions);
    else member = new GroupMember(c, { groupId: a.groupId, topic: spec.topic, partitions: a.partitionCount, sessionTimeoutMs: a.sessionTimeoutMs, rebalanceTimeoutMs: a.sessionTimeoutMs });
    let lastCommitMs = Date.now();
    const backoffMs = 100;
    while (running) {
      // a reassignment asked for by the workload takes effect between polls (one op in flight)
      if (pendingAssign !== null) {
        const ps = pendingAssign;
        pendingAssign = null;
        await c.assign(ps);
      }
      if (member !== null && !(await member.maintain().catch(() => false))) {
        await sleep(backoffMs);
        continue;
      }
      const r = await c.poll();
      if (r.type === 'fail') await sleep(backoffMs);
      // Only group members commit: an assign-mode consumer positions itself by seeking (Jepsen's
      // assign), so a re-assign that seeks to the beginning is not a resume from a committed offset,
      // and the checker judges resumes of committing processes only (checkers/queue/rules.ts).
      if (member !== null && a.commitEveryMs > 0 && Date.now() - lastCommitMs >= a.commitEveryMs && running) {
        lastCommitMs = Date.now();
        await member.commit().catch(() => undefined);
      }
    }
  }

  /** The final drain: assign every partition, seek to 0, read until each reaches its end (bounded). */
  async function drain(a: DrainArgs): Promise<DrainResult> {
    const c = (consumer = newConsumer());
    await c.assign(a.partitions, new Map(a.partitions.map((p) => [p, 0])));
    let atHwSinceMs: number | null = null;
    let done = false;
    const maxPolls = 1_000_000;
    for (let i = 0; i < maxPolls && Date.now() < a.deadlineMs; i++) {
      const r = await c.poll();
      if (r.type === 'fail') await sleep(100);
      const known = a.partitions.every((p) => c.highWatermarks.has(p));
      if (!known) continue;
      const atHw = a.partitions.every((p) => (c.positions.get(p) ?? 0) >= c.highWatermarks.get(p)!);
      const atSeen = a.partitions.every((p) => (c.positions.get(p) ?? 0) > (a.highestSeen[String(p)] ?? -1));
      // design.md: read up to the highest offset the run has seen; offsets past the reported high
      // watermark may be lost (acks=0/1) or hidden by a stale view: a bounded grace before giving up.
      if (atHw && atSeen) done = true;
      else if (atHw) {
        atHwSinceMs ??= Date.now();
        done = Date.now() - atHwSinceMs >= a.graceMs;
      } else atHwSinceMs = null;
      if (done) break;
    }
    return {
      done,
      positions: Object.fromEntries([...c.positions].map(([p, o]) => [String(p), o])),
      highWatermarks: Object.fromEntries([...c.highWatermarks].map(([p, o]) => [String(p), o])),
    };
  }

  const methods: Record<string, (args: any) => Promise<unknown>> = {
    setupTopic: (a: { topic: TopicSpec; deadlineMs: number }) => setupTopic(a.topic, a.deadlineMs),
    connect: () => connectProducer(),
    send: (a: { key: string; value: number }) => sendOne(a),
    consume: async (a: ConsumeArgs) => {
      running = true;
      loop = consume(a).catch((err) => send({ t: 'log', msg: `${spec.name}: ${errorName(err)}` }));
    },
    /** assign mode: take these partitions, seeking each to its start (Jepsen's assign + seek-to-beginning) */
    assign: async (a: { partitions: number[] }) => {
      if (consumer !== null && member === null) pendingAssign = a.partitions;
    },
    stop: async () => {
      running = false;
      await loop;
      await member?.leave().catch(() => undefined);
    },
    drain: (a: DrainArgs) => drain(a),
    close: async () => {
      running = false;
      consumer?.close();
      await producer?.disconnect().catch(() => undefined);
    },
  };

  process.on('message', (m: { t: string; id: number; method: string; args: unknown }) => {
    if (m.t !== 'call') return;
    const fn = methods[m.method];
    if (fn === undefined) return send({ t: 'reply', id: m.id, ok: false, error: `unknown method ${m.method}` });
    fn(m.args).then(
      (value) => send({ t: 'reply', id: m.id, ok: true, value: value ?? null }),
      (err: unknown) => send({ t: 'reply', id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ t: 'ready' });
}

if (process.argv[2] !== undefined && process.send !== undefined) startClient(JSON.parse(process.argv[2]) as ClientSpec);
