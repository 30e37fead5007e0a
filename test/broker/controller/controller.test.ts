/**
 * Controller decisions, committed at once to a MetadataImage (a single-node metadata log), with
 * brokers 1..n registered and unfenced by makeCluster.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NO_LEADER } from '../../../broker/controller/records.ts';
import { Controller, isValidTopicName, placeReplicas, topicMinInsync } from '../../../broker/controller/controller.ts';
import type { AlterPartitionReply, AlterPartitionRequest, ControllerConfig, Decision } from '../../../broker/controller/controller.ts';
import { MetadataImage } from '../../../broker/controller/image.ts';
import type { PartitionState } from '../../../broker/controller/image.ts';

const baseConfig: ControllerConfig = {
  sessionTimeoutMs: 1000,
  minInsyncReplicas: 2,
  defaultReplicationFactor: 3,
  numPartitions: 1,
  uncleanLeaderElection: false,
  autoLeaderRebalance: false,
  leaderImbalanceCheckIntervalMs: 5000,
};

interface TestCluster {
  image: MetadataImage;
  controller: Controller;
  epochs: Map<number, number>;
  /** Applies a decision's records and returns its reply. */
  commit<R>(d: Decision<R>): R;
  register(brokerId: number, incarnation: string, nowMs: number): number;
  unfence(brokerId: number, nowMs: number): void;
  partition(topic: string, partition: number): PartitionState;
  /** alterPartition naming each new ISR member's current broker epoch (KIP-903), unless req names them. */
  alter(req: AlterPartitionRequest): Decision<AlterPartitionReply>;
}

function makeCluster(brokerCount: number, config: Partial<ControllerConfig> = {}): TestCluster {
  const image = new MetadataImage();
  let ids = 0;
  const controller = new Controller({
    config: { ...baseConfig, ...config },
    image,
    newTopicId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
  });
  const epochs = new Map<number, number>();
  const t: TestCluster = {
    image,
    controller,
    epochs,
    commit(d) {
      const base = image.lastOffset + 1;
      d.records.forEach((r, i) => image.apply(JSON.parse(JSON.stringify(r)), base + i));
      return d.reply;
    },
    register(brokerId, incarnation, nowMs) {
      const base = image.lastOffset + 1;
      const reply = t.commit(controller.registerBroker({ brokerId, incarnationId: incarnation, host: 'h', port: 9000 + brokerId }, nowMs));
      const epoch = base + reply.registerRecordIndex;
      epochs.set(brokerId, epoch);
      return epoch;
    },
    unfence(brokerId, nowMs) {
      const epoch = epochs.get(brokerId) ?? -1;
      const reply = t.commit(controller.heartbeat({ brokerId, brokerEpoch: epoch, currentMetadataOffset: image.lastOffset, wantShutDown: false }, nowMs));
      if (reply.isFenced) throw new Error(`broker ${brokerId} still fenced`);
    },
    alter(req) {
      return controller.alterPartition({ newIsrWithEpochs: req.newIsr.map((brokerId) => ({ brokerId, brokerEpoch: epochs.get(brokerId) ?? -1 })), ...req });
    },
    partition(topic, partition) {
      const p = image.partition(topic, partition);
      if (p === undefined) throw new Error(`no partition ${topic}-${partition}`);
      return p;
    },
  };
  controller.activate(0);
  for (let id = 1; id <= brokerCount; id++) {
    t.register(id, `inc-${id}`, 0);
    t.unfence(id, 0);
  }
  return t;
}

function withTopic(t: TestCluster, name = 't', rf = 3, partitions = 1, configs: Record<string, string> = {}): void {
  const [r] = t.commit(t.controller.createTopics([{ name, numPartitions: partitions, replicationFactor: rf, configs }]));
  expect(r?.errorCode).toBe('NONE');
}

/** Heartbeats every broker but `silent` at nowMs, then ticks. */
function tickAt(t: TestCluster, nowMs: number, silent: number[]): void {
  for (const b of t.image.brokers()) {
    if (silent.includes(b.brokerId)) continue;
    t.commit(t.controller.heartbeat({ brokerId: b.brokerId, brokerEpoch: b.epoch, currentMetadataOffset: t.image.lastOffset, wantShutDown: false }, nowMs));
  }
  t.commit(t.controller.tick(nowMs));
}

