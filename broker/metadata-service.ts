/**
 * The control plane of one node: the Raft quorum's metadata log, the metadata image every node builds
 * from it, the active controller (on the Raft leader), and this broker's registration and heartbeats.
 *
 * - Every committed Raft entry holds a JSON array of metadata records; a node applies them, in log
 *   order, to its MetadataImage with the entry's index as their offset (so a broker's epoch is the
 *   index of the entry that registered it) and then tells its listeners (the replica manager).
 * - Only the Raft leader runs controller decisions (controller/controller-host.ts): each reads the
 *   controller's uncommitted view (the committed image plus every batch proposed and not seen to
 *   fail), proposes its records, and replies once they are committed and applied. Before its first
 *   decision a new leader commits an empty entry of its own term, so its image holds everything the
 *   previous leaders committed (Raft's leader completeness); a failed write makes it renounce and
 *   start again from the committed image the same way.
 * - This broker's registration, heartbeats and controlled shutdown: controller/broker-lifecycle.ts.
 * - Brokers reach the active controller over the controller listener's RPCs, or directly when it is
 *   this node; a non-leader answers NOT_CONTROLLER with the leader it knows, and callers retry.
 * - A node whose id is not among the voters is an observer (a broker-only node, as KRaft brokers that
 *   are not controllers): it takes no part in elections and pulls the committed metadata entries from
 *   any voter (`fetchMetadata`, a long poll); committed entries are the same on every voter (Raft's
 *   state-machine safety), so it needs no leader for that, only for the controller RPCs.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BrokerConfig } from './config.ts';
import type { ControllerConfig } from './controller/controller.ts';
import { BrokerLifecycle } from './controller/broker-lifecycle.ts';
import { ControllerHost, controllerOperations, type ControllerMethod } from './controller/controller-host.ts';
import { MetadataImage } from './controller/image.ts';
import type { MetadataRecord } from './controller/records.ts';
import { RaftNode } from './controller/raft/node.ts';
import { RpcClient, RpcError } from './controller/raft/transport.ts';
import type { Logger } from './logger.ts';
import type { HostPort } from './main.ts';

export type { ControllerMethod } from './controller/controller-host.ts';

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
}

export class MetadataService {
  readonly image = new MetadataImage();
  private readonly opts: MetadataServiceOptions;
  /** null on an observer. */
  private readonly raft: RaftNode | null;
  /** Every applied metadata entry, for observers to pull (metadata is small; the Raft log keeps it all too). */
  private readonly applied: Array<{ index: number; payload: string }> = [];
  private readonly appliedWaiters = new Set<() => void>();
  /** An observer's view of the Raft leader, from the voters' fetchMetadata answers. */
  private observedLeader: number | null = null;
  private lastAppliedIndex = 0;
  private readonly rpc = new RpcClient();
  /** null on an observer. */
  private readonly host: ControllerHost | null = null;
  private readonly lifecycle: BrokerLifecycle;
  private readonly imageListeners: Array<(image: MetadataImage) => void> = [];
  private tickTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly incarnationId = randomUUID();
  private currentLeader: number | null = null;
  /** The last Raft leader we lost contact with, and a time it has been silent since at the latest. */
  private leaderSilentSince: { id: number; sinceMs: number } | null = null;

  constructor(opts: MetadataServiceOptions) {
    this.opts = opts;
    const c = opts.config;
    this.isObserver = !opts.voters.some((v) => v.id === opts.id);
    this.lifecycle = new BrokerLifecycle({
      brokerId: opts.id,
      incarnationId: this.incarnationId,
      advertise: opts.advertise,
      heartbeatIntervalMs: c['broker.heartbeat.interval.ms'],
      call: (method, params, timeoutMs) => this.call(method, params, timeoutMs),
      image: () => this.image,
      logger: opts.logger,
    });
    if (this.isObserver) {
      this.raft = null;
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
    this.host = new ControllerHost({ config, log: raft, committed: () => this.image, newTopicId: () => randomUUID(), nowMs: Date.now, logger: opts.logger });
    raft.onApply((entry) => this.applyEntry(entry.index, entry.payload));
    raft.onLeaderChange((leaderId, term) => this.onLeaderChange(leaderId, term));
    for (const method of Object.keys(controllerOperations) as ControllerMethod[]) {
      raft.onRpc(method, (params: unknown) => this.handle(method, params));
    }
    raft.onRpc('fetchMetadata', (params: unknown) => this.serveMetadata(params as { fromIndex: number; maxWaitMs: number }));
  }

  readonly isObserver: boolean;

  /** The Raft leader as this node knows it (an observer learns it from the voters). */
  private leaderId(): number | null {
    return this.raft ? this.raft.leaderId : this.observedLeader;
  }

  /** Answers an observer's long poll with the applied entries from `fromIndex` on (bounded in count and time). */
  private async serveMetadata(p: { fromIndex: number; maxWaitMs: number }): Promise<{ entries: Array<{ index: number; payload: string }>; leaderId: number | null }> {
    const from = Number(p.fromIndex);
    if (this.lastAppliedIndex < from) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.appliedWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, Math.min(Number(p.maxWaitMs) || 0, 2000)));
        this.appliedWaiters.add(done);
      });
    }
    let lo = 0;
    let hi = this.applied.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.applied[mid]!.index < from) lo = mid + 1;
      else hi = mid;
    }
    return { entries: this.applied.slice(lo, lo + 500), leaderId: this.leaderId() };
  }

  /** An observer's pull loop: long-polls the voters in turn for committed metadata. */
  private async observe(): Promise<void> {
    let voter = Math.floor(Math.random() * this.opts.voters.length);
    while (!this.stopped) {
      const v = this.opts.voters[voter % this.opts.voters.length]!;
      try {
        const res = (await this.rpc.call(`${v.host}:${v.port}`, 'fetchMetadata', { fromIndex: this.lastAppliedIndex + 1, maxWaitMs: 500 }, 3000)) as {
          entries: Array<{ index: number; payload: string }>;
          leaderId: number | null;
        };
        this.observedLeader = res.leaderId;
        for (const e of res.entries) if (e.index > this.lastAppliedIndex) this.applyEntry(e.index, e.payload);
      } catch (err) {
        if (this.stopped) break;
        this.opts.logger.debug(`metadata pull from voter ${v.id} failed: ${(err as Error).message}`);
        voter++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  onImage(cb: (image: MetadataImage) => void): void {
    this.imageListeners.push(cb);
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
    if (this.raft) await this.raft.start();
    else void this.observe();
    this.tickTimer = setInterval(() => this.host?.tick(), 100);
    this.lifecycle.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.lifecycle.stop();
    this.host?.deactivate();
    this.rpc.close();
    for (const w of [...this.appliedWaiters]) w();
    await this.raft?.stop();
  }

  private applyEntry(index: number, payload: string | null): void {
    if (payload === null || payload === '') return;
    let records: MetadataRecord[];
    try {
      records = JSON.parse(payload) as MetadataRecord[];
    } catch (err) {
      this.opts.logger.error(`metadata entry ${index} is not JSON: ${(err as Error).message}`);
      return;
    }
    if (records.length === 0) return;
    this.lastAppliedIndex = index;
    this.applied.push({ index, payload });
    for (const w of [...this.appliedWaiters]) w();
    for (const r of records) this.image.apply(r, index);
    for (const l of this.imageListeners) {
      try {
        l(this.image);
      } catch (err) {
        this.opts.logger.error(`applying metadata ${index}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
  }

  private onLeaderChange(leaderId: number | null, term: number): void {
    this.opts.logger.info(`raft leader is now ${leaderId ?? 'unknown'} (term ${term})`);
    // Losing a leader means we have not heard from it for at least the fetch timeout: remember since
    // when, so that if we become the controller its broker session is counted from then.
    const previous = this.currentLeader;
    this.currentLeader = leaderId;
    if (previous !== null && previous !== this.opts.id && previous !== leaderId) {
      this.leaderSilentSince = { id: previous, sinceMs: Date.now() - this.opts.config['controller.quorum.fetch.timeout.ms'] };
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
    return this.host.run(method, params);
  }

  /** Calls the active controller (locally or by RPC), retrying NOT_CONTROLLER and network errors until the deadline. */
  async call(method: ControllerMethod, params: unknown, timeoutMs = this.opts.config['controller.quorum.request.timeout.ms']): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let lastError: Error = new ControllerRequestError('CONTROLLER_UNAVAILABLE', 'no active controller');
    while (!this.stopped && Date.now() < deadline) {
      const leaderId = this.leaderId();
      try {
        if (leaderId === this.opts.id) return await this.handle(method, params);
        if (leaderId !== null) {
          const voter = this.opts.voters.find((v) => v.id === leaderId);
          if (voter) return await this.rpc.call(`${voter.host}:${voter.port}`, method, params, Math.max(1, deadline - Date.now()));
        }
      } catch (err) {
        lastError = err as Error;
        const code = (err as { code?: string }).code;
        const retriable = err instanceof NotControllerError || code === 'NOT_CONTROLLER' || code === 'CONTROLLER_BUSY' || !(err instanceof RpcError) || code === 'NOT_LEADER' || code === 'TIMEOUT' || code === 'LEADERSHIP_LOST';
        if (!retriable) throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw lastError;
  }
}
