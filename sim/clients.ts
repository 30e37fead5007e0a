/**
 * Simulated Kafka clients over the real wire codec (broker/client.ts's KafkaConnection on the
 * simulated network), recording the harness's history format (design.md, "history.jsonl"; checked
 * by checkers/queue.ts):
 * - `Producer`: one process, one op in flight; acks 0, 1 or all (-1); idempotent or not. An
 *   idempotent producer has a producer id from InitProducerId and numbers its batches per partition;
 *   after an answer it cannot judge (timeout, dropped connection, an error that may follow an
 *   append) it retries the same batch up to `retries` times, so the broker's deduplication is
 *   exercised; a send it gave up on ends `info` and the producer takes a fresh producer id (as the
 *   queue workload's producer does). Error verdicts come from workloads/errors.ts's table.
 * - `Consumer`: Fetch from each partition's leader at the consumer's position, recording `poll` ops;
 *   `drain` reads every partition from 0 up to the high watermark at the end of the run. A group
 *   member (group-client.ts) polls only its `assigned` partitions.
 * - `createTopic`: admin CreateTopics, retried until the topic exists.
 * - `Admin`: partition reassignment (AlterPartitionReassignments, then ListPartitionReassignments
 *   until the partition is no longer listed, then a preferred-leader election) and topic deletion (DeleteTopics, retried until the
 *   topic is gone), each bounded by a deadline; a newer reassignment of the same partition
 *   supersedes the polling of an older one (KIP-455 lets a new target replace an ongoing one).
 * Values are unique integers (the run's counter), so every read traces back to its send.
 */
import { KafkaConnection } from '../broker/client.ts';
import { ApiKeys } from '../broker/protocol/codec.ts';
import { ErrorCode, errorName } from '../broker/protocol/errors.ts';
import { buildBatch, decodeRecords } from '../broker/protocol/records.ts';
import type { Runtime } from '../broker/runtime/runtime.ts';
import type { Op, OpType, Process } from '../checkers/history.ts';
import { errorClass } from '../workloads/errors.ts';
import type { Prng } from './prng.ts';
import { KAFKA_PORT } from './world.ts';

const REQUEST_TIMEOUT_MS = 3000;
const CONNECT_TIMEOUT_MS = 1000;