describe('createTopics', () => {
  it('validates names, partitions, replication factor and duplicates', () => {
    const t = makeCluster(3);
    const reply = t.commit(
      t.controller.createTopics([
        { name: 'ok', numPartitions: 2, replicationFactor: 3, configs: {} },
        { name: 'ok', numPartitions: 1, replicationFactor: 1, configs: {} },
        { name: 'bad name', numPartitions: 1, replicationFactor: 1, configs: {} },
        { name: '..', numPartitions: 1, replicationFactor: 1, configs: {} },
        { name: 'p0', numPartitions: 0, replicationFactor: 1, configs: {} },
        { name: 'rf4', numPartitions: 1, replicationFactor: 4, configs: {} },
        { name: 'cfg', numPartitions: 1, replicationFactor: 1, configs: { 'unclean.leader.election.enable': 'yes' } },
        { name: 'dflt', numPartitions: -1, replicationFactor: -1, configs: {} },
      ]),
    );
    expect(reply.map((r) => r.errorCode)).toEqual([
      'NONE', 'TOPIC_ALREADY_EXISTS', 'INVALID_TOPIC_EXCEPTION', 'INVALID_TOPIC_EXCEPTION',
      'INVALID_PARTITIONS', 'INVALID_REPLICATION_FACTOR', 'INVALID_CONFIG', 'NONE',
    ]);
    expect(t.image.topic('ok')?.partitions).toHaveLength(2);
    expect(t.partition('dflt', 0).replicas).toHaveLength(3);
    const p = t.partition('ok', 0);
    expect(p.isr).toEqual(p.replicas);
    expect(p.leader).toBe(p.replicas[0]);
  });

  it('counts only unfenced brokers for the replication factor', () => {
    const t = makeCluster(3);
    t.commit(t.controller.tick(1001));
    tickAt(t, 1500, [3]);
    tickAt(t, 2100, [3]);
    expect(t.image.broker(3)?.fenced).toBe(true);
    const [r] = t.commit(t.controller.createTopics([{ name: 'x', numPartitions: 1, replicationFactor: 3, configs: {} }]));
    expect(r?.errorCode).toBe('INVALID_REPLICATION_FACTOR');
  });

  it('min.insync.replicas: the topic override, else the controller default', () => {
    const t = makeCluster(3);
    withTopic(t, 'a', 3, 1, { 'min.insync.replicas': '3' });
    withTopic(t, 'b', 3, 1);
    expect(topicMinInsync(t.image, 'a', t.controller.config)).toBe(3);
    expect(topicMinInsync(t.image, 'b', t.controller.config)).toBe(2);
  });

  it('topic names follow Kafka rules', () => {
    expect(isValidTopicName('a.b_c-D9')).toBe(true);
    expect(isValidTopicName('x'.repeat(249))).toBe(true);
    expect(isValidTopicName('x'.repeat(250))).toBe(false);
    expect(isValidTopicName('')).toBe(false);
    expect(isValidTopicName('.')).toBe(false);
    expect(isValidTopicName('a/b')).toBe(false);
  });

  it('placement spreads leaders evenly and never repeats a broker within a partition', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 60 }), fc.nat(), fc.nat(), (n, partitions, start, shift) => {
        const brokers = Array.from({ length: n }, (_, i) => 10 + i);
        const rf = 1 + (start % n);
        const placement = placeReplicas(brokers, partitions, rf, start % n, shift % n);
        if (placement.length !== partitions) return false;
        const leaders = new Map<number, number>();
        const replicaCounts = new Map<number, number>();
        for (const replicas of placement) {
          if (replicas.length !== rf || new Set(replicas).size !== rf) return false;
          if (!replicas.every((r) => brokers.includes(r))) return false;
          leaders.set(replicas[0] as number, (leaders.get(replicas[0] as number) ?? 0) + 1);
          for (const r of replicas) replicaCounts.set(r, (replicaCounts.get(r) ?? 0) + 1);
        }
        const counts = brokers.map((b) => leaders.get(b) ?? 0);
        if (Math.max(...counts) - Math.min(...counts) > 1) return false;
        // Every broker holds partitions * rf / n replicas, give or take rf.
        const rc = brokers.map((b) => replicaCounts.get(b) ?? 0);
        return rc.every((x) => Math.abs(x - (partitions * rf) / n) <= rf);
      }),
      { numRuns: 300 },
    );
  });

  it('deleteTopics removes known topics and reports unknown ones', () => {
    const t = makeCluster(3);
    withTopic(t);
    expect(t.commit(t.controller.deleteTopics(['t', 'nope'])).map((r) => r.errorCode)).toEqual(['NONE', 'UNKNOWN_TOPIC_OR_PARTITION']);
    expect(t.image.topic('t')).toBeUndefined();
  });
});

