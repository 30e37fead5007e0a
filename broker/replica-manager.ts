/**
 * The partitions this node holds, in the role the committed metadata gives each: leader or follower.
 *
 * Invariants (design.md, "Broker semantics that must hold"):
 * - Roles follow the metadata image only: a node leads a partition exactly when the image it applied
 *   names it leader, with that leader epoch; every batch it appends as leader carries that epoch.
 * - acks=0/1 answer after the local append; acks=all is refused up front with NOT_ENOUGH_REPLICAS when
 *   the ISR is below min.insync.replicas, else answered once the high watermark passes the batch, or
 *   with NOT_ENOUGH_REPLICAS_AFTER_APPEND / REQUEST_TIMED_OUT / NOT_LEADER_OR_FOLLOWER
 *   (LeaderReplicaState keeps the bookkeeping).
 * - Consumers read only below the high watermark; followers read up to the log end.
 * - A fetch carrying a stale leader epoch gets FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH;
 *   a follower whose last fetched epoch diverges gets DivergingEpoch and truncates by epoch
 *   (KIP-101/279/595), never to its own high watermark.
 * - ISR changes are proposed to the controller and take effect only when the committed metadata
 *   carries them back (LeaderReplicaState.onIsrCommitted).
 * - High watermarks survive restarts (Kafka's replication-offset-checkpoint): every
 *   `replica.high.watermark.checkpoint.interval.ms` and at clean shutdown, each replica's HW is
 *   written to `<data dir>/replication-offset-checkpoint` (atomically, durably); a replica opened at
 *   start takes min(checkpointed HW, log end) (and at least its log start), so a restarted last ISR
 *   member re-elected leader with the ISR below min.insync.replicas still serves what was committed.
 *   Checkpointed entries of partitions not (yet) opened are carried into the next write until an
 *   applied image knows the topic and gives this node no replica of the partition (an image met
 *   while catching up on the metadata log may not know the topic yet).
 * - KIP-207: while a leader's HW is below its leader-epoch start offset (the log end when it became
 *   leader), a consumer's ListOffsets(latest), and by-timestamp lookups that find nothing below the
 *   HW, answer OFFSET_NOT_AVAILABLE instead of an offset that could go backwards (Kafka's
 *   Partition.fetchOffsetForTimestamp).
 *
 * Local replicas and topic ids (KIP-516; Kafka's LogManager and PartitionMetadataFile):
 * - `applyImage` is only ever given caught-up images, in order (metadata-loader.ts), so every image
 *   it sees is at least as new as any it acted on before, in this process or an earlier one.
 * - Each partition directory `partitions/<topic>-<partition>` holds `partition.metadata`
 *   (`version: 0` / `topic_id: <id>`), written durably (tmp, fsync, rename, fsync dir) before the log
 *   is opened, so no data is ever written to a directory that does not name its incarnation.
 * - A directory is used as topic T's data only when its topic id is T's id in the image. One whose id
 *   is not in the image, or whose partition is not assigned to this broker, is a stray (its topic
 *   was deleted, or it was moved away, while this node was down or before the image caught up) and
 *   is deleted on the first image it is given (BrokerNode gives it none before the image holds this
 *   incarnation's registration); afterwards a replica is deleted when a published image no
 *   longer assigns its (topic id, partition) here. A directory without the file (written before
 *   topic ids) is adopted by the topic of its name if that topic is assigned here, else a stray.
 *   A file that cannot be read as a topic id is moved aside, never used, never deleted.
 * - A fetch that names a topic id (Fetch v13+, every follower's) reads a local replica, and counts as
 *   a follower's progress, only when the replica is of that incarnation (`sameIncarnation`); else it
 *   gets INCONSISTENT_TOPIC_ID and nothing is read or recorded.
 */
import { join } from 'node:path';
import type { BrokerConfig } from './config.ts';
import { topicSetting } from './config.ts';
import type { MetadataImage, PartitionState } from './controller/image.ts';
import { writeFileAtomic } from './controller/raft/storage.ts';
import { NO_LEADER } from './controller/records.ts';
import type { Logger } from './logger.ts';
import { PartitionLog, type LogConfig } from './log/partition-log.ts';
import { mkdirDurable } from './log/fs-util.ts';
import type { WriteBehind } from './log/write-behind.ts';
import { readOffsetCheckpoint, REPLICATION_OFFSET_CHECKPOINT_FILE, writeOffsetCheckpoint, type PartitionOffset } from './log/offset-checkpoint.ts';
import { OffsetOutOfRangeError } from './log/errors.ts';
import { applyRetention } from './log/retention.ts';
import { cleanLog } from './log/cleaner.ts';
import { ErrorCode } from './protocol/errors.ts';
import { validateBatches } from './protocol/records.ts';
import { readBatchHeader } from './protocol/batch-header.ts';
import { nodeFileSystem, type FileSystem } from './log/fs.ts';
import { realRuntime } from './runtime/real.ts';
import type { Runtime, TimerHandle } from './runtime/runtime.ts';
import { LeaderReplicaState, type AlterPartitionProposal, type AckError } from './replication/leader.ts';
import { divergingEpoch, followerHighWatermark, resolveTruncation } from './replication/follower.ts';
import type { EpochCacheView } from './replication/epochCacheModel.ts';
import { bugActive } from './bugs.ts';

/** The log's epoch cache seen through the interface the sans-I/O replica logic uses. */
function epochView(log: PartitionLog): EpochCacheView {
  return {
    latestEpoch: () => log.epochCache.latestEpoch,
    endOffsetFor: (epoch, leo) => log.epochCache.endOffsetFor(epoch, leo),
  };
}

