/**
 * The control plane of one node: the Raft quorum's metadata log, the metadata image every node builds
 * from it, the active controller (on the Raft leader), and this broker's registration and heartbeats.
 *
 * - Every committed Raft entry holds a JSON array of metadata records; the MetadataLoader
 *   (controller/metadata-loader.ts) applies them, in log order, to the MetadataImage with the
 *   entry's index as their offset (so a broker's epoch is the index of the entry that registered it),
 *   snapshots the image, and tells its listeners (the replica manager) only once caught up.
 * - Only the Raft leader runs controller decisions (controller/controller-host.ts): each reads the
 *   controller's uncommitted view (the committed image plus every batch proposed and not seen to
 *   fail), proposes its records, and replies once they are committed and applied. Before its first
 *   decision a new leader commits an empty entry of its own term, so its image holds everything the
 *   previous leaders committed (Raft's leader completeness); a failed write makes it renounce and
 *   start again from the committed image the same way.
 * - This broker's registration, heartbeats and controlled shutdown: controller/broker-lifecycle.ts.
 *   A heartbeat answer also carries what remains of this controller's Raft leader lease and its
 *   view's offset, from which the broker keeps its coordinator lease (`leaseMs`, `metadataOffset`;
 *   broker-lifecycle.ts module doc).
 * - Brokers reach the active controller over the controller listener's RPCs, or directly when it is
 *   this node; a non-leader answers NOT_CONTROLLER with the leader it knows, and callers retry.
 * - A node whose id is not among the voters is an observer (a broker-only node, as KRaft brokers that
 *   are not controllers): it takes no part in elections and pulls the committed metadata entries from
 *   the voters (`fetchMetadata`, a long poll, answered with the voter's snapshot when it asks below
 *   the voter's log start); committed entries are the same on every voter (Raft's state-machine
 *   safety); it takes the high watermark, and so its catch-up point, only from the leader.
 */
import { join } from 'node:path';
import type { BrokerConfig } from './config.ts';
import type { ControllerConfig } from './controller/controller.ts';
import { BrokerLifecycle, LEASE_CLOCK_MARGIN, type HeartbeatAnswer } from './controller/broker-lifecycle.ts';
import { ControllerHost, controllerOperations, type ControllerMethod } from './controller/controller-host.ts';
import type { MetadataImage } from './controller/image.ts';
import { MetadataLoader, observeMetadata, observerSnapshots, serveMetadata } from './controller/metadata-loader.ts';
import type { MetadataRecord } from './controller/records.ts';
import { RaftNode, type RaftStateView } from './controller/raft/node.ts';
import { RpcClient, RpcError } from './controller/raft/transport.ts';
import type { Logger } from './logger.ts';
import type { HostPort } from './main.ts';
import { realRuntime } from './runtime/real.ts';
import { sleepMs, type Runtime, type TimerHandle } from './runtime/runtime.ts';

export type { ControllerMethod } from './controller/controller-host.ts';

/** How long an observer that stopped fetching still counts as one (Kafka's LeaderState: 5 minutes). */
export const OBSERVER_SESSION_MS = 300_000;

export interface QuorumDescription {
  /** true on the Raft leader; the other fields below leaderEpoch are only filled there */
  leader: boolean;
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  voters: Array<{ replicaId: number; logEndOffset: number }>;
  observers: Array<{ replicaId: number; logEndOffset: number }>;
}

export class NotControllerError extends Error {
  readonly code = 'NOT_CONTROLLER';
  readonly leaderId: number | null;
  constructor(leaderId: number | null) {
    super(`not the active controller (leader: ${leaderId ?? 'unknown'})`);
    this.leaderId = leaderId;
  }
}

export class ControllerRequestError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface MetadataServiceOptions {
  id: number;
  advertise: HostPort;
  controllerListen: HostPort | null;
  voters: Array<{ id: number } & HostPort>;
  dataDir: string;
  config: BrokerConfig;
  logger: Logger;
  /** The node's I/O (default: the real runtime). */
  runtime?: Runtime;
}