describe('heartbeats, fencing and election', () => {
  it('fences a silent broker and moves leadership to the first live ISR member with an epoch bump', () => {
    const t = makeCluster(3);
    withTopic(t, 't', 3, 3);
    const before = t.partition('t', 0);
    const leader = before.leader;
    tickAt(t, 900, []);
    tickAt(t, 1950, [leader]);
    expect(t.image.broker(leader)?.fenced).toBe(true);
    const after = t.partition('t', 0);
    const expected = before.replicas.find((r) => r !== leader);
    expect(after.leader).toBe(expected);
    expect(after.leaderEpoch).toBe(before.leaderEpoch + 1);
    expect(after.isr).not.toContain(leader);
    expect(t.image.partitionsLedBy(leader)).toEqual([]);
    for (const { state } of t.image.allPartitions()) expect(state.isr).not.toContain(leader);
  });

  it('does not fence a broker within its session timeout', () => {
    const t = makeCluster(3);
    withTopic(t);
    t.commit(t.controller.tick(1000));
    expect(t.image.liveBrokers()).toHaveLength(3);
    t.commit(t.controller.tick(1001));
    expect(t.image.liveBrokers()).toHaveLength(0);
  });

  it('keeps the last ISR member in the ISR with no leader, and re-elects it when it returns', () => {
    const t = makeCluster(3);
    withTopic(t);
    const p0 = t.partition('t', 0);
    const [a, b, c] = p0.replicas as [number, number, number];
    t.commit(t.alter({ brokerId: a, brokerEpoch: t.epochs.get(a) as number, topic: 't', partition: 0, leaderEpoch: p0.leaderEpoch, partitionEpoch: p0.partitionEpoch, newIsr: [a] }));
    tickAt(t, 1500, [a]);
    tickAt(t, 2100, [a]);
    const p = t.partition('t', 0);
    expect(p.leader).toBe(NO_LEADER);
    expect(p.isr).toEqual([a]);
    expect([b, c].every((x) => t.image.isUnfenced(x))).toBe(true);
    // a restarts: registers (fenced), then a heartbeat unfences it and it leads again.
    const epoch = t.register(a, 'inc-a2', 2200);
    expect(t.image.broker(a)).toMatchObject({ epoch, fenced: true });
    const stale = t.commit(t.controller.heartbeat({ brokerId: a, brokerEpoch: epoch, currentMetadataOffset: epoch - 1, wantShutDown: false }, 2200));
    expect(stale).toMatchObject({ isFenced: true, isCaughtUp: false });
    const reply = t.commit(t.controller.heartbeat({ brokerId: a, brokerEpoch: epoch, currentMetadataOffset: epoch, wantShutDown: false }, 2200));
    expect(reply).toMatchObject({ errorCode: 'NONE', isFenced: false, isCaughtUp: true });
    expect(t.partition('t', 0)).toMatchObject({ leader: a, isr: [a], leaderEpoch: p.leaderEpoch + 1 });
  });

  it('never elects outside the ISR when unclean election is off', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { maxLength: 4 }), (silent) => {
        const t = makeCluster(4);
        withTopic(t, 't', 3, 4);
        // Shrink each partition's ISR to its leader and second replica.
        for (const { partition, state } of [...t.image.allPartitions()]) {
          const [l, f] = state.replicas as [number, number];
          t.commit(t.alter({ brokerId: l, brokerEpoch: t.epochs.get(l) as number, topic: 't', partition, leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch, newIsr: [l, f] }));
        }
        const isrBefore = [...t.image.allPartitions()].map((p) => [...p.state.isr]);
        tickAt(t, 900, []);
        tickAt(t, 1950, silent);
        [...t.image.allPartitions()].forEach((p, i) => {
          const isr = isrBefore[i] as number[];
          if (p.state.leader !== NO_LEADER) {
            expect(isr).toContain(p.state.leader);
            expect(t.image.isUnfenced(p.state.leader)).toBe(true);
          } else {
            expect(isr.every((r) => silent.includes(r))).toBe(true);
          }
          expect(p.state.isr.length).toBeGreaterThan(0);
        });
      }),
      { numRuns: 40 },
    );
  });

  it.each([
    ['true', 'elects the live out-of-sync replica with ISR = [it]'],
    ['false', 'leaves the partition leaderless with its ISR intact'],
  ])('with unclean.leader.election.enable=%s, losing the whole ISR %s', (unclean) => {
    const t = makeCluster(3);
    withTopic(t, 't', 3, 1, { 'unclean.leader.election.enable': unclean });
    const p = t.partition('t', 0);
    const [a, b, c] = p.replicas as [number, number, number];
    t.commit(t.alter({ brokerId: a, brokerEpoch: t.epochs.get(a) as number, topic: 't', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [a, b] }));
    tickAt(t, 900, []);
    tickAt(t, 1950, [a, b]);
    const after = t.partition('t', 0);
    // a and b are fenced one after the other in one batch: b leads briefly (epoch + 1), then c (+ 2).
    if (unclean === 'true') expect(after).toMatchObject({ leader: c, isr: [c], leaderEpoch: p.leaderEpoch + 2 });
    else expect(after).toMatchObject({ leader: NO_LEADER, isr: [b] });
  });

  it('answers STALE_BROKER_EPOCH to an old epoch and fences the old incarnation on re-registration', () => {
    const t = makeCluster(3);
    withTopic(t, 't', 3, 3);
    const old = t.epochs.get(1) as number;
    const led = t.image.partitionsLedBy(1);
    expect(led.length).toBeGreaterThan(0);
    t.register(1, 'inc-1b', 10);
    expect(t.image.broker(1)?.fenced).toBe(true);
    expect(t.image.partitionsLedBy(1)).toEqual([]);
    for (const { state } of t.image.allPartitions()) expect(state.isr).not.toContain(1);
    const r = t.commit(t.controller.heartbeat({ brokerId: 1, brokerEpoch: old, currentMetadataOffset: 100, wantShutDown: false }, 10));
    expect(r.errorCode).toBe('STALE_BROKER_EPOCH');
  });

  it('controlled shutdown fences the broker, moves its leaderships, and allows the shutdown once every live broker has seen that', () => {
    const t = makeCluster(3);
    withTopic(t, 't', 3, 3);
    expect(t.image.partitionsLedBy(2).length).toBeGreaterThan(0);
    const shutdown = () => t.commit(t.controller.heartbeat({ brokerId: 2, brokerEpoch: t.epochs.get(2) as number, currentMetadataOffset: t.image.lastOffset, wantShutDown: true }, 5));
    expect(shutdown()).toMatchObject({ isFenced: true, shouldShutDown: false });
    expect(t.image.partitionsLedBy(2)).toEqual([]);
    for (const { state } of t.image.allPartitions()) expect(state.isr).not.toContain(2);
    // Broker 2 has seen the change, but brokers 1 and 3 have not reported it yet.
    expect(shutdown()).toMatchObject({ shouldShutDown: false });
    tickAt(t, 6, [2]);
    expect(shutdown()).toMatchObject({ isFenced: true, shouldShutDown: true });
  });

  it('controlled shutdown keeps the broker as the last ISR member and leaderless partitions stay so', () => {
    const t = makeCluster(3);
    withTopic(t, 't', 1, 3);
    const ref = [...t.image.allPartitions()].find((p) => p.state.replicas[0] === 2);
    expect(ref).toBeDefined();
    t.commit(t.controller.heartbeat({ brokerId: 2, brokerEpoch: t.epochs.get(2) as number, currentMetadataOffset: t.image.lastOffset, wantShutDown: true }, 5));
    expect(t.partition('t', ref!.partition)).toMatchObject({ leader: NO_LEADER, isr: [2] });
    tickAt(t, 6, [2]);
    const r = t.commit(t.controller.heartbeat({ brokerId: 2, brokerEpoch: t.epochs.get(2) as number, currentMetadataOffset: t.image.lastOffset, wantShutDown: true }, 7));
    expect(r.shouldShutDown).toBe(true);
  });

  it('activate restarts every session at the activation time', () => {
    const t = makeCluster(2);
    t.controller.activate(5000);
    t.commit(t.controller.tick(5900));
    expect(t.image.liveBrokers()).toHaveLength(2);
    t.commit(t.controller.tick(6001));
    expect(t.image.liveBrokers()).toHaveLength(0);
  });

  it('activate counts the session of a broker known to be silent from its silence, not from activation', () => {
    const t = makeCluster(3);
    withTopic(t, 't', 3, 3);
    // Broker 1 (the old controller) has been silent since 4600; sessions last 1000 ms here.
    t.controller.activate(5000, new Map([[1, 4600]]));
    t.commit(t.controller.tick(5601));
    expect(t.image.isUnfenced(1)).toBe(false);
    expect(t.image.partitionsLedBy(1)).toEqual([]);
    expect(t.image.isUnfenced(2) && t.image.isUnfenced(3)).toBe(true);
    // A silence time later than activation never extends a session.
    t.controller.activate(7000, new Map([[2, 9000]]));
    t.commit(t.controller.tick(8001));
    expect(t.image.isUnfenced(2)).toBe(false);
  });

  it('does not mutate the image: records take effect only when applied', () => {
    const t = makeCluster(3);
    withTopic(t);
    const before = JSON.stringify([...t.image.allPartitions()]);
    const d = t.controller.tick(5000);
    expect(d.records.length).toBeGreaterThan(0);
    expect(JSON.stringify([...t.image.allPartitions()])).toBe(before);
    expect(t.image.liveBrokers()).toHaveLength(3);
    expect(JSON.parse(JSON.stringify(d.records))).toEqual(d.records);
  });
});

