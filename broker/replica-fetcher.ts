/**
 * Followers pull from leaders with the Kafka Fetch API (replicaId = this broker), one loop per
 * leader broker covering every partition this node follows there (Kafka's ReplicaFetcherThread).
 *
 * Each fetch carries, per partition, the follower's log end as `fetchOffset` (its acknowledgement to
 * the leader), the epoch of its last batch as `lastFetchedEpoch` (Fetch v12, KIP-595: the leader
 * answers DivergingEpoch when the follower's log diverged and the follower truncates by epoch), and
 * the leader epoch it believes current (`currentLeaderEpoch`, so a stale leader answers
 * FENCED_LEADER_EPOCH and a leader that has not caught up UNKNOWN_LEADER_EPOCH).
 *
 * A response is applied only if the partition is still assigned to this loop with the same leader
 * epoch; anything else is stale and dropped. Errors back off by `replica.fetch.backoff.ms`.
 */
import type { BrokerConfig } from './config.ts';
import type { MetadataImage } from './controller/image.ts';
import { KafkaConnection } from './client.ts';
import type { Logger } from './logger.ts';
import { ApiKeys } from './protocol/codec.ts';
import { ErrorCode } from './protocol/errors.ts';
import { partitionKey, type Replica, type ReplicaManager } from './replica-manager.ts';

/** The Fetch version followers use: the first with LastFetchedEpoch/DivergingEpoch. */
export const FOLLOWER_FETCH_VERSION = 12;

class SourceFetcher {
  readonly leaderId: number;
  readonly partitions = new Map<string, { replica: Replica; leaderEpoch: number }>();
  private conn: KafkaConnection | null = null;
  private running = true;
  private wake: (() => void) | null = null;
  private readonly deps: FetcherDeps;
  readonly done: Promise<void>;

  constructor(leaderId: number, deps: FetcherDeps) {
    this.leaderId = leaderId;
    this.deps = deps;
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
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private async connection(): Promise<KafkaConnection | null> {
    if (this.conn && !this.conn.closed) return this.conn;
    const broker = this.deps.image()?.broker(this.leaderId);
    if (!broker) return null;
    try {
      this.conn = await KafkaConnection.connect(broker.host, broker.port, {
        clientId: `replica-fetcher-${this.deps.brokerId}`,
        connectTimeoutMs: Math.min(this.deps.config['replica.socket.timeout.ms'], 5000),
      });
      return this.conn;
    } catch (err) {
      this.deps.logger.debug(`fetcher to ${this.leaderId}: connect failed: ${(err as Error).message}`);
      return null;
    }
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
      const byTopic = new Map<string, any[]>();
      for (const p of asked) {
        const list = byTopic.get(p.replica.topic) ?? [];
        list.push({
          partition: p.replica.partition,
          currentLeaderEpoch: p.leaderEpoch,
          fetchOffset: p.fetchOffset,
          lastFetchedEpoch: p.replica.log.epochCache.latestEpoch,
          logStartOffset: p.replica.log.logStartOffset,
          partitionMaxBytes: cfg['replica.fetch.max.bytes'],
        });
        byTopic.set(p.replica.topic, list);
      }
      let res: any;
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
            topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
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
      for (const t of res.responses ?? []) {
        for (const p of t.partitions ?? []) {
          const key = partitionKey(t.topic, p.partitionIndex);
          const mine = this.partitions.get(key);
          const sent = askedByKey.get(key);
          // Stale: reassigned, new epoch, or the log moved (truncated/appended) since we asked.
          if (!mine || !sent || mine.leaderEpoch !== sent.leaderEpoch || mine.replica !== sent.replica) continue;
          if (mine.replica.role !== 'follower') {
            // No longer following (promoted, or the leader changed): drop it from this loop, never spin on it.
            this.partitions.delete(key);
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
            if (outcome === 'error') {
              backoff = true;
              if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) await this.resolveOutOfRange(conn, mine.replica, mine.leaderEpoch);
              else this.deps.logger.debug(`fetch ${t.topic}-${p.partitionIndex} from ${this.leaderId}: error ${p.errorCode}`);
            }
          } catch (err) {
            backoff = true;
            this.deps.logger.error(`fetch ${t.topic}-${p.partitionIndex}: applying response failed: ${(err as Error).message}`);
          }
        }
      }
      if (res.errorCode) backoff = true;
      if (backoff && this.running) await this.sleep(cfg['replica.fetch.backoff.ms']);
    }
    this.conn?.close();
  }

  /**
   * The leader says our fetch offset is out of its range. Below its log start: start over at its
   * log start. Above its log end (only after an unclean election): truncate to its log end.
   */
  private async resolveOutOfRange(conn: KafkaConnection, r: Replica, leaderEpoch: number): Promise<void> {
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
    if (!latest || latest.errorCode !== 0) return;
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
      if (start && start.errorCode === 0 && r.log.logEndOffset < Number(start.offset)) {
        this.deps.logger.warn(`${r.topic}-${r.partition}: log end ${r.log.logEndOffset} below leader's log start ${start.offset}; starting over there`);
        r.log.truncateFullyAndStartAt(Number(start.offset));
      }
    }
  }
}

interface FetcherDeps {
  brokerId: number;
  config: BrokerConfig;
  logger: Logger;
  replicas: ReplicaManager;
  image: () => MetadataImage | null;
}

export class ReplicaFetcherManager {
  private readonly sources = new Map<number, SourceFetcher>();
  private readonly deps: FetcherDeps;

  constructor(deps: FetcherDeps) {
    this.deps = deps;
  }

  /** Re-assigns the given replicas to the loop of their current leader (or to none). */
  update(changed: Replica[]): void {
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
    const all = [...this.sources.values()];
    this.sources.clear();
    for (const s of all) s.stop();
    await Promise.all(all.map((s) => s.done));
  }
}
