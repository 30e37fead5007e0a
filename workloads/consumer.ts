/**
 * The queue workload's consumer: a small Kafka consumer of our own over the project's wire codec
 * (broker/client.ts, broker/protocol), run inside a client process (workloads/client-process.ts).
 *
 * Why our own and not kafkajs's: kafkajs hands batches to `eachBatch` after its fetcher has already
 * received them, runs one fetch loop per broker concurrently, and never reports an empty fetch, so
 * a poll recorded from `eachBatch` has no real latency, several may be in flight for one process, and
 * consumer lag cannot be computed. Here a poll is one Fetch request:
 * - invoke `poll` (value null) is recorded just before the request is written to the socket, and the
 *   completion just after its response is decoded: `ok` with key -> [[offset, value], ...] in the
 *   order returned, `{}` for an empty answer; `fail` with {error} for an answer of errors only or no
 *   answer (a read changes nothing, so a failed read is definite). At most one poll is in flight.
 * - A value whose payload is not an integer is recorded as its string (the checker counts it as
 *   `unexpected-read`), never dropped. Records before the fetch position (a batch that starts earlier)
 *   are skipped, as every Kafka consumer does.
 * - OFFSET_OUT_OF_RANGE: the consumer resets to the partition's earliest offset (auto.offset.reset=
 *   earliest) and records it as one `reposition` info line {key, from, to, reason}; never as `assign`.
 * - `assign` (one ok line {keys}) when the consumer's partitions change or it seeks.
 * - `commit` (invoke {key: next offset, ...} -> ok | fail | info with the same value plus `error`):
 *   an explicit OffsetCommit of the consumer's positions to the run's shared group.
 *
 * Every request is bounded by `requestTimeoutMs`; the poll loop waits at most `maxWaitMs` per Fetch.
 */
import { KafkaConnection } from '../broker/client.ts';
import { ApiKeys } from '../broker/protocol/codec.ts';
import { ErrorCode, errorName } from '../broker/protocol/errors.ts';
import { decodeRecords, iterateBatches } from '../broker/protocol/records.ts';

/**
 * OffsetCommit errors a coordinator answers before it writes the offsets log (the member, generation
 * or request is wrong), so the commit definitely did not happen. Any other (NOT_COORDINATOR,
 * COORDINATOR_NOT_AVAILABLE, a timeout) may come after the write: a coordinator that lost its role
 * while the append waited for the ISR answers NOT_COORDINATOR, and the new coordinator loads the
 * record (Kafka's too). Seen in a clean partition-leader run (seed 4060): a commit answered
 * NOT_COORDINATOR was recorded `fail`, the member resumed at its offsets, and the checker reported a
 * resume-mismatch (skip).
 */
const COMMIT_REFUSED: ReadonlySet<number> = new Set([
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
  ErrorCode.OFFSET_METADATA_TOO_LARGE,
  ErrorCode.INVALID_COMMIT_OFFSET_SIZE,
]);

/** True when every partition's error proves the commit was not written (a `fail`, else `info`). */
export function commitRefused(codes: readonly number[]): boolean {
  return codes.length > 0 && codes.every((c) => COMMIT_REFUSED.has(c));
}

/** What a consumer records: one history op, stamped by the caller's clock at the moment of the call. */
export type Emit = (op: { type: 'invoke' | 'ok' | 'fail' | 'info'; f: string; value: unknown }) => void;

export interface ConsumerConfig {
  brokers: string[];
  topic: string;
  clientId: string;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  /** Fetch maxWaitMs: how long the broker may hold an empty fetch */
  maxWaitMs: number;
  emit: Emit;
}

export type PollPair = [number, number | string];
export type PollResult = { type: 'ok'; value: Record<string, PollPair[]> } | { type: 'fail'; value: { error: string } };

const FETCH_VERSION = 11;
const LIST_OFFSETS_VERSION = 5;
const METADATA_VERSION = 8;
const OFFSET_COMMIT_VERSION = 7;
const PARTITION_MAX_BYTES = 256 * 1024;