describe('alterPartition', () => {
  function setup(): { t: TestCluster; leader: number; followers: number[] } {
    const t = makeCluster(3);
    withTopic(t);
    const p = t.partition('t', 0);
    return { t, leader: p.leader, followers: p.replicas.filter((r) => r !== p.leader) };
  }

  it('accepts an ISR change from the current leader with current epochs and returns the new state', () => {
    const { t, leader, followers } = setup();
    const p = t.partition('t', 0);
    const reply = t.commit(t.alter({ brokerId: leader, brokerEpoch: t.epochs.get(leader) as number, topic: 't', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [leader, followers[0] as number] }));
    expect(reply.errorCode).toBe('NONE');
    expect(reply.state).toMatchObject({ isr: [leader, followers[0]], partitionEpoch: p.partitionEpoch + 1, leaderEpoch: p.leaderEpoch });
    expect(t.partition('t', 0)).toEqual(reply.state);
  });

  it('KIP-903: an expansion computed from incarnation 1 is refused for incarnation 2', () => {
    const { t, leader, followers } = setup();
    const [f1, f2] = followers as [number, number];
    const inc1 = t.epochs.get(f2) as number;
    let p = t.partition('t', 0);
    // The leader shrinks f2 out; f2 restarts as a new incarnation (new epoch) and is unfenced.
    t.commit(t.alter({ brokerId: leader, brokerEpoch: t.epochs.get(leader) as number, topic: 't', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [leader, f1] }));
    const inc2 = t.register(f2, 'inc-2b', 10);
    t.unfence(f2, 10);
    expect(inc2).not.toBe(inc1);
    p = t.partition('t', 0);
    const grow = { brokerId: leader, brokerEpoch: t.epochs.get(leader) as number, topic: 't', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [leader, f1, f2] };
    const named = (epoch: number) => [{ brokerId: leader, brokerEpoch: -1 }, { brokerId: f1, brokerEpoch: t.epochs.get(f1) as number }, { brokerId: f2, brokerEpoch: epoch }];
    // Computed from incarnation 1's fetches: refused, nothing written.
    const stale = t.controller.alterPartition({ ...grow, newIsrWithEpochs: named(inc1) });
    expect(stale).toMatchObject({ records: [], reply: { errorCode: 'INELIGIBLE_REPLICA' } });
    // An addition whose epoch the leader does not know is refused too.
    expect(t.controller.alterPartition({ ...grow, newIsrWithEpochs: named(-1) }).reply.errorCode).toBe('INELIGIBLE_REPLICA');
    expect(t.controller.alterPartition({ ...grow, newIsrWithEpochs: undefined }).reply.errorCode).toBe('INELIGIBLE_REPLICA');
    // Incarnation 2's own fetches: accepted.
    expect(t.commit(t.controller.alterPartition({ ...grow, newIsrWithEpochs: named(inc2) })).errorCode).toBe('NONE');
    expect(t.partition('t', 0).isr).toEqual([leader, f1, f2]);
  });

  it('KIP-903: a broker in controlled shutdown is not added to an ISR', () => {
    const { t, leader, followers } = setup();
    const [f1, f2] = followers as [number, number];
    let p = t.partition('t', 0);
    t.commit(t.alter({ brokerId: leader, brokerEpoch: t.epochs.get(leader) as number, topic: 't', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [leader, f1] }));
    t.commit(t.controller.heartbeat({ brokerId: f2, brokerEpoch: t.epochs.get(f2) as number, currentMetadataOffset: t.image.lastOffset, wantShutDown: true }, 5));
    p = t.partition('t', 0);
    const r = t.commit(t.alter({ brokerId: leader, brokerEpoch: t.epochs.get(leader) as number, topic: 't', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [leader, f1, f2] }));
    expect(r.errorCode).toBe('INELIGIBLE_REPLICA');
  });

  it('rejects a stale leader, a stale partition epoch, a stale broker epoch and fenced additions', () => {
    const { t, leader, followers } = setup();
    const [f1, f2] = followers as [number, number];
    const p = t.partition('t', 0);
    const req = { brokerId: leader, brokerEpoch: t.epochs.get(leader) as number, topic: 't', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [leader, f1] };
    expect(t.commit(t.alter({ ...req, brokerEpoch: 0 === req.brokerEpoch ? 99 : 0 })).errorCode).toBe('STALE_BROKER_EPOCH');
    expect(t.commit(t.alter({ ...req, partitionEpoch: p.partitionEpoch + 1 })).errorCode).toBe('INVALID_UPDATE_VERSION');
    expect(t.commit(t.alter({ ...req, brokerId: f1, brokerEpoch: t.epochs.get(f1) as number })).errorCode).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(t.commit(t.alter({ ...req, newIsr: [f1] })).errorCode).toBe('INVALID_REQUEST');
    // Shrink to [leader, f1], then fence f2, then the leader tries to add it back.
    t.commit(t.alter(req));
    tickAt(t, 900, []);
    tickAt(t, 1950, [f2]);
    const q = t.partition('t', 0);
    const add = t.commit(t.alter({ ...req, leaderEpoch: q.leaderEpoch, partitionEpoch: q.partitionEpoch, newIsr: [leader, f1, f2] }));
    expect(add.errorCode).toBe('INELIGIBLE_REPLICA');
    // Leadership moves (the leader is fenced): the old leader's request now carries a stale epoch.
    tickAt(t, 2500, [leader, f2]);
    tickAt(t, 3100, [leader, f2]);
    const r = t.partition('t', 0);
    expect(r.leader).toBe(f1);
    const stale = t.commit(t.alter({ ...req, leaderEpoch: q.leaderEpoch, partitionEpoch: r.partitionEpoch, newIsr: [leader] }));
    expect(stale.errorCode).toBe('FENCED_LEADER_EPOCH');
    expect(t.partition('t', 0)).toEqual(r);
  });
});

