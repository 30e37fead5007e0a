/**
 * Followers pull from leaders with the Kafka Fetch API (replicaId = this broker), one loop per
 * leader broker covering every partition this node follows there (Kafka's ReplicaFetcherThread).
 *
 * Each fetch (Fetch v13) names every topic by the topic id of this node's replica (KIP-516), and the
 * answer is mapped back by that id: a leader that holds another incarnation of the name answers
 * UNKNOWN_TOPIC_ID or INCONSISTENT_TOPIC_ID instead of records, so a replica never takes records of
 * another incarnation, and the leader never counts the fetch as its follower's progress. Per
 * partition it carries the follower's log end as `fetchOffset` (its acknowledgement to the leader),
 * the epoch of its last batch as `lastFetchedEpoch` (v12, KIP-595: the leader answers DivergingEpoch
 * when the follower's log diverged and the follower truncates by epoch), and the leader epoch it
 * believes current (`currentLeaderEpoch`, so a stale leader answers FENCED_LEADER_EPOCH and a leader
 * that has not caught up UNKNOWN_LEADER_EPOCH).
 *
 * A response is applied only if the partition is still assigned to this loop with the same leader
 * epoch; anything else is stale and dropped. Errors back off by `replica.fetch.backoff.ms`.
 *
 * Invariants:
 * - Nothing truncates a log after an `await` unless, checked after that await (stillFollowing), the
 *   replica is still this loop's follower of the same leader at the same leader epoch: a role or
 *   epoch change while a request was out makes its answer stale (a promoted leader truncating to
 *   its old leader's end would lose acknowledged writes).
 * - A replica appends only records answered for its own topic id; on UNKNOWN_TOPIC_ID or
 *   INCONSISTENT_TOPIC_ID it appends and truncates nothing, keeps the partition, and backs off.
 * - The loop never spins: every round either waits in the leader's long poll, makes progress
 *   (records, a divergence truncation), or sleeps `replica.fetch.backoff.ms`. A round answered
 *   within half of `replica.fetch.wait.max.ms` with no records, no error and no divergence is degenerate
 *   (a leader that answered a DivergingEpoch of {-1,-1}, which on the wire cannot be told from "no
 *   divergence"): it backs off too.
 */
import type { BrokerConfig } from './config.ts';
import type { MetadataImage } from './controller/image.ts';
import { KafkaConnection } from './client.ts';
import type { Logger } from './logger.ts';
import { ApiKeys } from './protocol/codec.ts';
import { ErrorCode } from './protocol/errors.ts';
import { partitionKey, type Replica, type ReplicaManager } from './replica-manager.ts';
import { realRuntime } from './runtime/real.ts';
import type { Runtime } from './runtime/runtime.ts';
import { replicaClientId } from './replication/replica-identity.ts';

/** What the fetcher needs of a connection to a leader (KafkaConnection; a fake in tests). */
export interface LeaderConnection {
  readonly closed: boolean;
  request(apiKey: number, apiVersion: number, body: object, timeoutMs: number): Promise<any>;
  close(): void;
}

/** What the fetcher needs of the replica manager. */
export type FetcherReplicas = Pick<ReplicaManager, 'get' | 'applyFetched'>;

/**
 * The Fetch version followers use: 13, the first that names topics by topic id (KIP-516), after
 * v12's LastFetchedEpoch/DivergingEpoch (KIP-595).
 */
export const FOLLOWER_FETCH_VERSION = 13;

/**
 * KIP-516: the leader does not hold our incarnation of the topic. UNKNOWN_TOPIC_ID: its metadata
 * does not know our topic id (it has not applied the creation yet, or has applied the deletion);
 * INCONSISTENT_TOPIC_ID: its local replica is of another incarnation. Either is transient from the
 * follower's side (its own metadata will catch up, or the leader's will): it appends nothing, keeps
 * its log and the partition, and asks again after the back-off, as Kafka's fetcher does.
 */
export function isIncarnationMismatch(errorCode: number): boolean {
  return errorCode === ErrorCode.UNKNOWN_TOPIC_ID || errorCode === ErrorCode.INCONSISTENT_TOPIC_ID;
}