export function keyOf(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** A record's payload as the history holds it: the integer it encodes, else its text (never dropped). */
export function payloadOf(value: Buffer | null): number | string {
  if (value === null) return 'null';
  const s = value.toString();
  const n = Number(s);
  return /^-?\d+$/.test(s.trim()) && Number.isSafeInteger(n) ? n : s;
}

/** Records at or after `from`, as poll pairs, from one partition's records buffer (a torn last batch is left out). */
export function pairsFrom(records: Buffer | null | undefined, from: number): PollPair[] {
  if (!records || records.length === 0) return [];
  const out: PollPair[] = [];
  for (const batch of iterateBatches(records)) {
    for (const r of decodeRecords(batch)) if (r.offset >= from) out.push([r.offset, payloadOf(r.value)]);
  }
  return out;
}

function hostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Consumer {
  readonly #c: ConsumerConfig;
  readonly #conns = new Map<string, KafkaConnection>();
  /** broker id -> address, partition -> leader id, from the last Metadata answer */
  #brokers = new Map<number, string>();
  #leaders = new Map<number, number>();
  #bootstrapTurn = 0;
  #leaderTurn = 0;
  /** partition -> the next offset this consumer will read */
  readonly positions = new Map<number, number>();
  /** partition -> the high watermark the last Fetch answer reported */
  readonly highWatermarks = new Map<number, number>();
  #closed = false;

  constructor(c: ConsumerConfig) {
    this.#c = c;
  }

  get assigned(): number[] {
    return [...this.positions.keys()].sort((a, b) => a - b);
  }

  /**
   * Take these partitions, each at its position in `at` or, when `at` has none, at its earliest offset
   * (the log start: Jepsen's seek-to-beginning); records `assign`.
   */
  async assign(partitions: number[], at: Map<number, number> = new Map()): Promise<void> {
    // the new positions are found first and then take effect at once with the `assign` op, so no
    // poll can read at a new position before the history says the consumer moved
    const next = new Map<number, number>();
    for (const p of partitions) next.set(p, at.get(p) ?? (await this.#earliest(p).catch(() => 0)));
    this.positions.clear();
    for (const [p, o] of next) this.positions.set(p, o);
    this.#c.emit({ type: 'ok', f: 'assign', value: { keys: partitions.map((p) => keyOf(this.#c.topic, p)) } });
  }

  async #connection(addr: string): Promise<KafkaConnection> {
    const have = this.#conns.get(addr);
    if (have && !have.closed) return have;
    const [host, port] = hostPort(addr);
    const conn = await KafkaConnection.connect(host, port, { clientId: this.#c.clientId, connectTimeoutMs: this.#c.connectionTimeoutMs });
    this.#conns.set(addr, conn);
    return conn;
  }

  #drop(addr: string): void {
    this.#conns.get(addr)?.close();
    this.#conns.delete(addr);
  }

  async #request(addr: string, apiKey: number, version: number, body: object, timeoutMs = this.#c.requestTimeoutMs): Promise<any> {
    const conn = await this.#connection(addr);
    try {
      return await conn.request(apiKey, version, body, timeoutMs);
    } catch (err) {
      this.#drop(addr);
      throw err;
    }
  }

  /** Refresh brokers and leaders from any bootstrap broker (each tried once, in turn). */
  async refreshMetadata(): Promise<void> {
    let last: unknown = new Error('no brokers');
    for (let i = 0; i < this.#c.brokers.length; i++) {
      const addr = this.#c.brokers[(this.#bootstrapTurn++) % this.#c.brokers.length]!;
      try {
        const res = await this.#request(addr, ApiKeys.Metadata, METADATA_VERSION, {
          topics: [{ name: this.#c.topic }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
        this.#brokers = new Map((res.brokers ?? []).map((b: any) => [b.nodeId, `${b.host}:${b.port}`]));
        const t = (res.topics ?? []).find((x: any) => x.name === this.#c.topic);
        this.#leaders = new Map((t?.partitions ?? []).filter((p: any) => p.leaderId >= 0).map((p: any) => [p.partitionIndex, p.leaderId]));
        return;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  async #leaderAddress(partition: number): Promise<string> {
    if (!this.#leaders.has(partition)) await this.refreshMetadata();
    const id = this.#leaders.get(partition);
    const addr = id === undefined ? undefined : this.#brokers.get(id);
    if (addr === undefined) throw new Error(`no leader known for ${keyOf(this.#c.topic, partition)}`);
    return addr;
  }

  async #listOffset(partition: number, timestamp: -1 | -2): Promise<number> {
    const addr = await this.#leaderAddress(partition);
    const res = await this.#request(addr, ApiKeys.ListOffsets, LIST_OFFSETS_VERSION, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: this.#c.topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp }] }],
    });
    const p = res.topics?.[0]?.partitions?.[0];
    if (!p || p.errorCode !== 0) {
      this.#leaders.delete(partition);
      throw new Error(`ListOffsets ${keyOf(this.#c.topic, partition)}: ${p ? errorName(p.errorCode) : 'no answer'}`);
    }
    return Number(p.offset);
  }

  #earliest(partition: number): Promise<number> {
    return this.#listOffset(partition, -2);
  }

  /** The high watermark of a partition, asked of its leader (ListOffsets latest). */
  latest(partition: number): Promise<number> {
    return this.#listOffset(partition, -1);
  }

  /**
   * One poll: one Fetch to the next leader (in turn) of the assigned partitions it leads, recorded as
   * invoke + completion around the request. Partition errors update leaders or reposition.
   */
  async poll(): Promise<PollResult> {
    if (this.positions.size === 0) return { type: 'ok', value: {} };
    let addr: string;
    let parts: number[];
    try {
      const byLeader = new Map<string, number[]>();
      for (const p of this.assigned) {
        const a = await this.#leaderAddress(p).catch(() => null);
        if (a === null) continue;
        byLeader.set(a, [...(byLeader.get(a) ?? []), p]);
      }
      const leaders = [...byLeader.keys()].sort();
      if (leaders.length === 0) throw new Error('no leader known for any assigned partition');
      addr = leaders[(this.#leaderTurn++) % leaders.length]!;
      parts = byLeader.get(addr)!;
    } catch (err) {
      this.#leaders.clear();
      // nothing was asked of a broker: no poll op
      return { type: 'fail', value: { error: `METADATA:${message(err)}` } };
    }
    const asked = new Map(parts.map((p) => [p, this.positions.get(p)!]));
    this.#c.emit({ type: 'invoke', f: 'poll', value: null });
    let res: any;
    try {
      res = await this.#request(
        addr,
        ApiKeys.Fetch,
        FETCH_VERSION,
        {
          replicaId: -1,
          maxWaitMs: this.#c.maxWaitMs,
          minBytes: 1,
          maxBytes: PARTITION_MAX_BYTES * 4,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic: this.#c.topic, partitions: parts.map((p) => ({ partition: p, currentLeaderEpoch: -1, fetchOffset: asked.get(p)!, logStartOffset: -1, partitionMaxBytes: PARTITION_MAX_BYTES })) }],
          forgottenTopicsData: [],
          rackId: '',
        },
        this.#c.maxWaitMs + this.#c.requestTimeoutMs,
      );
    } catch (err) {
      this.#leaders.clear();
      const failed: PollResult = { type: 'fail', value: { error: (err as { code?: string }).code ?? message(err) } };
      this.#c.emit({ ...failed, f: 'poll' });
      return failed;
    }
    const value: Record<string, PollPair[]> = {};
    const errors: string[] = [];
    const resets: number[] = [];
    for (const t of res.responses ?? []) {
      if (t.topic !== this.#c.topic) continue;
      for (const p of t.partitions ?? []) {
        const from = asked.get(p.partitionIndex);
        if (from === undefined || this.positions.get(p.partitionIndex) !== from) continue;
        if (p.errorCode !== 0) {
          errors.push(`${keyOf(this.#c.topic, p.partitionIndex)}:${errorName(p.errorCode)}`);
          if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) resets.push(p.partitionIndex);
          else this.#leaders.delete(p.partitionIndex);
          continue;
        }
        this.highWatermarks.set(p.partitionIndex, Number(p.highWatermark));
        let pairs: PollPair[];
        try {
          pairs = pairsFrom(p.records, from);
        } catch (err) {
          errors.push(`${keyOf(this.#c.topic, p.partitionIndex)}:${(err as { code?: string }).code ?? message(err)}`);
          continue;
        }
        if (pairs.length === 0) continue;
        value[keyOf(this.#c.topic, p.partitionIndex)] = pairs;
        this.positions.set(p.partitionIndex, pairs[pairs.length - 1]![0] + 1);
      }
    }
    const result: PollResult = Object.keys(value).length === 0 && errors.length > 0 && errors.length === parts.length
      ? { type: 'fail', value: { error: errors.join(',') } }
      : { type: 'ok', value };
    this.#c.emit({ ...result, f: 'poll' });
    for (const p of resets) await this.#reposition(p).catch(() => undefined);
    return result;
  }

  /** OFFSET_OUT_OF_RANGE: move to the earliest offset and record the jump as what it is. */
  async #reposition(partition: number): Promise<void> {
    const from = this.positions.get(partition);
    if (from === undefined) return;
    const to = await this.#earliest(partition);
    if (this.positions.get(partition) !== from) return;
    this.positions.set(partition, to);
    this.#c.emit({ type: 'info', f: 'reposition', value: { key: keyOf(this.#c.topic, partition), from, to, reason: 'OFFSET_OUT_OF_RANGE' } });
  }

  /**
   * Commit the positions of these partitions to `groupId` as a standalone consumer (generation -1),
   * or as the member `member` of a group generation; recorded as a `commit` op.
   */
  async commit(groupId: string, coordinator: string, member: { generationId: number; memberId: string } = { generationId: -1, memberId: '' }): Promise<void> {
    const offsets: Record<string, number> = {};
    for (const [p, o] of this.positions) offsets[keyOf(this.#c.topic, p)] = o;
    if (Object.keys(offsets).length === 0) return;
    this.#c.emit({ type: 'invoke', f: 'commit', value: offsets });
    try {
      const res = await this.#request(coordinator, ApiKeys.OffsetCommit, OFFSET_COMMIT_VERSION, {
        groupId,
        generationIdOrMemberEpoch: member.generationId,
        memberId: member.memberId,
        groupInstanceId: null,
        topics: [{ name: this.#c.topic, partitions: [...this.positions].map(([p, o]) => ({ partitionIndex: p, committedOffset: o, committedLeaderEpoch: -1, committedMetadata: null })) }],
      });
      const codes: number[] = (res.topics ?? []).flatMap((t: any) => (t.partitions ?? []).filter((p: any) => p.errorCode !== 0).map((p: any) => p.errorCode as number));
      const error = [...new Set(codes.map(errorName))].join(',');
      if (codes.length === 0) this.#c.emit({ type: 'ok', f: 'commit', value: offsets });
      else this.#c.emit({ type: commitRefused(codes) ? 'fail' : 'info', f: 'commit', value: { ...offsets, error } });
    } catch (err) {
      this.#c.emit({ type: 'info', f: 'commit', value: { ...offsets, error: (err as { code?: string }).code ?? message(err) } });
    }
  }

  /** The group coordinator's address (FindCoordinator v2 on any broker). */
  async coordinator(groupId: string): Promise<string> {
    let last: unknown = new Error('no brokers');
    for (let i = 0; i < this.#c.brokers.length; i++) {
      const addr = this.#c.brokers[(this.#bootstrapTurn++) % this.#c.brokers.length]!;
      try {
        const res = await this.#request(addr, ApiKeys.FindCoordinator, 2, { key: groupId, keyType: 0 });
        if (res.errorCode !== 0) throw new Error(`FindCoordinator: ${errorName(res.errorCode)}`);
        return `${res.host}:${res.port}`;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  /** Low-level access for the group member (workloads/group.ts). */
  request(addr: string, apiKey: number, version: number, body: object, timeoutMs?: number): Promise<any> {
    return this.#request(addr, apiKey, version, body, timeoutMs);
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#conns.values()) c.close();
    this.#conns.clear();
  }

  get closed(): boolean {
    return this.#closed;
  }
}