describe('reassignment', () => {
  it('adds the new replicas, waits for them to join the ISR, then removes the old ones', () => {
    const t = makeCluster(4);
    withTopic(t, 't', 3, 1);
    const p = t.partition('t', 0);
    const [a, b] = p.replicas as [number, number];
    const newcomer = [1, 2, 3, 4].find((x) => !p.replicas.includes(x)) as number;
    const target = [newcomer, a, b];
    const removed = p.replicas[2] as number;
    expect(t.commit(t.controller.reassignPartitions([{ topic: 't', partition: 0, replicas: target }]))[0]?.errorCode).toBe('NONE');
    const mid = t.partition('t', 0);
    expect(new Set(mid.replicas)).toEqual(new Set([...target, removed]));
    expect(mid.addingReplicas).toEqual([newcomer]);
    expect(mid.removingReplicas).toEqual([removed]);
    expect(t.controller.ongoingReassignments()).toHaveLength(1);
    t.commit(t.controller.tick(10));
    expect(t.controller.ongoingReassignments()).toHaveLength(1);
    // The leader reports the newcomer caught up.
    const done = t.commit(t.alter({ brokerId: mid.leader, brokerEpoch: t.epochs.get(mid.leader) as number, topic: 't', partition: 0, leaderEpoch: mid.leaderEpoch, partitionEpoch: mid.partitionEpoch, newIsr: [...mid.isr, newcomer] }));
    expect(done.errorCode).toBe('NONE');
    const end = t.partition('t', 0);
    expect(end.replicas).toEqual(target);
    expect(end.isr).not.toContain(removed);
    expect(new Set(end.isr)).toEqual(new Set(target));
    expect(end.addingReplicas).toEqual([]);
    expect(end.removingReplicas).toEqual([]);
    expect(t.controller.ongoingReassignments()).toEqual([]);
  });

  it('moves leadership when the leader is removed, and cancel restores the original replicas', () => {
    const t = makeCluster(4);
    withTopic(t, 't', 2, 1);
    const p = t.partition('t', 0);
    const [a, b] = p.replicas as [number, number];
    // Pure removal of the leader: completes at once with a new leader from the target.
    t.commit(t.controller.reassignPartitions([{ topic: 't', partition: 0, replicas: [b] }]));
    expect(t.partition('t', 0)).toMatchObject({ replicas: [b], isr: [b], leader: b, leaderEpoch: p.leaderEpoch + 1 });
    // Start adding a, then cancel: back to [b].
    t.commit(t.controller.reassignPartitions([{ topic: 't', partition: 0, replicas: [b, a] }]));
    expect(t.partition('t', 0).addingReplicas).toEqual([a]);
    expect(t.commit(t.controller.reassignPartitions([{ topic: 't', partition: 0, replicas: null }]))[0]?.errorCode).toBe('NONE');
    expect(t.partition('t', 0)).toMatchObject({ replicas: [b], isr: [b], leader: b, addingReplicas: [] });
    expect(t.commit(t.controller.reassignPartitions([{ topic: 't', partition: 0, replicas: null }]))[0]?.errorCode).toBe('NO_REASSIGNMENT_IN_PROGRESS');
    expect(t.commit(t.controller.reassignPartitions([{ topic: 't', partition: 0, replicas: [9] }]))[0]?.errorCode).toBe('INVALID_REPLICA_ASSIGNMENT');
  });
});

