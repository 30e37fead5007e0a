/**
 * An in-process, seeded replication cluster: 3 brokers (ids 1..3) sharing one partition (RF 3,
 * min.insync.replicas 2), one controller (id 0, a single-node metadata log: decisions are applied
 * as soon as they are made) and 2 acks=all producers (ids 101, 102), over a SimNetwork with delay,
 * loss and partitions. Faults: broker crashes (the flushed log and epoch cache survive, soft state
 * does not) and restarts with a new incarnation; a broker isolated from the other brokers (and
 * maybe the controller) or from the controller only (a zombie leader); controller failover (a new
 * Controller over the same image: sessions restart); reassignment to 2 or 3 replicas; heal.
 * A slow broker's requests to the controller take up to SLOW_EXTRA_DELAY_MS longer and are sometimes
 * sent twice (a retry over a new connection while the first copy is still on its way), so the
 * controller sees old AlterPartition copies after newer changes (heal ends it). While the `lag` fault
 * lasts, the partition's leader (whoever leads when it sends) sends to the controller as slowly,
 * but each of its two channels keeps its order (Kafka's brokers send AlterPartition, and
 * registration with heartbeats, over separate controller channels): a leader's AlterPartition
 * retry (after requestTimeoutMs without an answer) then follows its first attempt, which the
 * controller may still apply, and the metadata the heartbeat replies bring lags behind too. As in Kafka's client, a leader takes the answer to its
 * latest attempt only (an attempt it gave up on, or the copy of a slow broker's request sent
 * first, is answered to no one), and a refusal carries no partition state: the leader learns
 * the ISR from its next metadata (a heartbeat reply), as the real broker does.
 * The faults are drawn from their own Prng stream (the seed's), or given as an explicit schedule
 * (`SimOptions.schedule`, e.g. a shrunk one: mutants/shrink.ts); either way the result carries the
 * schedule that ran, so `seed + schedule` replays a run exactly.
 * After the fault phase everything heals, crashed brokers restart, the partition is reassigned
 * back to all 3 brokers, and the run waits for convergence. Brokers learn metadata from heartbeat
 * and AlterPartition replies. Time advances in fixed steps; everything random comes from one
 * Prng, so a run is a pure function of its seed and options.
 *
 * The checker (`check`) reports, after heal and convergence:
 * - lost: an acked value that is not at its acked offset on the leader or on some ISR member;
 * - inconsistent reads: one offset read (below a leader's HW) with two different values;
 * - divergence: two brokers' logs that differ below the leader's HW.
 */
import { Controller } from '../../broker/controller/controller.ts';
import type { ControllerConfig } from '../../broker/controller/controller.ts';
import { MetadataImage } from '../../broker/controller/image.ts';
import type { PartitionState } from '../../broker/controller/image.ts';
import { NO_LEADER } from '../../broker/controller/records.ts';
import type { MetadataRecord } from '../../broker/controller/records.ts';
import { EpochCacheModel } from '../../broker/replication/epochCacheModel.ts';
import type { EpochEndOffset } from '../../broker/replication/epochCacheModel.ts';
import { divergingEpoch, followerHighWatermark, resolveTruncation } from '../../broker/replication/follower.ts';
import { LeaderReplicaState } from '../../broker/replication/leader.ts';
import type { AlterPartitionProposal } from '../../broker/replication/leader.ts';
import { SimNetwork } from './network.ts';
import type { Envelope } from './network.ts';
import { Prng } from './prng.ts';

export const TOPIC = 't';
const CONTROLLER_ID = 0;
const BROKER_IDS = [1, 2, 3] as const;
const PRODUCER_IDS = [101, 102] as const;

export interface SimOptions {
  seed: number;
  uncleanElection: boolean;
  stepMs: number;
  faultSteps: number;
  maxConvergeSteps: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  replicaLagTimeMaxMs: number;
  requestTimeoutMs: number;
  faultRate: number;
  lossRate: number;
  maxFetchRecords: number;
  /** Explicit faults by step (instead of drawing them from the seed); steps >= faultSteps are ignored. */
  schedule?: readonly ScheduledFault[];
  /** Called after every step (fault phase and convergence): properties that watch the run (mutants/properties.ts). */
  afterStep?: (c: ReplicationCluster) => void;
}

/** One fault of the fault phase; applying one that does not fit the state (restart an up broker) does nothing. */
export type Fault =
  | { kind: 'crash'; broker: number }
  | { kind: 'restart'; broker: number }
  | { kind: 'cut-controller'; broker: number }
  | { kind: 'controller-failover' }
  | { kind: 'reassign'; replicas: number[] }
  | { kind: 'isolate'; broker: number; alsoController: boolean }
  | { kind: 'slow'; broker: number }
  /** Aimed at a role: whichever broker the metadata names leader when it sends; extra delay up to `maxDelayMs`. */
  | { kind: 'lag'; maxDelayMs: number }
  | { kind: 'heal' };

