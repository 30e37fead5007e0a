/**
 * One broker node: the Kafka listener, the control plane (Raft metadata log, controller, registration),
 * the partitions it replicates, the follower fetchers and the group coordinator, wired together.
 *
 * Start order: start the metadata service (Raft, registration, heartbeats; once the node's metadata
 * has caught up and holds this incarnation's own registration, every committed image is published
 * to the replica manager, which opens logs and takes the leader or follower role for each local
 * partition), wait (bounded) until the metadata has caught up and the controller has unfenced this
 * incarnation, then open the Kafka listener. Before that the broker serves nothing (Kafka keeps it
 * fenced), so no client sees an old image, and nothing the previous incarnation led is continued.
 * Past the bounded wait it listens anyway (warning), still holding no replica until its
 * registration is in the image: produce and fetch are refused until then.
 * Stop: first controlled shutdown (when `controlled.shutdown.enable`): the controller moves this
 * broker's leaderships away while it still serves, bounded by `controlled.shutdown.timeout.ms`;
 * then the start order reversed. SIGTERM leads here through broker/main.ts.
 *
 * All I/O (clock, timers, network, disk, randomness) goes through the `Runtime` the constructor is
 * given: the real one by default (`faultline broker`), a simulated one in sim/ (runtime/runtime.ts).
 */
import { createHash } from 'node:crypto';
import { dispatch } from './apis/index.ts';
import { OFFSETS_TOPIC, type BrokerContext } from './apis/context.ts';
import { GroupCoordinator } from './group/coordinator.ts';
import { readOffsetsLog } from './group/offsets-load.ts';
import type { BrokerRegistration, MetadataImage } from './controller/image.ts';
import { mkdirDurable } from './log/fs-util.ts';
import { WriteBehind } from './log/write-behind.ts';
import type { Logger } from './logger.ts';
import type { BrokerOptions } from './main.ts';
import { MetadataService } from './metadata-service.ts';
import { ErrorCode } from './protocol/errors.ts';
import { buildBatch } from './protocol/records.ts';
import { ReplicaFetcherManager } from './replica-fetcher.ts';
import { AlterPartitionRejected, ReplicaManager, type Replica } from './replica-manager.ts';
import { KafkaServer } from './server.ts';
import { bugActive } from './bugs.ts';
import { realRuntime } from './runtime/real.ts';
import { sleepMs, type Runtime, type TimerHandle } from './runtime/runtime.ts';

export class BrokerNode {
  private readonly opts: BrokerOptions;
  private readonly logger: Logger;
  readonly metadata: MetadataService;
  readonly replicas: ReplicaManager;
  readonly groups: GroupCoordinator;
  private readonly fetchers: ReplicaFetcherManager;
  private server: KafkaServer | null = null;
  private groupTimer: TimerHandle | null = null;
  readonly runtime: Runtime;
  private producerIds = { next: 0, end: 0 };
  private offsetsTopicCreation: Promise<void> | null = null;
  readonly clusterId: string;
  /** Group commit of this node's leader appends (log/write-behind.ts); the listener drains it before sending. */
  readonly writeBehind: WriteBehind;
  private readonly logWriteFailureCbs: Array<(err: Error) => void> = [];
  /** The offset of the last metadata image the replica manager applied (-1 before the first). */
  private appliedImageOffset = -1;