export type ErrorCodeValue = number;

export interface ProduceResult {
  errorCode: ErrorCodeValue;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  errorMessage: string | null;
}

export interface FetchPartitionRequest {
  topic: string;
  /**
   * The incarnation the fetch names (Fetch v13+, KIP-516), resolved to `topic` by the node's
   * metadata image; absent for a fetch by name (v4-12), which reads whatever incarnation is local.
   */
  topicId?: string;
  partition: number;
  fetchOffset: number;
  currentLeaderEpoch: number;
  lastFetchedEpoch: number;
  partitionMaxBytes: number;
}

export interface FetchPartitionResult {
  topic: string;
  partition: number;
  errorCode: ErrorCodeValue;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  records: Buffer | null;
  divergingEpoch: { epoch: number; endOffset: number } | null;
  currentLeader: { leaderId: number; leaderEpoch: number };
}

/** The node's way to reach the active controller (see metadata-service.ts). */
export interface IsrChannel {
  /** Resolves once the controller committed the change; rejects with AlterPartitionRejected when it refused. */
  alterPartition(req: AlterPartitionProposal & { topic: string; partition: number }): Promise<void>;
}

/** The controller answered an AlterPartition with an error: a definite outcome (other failures are unknown). */
export class AlterPartitionRejected extends Error {
  readonly errorCode: string;
  constructor(errorCode: string) {
    super(`controller refused the ISR change: ${errorCode}`);
    this.errorCode = errorCode;
  }
}

/** Called when this node starts or stops leading a partition (the group coordinator uses it). */
export interface LeadershipListener {
  onBecomeLeader(r: Replica): void;
  onResign(topic: string, partition: number): void;
}

type AckToken = (code: AckError) => void;

export const PARTITION_METADATA_FILE = 'partition.metadata';

/** Kafka's partition.metadata text for a topic id. */
export function formatPartitionMetadata(topicId: string): string {
  return `version: 0\ntopic_id: ${topicId}\n`;
}