class SourceFetcher {
  readonly leaderId: number;
  readonly partitions = new Map<string, { replica: Replica; leaderEpoch: number }>();
  private conn: LeaderConnection | null = null;
  /** The broker epoch `conn` names in its client id (replication/replica-identity.ts). */
  private connEpoch = -1;
  private running = true;
  private wake: (() => void) | null = null;
  private readonly deps: FetcherDeps;
  private readonly now: () => number;
  private readonly rt: Runtime;
  readonly done: Promise<void>;

  constructor(leaderId: number, deps: FetcherDeps) {
    this.leaderId = leaderId;
    this.deps = deps;
    this.rt = deps.runtime ?? realRuntime;
    const clock = this.rt.clock;
    this.now = deps.nowMs ?? (() => clock.nowMs());
    this.done = this.loop();
  }

  /** Ends a back-off or idle sleep early: a partition was just assigned to this loop. */
  kick(): void {
    this.wake?.();
  }

  stop(): void {
    this.running = false;
    this.conn?.close();
    this.conn = null;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.rt.timers.setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        this.rt.timers.clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private async connection(): Promise<LeaderConnection | null> {
    const epoch = this.deps.brokerEpoch();
    if (this.conn && !this.conn.closed && this.connEpoch === epoch) return this.conn;
    this.conn?.close();
    this.conn = null;
    try {
      this.connEpoch = epoch;
      this.conn = await (this.deps.connect ?? this.dialFromImage)(this.leaderId, epoch);
      return this.conn;
    } catch (err) {
      this.deps.logger.debug(`fetcher to ${this.leaderId}: connect failed: ${(err as Error).message}`);
      return null;
    }
  }

  private readonly dialFromImage = async (leaderId: number, brokerEpoch: number): Promise<LeaderConnection | null> => {
    const broker = this.deps.image()?.broker(leaderId);
    if (!broker) return null;
    return KafkaConnection.connect(broker.host, broker.port, {
      clientId: replicaClientId(this.deps.brokerId, brokerEpoch),
      connectTimeoutMs: Math.min(this.deps.config['replica.socket.timeout.ms'], 5000),
      runtime: this.rt,
    });
  };

  /**
   * Whether `r`, checked now (after an await), is still this loop's follower of the same leader at
   * `leaderEpoch`; only then may an answer to a request made before the await change its log.
   */
  private stillFollowing(r: Replica, leaderEpoch: number): boolean {
    const mine = this.partitions.get(partitionKey(r.topic, r.partition));
    return (
      this.running &&
      mine !== undefined &&
      mine.replica === r &&
      mine.leaderEpoch === leaderEpoch &&
      r.role === 'follower' &&
      r.leaderId === this.leaderId &&
      r.leaderEpoch === leaderEpoch &&
      this.deps.replicas.get(r.topic, r.partition) === r
    );
  }

  private async loop(): Promise<void> {
    const cfg = this.deps.config;
    while (this.running) {
      if (this.partitions.size === 0) {
        await this.sleep(1000);
        continue;
      }
      const conn = await this.connection();
      if (!this.running) break;
      if (!conn) {
        await this.sleep(cfg['replica.fetch.backoff.ms']);
        continue;
      }
      const asked = [...this.partitions.values()].map((p) => ({ ...p, fetchOffset: p.replica.log.logEndOffset }));
      // By key, so applying a response is O(partitions), not a scan of `asked` per partition.
      const askedByKey = new Map(asked.map((a) => [partitionKey(a.replica.topic, a.replica.partition), a]));
      // By topic id (Fetch v13, KIP-516): the leader reads only a replica of our incarnation.
      const byTopicId = new Map<string, any[]>();
      /** Each topic id asked, to the name its partitions are keyed by here. */
      const topicOfId = new Map<string, string>();
      for (const p of asked) {
        topicOfId.set(p.replica.topicId, p.replica.topic);
        const list = byTopicId.get(p.replica.topicId) ?? [];
        list.push({
          partition: p.replica.partition,
          currentLeaderEpoch: p.leaderEpoch,
          fetchOffset: p.fetchOffset,
          lastFetchedEpoch: p.replica.log.epochCache.latestEpoch,
          logStartOffset: p.replica.log.logStartOffset,
          partitionMaxBytes: cfg['replica.fetch.max.bytes'],
        });
        byTopicId.set(p.replica.topicId, list);
      }
      let res: any;
      const askedAtMs = this.now();
      try {
        res = await conn.request(
          ApiKeys.Fetch,
          FOLLOWER_FETCH_VERSION,
          {
            replicaId: this.deps.brokerId,
            maxWaitMs: cfg['replica.fetch.wait.max.ms'],
            minBytes: cfg['replica.fetch.min.bytes'],
            maxBytes: cfg['replica.fetch.max.bytes'] * 10,
            isolationLevel: 0,
            sessionId: 0,
            sessionEpoch: -1,
            topics: [...byTopicId].map(([topicId, partitions]) => ({ topicId, partitions })),
            forgottenTopicsData: [],
            rackId: '',
          },
          cfg['replica.fetch.wait.max.ms'] + cfg['replica.socket.timeout.ms'],
        );
      } catch (err) {
        this.deps.logger.debug(`fetcher to ${this.leaderId}: ${(err as Error).message}`);
        this.conn?.close();
        this.conn = null;
        if (this.running) await this.sleep(cfg['replica.fetch.backoff.ms']);
        continue;
      }
      let backoff = false;
      let progressed = false;
      for (const t of res.responses ?? []) {
        const topic = topicOfId.get(t.topicId);
        if (topic === undefined) continue; // an id we did not ask about
        for (const p of t.partitions ?? []) {
          const key = partitionKey(topic, p.partitionIndex);
          const mine = this.partitions.get(key);
          const sent = askedByKey.get(key);
          // Stale: reassigned, new epoch, or the log moved (truncated/appended) since we asked.
          if (!mine || !sent || mine.leaderEpoch !== sent.leaderEpoch || mine.replica !== sent.replica) continue;
          if (p.records && p.records.length > 0) progressed = true;
          if (!this.stillFollowing(mine.replica, mine.leaderEpoch)) {
            // No longer following (promoted, or the leader changed): drop it from this loop, never spin on it.
            if (mine.replica.role !== 'follower') this.partitions.delete(key);
            backoff = true;
            continue;
          }
          if (mine.replica.log.logEndOffset !== sent.fetchOffset) continue;
          try {
            const outcome = this.deps.replicas.applyFetched(mine.replica, {
              errorCode: p.errorCode,
              highWatermark: Number(p.highWatermark),
              logStartOffset: Number(p.logStartOffset),
              records: p.records ?? null,
              divergingEpoch: p.divergingEpoch && p.divergingEpoch.epoch >= 0 ? { epoch: p.divergingEpoch.epoch, endOffset: Number(p.divergingEpoch.endOffset) } : null,
            });
            if (outcome === 'diverged') progressed = true;
            if (outcome === 'error') {
              backoff = true;
              if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) await this.resolveOutOfRange(conn, mine.replica, mine.leaderEpoch);
              else if (isIncarnationMismatch(p.errorCode)) this.deps.logger.info(`fetch ${topic}-${p.partitionIndex} (topic id ${t.topicId}) from ${this.leaderId}: ${p.errorCode === ErrorCode.UNKNOWN_TOPIC_ID ? 'UNKNOWN_TOPIC_ID' : 'INCONSISTENT_TOPIC_ID'}: the leader does not hold this incarnation; keeping the log, asking again after the back-off`);
              else this.deps.logger.debug(`fetch ${topic}-${p.partitionIndex} from ${this.leaderId}: error ${p.errorCode}`);
            }
          } catch (err) {
            backoff = true;
            this.deps.logger.error(`fetch ${topic}-${p.partitionIndex}: applying response failed: ${(err as Error).message}`);
          }
        }
      }
      if (res.errorCode) backoff = true;
      // An early answer that carried nothing: the leader did not long-poll, so asking again at once would spin.
      // (Half the wait, so a long poll that ends a timer tick early is never taken for one.)
      if (!backoff && !progressed && this.now() - askedAtMs < cfg['replica.fetch.wait.max.ms'] / 2) {
        this.deps.logger.debug(`fetcher to ${this.leaderId}: empty answer after ${this.now() - askedAtMs} ms; backing off`);
        backoff = true;
      }
      if (backoff && this.running) await this.sleep(cfg['replica.fetch.backoff.ms']);
    }
    this.conn?.close();
  }