export interface ScheduledFault {
  step: number;
  fault: Fault;
}

/** A stream of its own for fault draws, so an explicit schedule leaves the world's randomness as it was. */
const FAULT_STREAM = 0x9e3779b9;
/** A slow broker's requests to the controller: extra delay up to this (above the AlterPartition retry interval, so copies overtake). */
const SLOW_EXTRA_DELAY_MS = 400;
/** A lagging broker's requests to the controller: extra delay from a fifth of the fault's maximum up to it, one of these. */
const LAG_MAX_DELAYS_MS = [400, 800];
/** ...and the chance each is sent a second time, with its own delay. */
const SLOW_DUPLICATE_RATE = 0.3;

/** SimNetwork plus slow and lagging brokers (see the module doc); healAll ends both. */
export class ClusterNetwork<M extends { kind: string }> extends SimNetwork<M> {
  readonly slow = new Set<number>();
  /** While set, the partition leader's requests lag by up to this (ms), whoever leads when it sends. */
  leaderLagMs: number | null = null;
  /** The broker the metadata names leader (set by the cluster). */
  leader: () => number = () => NO_LEADER;
  /**
   * True once the controller got an AlterPartition attempt after a later one of the same broker
   * (an abandoned copy counts as sent just before its attempt): only a slow broker's copies do that.
   */
  reordered = false;
  readonly #lastAttempt = new Map<number, number>();
  readonly #rng: Prng;
  /** Per lagging broker and channel: when its last request to the controller is due (their order is kept). */
  readonly #lastDue = new Map<string, number>();
  constructor(rng: Prng, options: ConstructorParameters<typeof SimNetwork<M>>[1]) {
    super(rng, options);
    this.#rng = rng;
  }
  override send(from: number, to: number, nowMs: number, msg: M, notBeforeMs = -Infinity): number | null {
    if (to !== CONTROLLER_ID) return super.send(from, to, nowMs, msg, notBeforeMs);
    // Two channels, as Kafka's broker has: AlterPartition, and registration with heartbeats. What a
    // lagging broker sent stays ahead of what it sends next, also once the lag is over.
    const channel = `${from}/${msg.kind === 'alter' ? 'alter' : 'lifecycle'}`;
    const ahead = Math.max(notBeforeMs, this.#lastDue.get(channel) ?? -Infinity);
    if (this.leaderLagMs !== null && from === this.leader()) {
      const max = this.leaderLagMs;
      let after = ahead;
      // A first attempt over a connection given up on, still processed, ahead of its retry; no one hears its answer.
      if (msg.kind === 'alter' && this.#rng.chance(SLOW_DUPLICATE_RATE)) after = super.send(from, to, nowMs + this.#rng.int(Math.floor(max / 5), max), { ...msg, abandoned: true }, after) ?? after;
      const due = super.send(from, to, nowMs + this.#rng.int(Math.floor(max / 5), max), msg, after);
      this.#lastDue.set(channel, due ?? after);
      return due;
    }
    if (!this.slow.has(from)) return super.send(from, to, nowMs, msg, ahead);
    const due = super.send(from, to, nowMs + this.#rng.int(0, SLOW_EXTRA_DELAY_MS), msg);
    // The other copy is the first attempt, over a connection the sender gave up on: no one hears its answer.
    const first = msg.kind === 'alter' ? { ...msg, abandoned: true } : msg;
    if (this.#rng.chance(SLOW_DUPLICATE_RATE)) super.send(from, to, nowMs + this.#rng.int(0, SLOW_EXTRA_DELAY_MS), first);
    return due;
  }
  override due(nowMs: number): Envelope<M>[] {
    const ready = super.due(nowMs);
    for (const e of ready) {
      const m = e.msg as { kind: string; attempt?: number; abandoned?: true };
      if (e.to !== CONTROLLER_ID || m.kind !== 'alter') continue;
      const order = 2 * m.attempt! + (m.abandoned === true ? 0 : 1);
      if (order < (this.#lastAttempt.get(e.from) ?? -1)) this.reordered = true;
      this.#lastAttempt.set(e.from, Math.max(order, this.#lastAttempt.get(e.from) ?? -1));
    }
    return ready;
  }
  override healAll(): void {
    super.healAll();
    this.slow.clear();
    this.leaderLagMs = null;
  }
}

export const defaultSimOptions: Omit<SimOptions, 'seed' | 'uncleanElection'> = {
  stepMs: 5,
  faultSteps: 400,
  maxConvergeSteps: 1200,
  sessionTimeoutMs: 120,
  heartbeatIntervalMs: 20,
  replicaLagTimeMaxMs: 60,
  requestTimeoutMs: 150,
  faultRate: 0.02,
  lossRate: 0.02,
  maxFetchRecords: 4,
};

interface LogEntry {
  epoch: number;
  value: number;
}

interface Snapshot {
  offset: number;
  fenced: boolean;
  partition: PartitionState | undefined;
}

type Msg =
  | { kind: 'register'; incarnationId: string }
  | { kind: 'registerReply'; brokerEpoch: number; incarnationId: string }
  /** `incarnation`: the sender's process life, echoed, so a reply to a crashed life never reaches the next (its connection died). */
  | { kind: 'heartbeat'; brokerEpoch: number; metadataOffset: number; incarnation: number }
  | { kind: 'heartbeatReply'; error: string; snapshot: Snapshot; incarnation: number }
  /**
   * `attempt`: the leader's id for this send (counting up per broker); `abandoned`: the copy of it
   * sent first, over a connection given up on (its answer is dropped).
   */
  | { kind: 'alter'; brokerEpoch: number; proposal: AlterPartitionProposal; attempt: number; abandoned?: true }
  /** `snapshot`: the partition state a success names (Kafka's AlterPartition response); none on an error. */
  | { kind: 'alterReply'; error: string; attempt: number; snapshot: Snapshot | null }
  | { kind: 'fetch'; leaderEpoch: number; fetchOffset: number; lastFetchedEpoch: number; id: number; brokerEpoch: number }
  | { kind: 'fetchReply'; id: number; leaderEpoch: number; error: string; records: LogEntry[]; baseOffset: number; hw: number; diverging: EpochEndOffset | null }
  | { kind: 'produce'; value: number }
  | { kind: 'produceReply'; value: number; error: string; offset: number };

interface FollowerRole {
  leaderId: number;
  leaderEpoch: number;
  inFlightId: number | null;
  sentAtMs: number;
}

export interface Broker {
  id: number;
  up: boolean;
  // Durable (flushed on every append):
  log: LogEntry[];
  cache: EpochCacheModel;
  // Soft state:
  incarnation: number;
  brokerEpoch: number;
  registerSentAtMs: number;
  lastHeartbeatSentMs: number;
  metadataOffset: number;
  view: PartitionState | undefined;
  hw: number;
  leader: LeaderReplicaState<{ producer: number; value: number; offset: number }> | null;
  follower: FollowerRole | null;
  nextFetchId: number;
  /** The AlterPartition attempt whose answer the leader awaits (null: none); ids count up per broker. */
  alterAwaited: number | null;
  nextAlterAttempt: number;
}

interface Producer {
  id: number;
  believedLeader: number;
  inFlight: { value: number; sentAtMs: number } | null;
}

export interface SimResult {
  seed: number;
  converged: boolean;
  acked: number;
  lost: { value: number; offset: number; where: string }[];
  inconsistentReads: { offset: number; values: [number, number] }[];
  divergence: string[];
  events: number;
  /** The partition's leader epoch at the end: how many leader changes the run went through. */
  finalLeaderEpoch: number;
  /** Truncations that dropped at least one record, over all brokers. */
  truncations: number;
  /** Distinct offsets consumers read below a leader's HW (final drain included). */
  offsetsRead: number;
  /** The fault schedule, `<ms>: <fault>` per line, for replays. */
  faultLog: string[];
  /** The faults that ran, by step: `runSim(seed, unclean, { schedule })` replays this run. */
  schedule: ScheduledFault[];
}

export class ReplicationCluster {
  readonly options: SimOptions;
  readonly rng: Prng;
  readonly faultRng: Prng;
  readonly net: ClusterNetwork<Msg>;
  readonly image = new MetadataImage();
  controller: Controller;
  readonly #controllerConfig: ControllerConfig;
  readonly brokers = new Map<number, Broker>();
  readonly producers: Producer[] = [];
  /** value -> acked offset. */
  readonly acked = new Map<number, number>();
  /** offset -> value, for every read below a leader's HW. */
  readonly reads = new Map<number, number>();
  readonly inconsistentReads: { offset: number; values: [number, number] }[] = [];
  nowMs = 0;
  #nextValue = 1;
  #topicIds = 0;
  #consumerPos = 0;
  #faultLog: string[] = [];
  #schedule: ScheduledFault[] = [];
  #truncations = 0;

  constructor(options: SimOptions) {
    this.options = options;
    this.rng = new Prng(options.seed);
    this.faultRng = new Prng((options.seed ^ FAULT_STREAM) >>> 0);
    this.net = new ClusterNetwork<Msg>(this.rng, { minDelayMs: 1, maxDelayMs: 15, lossRate: options.lossRate, maxInFlight: 5_000 });
    const config: ControllerConfig = {
      sessionTimeoutMs: options.sessionTimeoutMs,
      minInsyncReplicas: 2,
      defaultReplicationFactor: 3,
      numPartitions: 1,
      uncleanLeaderElection: false,
      autoLeaderRebalance: true,
      leaderImbalanceCheckIntervalMs: 500,
    };
    this.#controllerConfig = config;
    this.controller = this.#newController(0);
    this.net.leader = () => this.image.partition(TOPIC, 0)?.leader ?? NO_LEADER;
    for (const id of BROKER_IDS) {
      this.brokers.set(id, {
        id, up: true, log: [], cache: new EpochCacheModel(), incarnation: 0, brokerEpoch: -1, registerSentAtMs: -Infinity,
        lastHeartbeatSentMs: -Infinity, metadataOffset: -1, view: undefined, hw: 0, leader: null,
        follower: null, nextFetchId: 1, alterAwaited: null, nextAlterAttempt: 1,
      });
    }
    for (const id of PRODUCER_IDS) this.producers.push({ id, believedLeader: NO_LEADER, inFlight: null });
    this.#bootstrap();
  }

  /** A fresh active controller over the same committed image: soft state (sessions) restarts. */
  #newController(nowMs: number): Controller {
    const c = new Controller({ config: this.#controllerConfig, image: this.image, newTopicId: () => `00000000-0000-4000-8000-${String(++this.#topicIds).padStart(12, '0')}` });
    c.activate(nowMs);
    return c;
  }

  #reassign(target: number[]): void {
    const [r] = this.#commitDecision(this.controller.reassignPartitions([{ topic: TOPIC, partition: 0, replicas: target }]));
    this.#faultLog.push(`${this.nowMs}: reassign to [${target.join(',')}]: ${r?.errorCode}`);
  }

  #commitDecision<R>(d: { records: MetadataRecord[]; reply: R }): R {
    this.#commit(d.records);
    return d.reply;
  }

  get faultLog(): readonly string[] {
    return this.#faultLog;
  }

  #commit(records: MetadataRecord[]): number {
    const base = this.image.lastOffset + 1;
    records.forEach((r, i) => this.image.apply(r, base + i));
    return base;
  }

  /** Registers and unfences every broker and creates the topic, synchronously. */
  #bootstrap(): void {
    for (const b of this.brokers.values()) {
      const d = this.controller.registerBroker({ brokerId: b.id, incarnationId: `${b.id}-0`, host: '127.0.0.1', port: 9000 + b.id }, 0);
      b.brokerEpoch = this.#commit(d.records) + d.reply.registerRecordIndex;
      this.#commit(this.controller.heartbeat({ brokerId: b.id, brokerEpoch: b.brokerEpoch, currentMetadataOffset: b.brokerEpoch, wantShutDown: false }, 0).records);
    }
    const configs: Record<string, string> = this.options.uncleanElection ? { 'unclean.leader.election.enable': 'true' } : {};
    const d = this.controller.createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: 3, configs }]);
    if (d.reply[0]?.errorCode !== 'NONE') throw new Error(`bootstrap: createTopics ${d.reply[0]?.errorCode}`);
    this.#commit(d.records);
  }

  #snapshot(brokerId: number): Snapshot {
    const p = this.image.partition(TOPIC, 0);
    return { offset: this.image.lastOffset, fenced: this.image.broker(brokerId)?.fenced ?? true, partition: p === undefined ? undefined : { ...p } };
  }