/** The topic id in a partition directory's partition.metadata; null when absent; 'malformed' when unreadable. */
export function readPartitionMetadata(dir: string, fsys: FileSystem = nodeFileSystem): string | null | 'malformed' {
  let text: string;
  try {
    text = fsys.readFile(join(dir, PARTITION_METADATA_FILE)).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
  const m = /^version: 0\ntopic_id: (\S+)\n?$/.exec(text);
  return m ? m[1]! : 'malformed';
}

export class Replica {
  readonly topic: string;
  /** The incarnation this replica's data belongs to (KIP-516). */
  readonly topicId: string;
  readonly partition: number;
  readonly log: PartitionLog;
  role: 'leader' | 'follower' = 'follower';
  leaderId: number = NO_LEADER;
  leaderEpoch = -1;
  partitionEpoch = -1;
  /** Present while leading. */
  leader: LeaderReplicaState<AckToken> | null = null;
  /** A follower's high watermark: min(leader's, own log end). */
  followerHw = 0;
  minInsync = 1;
  alterInFlight = false;
  readonly waiters = new Set<() => void>();

  constructor(topic: string, topicId: string, partition: number, log: PartitionLog) {
    this.topic = topic;
    this.topicId = topicId;
    this.partition = partition;
    this.log = log;
  }

  get highWatermark(): number {
    return this.leader ? this.leader.highWatermark : Math.min(this.followerHw, this.log.logEndOffset);
  }

  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/**
 * KIP-516: a fetch that names a topic id reads, and counts as a follower's progress, only a local
 * replica of that incarnation. A fetch by name (v4-12) names none and reads whatever is local.
 */
export function sameIncarnation(r: Replica, p: FetchPartitionRequest): boolean {
  return p.topicId === undefined || p.topicId === r.topicId;
}

/** A fetch answer carrying only `errorCode` for `topic`-`partition` (e.g. INCONSISTENT_TOPIC_ID, UNKNOWN_TOPIC_ID: KIP-516). */
export function fetchError(topic: string, partition: number, errorCode: number): FetchPartitionResult {
  return { topic, partition, errorCode, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: null, divergingEpoch: null, currentLeader: { leaderId: -1, leaderEpoch: -1 } };
}

/** A produce answered without appending (a module function: a closure per request costs on the hot path). */
function produceFailure(errorCode: number, errorMessage: string | null = null): ProduceResult {
  return { errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage };
}

/** How often idle producer ids are checked against producer.id.expiration.ms. */
const PRODUCER_EXPIRY_CHECK_MS = 10_000;

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export interface ReplicaManagerOptions {
  brokerId: number;
  dataDir: string;
  config: BrokerConfig;
  logger: Logger;
  isr: IsrChannel;
  nowMs?: () => number;
  /** Disk, timers and clock (default: the real ones; `nowMs` wins over its clock). */
  runtime?: Runtime;
  /** Group commit of leader appends (log/write-behind.ts); without it each append is written at once. */
  writeBehind?: WriteBehind;
}

export class ReplicaManager {
  readonly brokerId: number;
  private readonly partitions = new Map<string, Replica>();
  private readonly opts: ReplicaManagerOptions;
  private readonly now: () => number;
  private image: MetadataImage | null = null;
  private readonly listeners: LeadershipListener[] = [];
  private readonly followerListeners: Array<(changed: Replica[]) => void> = [];
  private timer: TimerHandle | null = null;
  private readonly rt: Runtime;
  private readonly fs: FileSystem;
  private lastProducerExpiryMs = 0;
  /** High watermarks read from the checkpoint at start and not yet taken by an opened replica. */
  private readonly checkpointedHw = new Map<string, PartitionOffset>();
  private lastHwCheckpointMs: number;
  private lastHwCheckpointText: string | null = null;
  /** Whether the directories on disk were checked against the first published image. */
  private straysRemoved = false;
  private lastRetentionCheckMs: number;
  private lastCleanMs: number;
  /** Per replica, the active segment's base at its last compaction pass (a pass runs only after a roll). */
  private readonly cleanedUpTo = new WeakMap<Replica, number>();

  constructor(opts: ReplicaManagerOptions) {
    this.opts = opts;
    this.brokerId = opts.brokerId;
    this.rt = opts.runtime ?? realRuntime;
    this.fs = this.rt.fs;
    const clock = this.rt.clock;
    this.now = opts.nowMs ?? (() => clock.nowMs());
    mkdirDurable(join(opts.dataDir, 'partitions'), this.fs);
    this.lastHwCheckpointMs = this.now();
    this.lastRetentionCheckMs = this.now();
    this.lastCleanMs = this.now();
    const read = readOffsetCheckpoint(this.hwCheckpointFile, this.fs);
    if (read.corrupt !== null) opts.logger.warn(`${this.hwCheckpointFile} is corrupt (${read.corrupt}); high watermarks start at 0`);
    for (const e of read.entries) this.checkpointedHw.set(partitionKey(e.topic, e.partition), e);
  }

  private get hwCheckpointFile(): string {
    return join(this.opts.dataDir, REPLICATION_OFFSET_CHECKPOINT_FILE);
  }

  /**
   * Writes every replica's high watermark, plus checkpointed ones not yet claimed, to the
   * replication-offset checkpoint (Kafka's checkpointHighWatermarks); skipped when nothing changed.
   */
  checkpointHighWatermarks(): void {
    const entries = new Map(this.checkpointedHw);
    for (const [key, r] of this.partitions) entries.set(key, { topic: r.topic, partition: r.partition, offset: r.highWatermark });
    const list = [...entries.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    const text = JSON.stringify(list);
    if (text === this.lastHwCheckpointText) return;
    try {
      writeOffsetCheckpoint(this.hwCheckpointFile, list, this.fs);
      this.lastHwCheckpointText = text;
    } catch (err) {
      this.opts.logger.error(`writing ${this.hwCheckpointFile} failed: ${(err as Error).message}`);
    }
  }

  /** The HW a freshly opened replica starts with: the checkpointed one, within [log start, log end]. */
  private takeCheckpointedHw(key: string, log: PartitionLog): number {
    const hw = this.checkpointedHw.get(key)?.offset ?? 0;
    this.checkpointedHw.delete(key);
    return Math.max(log.logStartOffset, Math.min(hw, log.logEndOffset));
  }

  onLeadership(l: LeadershipListener): void {
    this.listeners.push(l);
  }

  /** Subscribes the replica fetcher to follower role changes. */
  onFollowersChanged(cb: (changed: Replica[]) => void): void {
    this.followerListeners.push(cb);
  }

  start(): void {
    this.timer = this.rt.timers.setInterval(() => this.tick(), 20);
  }

  stop(): void {
    this.rt.timers.clearInterval(this.timer);
    this.timer = null;
    this.checkpointHighWatermarks();
    for (const r of this.partitions.values()) {
      if (r.leader) for (const c of r.leader.onLeadershipLost()) c.token(c.errorCode);
      r.log.close();
    }
    this.partitions.clear();
  }

  get(topic: string, partition: number): Replica | undefined {
    return this.partitions.get(partitionKey(topic, partition));
  }

  all(): Replica[] {
    return [...this.partitions.values()];
  }

  private logConfig(topicConfigs: Record<string, string> | undefined): LogConfig {
    const c = this.opts.config;
    const flushMs = topicSetting(c, topicConfigs, 'flush.ms');
    return {
      segmentBytes: topicSetting(c, topicConfigs, 'segment.bytes'),
      indexIntervalBytes: c['log.index.interval.bytes'],
      flushIntervalMessages: topicSetting(c, topicConfigs, 'flush.messages'),
      flushIntervalMs: flushMs ?? Number.MAX_SAFE_INTEGER,
    };
  }

  private dirOf(topic: string, partition: number): string {
    return join(this.opts.dataDir, 'partitions', `${topic}-${partition}`);
  }

  /**
   * The first published image decides which directories on disk are strays (see the module
   * docstring) and deletes them: their topic id is not in the image, or not assigned here.
   */
  private removeStrayLogs(image: MetadataImage): void {
    const root = join(this.opts.dataDir, 'partitions');
    for (const name of this.fs.list(root)) {
      const dash = name.lastIndexOf('-');
      const partition = Number(name.slice(dash + 1));
      if (dash <= 0 || !/^\d+$/.test(name.slice(dash + 1)) || name.includes('.unreadable-topic-id-')) continue;
      const dir = join(root, name);
      const id = readPartitionMetadata(dir, this.fs);
      if (id === 'malformed') {
        this.moveAside(dir);
        continue;
      }
      const topic = id === null ? image.topic(name.slice(0, dash)) : image.topicById(id);
      const assigned = topic !== undefined && topic.name === name.slice(0, dash) && (topic.partitions[partition]?.replicas.includes(this.brokerId) ?? false);
      if (assigned) continue;
      this.fs.removeTree(dir);
      this.opts.logger.info(`${name}: deleted stray log (topic id ${id ?? 'none'} ${topic === undefined ? 'is not in the metadata' : 'is not assigned to this broker'})`);
    }
  }

  /** A partition.metadata that is not a topic id: keep the data out of the way, unused, for a person to look at. */
  private moveAside(dir: string): void {
    const aside = `${dir}.unreadable-topic-id-${this.now()}`;
    this.fs.rename(dir, aside);
    this.opts.logger.error(`${dir}: ${PARTITION_METADATA_FILE} is not a topic id; moved to ${aside}, not used`);
  }

  /** Opens (or creates) the local replica of one partition of incarnation `topicId`. */
  private openReplica(topic: string, topicId: string, partition: number, topicConfigs: Record<string, string> | undefined): Replica {
    const dir = this.dirOf(topic, partition);
    const onDisk = readPartitionMetadata(dir, this.fs);
    if (onDisk === 'malformed') this.moveAside(dir);
    else if (onDisk !== null && onDisk !== topicId) {
      // The caught-up image maps the name to another id, so this directory's incarnation is gone.
      this.fs.removeTree(dir);
      this.opts.logger.info(`${topic}-${partition}: deleted the log of earlier incarnation ${onDisk} (now ${topicId})`);
    }
    if (onDisk !== topicId) {
      mkdirDurable(dir, this.fs);
      writeFileAtomic(join(dir, PARTITION_METADATA_FILE), formatPartitionMetadata(topicId), this.fs);
    }
    const log = PartitionLog.open(dir, this.logConfig(topicConfigs), this.now, this.fs, this.opts.writeBehind);
    if (log.recovery.bytesTruncated > 0) {
      this.opts.logger.warn(`${topic}-${partition}: recovery truncated ${log.recovery.bytesTruncated} bytes (${log.recovery.badReason ?? ''})`);
    }
    return new Replica(topic, topicId, partition, log);
  }

  /** Stops serving a local replica and deletes its data (the published image no longer assigns it here). */
  private removeReplica(key: string, r: Replica, why: string): void {
    this.resign(r);
    r.log.close();
    this.partitions.delete(key);
    this.fs.removeTree(r.log.dir);
    this.opts.logger.info(`${r.topic}-${r.partition}: removed local replica of ${r.topicId} (${why})`);
  }

  /**
   * Brings local replicas and roles in line with a newly published (caught-up) metadata image. One
   * partition's failure (a disk error opening its log) is logged and does not stop the others; the
   * followers changed so far are always handed to the fetchers. When a replica was opened or removed,
   * the HW checkpoint is rewritten at once: its entries are keyed by name, so an entry of a deleted
   * incarnation must not outlive the switch to a new one of the same name.
   */
  applyImage(image: MetadataImage): void {
    this.image = image;
    if (!this.straysRemoved) {
      this.removeStrayLogs(image);
      this.straysRemoved = true;
    }
    const now = this.now();
    const mine = new Set<string>();
    const followersChanged: Replica[] = [];
    let replicasChanged = false;
    try {
      for (const ref of image.partitionsWithReplica(this.brokerId)) {
        const key = partitionKey(ref.topic, ref.partition);
        mine.add(key);
        try {
          if (this.applyPartition(image, ref.topic, ref.partition, key, now, followersChanged)) replicasChanged = true;
        } catch (err) {
          this.opts.logger.error(`${key}: applying metadata ${image.lastOffset}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      // Only a known topic's partition that this node does not hold drops its checkpointed HW.
      for (const [key, e] of this.checkpointedHw) if (!mine.has(key) && image.topic(e.topic)) this.checkpointedHw.delete(key);
      for (const [key, r] of this.partitions) {
        if (mine.has(key)) continue;
        // No longer a replica (topic deleted or reassigned away): stop serving and delete the data.
        try {
          this.removeReplica(key, r, image.topicById(r.topicId) ? 'reassigned away' : 'topic deleted');
        } catch (err) {
          this.opts.logger.error(`${key}: removing the local replica: ${err instanceof Error ? err.message : String(err)}`);
        }
        replicasChanged = true;
        followersChanged.push(r);
      }
      if (replicasChanged) this.checkpointHighWatermarks();
    } finally {
      if (followersChanged.length > 0) for (const cb of this.followerListeners) cb(followersChanged);
    }
  }

  /** One partition of applyImage; true when a local replica was opened or removed. */
  private applyPartition(image: MetadataImage, topicName: string, partition: number, key: string, now: number, followersChanged: Replica[]): boolean {
    const state = image.partition(topicName, partition);
    const topic = image.topic(topicName);
    if (!state || !topic) return false;
    let changed = false;
    const topicConfigs = topic.configs;
    let r = this.partitions.get(key);
    if (r && r.topicId !== topic.topicId) {
      this.removeReplica(key, r, `the topic was deleted and re-created as ${topic.topicId}`);
      followersChanged.push(r);
      r = undefined;
      changed = true;
    }
    if (!r) {
      r = this.openReplica(topicName, topic.topicId, partition, topicConfigs);
      r.followerHw = this.takeCheckpointedHw(key, r.log);
      this.partitions.set(key, r);
      changed = true;
    }
    r.minInsync = topicSetting(this.opts.config, topicConfigs, 'min.insync.replicas');
    if (state.leader === this.brokerId) {
      if (r.role !== 'leader' || r.leaderEpoch !== state.leaderEpoch) {
        const wasFollower = r.role === 'follower';
        this.becomeLeader(r, state, now);
        // A promoted follower must leave the old leader's fetch loop.
        if (wasFollower) followersChanged.push(r);
      } else if (r.partitionEpoch !== state.partitionEpoch) {
        r.partitionEpoch = state.partitionEpoch;
        r.leader!.onIsrCommitted({ replicas: state.replicas, isr: state.isr, leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch }, now);
        this.completeAcks(r);
        r.notify();
      }
    } else if (r.role !== 'follower' || r.leaderEpoch !== state.leaderEpoch || r.leaderId !== state.leader) {
      this.becomeFollower(r, state);
      followersChanged.push(r);
    } else {
      r.partitionEpoch = state.partitionEpoch;
    }
    return changed;
  }

  private becomeLeader(r: Replica, state: PartitionState, now: number): void {
    const wasLeader = r.role === 'leader';
    if (r.leader) for (const c of r.leader.onLeadershipLost()) c.token(c.errorCode);
    const hw = bugActive('new-leader-hw-at-leo') ? r.log.logEndOffset : Math.min(wasLeader ? r.leader!.highWatermark : r.followerHw, r.log.logEndOffset);
    r.role = 'leader';
    r.leaderId = this.brokerId;
    r.leaderEpoch = state.leaderEpoch;
    r.partitionEpoch = state.partitionEpoch;
    r.alterInFlight = false;
    // Kafka assigns the new epoch at the log end on becoming leader, so divergence checks see it at once.
    if (state.leaderEpoch > r.log.epochCache.latestEpoch) r.log.epochCache.assign(state.leaderEpoch, r.log.logEndOffset);
    r.leader = new LeaderReplicaState<AckToken>({
      localId: this.brokerId,
      replicas: state.replicas,
      isr: state.isr,
      leaderEpoch: state.leaderEpoch,
      partitionEpoch: state.partitionEpoch,
      minInsync: r.minInsync,
      replicaLagTimeMaxMs: this.opts.config['replica.lag.time.max.ms'],
      logEndOffset: r.log.logEndOffset,
      highWatermark: hw,
      nowMs: now,
    });
    r.leader.onLocalAppend(r.log.logEndOffset);
    this.opts.logger.info(`${r.topic}-${r.partition}: leader at epoch ${state.leaderEpoch}, isr [${state.isr.join(',')}], leo ${r.log.logEndOffset}, hw ${hw}`);
    for (const l of this.listeners) l.onBecomeLeader(r);
    r.notify();
  }

  private becomeFollower(r: Replica, state: PartitionState): void {
    this.resign(r);
    r.role = 'follower';
    r.leaderId = state.leader;
    r.leaderEpoch = state.leaderEpoch;
    r.partitionEpoch = state.partitionEpoch;
    r.followerHw = Math.min(r.followerHw, r.log.logEndOffset);
    if (bugActive('truncate-to-hw')) r.log.truncateTo(r.followerHw);
    this.opts.logger.info(`${r.topic}-${r.partition}: follower of ${state.leader} at epoch ${state.leaderEpoch}`);
  }

  private resign(r: Replica): void {
    if (r.leader) {
      r.followerHw = r.leader.highWatermark;
      for (const c of r.leader.onLeadershipLost()) c.token(c.errorCode);
      r.leader = null;
      for (const l of this.listeners) l.onResign(r.topic, r.partition);
    }
    r.notify();
  }

  /** The error for a request that needs this node to lead the partition, or NONE. */
  leaderError(topic: string, partition: number, currentLeaderEpoch = -1): ErrorCodeValue {
    const r = this.get(topic, partition);
    if (!r) {
      const t = this.image?.topic(topic);
      return t && partition >= 0 && partition < t.partitions.length ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (currentLeaderEpoch >= 0) {
      if (currentLeaderEpoch < r.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
      if (currentLeaderEpoch > r.leaderEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
    }
    return r.role === 'leader' ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }

  /** Appends a client's records as leader and answers per `acks` (0, 1 or -1). */
  async produce(topic: string, partition: number, records: Buffer | null, acks: number, timeoutMs: number): Promise<ProduceResult> {
    const leaderErr = this.leaderError(topic, partition);
    if (leaderErr !== ErrorCode.NONE) return produceFailure(leaderErr);
    const r = this.get(topic, partition)!;
    const leader = r.leader!;
    if (!records || records.length === 0) return produceFailure(ErrorCode.CORRUPT_MESSAGE, 'no record batch');
    const validated = validateBatches(records, { origin: 'client' });
    if (!validated.ok) return produceFailure(validated.error.errorCode, validated.error.message);
    const maxBytes = topicSetting(this.opts.config, this.image?.topic(topic)?.configs, 'max.message.bytes');
    for (const b of validated.batches) {
      if (b.sizeBytes > maxBytes) return produceFailure(ErrorCode.MESSAGE_TOO_LARGE, `batch of ${b.sizeBytes} bytes exceeds max.message.bytes ${maxBytes}`);
    }
    if (acks === -1 && leader.checkEnoughReplicas() === 'NOT_ENOUGH_REPLICAS') {
      return produceFailure(ErrorCode.NOT_ENOUGH_REPLICAS, `isr [${leader.isr.join(',')}] is smaller than min.insync.replicas ${r.minInsync}`);
    }
    // Idempotent producers: a retried batch already in the log is answered with its original offsets.
    const first = validated.batches[0]!.header;
    if (first.producerId >= 0) {
      if (validated.batches.length !== 1) return produceFailure(ErrorCode.INVALID_RECORD, 'idempotent produce requests must carry exactly one batch');
      const lastSeq = first.baseSequence + first.lastOffsetDelta;
      const check = r.log.producerState.check(first.producerId, first.producerEpoch, first.baseSequence, lastSeq);
      if (check.kind === 'error') return produceFailure(ErrorCode[check.error as keyof typeof ErrorCode]);
      if (check.kind === 'duplicate') {
        // A retry of a batch already in the log: answer with its original offsets, but under acks=all
        // only once the high watermark passes it, exactly as the first attempt would have been
        // (Kafka's DelayedProduce); the first attempt may have timed out before replication.
        const dup: ProduceResult = { errorCode: ErrorCode.NONE, baseOffset: check.firstOffset, logAppendTimeMs: -1, logStartOffset: r.log.logStartOffset, errorMessage: null };
        if (acks !== -1) return dup;
        const code = await this.awaitReplication(r, leader, check.lastOffset + 1, timeoutMs);
        return code === 'NONE' ? dup : { ...dup, errorCode: ErrorCode[code], baseOffset: -1 };
      }
    }
    let appended;
    try {
      appended = r.log.appendAsLeader(records, r.leaderEpoch);
    } catch (err) {
      this.opts.logger.error(`${topic}-${partition}: append failed: ${(err as Error).message}`);
      return produceFailure(ErrorCode.KAFKA_STORAGE_ERROR, (err as Error).message);
    }
    leader.onLocalAppend(r.log.logEndOffset);
    const ok: ProduceResult = { errorCode: ErrorCode.NONE, baseOffset: appended.baseOffset, logAppendTimeMs: -1, logStartOffset: r.log.logStartOffset, errorMessage: null };
    r.notify();
    if (acks !== -1) {
      this.completeAcks(r);
      return ok;
    }
    if (bugActive('ack-before-replication')) return ok;
    const code = await this.awaitReplication(r, leader, appended.lastOffset + 1, timeoutMs);
    return code === 'NONE' ? ok : { ...ok, errorCode: ErrorCode[code], baseOffset: -1 };
  }

  /**
   * acks=all: resolves once the high watermark reaches `requiredOffset`, or with why it cannot.
   * The waiters are polled here only when the new one can complete at once (high watermark already
   * there, ISR below min.insync.replicas, no time left): every other completion is found where its
   * cause happens (a follower fetch or ISR change moving the high watermark, the tick for deadlines),
   * and polling all parked waiters on every produce made each request cost O(requests in flight).
   */
  private awaitReplication(r: Replica, leader: LeaderReplicaState<AckToken>, requiredOffset: number, timeoutMs: number): Promise<AckError> {
    return new Promise<AckError>((resolve) => {
      const accepted = leader.addWaiter({ requiredOffset, deadlineMs: this.now() + timeoutMs, token: resolve });
      if (!accepted) resolve('REQUEST_TIMED_OUT');
      else if (leader.highWatermark >= requiredOffset || leader.isr.length < leader.minInsync || timeoutMs <= 0) this.completeAcks(r);
    });
  }

  private completeAcks(r: Replica): void {
    if (!r.leader) return;
    for (const c of r.leader.poll(this.now())) c.token(c.errorCode);
  }

  private proposeIsr(r: Replica, proposal: AlterPartitionProposal | null): void {
    if (!proposal || r.alterInFlight) return;
    r.alterInFlight = true;
    const leader = r.leader;
    this.opts.logger.info(`${r.topic}-${r.partition}: proposing isr [${proposal.newIsr.join(',')}] (epoch ${proposal.leaderEpoch}, partition epoch ${proposal.partitionEpoch})`);
    this.opts.isr.alterPartition({ ...proposal, topic: r.topic, partition: r.partition }).then(
      () => {
        r.alterInFlight = false;
      },
      (err: unknown) => {
        r.alterInFlight = false;
        // A refusal is definite; a lost answer leaves the outcome unknown and the proposal pending.
        if (leader && r.leader === leader) leader.onAlterPartitionFailed(err instanceof AlterPartitionRejected ? err.errorCode : undefined);
        this.opts.logger.warn(`${r.topic}-${r.partition}: isr change refused: ${(err as Error).message}`);
      },
    );
  }

  /**
   * Reads for a Fetch request: consumers (replicaId < 0) below the high watermark, followers up to
   * the log end. A follower's fetch offset is its acknowledgement: it advances the high watermark.
   * `replicaEpoch`: the follower's broker epoch as its fetch names it (-1 unknown; KIP-903).
   * A fetch naming a topic id (`p.topicId`) whose local replica is of another incarnation gets
   * INCONSISTENT_TOPIC_ID before anything is read or recorded (KIP-516; Kafka checks it in
   * ReplicaManager.readFromLocalLog after finding the partition, before its leader-epoch checks).
   */
  readPartition(replicaId: number, p: FetchPartitionRequest, maxBytes: number, recordProgress: boolean, replicaEpoch = -1): FetchPartitionResult {
    const r = this.get(p.topic, p.partition);
    if (r !== undefined && !sameIncarnation(r, p)) return fetchError(p.topic, p.partition, ErrorCode.INCONSISTENT_TOPIC_ID);
    const base: FetchPartitionResult = {
      topic: p.topic,
      partition: p.partition,
      errorCode: ErrorCode.NONE,
      highWatermark: -1,
      lastStableOffset: -1,
      logStartOffset: -1,
      records: null,
      divergingEpoch: null,
      currentLeader: { leaderId: r?.leaderId ?? -1, leaderEpoch: r?.leaderEpoch ?? -1 },
    };
    const err = this.leaderError(p.topic, p.partition, p.currentLeaderEpoch);
    if (err !== ErrorCode.NONE) return { ...base, errorCode: err };
    const leader = r!.leader!;
    const log = r!.log;
    const isFollower = replicaId >= 0;
    if (isFollower && !leader.replicas.includes(replicaId)) return { ...base, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (p.lastFetchedEpoch >= 0) {
      const div = divergingEpoch(epochView(log), log.logEndOffset, p.fetchOffset, p.lastFetchedEpoch);
      // Kafka: when the end of the follower's last epoch is unknown here, no DivergingEpoch can say
      // so ({-1,-1} reads as "none" on the wire): answer OFFSET_OUT_OF_RANGE, which the fetcher resolves.
      if (div && div.epoch < 0) return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: leader.highWatermark, logStartOffset: log.logStartOffset };
      if (div) {
        return { ...base, highWatermark: leader.highWatermark, lastStableOffset: leader.highWatermark, logStartOffset: log.logStartOffset, divergingEpoch: div };
      }
    }
    if (isFollower && recordProgress && p.fetchOffset <= log.logEndOffset && p.fetchOffset >= log.logStartOffset) {
      const hwBefore = leader.highWatermark;
      const proposal = leader.onFollowerFetch(replicaId, bugActive('hw-counts-sent-records') ? log.logEndOffset : p.fetchOffset, this.now(), log.logEndOffset, replicaEpoch);
      this.proposeIsr(r!, proposal);
      this.completeAcks(r!);
      // A higher high watermark releases consumers parked in a long poll.
      if (leader.highWatermark !== hwBefore) r!.notify();
    }
    const hw = leader.highWatermark;
    const withOffsets = { ...base, highWatermark: hw, lastStableOffset: hw, logStartOffset: log.logStartOffset };
    const limit = isFollower || bugActive('consumer-reads-past-hw') ? log.logEndOffset : hw;
    if (p.fetchOffset >= limit && p.fetchOffset <= log.logEndOffset) return { ...withOffsets, records: Buffer.alloc(0) };
    // A spent request budget returns no data (the caller lets only its first partition with data exceed it).
    if (maxBytes <= 0) return { ...withOffsets, records: Buffer.alloc(0) };
    try {
      const read = log.read(p.fetchOffset, Math.min(maxBytes, p.partitionMaxBytes), limit);
      return { ...withOffsets, records: read.records };
    } catch (e) {
      if (e instanceof OffsetOutOfRangeError) return { ...withOffsets, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
      throw e;
    }
  }

  /** Registers a callback fired when any of the partitions gets new data or a new high watermark. */
  watch(keys: Array<{ topic: string; partition: number }>, cb: () => void): () => void {
    const rs = keys.map((k) => this.get(k.topic, k.partition)).filter((r): r is Replica => r !== undefined);
    for (const r of rs) r.waiters.add(cb);
    return () => {
      for (const r of rs) r.waiters.delete(cb);
    };
  }

  /** ListOffsets for one partition: -2 earliest, -1 latest (HW for consumers, LEO for followers), else by timestamp. */
  listOffset(topic: string, partition: number, timestamp: number, currentLeaderEpoch: number, replicaId: number): { errorCode: number; offset: number; timestamp: number; leaderEpoch: number } {
    const err = this.leaderError(topic, partition, currentLeaderEpoch);
    if (err !== ErrorCode.NONE) return { errorCode: err, offset: -1, timestamp: -1, leaderEpoch: -1 };
    const r = this.get(topic, partition)!;
    const leader = r.leader!;
    const hw = leader.highWatermark;
    const notAvailable = { errorCode: ErrorCode.OFFSET_NOT_AVAILABLE, offset: -1, timestamp: -1, leaderEpoch: -1 };
    // KIP-207: only a consumer's request, and only while the HW lags this epoch's start offset.
    const hwLagsEpochStart = replicaId === -1 && hw < leader.leaderEpochStartOffset;
    if (timestamp === -2) return { errorCode: 0, offset: r.log.logStartOffset, timestamp: -1, leaderEpoch: r.leaderEpoch };
    // Kafka: only the consumer id (-1) is held to the high watermark; followers and the debugging id (-2) see the log end.
    if (timestamp === -1) {
      if (hwLagsEpochStart) return notAvailable;
      return { errorCode: 0, offset: replicaId === -1 ? hw : r.log.logEndOffset, timestamp: -1, leaderEpoch: r.leaderEpoch };
    }
    if (timestamp < 0) return { errorCode: ErrorCode.INVALID_REQUEST, offset: -1, timestamp: -1, leaderEpoch: -1 };
    const found = r.log.offsetForTimestamp(timestamp);
    if (!found || found.offset >= hw) return hwLagsEpochStart ? notAvailable : { errorCode: 0, offset: -1, timestamp: -1, leaderEpoch: -1 };
    return { errorCode: 0, offset: found.offset, timestamp: found.timestampMs, leaderEpoch: r.leaderEpoch };
  }

  /** OffsetForLeaderEpoch on the leader: the end offset of the largest epoch <= the one asked. */
  endOffsetForEpoch(topic: string, partition: number, currentLeaderEpoch: number, leaderEpoch: number): { errorCode: number; leaderEpoch: number; endOffset: number } {
    const err = this.leaderError(topic, partition, currentLeaderEpoch);
    if (err !== ErrorCode.NONE) return { errorCode: err, leaderEpoch: -1, endOffset: -1 };
    const r = this.get(topic, partition)!;
    const e = r.log.epochCache.endOffsetFor(leaderEpoch, r.log.logEndOffset);
    return { errorCode: 0, leaderEpoch: e.epoch, endOffset: e.endOffset };
  }

  /**
   * Applies a fetch response as follower: truncate on divergence (by epoch), otherwise append the
   * leader's batches after the local log end, then take the leader's high watermark.
   */
  applyFetched(r: Replica, res: { errorCode: number; highWatermark: number; logStartOffset: number; records: Buffer | null; divergingEpoch: { epoch: number; endOffset: number } | null }): 'ok' | 'diverged' | 'error' {
    if (res.errorCode !== ErrorCode.NONE) return 'error';
    const log = r.log;
    if (res.divergingEpoch && (res.divergingEpoch.epoch >= 0 || res.divergingEpoch.endOffset >= 0)) {
      const decision = resolveTruncation(res.divergingEpoch, epochView(log), log.logEndOffset);
      this.opts.logger.info(`${r.topic}-${r.partition}: diverged from leader at epoch ${res.divergingEpoch.epoch} end ${res.divergingEpoch.endOffset}; truncating ${log.logEndOffset} -> ${decision.offset}`);
      log.truncateTo(decision.offset);
      r.followerHw = Math.min(r.followerHw, log.logEndOffset);
      return 'diverged';
    }
    const recs = res.records;
    if (recs && recs.length > 0) {
      let pos = 0;
      // Skip whole batches we already have; a batch straddling our end means we must cut back to its base.
      while (pos + 61 <= recs.length) {
        const h = readBatchHeader(recs, pos);
        const size = 12 + h.batchLength;
        if (h.baseOffset + h.lastOffsetDelta < log.logEndOffset) {
          pos += size;
          continue;
        }
        if (h.baseOffset < log.logEndOffset) log.truncateTo(h.baseOffset);
        break;
      }
      if (pos < recs.length) log.appendAsFollower(recs.subarray(pos));
    }
    r.followerHw = followerHighWatermark(res.highWatermark, log.logEndOffset);
    return 'ok';
  }

  /**
   * Retention (log/retention.ts) on every local replica whose topic's cleanup.policy includes
   * `delete`, leader or follower, as Kafka runs it on every replica; data at or above the high
   * watermark is never deleted. Called from tick() every log.retention.check.interval.ms.
   */
  runRetention(now: number): void {
    for (const r of this.partitions.values()) {
      const configs = this.image?.topic(r.topic)?.configs;
      if (!topicSetting(this.opts.config, configs, 'cleanup.policy').includes('delete')) continue;
      const policy = { retentionMs: topicSetting(this.opts.config, configs, 'retention.ms'), retentionBytes: topicSetting(this.opts.config, configs, 'retention.bytes') };
      try {
        const res = applyRetention(r.log, policy, now, r.highWatermark);
        if (res.count > 0) this.opts.logger.info(`${r.topic}-${r.partition}: ${res.reason} deleted ${res.count} segments (${res.bytesDeleted} bytes); log start ${res.logStartOffset}`);
      } catch (err) {
        this.opts.logger.error(`${r.topic}-${r.partition}: retention failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Compaction (log/cleaner.ts) of every local replica whose topic's cleanup.policy includes
   * `compact` (`__consumer_offsets` is created so), below its high watermark, when a segment was
   * rolled since the last pass. Called from tick() every log.cleaner.backoff.ms.
   */
  runCleaner(now: number): void {
    for (const r of this.partitions.values()) {
      const configs = this.image?.topic(r.topic)?.configs;
      if (!topicSetting(this.opts.config, configs, 'cleanup.policy').includes('compact')) continue;
      const activeBase = r.log.segmentBases.at(-1)!;
      if (this.cleanedUpTo.get(r) === activeBase) continue;
      try {
        const res = cleanLog(r.log, { nowMs: now, deleteRetentionMs: topicSetting(this.opts.config, configs, 'delete.retention.ms'), upToOffset: r.highWatermark });
        this.cleanedUpTo.set(r, activeBase);
        if (res.segmentsCleaned > 0) this.opts.logger.info(`${r.topic}-${r.partition}: compacted ${res.segmentsCleaned} segments, ${res.bytesBefore} -> ${res.bytesAfter} bytes`);
      } catch (err) {
        this.opts.logger.error(`${r.topic}-${r.partition}: compaction failed: ${(err as Error).message}`);
      }
    }
  }

  /** Periodic work: ISR shrink checks, acks=all deadlines, time-based flushes, producer-id expiry, HW checkpoints, retention, compaction. */
  tick(): void {
    const now = this.now();
    if (now - this.lastHwCheckpointMs >= this.opts.config['replica.high.watermark.checkpoint.interval.ms']) {
      this.lastHwCheckpointMs = now;
      this.checkpointHighWatermarks();
    }
    if (now - this.lastCleanMs >= this.opts.config['log.cleaner.backoff.ms']) {
      this.lastCleanMs = now;
      this.runCleaner(now);
    }
    if (now - this.lastRetentionCheckMs >= this.opts.config['log.retention.check.interval.ms']) {
      this.lastRetentionCheckMs = now;
      this.runRetention(now);
    }
    if (now - this.lastProducerExpiryMs >= PRODUCER_EXPIRY_CHECK_MS) {
      this.lastProducerExpiryMs = now;
      for (const r of this.partitions.values()) r.log.producerState.removeExpired(now, this.opts.config['producer.id.expiration.ms']);
    }
    for (const r of this.partitions.values()) {
      if (r.leader) {
        this.proposeIsr(r, r.leader.maybeShrinkIsr(now, r.log.logEndOffset));
        this.completeAcks(r);
      }
      try {
        r.log.maybeFlush(now);
      } catch (err) {
        this.opts.logger.error(`${r.topic}-${r.partition}: flush failed: ${(err as Error).message}`);
      }
    }
  }
}