  /**
   * The leader says our fetch offset is out of its range. Below its log start: start over at its
   * log start. Above its log end (only after an unclean election): truncate to its log end.
   * Each answer is acted on only if the replica is still following this leader at `leaderEpoch`.
   */
  private async resolveOutOfRange(conn: LeaderConnection, r: Replica, leaderEpoch: number): Promise<void> {
    const res: any = await conn.request(
      ApiKeys.ListOffsets,
      4,
      {
        replicaId: this.deps.brokerId,
        isolationLevel: 0,
        topics: [{ name: r.topic, partitions: [{ partitionIndex: r.partition, currentLeaderEpoch: leaderEpoch, timestamp: -1 }] }],
      },
      this.deps.config['replica.socket.timeout.ms'],
    ).catch(() => null);
    const latest = res?.topics?.[0]?.partitions?.[0];
    if (!latest || latest.errorCode !== 0 || !this.stillFollowing(r, leaderEpoch)) return;
    const leaderEnd = Number(latest.offset);
    if (r.log.logEndOffset > leaderEnd) {
      this.deps.logger.warn(`${r.topic}-${r.partition}: log end ${r.log.logEndOffset} beyond leader's ${leaderEnd}; truncating`);
      r.log.truncateTo(leaderEnd);
    } else {
      const earliest: any = await conn.request(
        ApiKeys.ListOffsets,
        4,
        { replicaId: this.deps.brokerId, isolationLevel: 0, topics: [{ name: r.topic, partitions: [{ partitionIndex: r.partition, currentLeaderEpoch: leaderEpoch, timestamp: -2 }] }] },
        this.deps.config['replica.socket.timeout.ms'],
      ).catch(() => null);
      const start = earliest?.topics?.[0]?.partitions?.[0];
      if (!start || start.errorCode !== 0 || !this.stillFollowing(r, leaderEpoch)) return;
      if (r.log.logEndOffset < Number(start.offset)) {
        this.deps.logger.warn(`${r.topic}-${r.partition}: log end ${r.log.logEndOffset} below leader's log start ${start.offset}; starting over there`);
        r.log.truncateFullyAndStartAt(Number(start.offset));
      }
    }
  }
}