export class MetadataService {
  readonly loader: MetadataLoader;
  readonly image: MetadataImage;
  private readonly opts: MetadataServiceOptions;
  /** null on an observer. */
  private readonly raft: RaftNode | null;
  /** An observer's view of the Raft leader, from the voters' fetchMetadata answers. */
  private observedLeader: number | null = null;
  /** Observers that fetched metadata from this voter: id -> what they hold and when they last asked. */
  private readonly observers = new Map<number, { logEndOffset: number; lastFetchMs: number }>();
  private readonly rpc: RpcClient;
  private readonly fatalCbs: Array<(err: Error) => void> = [];
  private readonly rt: Runtime;
  /** null on an observer. */
  private readonly host: ControllerHost | null = null;
  private readonly lifecycle: BrokerLifecycle;
  private tickTimer: TimerHandle | null = null;
  private stopped = false;
  readonly incarnationId: string;
  private currentLeader: number | null = null;
  /** The last Raft leader we lost contact with, and a time it has been silent since at the latest. */
  private leaderSilentSince: { id: number; sinceMs: number } | null = null;

  /** This voter's Raft state, read-only, for checkers (null on an observer or before start). */
  get raftState(): RaftStateView | null {
    return this.raft?.stateView ?? null;
  }

  constructor(opts: MetadataServiceOptions) {
    this.opts = opts;
    const rt = opts.runtime ?? realRuntime;
    this.rt = rt;
    this.rpc = new RpcClient({ runtime: rt });
    this.incarnationId = rt.random.uuid();
    const c = opts.config;
    this.loader = new MetadataLoader({
      runtime: rt,
      dir: join(opts.dataDir, 'metadata'),
      maxRecordBytesBetweenSnapshots: c['metadata.log.max.record.bytes.between.snapshots'],
      maxSnapshotIntervalMs: c['metadata.log.max.snapshot.interval.ms'],
      logger: opts.logger.child('loader'),
    });
    this.image = this.loader.image;
    this.isObserver = !opts.voters.some((v) => v.id === opts.id);
    this.lifecycle = new BrokerLifecycle({
      brokerId: opts.id,
      incarnationId: this.incarnationId,
      advertise: opts.advertise,
      heartbeatIntervalMs: c['broker.heartbeat.interval.ms'],
      sessionTimeoutMs: c['broker.session.timeout.ms'],
      monotonicMs: () => rt.clock.monotonicMs(),
      call: (method, params, timeoutMs) => this.call(method, params, timeoutMs),
      image: () => this.image,
      metadataOffset: () => (this.loader.caughtUp ? this.image.lastOffset : -1),
      logger: opts.logger,
      timers: rt.timers,
    });
    if (this.isObserver) {
      this.raft = null;
      const snapshot = observerSnapshots(this.loader, join(opts.dataDir, 'metadata'), opts.logger, rt.fs);
      if (snapshot) this.loader.restore(snapshot);
      return;
    }
    const raft = new RaftNode({
      id: opts.id,
      voters: opts.voters.map((v) => ({ id: v.id, host: v.host, port: v.port })),
      ...(opts.controllerListen ? { listen: opts.controllerListen } : {}),
      dataDir: join(opts.dataDir, 'raft'),
      electionTimeoutMs: c['controller.quorum.election.timeout.ms'],
      fetchTimeoutMs: c['controller.quorum.fetch.timeout.ms'],
      requestTimeoutMs: c['controller.quorum.request.timeout.ms'],
      logger: opts.logger.child('raft'),
      runtime: rt,
    });
    this.raft = raft;
    const config: ControllerConfig = {
      sessionTimeoutMs: c['broker.session.timeout.ms'],
      minInsyncReplicas: c['min.insync.replicas'],
      defaultReplicationFactor: c['default.replication.factor'],
      numPartitions: c['num.partitions'],
      uncleanLeaderElection: c['unclean.leader.election.enable'],
      autoLeaderRebalance: c['auto.leader.rebalance.enable'],
      leaderImbalanceCheckIntervalMs: c['leader.imbalance.check.interval.seconds'] * 1000,
    };
    // Broker sessions are timed on the monotonic clock (Kafka's BrokerHeartbeatManager uses nanoTime): a
    // jump of the controller's wall clock must not expire, or stretch, every broker's session at once.
    this.host = new ControllerHost({ config, log: raft, committed: () => this.image, newTopicId: () => rt.random.uuid(), nowMs: () => rt.clock.monotonicMs(), logger: opts.logger });
    const loader = this.loader;
    raft.onRestore((snapshot) => loader.restore(snapshot));
    raft.onApply((entry) => loader.apply(entry));
    raft.onHighWatermark((hw) => loader.setHighWatermark(hw));
    loader.setSnapshotSink((index, _term, data) => raft.snapshot(index, data));
    raft.onLeaderChange((leaderId, term) => this.onLeaderChange(leaderId, term));
    raft.onFatal((err) => {
      for (const cb of this.fatalCbs) cb(err);
    });
    for (const method of Object.keys(controllerOperations) as ControllerMethod[]) {
      raft.onRpc(method, (params: unknown) => this.handle(method, params));
    }
    raft.onRpc('fetchMetadata', (params: unknown) => {
      const p = params as { fromIndex: number; maxWaitMs: number; replicaId?: unknown };
      // an observer has applied everything before fromIndex: in offsets, its log end offset is fromIndex - 1
      if (typeof p.replicaId === 'number') this.observers.set(p.replicaId, { logEndOffset: Number(p.fromIndex) - 1, lastFetchMs: rt.clock.monotonicMs() });
      return serveMetadata(loader, raft, p);
    });
  }