describe('unregisterBroker (decommission)', () => {
  it('fences the broker (its leaderships move, it leaves the ISRs) and drops its registration; an unknown id is BROKER_ID_NOT_REGISTERED', () => {
    const t = makeCluster(4);
    withTopic(t, 't', 3, 1);
    const p = t.partition('t', 0);
    const gone = p.leader;
    expect(t.commit(t.controller.unregisterBroker(gone)).errorCode).toBe('NONE');
    expect(t.image.broker(gone)).toBeUndefined();
    const after = t.partition('t', 0);
    expect(after.leader).not.toBe(gone);
    expect(after.leader).not.toBe(NO_LEADER);
    expect(after.isr).not.toContain(gone);
    expect(t.controller.unregisterBroker(gone).reply.errorCode).toBe('BROKER_ID_NOT_REGISTERED');
    // a session tick afterwards does not touch the unregistered broker
    expect(() => t.commit(t.controller.tick(100_000))).not.toThrow();
    // the same id may register again, as a new broker
    expect(t.register(gone, 'inc-again', 100_000)).toBeGreaterThan(0);
  });
});

describe('preferred leaders and producer ids', () => {
  it('electLeaders moves leadership back to the first replica when it is in the ISR', () => {
    const t = makeCluster(3);
    withTopic(t);
    const p = t.partition('t', 0);
    const first = p.replicas[0] as number;
    t.register(first, 'again', 0);
    expect(t.partition('t', 0).leader).not.toBe(first);
    expect(t.commit(t.controller.electLeaders([{ topic: 't', partition: 0 }]))[0]?.errorCode).toBe('PREFERRED_LEADER_NOT_AVAILABLE');
    t.unfence(first, 0);
    const q = t.partition('t', 0);
    t.commit(t.alter({ brokerId: q.leader, brokerEpoch: t.epochs.get(q.leader) as number, topic: 't', partition: 0, leaderEpoch: q.leaderEpoch, partitionEpoch: q.partitionEpoch, newIsr: [...q.isr, first] }));
    expect(t.commit(t.controller.electLeaders(null))[0]?.errorCode).toBe('NONE');
    expect(t.partition('t', 0)).toMatchObject({ leader: first, leaderEpoch: q.leaderEpoch + 1 });
    expect(t.commit(t.controller.electLeaders([{ topic: 't', partition: 0 }]))[0]?.errorCode).toBe('ELECTION_NOT_NEEDED');
  });

  it('auto rebalance moves leadership to the preferred replica at most once per interval', () => {
    const t = makeCluster(3, { autoLeaderRebalance: true, leaderImbalanceCheckIntervalMs: 300 });
    withTopic(t);
    const first = t.partition('t', 0).replicas[0] as number;
    t.register(first, 'again', 0);
    t.unfence(first, 0);
    const q = t.partition('t', 0);
    t.commit(t.alter({ brokerId: q.leader, brokerEpoch: t.epochs.get(q.leader) as number, topic: 't', partition: 0, leaderEpoch: q.leaderEpoch, partitionEpoch: q.partitionEpoch, newIsr: [...q.isr, first] }));
    t.commit(t.controller.tick(299));
    expect(t.partition('t', 0).leader).not.toBe(first);
    t.commit(t.controller.tick(300));
    expect(t.partition('t', 0).leader).toBe(first);
  });

  it('hands out disjoint producer id blocks and rejects stale brokers', () => {
    const t = makeCluster(2);
    const a = t.commit(t.controller.allocateProducerIds(1, t.epochs.get(1) as number));
    const b = t.commit(t.controller.allocateProducerIds(2, t.epochs.get(2) as number));
    expect(a).toMatchObject({ errorCode: 'NONE', firstId: 0, size: 1000 });
    expect(b).toMatchObject({ errorCode: 'NONE', firstId: 1000 });
    expect(t.image.nextProducerId).toBe(2000);
    expect(t.commit(t.controller.allocateProducerIds(1, 12345)).errorCode).toBe('STALE_BROKER_EPOCH');
  });
});