  constructor(opts: BrokerOptions, logger: Logger, runtime: Runtime = realRuntime) {
    this.opts = opts;
    this.logger = logger;
    this.runtime = runtime;
    const clock = runtime.clock;
    // Durably (fsync of the parent, as Kafka's LogManager does for a log dir it creates): every file
    // made durable inside lives under this name, so a power loss must not be able to drop it.
    mkdirDurable(opts.dataDir, runtime.fs);
    // Every node of a quorum derives the same cluster id from the voter set.
    const voterKey = opts.voters.map((v) => `${v.id}@${v.host}:${v.port}`).sort().join(',');
    this.clusterId = createHash('sha256').update(voterKey).digest('base64url').slice(0, 22);
    this.metadata = new MetadataService({
      id: opts.id,
      advertise: opts.advertise,
      controllerListen: opts.controllerListen,
      voters: opts.voters,
      dataDir: opts.dataDir,
      config: opts.config,
      logger: logger.child('metadata'),
      runtime,
    });
    this.writeBehind = new WriteBehind(runtime.timers, (err) => {
      for (const cb of this.logWriteFailureCbs) cb(err);
    });
    this.replicas = new ReplicaManager({
      writeBehind: this.writeBehind,
      brokerId: opts.id,
      dataDir: opts.dataDir,
      config: opts.config,
      logger: logger.child('replicas'),
      runtime,
      isr: {
        alterPartition: async (req) => {
          const reply = (await this.metadata.call('alterPartition', { brokerId: opts.id, brokerEpoch: this.metadata.brokerEpoch, ...req })) as { errorCode: string };
          if (reply.errorCode !== 'NONE') throw new AlterPartitionRejected(reply.errorCode);
        },
      },
    });
    this.fetchers = new ReplicaFetcherManager({
      brokerId: opts.id,
      config: opts.config,
      logger: logger.child('fetcher'),
      replicas: this.replicas,
      image: () => this.metadata.image,
      brokerEpoch: () => this.metadata.brokerEpoch,
      runtime,
    });
    this.groups = new GroupCoordinator({
      nowMs: () => clock.nowMs(),
      uuid: () => runtime.random.uuid(),
      offsetsPartitions: opts.config['offsets.topic.num.partitions'],
      initialRebalanceDelayMs: opts.config['group.initial.rebalance.delay.ms'],
      minSessionTimeoutMs: opts.config['group.min.session.timeout.ms'],
      maxSessionTimeoutMs: opts.config['group.max.session.timeout.ms'],
      // The coordinator lease (controller/broker-lifecycle.ts): this broker answers as coordinator
      // only while no controller can have fenced it beyond what the image it applied holds.
      canCoordinate: () => this.metadata.coordinatorLeaseHeld(this.appliedImageOffset),
      offsetLog: {
        append: async (partition, records) => {
          const batch = buildBatch({ baseOffset: 0, baseTimestamp: clock.nowMs(), compression: 'none', records: records.map((r) => ({ key: r.key, value: r.value })) });
          const res = await this.replicas.produce(OFFSETS_TOPIC, partition, batch, bugActive('offsets-acks-1') ? 1 : -1, opts.config['offsets.commit.timeout.ms']);
          if (res.errorCode !== ErrorCode.NONE) throw Object.assign(new Error(`offsets append failed: ${res.errorCode}`), { kafkaErrorCode: res.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ? ErrorCode.NOT_COORDINATOR : res.errorCode });
        },
      },
    });
    this.replicas.onLeadership({
      onBecomeLeader: (r) => this.loadOffsets(r),
      onResign: (topic, partition) => {
        if (topic === OFFSETS_TOPIC) this.groups.unload(partition);
      },
    });
    this.replicas.onFollowersChanged((changed) => this.fetchers.update(changed));
    // No partition role before the image holds this incarnation's own registration: until then
    // it holds the previous incarnation's (a restart faster than the broker session), still
    // unfenced and leading at its old epochs, which this process must not continue (its log may
    // have lost its unflushed tail). Registering makes the controller fence the old incarnation
    // and move or re-elect what it led at new epochs (Kafka's broker likewise takes no partition
    // role before it has caught up to its own registration).
    let registered = false;
    this.metadata.onImage((image) => {
      if (!registered) {
        if (this.ownRegistration(image) === undefined) return;
        registered = true;
      }
      this.replicas.applyImage(image);
      this.appliedImageOffset = image.lastOffset;
    });
  }

  /** This process's own registration in `image` (not a previous incarnation's), if it is there. */
  private ownRegistration(image: MetadataImage): Readonly<BrokerRegistration> | undefined {
    const me = image.broker(this.opts.id);
    return me?.incarnationId === this.metadata.incarnationId ? me : undefined;
  }

  /** Replays an offsets partition into the group coordinator when this node starts leading it. */
  private loadOffsets(r: Replica): void {
    if (r.topic !== OFFSETS_TOPIC) return;
    this.groups.beginLoad(r.partition);
    const { records, bytesRead } = readOffsetsLog(r.log);
    this.groups.finishLoad(r.partition, records);
    this.logger.info(`coordinator for ${OFFSETS_TOPIC}-${r.partition}: loaded ${records.length} offset records (${bytesRead} bytes)`);
  }

  private context(): BrokerContext {
    return {
      id: this.opts.id,
      clusterId: this.clusterId,
      config: this.opts.config,
      logger: this.logger,
      metadata: this.metadata,
      replicas: this.replicas,
      groups: this.groups,
      runtime: this.runtime,
      nextProducerId: () => this.nextProducerId(),
      ensureOffsetsTopic: () => this.ensureOffsetsTopic(),
      createTopic: (name, numPartitions, rf, configs, waitMs) => this.createTopic(name, numPartitions, rf, configs, waitMs),
    };
  }