  readonly isObserver: boolean;

  /** The Raft leader as this node knows it (an observer learns it from the voters). */
  private leaderId(): number | null {
    return this.raft ? this.raft.leaderId : this.observedLeader;
  }

  /** Subscribes to published images: only once caught up, then after every change (metadata-loader.ts). */
  /** The metadata log failed (RaftNode.onFatal): the node must stop. */
  onFatal(cb: (err: Error) => void): void {
    this.fatalCbs.push(cb);
  }

  onImage(cb: (image: MetadataImage) => void): void {
    this.loader.onPublish(cb);
  }

  /** Resolves once this node's metadata has caught up and been published, or after `timeoutMs`. */
  whenCaughtUp(timeoutMs: number): Promise<void> {
    return this.loader.whenCaughtUp(timeoutMs);
  }

  /**
   * The Raft quorum as this node sees it, for DescribeQuorum (apis/quorum.ts). Only the leader knows
   * every voter's progress: `leader` is true there, and `voters` holds each voter's log end offset as
   * the leader knows it (Raft index i is offset i-1, so a replica holding indexes 1..k has log end
   * offset k; -1 when the leader has not heard from it in this term yet) and `observers` the
   * broker-only nodes that fetched from it within OBSERVER_SESSION_MS. On any other node `leader` is
   * false and only `leaderId`/`leaderEpoch` (the leader it knows, or -1) are meaningful.
   */
  describeQuorum(): QuorumDescription {
    const leaderId = this.leaderId() ?? -1;
    const progress = this.raft?.quorumProgress ?? null;
    if (this.raft === null || progress === null) {
      return { leader: false, leaderId, leaderEpoch: this.raft?.term ?? -1, highWatermark: -1, voters: [], observers: [] };
    }
    const now = this.rt.clock.monotonicMs();
    const observers = [...this.observers]
      .filter(([, o]) => now - o.lastFetchMs <= OBSERVER_SESSION_MS)
      .sort((a, b) => a[0] - b[0])
      .map(([id, o]) => ({ replicaId: id, logEndOffset: o.logEndOffset }));
    return {
      leader: true,
      leaderId: this.opts.id,
      leaderEpoch: this.raft.term,
      highWatermark: this.raft.highWatermark ?? -1,
      voters: progress.map((p) => ({ replicaId: p.id, logEndOffset: p.id === this.opts.id || p.matchIndex > 0 ? p.matchIndex : -1 })),
      observers,
    };
  }

  /** The active controller's id as clients see it in Metadata, or -1. */
  controllerId(): number {
    return this.leaderId() ?? -1;
  }

  get isActiveController(): boolean {
    return this.host?.active ?? false;
  }

  /** This broker's epoch (the offset of its registration), -1 until registered. */
  get brokerEpoch(): number {
    return this.lifecycle.brokerEpoch;
  }

  /**
   * Controlled shutdown (controller/broker-lifecycle.ts): resolves true once the controller has
   * moved this broker's leaderships away and allows it to stop, false after `timeoutMs`.
   */
  controlledShutdown(timeoutMs: number): Promise<boolean> {
    return this.lifecycle.controlledShutdown(timeoutMs);
  }

  async start(): Promise<void> {
    this.loader.start();
    if (this.raft) await this.raft.start();
    else {
      void observeMetadata({
        loader: this.loader,
        rpc: this.rpc,
        voters: this.opts.voters,
        stopped: () => this.stopped,
        onLeader: (leaderId) => {
          this.observedLeader = leaderId;
        },
        replicaId: this.opts.id,
        logger: this.opts.logger,
        runtime: this.rt,
      });
    }
    this.tickTimer = this.rt.timers.setInterval(() => this.host?.tick(), 100);
    this.lifecycle.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.rt.timers.clearInterval(this.tickTimer);
    this.lifecycle.stop();
    this.host?.deactivate();
    this.rpc.close();
    this.loader.stop();
    await this.raft?.stop();
  }