describe('invariants under random operation sequences (property)', () => {
  type Op =
    | { kind: 'silence'; broker: number; ms: number }
    | { kind: 'heartbeat'; broker: number }
    | { kind: 'reregister'; broker: number }
    | { kind: 'shrink'; partition: number }
    | { kind: 'expand'; partition: number }
    | { kind: 'reassign'; partition: number; target: number[] }
    | { kind: 'preferred' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('silence' as const), broker: fc.integer({ min: 1, max: 4 }), ms: fc.integer({ min: 100, max: 1500 }) }),
    fc.record({ kind: fc.constant('heartbeat' as const), broker: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('reregister' as const), broker: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('shrink' as const), partition: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('expand' as const), partition: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('reassign' as const), partition: fc.integer({ min: 0, max: 3 }), target: fc.shuffledSubarray([1, 2, 3, 4], { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('preferred' as const) }),
  );

  it.each([false, true])('unclean=%s: ISR non-empty, within replicas, grows only by expand unless unclean; leaders live and in the ISR; epochs only grow', (unclean) => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const t = makeCluster(4, { uncleanLeaderElection: unclean });
        withTopic(t, 't', 3, 4);
        let now = 0;
        const silentUntil = new Map<number, number>();
        const prevEpochs = new Map<number, [number, number]>();
        for (const o of ops) {
          now += 100;
          const isrBefore = new Map([...t.image.allPartitions()].map((p) => [p.partition, [...p.state.isr]]));
          if (o.kind === 'silence') silentUntil.set(o.broker, now + o.ms);
          else if (o.kind === 'heartbeat') silentUntil.delete(o.broker);
          else if (o.kind === 'reregister') t.register(o.broker, `inc-${now}`, now);
          else if (o.kind === 'preferred') t.commit(t.controller.electLeaders(null));
          else if (o.kind === 'reassign') t.commit(t.controller.reassignPartitions([{ topic: 't', partition: o.partition, replicas: o.target }]));
          else {
            const p = t.partition('t', o.partition);
            if (p.leader === NO_LEADER) continue;
            const others = p.replicas.filter((r) => r !== p.leader);
            const newIsr = o.kind === 'shrink' ? [p.leader] : [p.leader, ...others];
            t.commit(t.alter({ brokerId: p.leader, brokerEpoch: t.epochs.get(p.leader) as number, topic: 't', partition: o.partition, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr }));
          }
          for (const b of t.image.brokers()) {
            if ((silentUntil.get(b.brokerId) ?? 0) > now) continue;
            t.commit(t.controller.heartbeat({ brokerId: b.brokerId, brokerEpoch: b.epoch, currentMetadataOffset: t.image.lastOffset, wantShutDown: false }, now));
          }
          t.commit(t.controller.tick(now));
          for (const { partition, state } of t.image.allPartitions()) {
            if (state.isr.length === 0) return false;
            if (!state.isr.every((r) => state.replicas.includes(r))) return false;
            if (new Set(state.replicas).size !== state.replicas.length) return false;
            if (state.leader !== NO_LEADER) {
              if (!t.image.isUnfenced(state.leader) || !state.replicas.includes(state.leader)) return false;
              if (!state.isr.includes(state.leader)) return false;
            }
            // Without unclean election the ISR only grows at the leader's request (expand).
            const before = isrBefore.get(partition) ?? [];
            if (!unclean && o.kind !== 'expand' && !state.isr.every((r) => before.includes(r))) return false;
            const [le, pe] = prevEpochs.get(partition) ?? [0, 0];
            if (state.leaderEpoch < le || state.partitionEpoch < pe) return false;
            prevEpochs.set(partition, [state.leaderEpoch, state.partitionEpoch]);
          }
        }
        return true;
      }),
      { numRuns: 150 },
    );
  });
});