export class History {
  readonly ops: Op[] = [];
  readonly #nowNs: () => number;
  constructor(nowNs: () => number) {
    this.#nowNs = nowNs;
  }
  add(process: Process, type: OpType, f: string, value: unknown): void {
    this.ops.push({ index: this.ops.length, timeNs: this.#nowNs(), process, type, f, value });
  }
}

export interface PartitionInfo {
  leader: number;
  leaderEpoch: number;
}

/** Connections to the brokers by id, and the leaders a Metadata answer named. */
export class ClusterClient {
  readonly #rt: Runtime;
  readonly #brokerIds: number[];
  readonly #prng: Prng;
  readonly #conns = new Map<number, Promise<KafkaConnection>>();
  readonly clientId: string;
  leaders = new Map<string, PartitionInfo>();

  constructor(rt: Runtime, brokerIds: number[], prng: Prng, clientId: string) {
    this.#rt = rt;
    this.#brokerIds = brokerIds;
    this.#prng = prng;
    this.clientId = clientId;
  }

  get runtime(): Runtime {
    return this.#rt;
  }

  async conn(id: number): Promise<KafkaConnection> {
    let c = this.#conns.get(id);
    if (c) {
      const got = await c.catch(() => null);
      if (got && !got.closed) return got;
    }
    c = KafkaConnection.connect(`n${id}`, KAFKA_PORT, { clientId: this.clientId, connectTimeoutMs: CONNECT_TIMEOUT_MS, runtime: this.#rt });
    this.#conns.set(id, c);
    c.catch(() => this.#conns.delete(id));
    return c;
  }

  /** Drops every connection (a crashed client): requests in flight fail with a closed connection. */
  closeAll(): void {
    for (const c of this.#conns.values()) void c.then((got) => got.close(), () => undefined);
    this.#conns.clear();
  }

  async request(id: number, apiKey: number, version: number, body: object, timeoutMs = REQUEST_TIMEOUT_MS): Promise<any> {
    const c = await this.conn(id);
    try {
      return await c.request(apiKey, version, body, timeoutMs);
    } catch (err) {
      c.close();
      throw err;
    }
  }

  randomBroker(): number {
    return this.#prng.pick(this.#brokerIds);
  }

  /** Refreshes the leaders of `topic` from a random broker; false when none answered. */
  async refresh(topic: string): Promise<boolean> {
    try {
      const md = await this.request(this.randomBroker(), ApiKeys.Metadata, 8, { topics: [{ name: topic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      for (const t of md.topics ?? []) {
        if (t.errorCode !== 0) continue;
        for (const p of t.partitions ?? []) if (p.leaderId >= 0) this.leaders.set(`${t.name}-${p.partitionIndex}`, { leader: p.leaderId, leaderEpoch: p.leaderEpoch });
      }
      return true;
    } catch {
      return false;
    }
  }

  leaderOf(topic: string, partition: number): number | null {
    return this.leaders.get(`${topic}-${partition}`)?.leader ?? null;
  }
}

/** Creates `topic` (retried every 200 ms until it exists or `deadlineMs`); true when it exists. */
export async function createTopic(c: ClusterClient, topic: string, partitions: number, replicationFactor: number, deadlineMs: number): Promise<boolean> {
  const { clock, timers } = c.runtime;
  while (clock.nowMs() < deadlineMs) {
    try {
      const res = await c.request(c.randomBroker(), ApiKeys.CreateTopics, 4, { topics: [{ name: topic, numPartitions: partitions, replicationFactor, assignments: [], configs: [] }], timeoutMs: 2000, validateOnly: false }, 4000);
      const code = res.topics?.[0]?.errorCode;
      if (code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS) {
        if (await c.refresh(topic)) {
          let all = true;
          for (let p = 0; p < partitions; p++) if (c.leaderOf(topic, p) === null) all = false;
          if (all) return true;
        }
      }
    } catch {
      // retried below
    }
    await new Promise<void>((r) => timers.setTimeout(r, 200));
  }
  return false;
}

export interface ProducerConfig {
  process: number;
  topic: string;
  partitions: number;
  acks: 0 | 1 | -1;
  idempotent: boolean;
  retries: number;
}

/** One acknowledged send, as the properties need it. */
export interface AckedSend {
  key: string;
  topic: string;
  partition: number;
  offset: number;
  value: number;
  acks: 0 | 1 | -1;
  idempotent: boolean;
}

export class Producer {
  readonly cfg: ProducerConfig;
  readonly #c: ClusterClient;
  readonly #h: History;
  readonly #prng: Prng;
  #pid = -1;
  #epoch = -1;
  readonly #seq = new Map<number, number>();
  readonly acked: AckedSend[] = [];

  constructor(cfg: ProducerConfig, c: ClusterClient, h: History, prng: Prng) {
    this.cfg = cfg;
    this.#c = c;
    this.#h = h;
    this.#prng = prng;
  }

  async #initProducerId(): Promise<boolean> {
    try {
      const res = await this.#c.request(this.#c.randomBroker(), ApiKeys.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 60_000 });
      if (res.errorCode !== 0) return false;
      this.#pid = Number(res.producerId);
      this.#epoch = res.producerEpoch;
      this.#seq.clear();
      return true;
    } catch {
      return false;
    }
  }

  /** One send op: invoke, then exactly one completion. */
  async send(value: number): Promise<void> {
    const { topic, acks, process } = this.cfg;
    const partition = this.#prng.int(0, this.cfg.partitions - 1);
    const key = `${topic}-${partition}`;
    if (this.cfg.idempotent && this.#pid < 0 && !(await this.#initProducerId())) return;
    this.#h.add(process, 'invoke', 'send', { key, value });
    const seq = this.#seq.get(partition) ?? 0;
    const batch = buildBatch({
      baseTimestamp: this.#c.runtime.clock.nowMs(),
      ...(this.cfg.idempotent ? { producerId: this.#pid, producerEpoch: this.#epoch, baseSequence: seq } : {}),
      records: [{ key: null, value: Buffer.from(String(value)) }],
    });
    const body = { transactionalId: null, acks, timeoutMs: 2000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] };
    let attempts = 0;
    let lastError = 'no leader known';
    for (;;) {
      attempts++;
      let leader = this.#c.leaderOf(topic, partition);
      if (leader === null) {
        await this.#c.refresh(topic);
        leader = this.#c.leaderOf(topic, partition);
      }
      if (leader !== null) {
        try {
          if (acks === 0) {
            const conn = await this.#c.conn(leader);
            conn.send(ApiKeys.Produce, 8, body);
            this.#h.add(process, 'ok', 'send', { key, value });
            return;
          }
          const res = await this.#c.request(leader, ApiKeys.Produce, 8, body);
          const pr = res.responses?.[0]?.partitionResponses?.[0];
          const code: number = pr?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
          if (code === ErrorCode.NONE) {
            const offset = Number(pr.baseOffset);
            if (this.cfg.idempotent) this.#seq.set(partition, seq + 1);
            this.#h.add(process, 'ok', 'send', { key, value, offset });
            this.acked.push({ key, topic, partition, offset, value, acks, idempotent: this.cfg.idempotent });
            return;
          }
          lastError = errorName(code);
          // This client reads the Produce answer itself (no client library re-reporting a metadata
          // refresh's error), so an UNKNOWN_TOPIC_OR_PARTITION here is the attempt's own refusal.
          const cls = lastError === 'UNKNOWN_TOPIC_OR_PARTITION' ? 'rejected' : errorClass(lastError);
          if (code === ErrorCode.NOT_LEADER_OR_FOLLOWER || code === ErrorCode.FENCED_LEADER_EPOCH || code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) void this.#c.refresh(topic);
          if (cls === 'intrinsic' || (cls === 'rejected' && attempts === 1 && !this.cfg.idempotent)) {
            this.#h.add(process, 'fail', 'send', { key, value, error: lastError });
            return;
          }
        } catch (err) {
          lastError = (err as { code?: string }).code ?? 'NETWORK_EXCEPTION';
          void this.#c.refresh(topic);
        }
      }
      if (!this.cfg.idempotent || attempts > this.cfg.retries) break;
      await new Promise<void>((r) => this.#c.runtime.timers.setTimeout(r, 100));
    }
    this.#h.add(process, 'info', 'send', { key, value, error: lastError });
    if (this.cfg.idempotent) this.#pid = -1; // its sequence numbers are in an unknown state: start afresh
  }
}

/** Reads partitions from their leaders, only ever below the high watermark the answer names. */
export class Consumer {
  readonly process: number;
  readonly topic: string;
  readonly partitions: number;
  readonly #c: ClusterClient;
  readonly #h: History;
  readonly position = new Map<number, number>();
  /** The partitions it polls: all of the topic's (null), or a group member's assignment. */
  assigned: readonly number[] | null = null;
  /** Records a fetch answer returned at or above the high watermark it reported (a property). */
  readonly aboveHw: string[] = [];
  /** Every (key, offset, value) read. */
  readonly reads: Array<{ key: string; offset: number; value: number }> = [];

  constructor(process: number, topic: string, partitions: number, c: ClusterClient, h: History) {
    this.process = process;
    this.topic = topic;
    this.partitions = partitions;
    this.#c = c;
    this.#h = h;
  }

  /** One poll op over every partition (each from its leader); returns the high watermarks seen. */
  async poll(): Promise<Map<number, number>> {
    const hws = new Map<number, number>();
    const byLeader = new Map<number, number[]>();
    for (const p of this.assigned ?? Array.from({ length: this.partitions }, (_, i) => i)) {
      const l = this.#c.leaderOf(this.topic, p);
      if (l === null) continue;
      byLeader.set(l, [...(byLeader.get(l) ?? []), p]);
    }
    if (byLeader.size === 0) {
      await this.#c.refresh(this.topic);
      return hws;
    }
    for (const [leader, parts] of byLeader) {
      this.#h.add(this.process, 'invoke', 'poll', null);
      let res: any;
      try {
        res = await this.#c.request(leader, ApiKeys.Fetch, 11, {
          replicaId: -1,
          maxWaitMs: 100,
          minBytes: 1,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic: this.topic, partitions: parts.map((p) => ({ partition: p, currentLeaderEpoch: -1, fetchOffset: this.position.get(p) ?? 0, logStartOffset: -1, partitionMaxBytes: 256 * 1024 })) }],
          forgottenTopicsData: [],
          rackId: '',
        });
      } catch (err) {
        this.#h.add(this.process, 'fail', 'poll', { error: (err as { code?: string }).code ?? 'NETWORK_EXCEPTION' });
        void this.#c.refresh(this.topic);
        continue;
      }
      const value: Record<string, Array<[number, number]>> = {};
      let anyError = false;
      for (const t of res.responses ?? []) {
        for (const p of t.partitions ?? []) {
          if (p.errorCode !== 0) {
            anyError = true;
            continue;
          }
          const hw = Number(p.highWatermark);
          hws.set(p.partitionIndex, hw);
          const key = `${this.topic}-${p.partitionIndex}`;
          const from = this.position.get(p.partitionIndex) ?? 0;
          const pairs: Array<[number, number]> = [];
          if (p.records && p.records.length > 0) {
            for (const r of decodeRecords(p.records)) {
              if (r.offset < from) continue;
              const v = Number(r.value?.toString() ?? 'NaN');
              if (r.offset >= hw) this.aboveHw.push(`${key}@${r.offset} read with high watermark ${hw}`);
              pairs.push([r.offset, v]);
              this.reads.push({ key, offset: r.offset, value: v });
              this.position.set(p.partitionIndex, r.offset + 1);
            }
          }
          if (pairs.length > 0) value[key] = pairs;
        }
      }
      if (anyError) void this.#c.refresh(this.topic);
      this.#h.add(this.process, 'ok', 'poll', value);
    }
    return hws;
  }
}

/** How often `Admin` polls ListPartitionReassignments and retries a refused or lost admin request. */
const ADMIN_RETRY_MS = 200;

/** Admin operations over the real codec, each bounded by its deadline (see the module header). */
export class Admin {
  readonly #c: ClusterClient;
  /** Per partition (`topic-index`), the newest reassignment started: an older one stops polling. */
  readonly #generation = new Map<string, number>();

  constructor(c: ClusterClient) {
    this.#c = c;
  }

  get client(): ClusterClient {
    return this.#c;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((r) => this.#c.runtime.timers.setTimeout(r, ms));
  }

  /**
   * Moves `topic`-`partition` to `replicas` (broker ids, preferred leader first) and waits until
   * ListPartitionReassignments no longer lists it. 'done' when it finished, 'superseded' when a
   * newer reassignment of the partition started meanwhile, 'timeout' at `deadlineMs`.
   */
  async reassign(topic: string, partition: number, replicas: readonly number[], deadlineMs: number): Promise<'done' | 'superseded' | 'timeout'> {
    const key = `${topic}-${partition}`;
    const gen = (this.#generation.get(key) ?? 0) + 1;
    this.#generation.set(key, gen);
    const { clock } = this.#c.runtime;
    let accepted = false;
    while (clock.nowMs() < deadlineMs) {
      if (this.#generation.get(key) !== gen) return 'superseded';
      try {
        if (!accepted) {
          const res = await this.#c.request(this.#c.randomBroker(), ApiKeys.AlterPartitionReassignments, 0, { timeoutMs: 2000, topics: [{ name: topic, partitions: [{ partitionIndex: partition, replicas: [...replicas] }] }] }, 4000);
          accepted = res.errorCode === ErrorCode.NONE && res.responses?.[0]?.partitions?.[0]?.errorCode === ErrorCode.NONE;
        }
        if (accepted) {
          const res = await this.#c.request(this.#c.randomBroker(), ApiKeys.ListPartitionReassignments, 0, { timeoutMs: 2000, topics: [{ name: topic, partitionIndexes: [partition] }] }, 4000);
          if (res.errorCode === ErrorCode.NONE && !(res.topics ?? []).some((t: { name: string; partitions: Array<{ partitionIndex: number }> }) => t.name === topic && t.partitions.some((p) => p.partitionIndex === partition))) {
            await this.#electPreferred(topic, partition);
            return 'done';
          }
        }
      } catch {
        // a lost request or answer: asked again below
      }
      await this.#sleep(ADMIN_RETRY_MS);
    }
    return 'timeout';
  }

  /**
   * One preferred-leader election (ElectLeaders v1, type 0) of `topic`-`partition`, as an operator
   * runs after a reassignment that changed the preferred leader (the simulated cluster has
   * `auto.leader.rebalance.enable=false`). Its answer is not needed: a refusal
   * (ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE) or a lost answer leaves the leader where it is.
   */
  async #electPreferred(topic: string, partition: number): Promise<void> {
    try {
      await this.#c.request(this.#c.randomBroker(), ApiKeys.ElectLeaders, 1, { electionType: 0, topicPartitions: [{ topic, partitions: [partition] }], timeoutMs: 2000 }, 4000);
    } catch {
      // the leader stays where it is
    }
  }

  /**
   * Deletes `topic` (retried until a broker answers NONE or UNKNOWN_TOPIC_OR_PARTITION, i.e. it is
   * gone, or `deadlineMs`); true when it is gone.
   */
  async deleteTopic(topic: string, deadlineMs: number): Promise<boolean> {
    const { clock } = this.#c.runtime;
    while (clock.nowMs() < deadlineMs) {
      try {
        const res = await this.#c.request(this.#c.randomBroker(), ApiKeys.DeleteTopics, 3, { topicNames: [topic], timeoutMs: 2000 }, 4000);
        const code = res.responses?.[0]?.errorCode;
        if (code === ErrorCode.NONE || code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return true;
      } catch {
        // asked again below
      }
      await this.#sleep(ADMIN_RETRY_MS);
    }
    return false;
  }
}