  private onLeaderChange(leaderId: number | null, term: number): void {
    this.opts.logger.info(`raft leader is now ${leaderId ?? 'unknown'} (term ${term})`);
    // Losing a leader means we have not heard from it for at least the fetch timeout: remember since
    // when, so that if we become the controller its broker session is counted from then.
    const previous = this.currentLeader;
    this.currentLeader = leaderId;
    if (previous !== null && previous !== this.opts.id && previous !== leaderId) {
      this.leaderSilentSince = { id: previous, sinceMs: this.rt.clock.monotonicMs() - this.opts.config['controller.quorum.fetch.timeout.ms'] };
    }
    if (leaderId !== this.opts.id) {
      this.host?.deactivate();
      return;
    }
    const silent = new Map<number, number>();
    if (this.leaderSilentSince) silent.set(this.leaderSilentSince.id, this.leaderSilentSince.sinceMs);
    this.host?.activate(silent);
  }

  /** Runs one controller operation on this node's host (NOT_CONTROLLER when it is not active). */
  private handle(method: ControllerMethod, params: unknown): Promise<unknown> {
    if (!this.host?.active) return Promise.reject(new NotControllerError(this.leaderId()));
    const run = this.host.run(method, params);
    return method === 'heartbeat' ? run.then((reply) => this.withLease(reply as HeartbeatAnswer)) : run;
  }

  /**
   * A heartbeat answer with this controller's lease as it stands now, when the answer leaves: what
   * remains of the Raft leader lease, less LEASE_CLOCK_MARGIN of the election timeout it counts
   * (the voters time it on their own clocks), and the view's offset (broker-lifecycle.ts module doc).
   * No lease when this node no longer leads.
   */
  private withLease(reply: HeartbeatAnswer): HeartbeatAnswer {
    const end = this.raft?.leaseEndMs ?? null;
    const view = this.host?.controller?.view ?? null;
    if (end === null || view === null) return { ...reply, leaseMs: 0 };
    const marginMs = LEASE_CLOCK_MARGIN * this.opts.config['controller.quorum.fetch.timeout.ms'];
    return { ...reply, leaseMs: Math.max(0, end - this.rt.clock.monotonicMs() - marginMs), metadataOffset: view.lastOffset };
  }

  /** Whether this broker holds its coordinator lease, given the offset of the image it has applied (broker-lifecycle.ts). */
  coordinatorLeaseHeld(appliedOffset: number): boolean {
    return this.lifecycle.leaseHeld(appliedOffset);
  }

  /**
   * Calls the active controller (locally or by RPC), retrying NOT_CONTROLLER and network errors until
   * the deadline. The deadline is monotonic: a call settles within `timeoutMs` whatever the wall clock
   * does (a step back must not give a 500 ms heartbeat a 49 s RPC on a dead connection, which fences
   * the broker; a step forward must not fail every call in flight).
   */
  async call(method: ControllerMethod, params: unknown, timeoutMs = this.opts.config['controller.quorum.request.timeout.ms']): Promise<any> {
    const deadline = this.rt.clock.monotonicMs() + timeoutMs;
    let lastError: Error = new ControllerRequestError('CONTROLLER_UNAVAILABLE', 'no active controller');
    while (!this.stopped && this.rt.clock.monotonicMs() < deadline) {
      const leaderId = this.leaderId();
      try {
        if (leaderId === this.opts.id) return await this.handle(method, params);
        if (leaderId !== null) {
          const voter = this.opts.voters.find((v) => v.id === leaderId);
          if (voter) return await this.rpc.call(`${voter.host}:${voter.port}`, method, params, Math.max(1, deadline - this.rt.clock.monotonicMs()));
        }
      } catch (err) {
        lastError = err as Error;
        const code = (err as { code?: string }).code;
        const retriable = err instanceof NotControllerError || code === 'NOT_CONTROLLER' || code === 'CONTROLLER_BUSY' || !(err instanceof RpcError) || code === 'NOT_LEADER' || code === 'TIMEOUT' || code === 'LEADERSHIP_LOST';
        if (!retriable) throw err;
      }
      await sleepMs(this.rt.timers, 50);
    }
    throw lastError;
  }
}