export interface FetcherDeps {
  brokerId: number;
  config: BrokerConfig;
  logger: Logger;
  replicas: FetcherReplicas;
  image: () => MetadataImage | null;
  /** This broker's current epoch, named in every fetch (KIP-903; replication/replica-identity.ts). */
  brokerEpoch: () => number;
  /** Dials the leader naming this broker's epoch; by default its address from the image, over KafkaConnection. */
  connect?: (leaderId: number, brokerEpoch: number) => Promise<LeaderConnection | null>;
  nowMs?: () => number;
  /** Network, timers and clock (default: the real ones; `nowMs` wins over its clock). */
  runtime?: Runtime;
}

export class ReplicaFetcherManager {
  private readonly sources = new Map<number, SourceFetcher>();
  private readonly deps: FetcherDeps;
  /** set by stop(): an image published while stopping must not start a loop nothing would stop */
  private stopped = false;

  constructor(deps: FetcherDeps) {
    this.deps = deps;
  }

  /** Re-assigns the given replicas to the loop of their current leader (or to none). */
  update(changed: Replica[]): void {
    if (this.stopped) return;
    for (const r of changed) {
      const key = partitionKey(r.topic, r.partition);
      for (const s of this.sources.values()) s.partitions.delete(key);
      const current = this.deps.replicas.get(r.topic, r.partition);
      if (current !== r || r.role !== 'follower' || r.leaderId < 0 || r.leaderId === this.deps.brokerId) continue;
      let s = this.sources.get(r.leaderId);
      if (!s) {
        s = new SourceFetcher(r.leaderId, this.deps);
        this.sources.set(r.leaderId, s);
      }
      s.partitions.set(key, { replica: r, leaderEpoch: r.leaderEpoch });
      // The loop may be idling (it had emptied itself) or backing off: new work starts now.
      s.kick();
    }
    for (const [id, s] of this.sources) {
      if (s.partitions.size === 0) {
        s.stop();
        this.sources.delete(id);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.sources.values()];
    this.sources.clear();
    for (const s of all) s.stop();
    await Promise.all(all.map((s) => s.done));
  }
}