  // ---------------------------------------------------------------- faults

  /** Draws one fault from the fault stream, given which brokers are up. */
  #drawFault(): Fault {
    const rng = this.faultRng;
    const r = rng.next();
    const up = [...this.brokers.values()].filter((b) => b.up);
    const down = [...this.brokers.values()].filter((b) => !b.up);
    if (r < 0.3 && up.length > 1) return { kind: 'crash', broker: rng.pick(up).id };
    if (r < 0.55 && down.length > 0) return { kind: 'restart', broker: rng.pick(down).id };
    // A zombie: cut from the controller only, so it is fenced while brokers and clients still reach it.
    if (r < 0.62) return { kind: 'cut-controller', broker: rng.pick([...BROKER_IDS]) };
    if (r < 0.67) return { kind: 'controller-failover' };
    if (r < 0.74) {
      // Reassign to two of the three brokers or to all three, in a random order.
      const ids: number[] = [...BROKER_IDS];
      for (let i = ids.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
      }
      return { kind: 'reassign', replicas: rng.chance(0.5) ? ids.slice(0, 2) : ids };
    }
    if (r < 0.84) return { kind: 'isolate', broker: rng.pick([...BROKER_IDS]), alsoController: rng.chance(0.5) };
    if (r < 0.92) return { kind: 'slow', broker: rng.pick([...BROKER_IDS]) };
    if (r < 0.97) return { kind: 'lag', maxDelayMs: rng.pick(LAG_MAX_DELAYS_MS) };
    return { kind: 'heal' };
  }

  /** Applies one fault; one that does not fit the state (crash a down broker) does nothing. */
  #applyFault(f: Fault): void {
    switch (f.kind) {
      case 'crash': {
        const b = this.brokers.get(f.broker);
        if (b === undefined || !b.up) return;
        this.#crash(b);
        break;
      }
      case 'restart': {
        const b = this.brokers.get(f.broker);
        if (b === undefined || b.up) return;
        this.#restart(b);
        break;
      }
      case 'cut-controller':
        this.net.cut(f.broker, CONTROLLER_ID);
        break;
      case 'controller-failover':
        this.controller = this.#newController(this.nowMs);
        break;
      case 'reassign':
        // #reassign logs it, with the controller's answer.
        this.#reassign(f.replicas);
        return;
      case 'isolate':
        for (const o of BROKER_IDS) if (o !== f.broker) this.net.cut(f.broker, o);
        if (f.alsoController) this.net.cut(f.broker, CONTROLLER_ID);
        break;
      case 'slow':
        this.net.slow.add(f.broker);
        break;
      case 'lag':
        this.net.leaderLagMs = f.maxDelayMs;
        break;
      case 'heal':
        this.net.healAll();
        break;
    }
    this.#faultLog.push(`${this.nowMs}: ${describeFault(f)}`);
  }

  #crash(b: Broker): void {
    b.up = false;
    b.leader = null;
    b.alterAwaited = null;
    b.follower = null;
    b.view = undefined;
    b.hw = 0;
    b.brokerEpoch = -1;
    b.metadataOffset = -1;
  }

  #restart(b: Broker): void {
    b.up = true;
    b.incarnation += 1;
    b.registerSentAtMs = -Infinity;
    b.lastHeartbeatSentMs = -Infinity;
  }

  // ---------------------------------------------------------------- the run

  run(): SimResult {
    const o = this.options;
    const given = new Map<number, Fault[]>();
    for (const f of o.schedule ?? []) given.set(f.step, [...(given.get(f.step) ?? []), f.fault]);
    for (let i = 0; i < o.faultSteps; i++) {
      const faults = o.schedule !== undefined ? (given.get(i) ?? []) : this.faultRng.chance(o.faultRate) ? [this.#drawFault()] : [];
      for (const f of faults) {
        this.#schedule.push({ step: i, fault: f });
        this.#applyFault(f);
      }
      this.#step(true);
    }
    this.net.healAll();
    for (const b of this.brokers.values()) if (!b.up) this.#restart(b);
    if ((this.image.partition(TOPIC, 0)?.replicas.length ?? 0) < BROKER_IDS.length || this.controller.ongoingReassignments().length > 0) {
      this.#reassign([...BROKER_IDS]);
    }
    let converged = false;
    for (let i = 0; i < o.maxConvergeSteps && !converged; i++) {
      this.#step(false);
      converged = this.#converged();
    }
    return this.#check(converged);
  }

  #step(produce: boolean): void {
    this.nowMs += this.options.stepMs;
    for (const e of this.net.due(this.nowMs)) this.#deliver(e.from, e.to, e.msg);
    this.#commit(this.controller.tick(this.nowMs).records);
    for (const b of this.brokers.values()) if (b.up) this.#brokerTick(b);
    for (const p of this.producers) this.#producerTick(p, produce);
    this.#consume();
    this.options.afterStep?.(this);
  }

  #deliver(from: number, to: number, msg: Msg): void {
    if (to === CONTROLLER_ID) return this.#controllerReceive(from, msg);
    const b = this.brokers.get(to);
    if (b !== undefined) {
      if (b.up) this.#brokerReceive(b, from, msg);
      return;
    }
    const p = this.producers.find((x) => x.id === to);
    if (p !== undefined && msg.kind === 'produceReply' && p.inFlight?.value === msg.value) {
      if (msg.error === 'NONE') this.acked.set(msg.value, msg.offset);
      else p.believedLeader = NO_LEADER;
      p.inFlight = null;
    }
  }

  #controllerReceive(from: number, msg: Msg): void {
    const now = this.nowMs;
    if (msg.kind === 'register') {
      const d = this.controller.registerBroker({ brokerId: from, incarnationId: msg.incarnationId, host: '127.0.0.1', port: 9000 + from }, now);
      const base = this.#commit(d.records);
      this.net.send(CONTROLLER_ID, from, now, { kind: 'registerReply', brokerEpoch: base + d.reply.registerRecordIndex, incarnationId: msg.incarnationId });
    } else if (msg.kind === 'heartbeat') {
      const d = this.controller.heartbeat({ brokerId: from, brokerEpoch: msg.brokerEpoch, currentMetadataOffset: msg.metadataOffset, wantShutDown: false }, now);
      this.#commit(d.records);
      this.net.send(CONTROLLER_ID, from, now, { kind: 'heartbeatReply', error: d.reply.errorCode, snapshot: this.#snapshot(from), incarnation: msg.incarnation });
    } else if (msg.kind === 'alter') {
      const d = this.controller.alterPartition({ brokerId: from, brokerEpoch: msg.brokerEpoch, topic: TOPIC, partition: 0, ...msg.proposal });
      this.#commit(d.records);
      // As in Kafka, a refused AlterPartition says only why: the leader learns the partition's
      // state from its next metadata (a heartbeat reply here), not from the refusal.
      const snapshot = d.reply.errorCode === 'NONE' ? this.#snapshot(from) : null;
      if (msg.abandoned !== true) this.net.send(CONTROLLER_ID, from, now, { kind: 'alterReply', error: d.reply.errorCode, attempt: msg.attempt, snapshot });
    }
  }

  #brokerTick(b: Broker): void {
    const o = this.options;
    const now = this.nowMs;
    if (b.brokerEpoch < 0) {
      if (now - b.registerSentAtMs >= o.requestTimeoutMs) {
        b.registerSentAtMs = now;
        this.net.send(b.id, CONTROLLER_ID, now, { kind: 'register', incarnationId: `${b.id}-${b.incarnation}` });
      }
      return;
    }
    if (now - b.lastHeartbeatSentMs >= o.heartbeatIntervalMs) {
      b.lastHeartbeatSentMs = now;
      this.net.send(b.id, CONTROLLER_ID, now, { kind: 'heartbeat', brokerEpoch: b.brokerEpoch, metadataOffset: b.metadataOffset, incarnation: b.incarnation });
    }
    if (b.leader !== null) {
      const l = b.leader;
      const shrink = l.maybeShrinkIsr(now, b.log.length);
      if (shrink !== null) this.#sendAlter(b, shrink);
      b.hw = l.highWatermark;
      for (const done of l.poll(now)) {
        this.net.send(b.id, done.token.producer, now, { kind: 'produceReply', value: done.token.value, error: done.errorCode, offset: done.token.offset });
      }
    } else if (b.follower !== null && b.follower.leaderId !== NO_LEADER) {
      const f = b.follower;
      if (f.inFlightId === null || now - f.sentAtMs > o.requestTimeoutMs) {
        f.inFlightId = b.nextFetchId++;
        f.sentAtMs = now;
        this.net.send(b.id, f.leaderId, now, {
          kind: 'fetch', id: f.inFlightId, leaderEpoch: f.leaderEpoch, fetchOffset: b.log.length,
          lastFetchedEpoch: b.cache.latestEpoch(), brokerEpoch: b.brokerEpoch,
        });
      }
    }
  }

  #sendAlter(b: Broker, proposal: AlterPartitionProposal): void {
    const attempt = b.nextAlterAttempt++;
    b.alterAwaited = attempt;
    this.net.send(b.id, CONTROLLER_ID, this.nowMs, { kind: 'alter', brokerEpoch: b.brokerEpoch, proposal, attempt });
  }

  /** Applies a metadata snapshot newer than the broker's view: role changes and ISR commits. */
  #onMetadata(b: Broker, s: Snapshot): void {
    if (s.offset < b.metadataOffset) return;
    b.metadataOffset = s.offset;
    const p = s.partition;
    if (p === undefined) return;
    const prev = b.view;
    b.view = p;
    const now = this.nowMs;
    if (p.leader === b.id) {
      if (b.leader !== null && b.leader.leaderEpoch === p.leaderEpoch) {
        if (p.partitionEpoch > b.leader.partitionEpoch) b.leader.onIsrCommitted(p, now);
        return;
      }
      if (b.leader !== null) this.#loseLeadership(b);
      b.follower = null;
      b.cache.assign(p.leaderEpoch, b.log.length);
      b.leader = new LeaderReplicaState({
        localId: b.id, replicas: p.replicas, isr: p.isr, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch,
        minInsync: 2, replicaLagTimeMaxMs: this.options.replicaLagTimeMaxMs, logEndOffset: b.log.length, highWatermark: b.hw, nowMs: now,
        alterRetryMs: this.options.requestTimeoutMs,
      });
      return;
    }
    if (b.leader !== null) this.#loseLeadership(b);
    const leaderId = p.replicas.includes(b.id) ? p.leader : NO_LEADER;
    if (b.follower === null || b.follower.leaderEpoch !== p.leaderEpoch || b.follower.leaderId !== leaderId || prev === undefined) {
      b.follower = { leaderId, leaderEpoch: p.leaderEpoch, inFlightId: null, sentAtMs: 0 };
    }
  }

  #loseLeadership(b: Broker): void {
    const l = b.leader;
    if (l === null) return;
    for (const done of l.onLeadershipLost()) {
      this.net.send(b.id, done.token.producer, this.nowMs, { kind: 'produceReply', value: done.token.value, error: done.errorCode, offset: done.token.offset });
    }
    b.leader = null;
    b.alterAwaited = null;
  }

  #brokerReceive(b: Broker, from: number, msg: Msg): void {
    const now = this.nowMs;
    switch (msg.kind) {
      case 'registerReply':
        if (b.brokerEpoch < 0 && msg.incarnationId === `${b.id}-${b.incarnation}`) b.brokerEpoch = msg.brokerEpoch;
        return;
      case 'heartbeatReply':
        if (msg.incarnation !== b.incarnation) return;
        if (msg.error === 'STALE_BROKER_EPOCH') {
          this.#loseLeadership(b);
          b.follower = null;
          b.brokerEpoch = -1;
          b.incarnation += 1;
          b.registerSentAtMs = -Infinity;
          return;
        }
        this.#onMetadata(b, msg.snapshot);
        return;
      case 'alterReply': {
        const l = b.leader;
        // Only the answer to the latest attempt counts, once (the module doc).
        if (l === null || msg.attempt !== b.alterAwaited) return;
        b.alterAwaited = null;
        if (msg.error !== 'NONE') l.onAlterPartitionFailed(msg.error);
        if (msg.snapshot !== null) this.#onMetadata(b, msg.snapshot);
        return;
      }
      case 'fetch':
        return this.#onFetch(b, from, msg);
      case 'fetchReply':
        return this.#onFetchReply(b, msg);
      case 'produce':
        return this.#onProduce(b, from, msg.value, now);
      default:
        return;
    }
  }

  #onFetch(b: Broker, from: number, msg: Extract<Msg, { kind: 'fetch' }>): void {
    const now = this.nowMs;
    const reply = (error: string, records: LogEntry[], diverging: EpochEndOffset | null, hw: number): void => {
      this.net.send(b.id, from, now, { kind: 'fetchReply', id: msg.id, leaderEpoch: msg.leaderEpoch, error, records, baseOffset: msg.fetchOffset, hw, diverging });
    };
    const l = b.leader;
    if (l === null) return reply('NOT_LEADER_OR_FOLLOWER', [], null, 0);
    if (msg.leaderEpoch < l.leaderEpoch) return reply('FENCED_LEADER_EPOCH', [], null, 0);
    if (msg.leaderEpoch > l.leaderEpoch) return reply('UNKNOWN_LEADER_EPOCH', [], null, 0);
    const leo = b.log.length;
    const div = divergingEpoch(b.cache, leo, msg.fetchOffset, msg.lastFetchedEpoch);
    if (div !== null) return reply('NONE', [], div, l.highWatermark);
    if (msg.fetchOffset > leo) return reply('OFFSET_OUT_OF_RANGE', [], null, l.highWatermark);
    const proposal = l.onFollowerFetch(from, msg.fetchOffset, now, leo, msg.brokerEpoch);
    if (proposal !== null) this.#sendAlter(b, proposal);
    b.hw = l.highWatermark;
    reply('NONE', b.log.slice(msg.fetchOffset, msg.fetchOffset + this.options.maxFetchRecords), null, l.highWatermark);
  }

  #onFetchReply(b: Broker, msg: Extract<Msg, { kind: 'fetchReply' }>): void {
    const f = b.follower;
    if (f === null || f.inFlightId !== msg.id || f.leaderEpoch !== msg.leaderEpoch) return;
    f.inFlightId = null;
    if (msg.error !== 'NONE') return;
    if (msg.diverging !== null) {
      const d = resolveTruncation(msg.diverging, b.cache, b.log.length);
      this.#truncate(b, d.offset);
      return;
    }
    if (msg.baseOffset !== b.log.length) return;
    for (const r of msg.records) {
      b.cache.assign(r.epoch, b.log.length);
      b.log.push({ epoch: r.epoch, value: r.value });
    }
    b.hw = Math.max(b.hw, followerHighWatermark(msg.hw, b.log.length));
    b.hw = Math.min(b.hw, b.log.length);
  }

  #truncate(b: Broker, offset: number): void {
    // The epoch cache is cut even when no record is: an epoch this broker assigned as leader
    // without appending under it starts at the LEO and must go, or it would claim later records.
    b.cache.truncateFromEnd(offset);
    if (offset >= b.log.length) return;
    this.#truncations += 1;
    b.log.length = offset;
    b.hw = Math.min(b.hw, offset);
  }

  #onProduce(b: Broker, from: number, value: number, now: number): void {
    const l = b.leader;
    const fail = (error: string): void => void this.net.send(b.id, from, now, { kind: 'produceReply', value, error, offset: -1 });
    if (l === null) return fail('NOT_LEADER_OR_FOLLOWER');
    if (l.checkEnoughReplicas() !== 'NONE') return fail('NOT_ENOUGH_REPLICAS');
    const offset = b.log.length;
    b.log.push({ epoch: l.leaderEpoch, value });
    l.onLocalAppend(b.log.length);
    if (!l.addWaiter({ requiredOffset: offset + 1, deadlineMs: now + this.options.requestTimeoutMs * 3, token: { producer: from, value, offset } })) {
      fail('REQUEST_TIMED_OUT');
    }
  }

  #producerTick(p: Producer, produce: boolean): void {
    const now = this.nowMs;
    if (p.inFlight !== null && now - p.inFlight.sentAtMs > this.options.requestTimeoutMs * 4) {
      p.inFlight = null;
      p.believedLeader = NO_LEADER;
    }
    if (!produce || p.inFlight !== null) return;
    if (p.believedLeader === NO_LEADER) {
      p.believedLeader = this.image.partition(TOPIC, 0)?.leader ?? NO_LEADER;
      if (p.believedLeader === NO_LEADER) return;
    }
    const value = this.#nextValue++;
    p.inFlight = { value, sentAtMs: now };
    this.net.send(p.id, p.believedLeader, now, { kind: 'produce', value });
  }

  /** A consumer polls every broker that believes it leads, at a position, below its HW. */
  #consume(): void {
    for (const b of this.brokers.values()) {
      if (!b.up || b.leader === null) continue;
      if (this.rng.chance(0.05)) this.#consumerPos = this.rng.int(0, this.#consumerPos);
      const hw = Math.min(b.leader.highWatermark, b.log.length);
      const end = Math.min(hw, this.#consumerPos + 8);
      for (let off = this.#consumerPos; off < end; off++) this.#read(off, (b.log[off] as LogEntry).value);
      if (end > this.#consumerPos) this.#consumerPos = end;
    }
  }

  #read(offset: number, value: number): void {
    const seen = this.reads.get(offset);
    if (seen === undefined) this.reads.set(offset, value);
    else if (seen !== value && this.inconsistentReads.length < 20) this.inconsistentReads.push({ offset, values: [seen, value] });
  }

  #converged(): boolean {
    const p = this.image.partition(TOPIC, 0);
    if (p === undefined || p.leader === NO_LEADER || p.isr.length !== BROKER_IDS.length || p.addingReplicas.length > 0) return false;
    const leader = this.brokers.get(p.leader);
    if (leader?.leader == null || leader.leader.leaderEpoch !== p.leaderEpoch) return false;
    if (leader.leader.highWatermark !== leader.log.length) return false;
    for (const b of this.brokers.values()) {
      if (!b.up || this.image.broker(b.id)?.fenced !== false) return false;
      if (b.log.length !== leader.log.length) return false;
      if (b !== leader && b.follower?.leaderEpoch !== p.leaderEpoch) return false;
    }
    return true;
  }

  #check(converged: boolean): SimResult {
    const p = this.image.partition(TOPIC, 0);
    const lost: SimResult['lost'] = [];
    const divergence: string[] = [];
    const leaderId = p?.leader ?? NO_LEADER;
    const leader = this.brokers.get(leaderId);
    if (p !== undefined && leader !== undefined) {
      const holders = [leaderId, ...p.isr.filter((id) => id !== leaderId)];
      for (const [value, offset] of this.acked) {
        for (const id of holders) {
          const e = this.brokers.get(id)?.log[offset];
          if (e?.value !== value) {
            lost.push({ value, offset, where: `broker ${id} has ${e === undefined ? 'nothing' : e.value}` });
            break;
          }
        }
      }
      const hw = leader.leader?.highWatermark ?? leader.hw;
      for (const b of this.brokers.values()) {
        for (let off = 0; off < Math.min(hw, leader.log.length); off++) {
          const x = b.log[off];
          const y = leader.log[off];
          if (x?.value !== y?.value || x?.epoch !== y?.epoch) {
            divergence.push(`broker ${b.id} differs from leader ${leaderId} at offset ${off}`);
            break;
          }
        }
      }
      // Final drain: every offset below the HW is read once more from the leader.
      for (let off = 0; off < Math.min(hw, leader.log.length); off++) this.#read(off, (leader.log[off] as LogEntry).value);
    }
    return {
      seed: this.options.seed,
      converged,
      acked: this.acked.size,
      lost,
      inconsistentReads: [...this.inconsistentReads],
      divergence,
      events: this.#faultLog.length,
      finalLeaderEpoch: p?.leaderEpoch ?? -1,
      truncations: this.#truncations,
      offsetsRead: this.reads.size,
      faultLog: [...this.#faultLog],
      schedule: [...this.#schedule],
    };
  }
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'crash':
    case 'restart':
      return `${f.kind} ${f.broker}`;
    case 'cut-controller':
      return `cut ${f.broker} from controller`;
    case 'controller-failover':
      return 'controller failover';
    case 'reassign':
      return `reassign to [${f.replicas.join(',')}]`;
    case 'isolate':
      return `isolate ${f.broker}${f.alsoController ? ' +controller' : ''}`;
    case 'slow':
      return `slow ${f.broker} to controller`;
    case 'lag':
      return `lag the leader's requests to controller by up to ${f.maxDelayMs} ms`;
    case 'heal':
      return 'heal';
  }
}

export function runSim(seed: number, uncleanElection: boolean, overrides: Partial<SimOptions> = {}): SimResult {
  return new ReplicationCluster({ ...defaultSimOptions, ...overrides, seed, uncleanElection }).run();
}