  async start(): Promise<void> {
    const ctx = this.context();
    this.server = new KafkaServer({
      host: this.opts.listen.host,
      port: this.opts.listen.port,
      maxFrameBytes: this.opts.config['socket.request.max.bytes'],
      logger: this.logger.child('net'),
      net: this.runtime.net,
      handle: (rc) => dispatch(ctx, rc),
      beforeSend: () => this.writeBehind.drain(),
    });
    this.replicas.start();
    await this.metadata.start();
    // Like Kafka's broker, serve clients only once registered and unfenced in our own metadata image,
    // so the first Metadata answer a client gets names a controller and this broker.
    const { clock, timers } = this.runtime;
    const deadline = clock.nowMs() + this.opts.config['broker.session.timeout.ms'] * 4;
    await this.metadata.whenCaughtUp(Math.max(0, deadline - clock.nowMs()));
    const ready = () => this.metadata.loader.caughtUp && this.ownRegistration(this.metadata.image)?.fenced === false;
    while (clock.nowMs() < deadline && !ready()) await sleepMs(timers, 20);
    if (!this.metadata.loader.caughtUp) this.logger.warn('metadata not yet caught up; listening, but holding no replica until it is');
    else if (!ready()) this.logger.warn('not yet unfenced by the controller; serving anyway');
    const addr = await this.server.listen();
    this.groupTimer = timers.setInterval(() => this.groups.tick(), 100);
    this.logger.info(`broker ${this.opts.id} listening on ${addr.host}:${addr.port} (advertised ${this.opts.advertise.host}:${this.opts.advertise.port}), data in ${this.opts.dataDir}`);
  }

  /**
   * A deferred write of a partition log failed (log/write-behind.ts): the node no longer sends
   * anything and must stop, as Kafka halts when its only log directory fails.
   */
  onLogWriteFailure(cb: (err: Error) => void): void {
    const failed = this.writeBehind.failed;
    if (failed) cb(failed); // it failed before anyone listened: say so now
    else this.logWriteFailureCbs.push(cb);
  }

  async stop(): Promise<void> {
    if (this.opts.config['controlled.shutdown.enable']) {
      const startedMs = this.runtime.clock.nowMs();
      const approved = await this.metadata.controlledShutdown(this.opts.config['controlled.shutdown.timeout.ms']);
      if (approved) this.logger.info(`controlled shutdown approved after ${this.runtime.clock.nowMs() - startedMs} ms`);
    }
    this.runtime.timers.clearInterval(this.groupTimer);
    await this.server?.close();
    await this.fetchers.stop();
    this.replicas.stop();
    await this.metadata.stop();
  }

  private async nextProducerId(): Promise<number> {
    if (this.producerIds.next >= this.producerIds.end) {
      const reply = (await this.metadata.call('allocateProducerIds', { brokerId: this.opts.id, brokerEpoch: this.metadata.brokerEpoch })) as { errorCode: string; firstId: number; size: number };
      if (reply.errorCode !== 'NONE') throw new Error(reply.errorCode);
      this.producerIds = { next: reply.firstId, end: reply.firstId + reply.size };
    }
    return this.producerIds.next++;
  }

  private async createTopic(name: string, numPartitions: number, replicationFactor: number, configs: Record<string, string>, waitMs: number): Promise<{ errorCode: number; errorMessage: string | null }> {
    let reply: Array<{ errorCode: string }>;
    try {
      reply = (await this.metadata.call('createTopics', [{ name, numPartitions, replicationFactor, configs }], Math.max(waitMs, 2000))) as Array<{ errorCode: string }>;
    } catch (err) {
      return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `controller unavailable: ${(err as Error).message}` };
    }
    const code = reply[0]?.errorCode ?? 'UNKNOWN_SERVER_ERROR';
    if (code !== 'NONE') return { errorCode: ErrorCode[code as keyof typeof ErrorCode] ?? ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: code };
    // Wait (bounded) until our own image shows the topic with a leader for every partition.
    const { clock, timers } = this.runtime;
    const deadline = clock.nowMs() + waitMs;
    while (clock.nowMs() < deadline) {
      const t = this.metadata.image.topic(name);
      if (t && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)) break;
      await sleepMs(timers, 20);
    }
    return { errorCode: 0, errorMessage: null };
  }

  private ensureOffsetsTopic(): Promise<void> {
    if (this.metadata.image.topic(OFFSETS_TOPIC)) return Promise.resolve();
    if (!this.offsetsTopicCreation) {
      const rf = Math.max(1, Math.min(this.opts.config['offsets.topic.replication.factor'], this.metadata.image.liveBrokers().length));
      this.offsetsTopicCreation = this.createTopic(OFFSETS_TOPIC, this.opts.config['offsets.topic.num.partitions'], rf, offsetsTopicConfigs(this.opts.config), 5000)
        .then((r) => {
          if (r.errorCode !== 0 && r.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) throw new Error(r.errorMessage ?? String(r.errorCode));
        })
        .finally(() => {
          this.offsetsTopicCreation = null;
        });
    }
    return this.offsetsTopicCreation;
  }
}

/** `__consumer_offsets` is compacted (Kafka's GroupMetadataManager creates it so), in segments of offsets.topic.segment.bytes. */
export function offsetsTopicConfigs(config: BrokerOptions['config']): Record<string, string> {
  return { 'cleanup.policy': 'compact', 'segment.bytes': String(config['offsets.topic.segment.bytes']) };
}
