/**
 * The replication sim's `lag` fault (ClusterNetwork: a lagging leader's controller channels keep
 * their order, a first attempt lands ahead of its retry) and the `isr-within-maximal` watcher
 * (mutants/properties.ts), each checked on a history that violates it and one that does not.
 */
import { describe, expect, it } from 'vitest';
import { ClusterNetwork, TOPIC } from './replication-cluster.ts';
import type { ReplicationCluster } from './replication-cluster.ts';
import { Prng } from './prng.ts';
import { LeaderReplicaState } from '../../broker/replication/leader.ts';
import { replicationWatchers } from '../../mutants/properties.ts';

type M = { kind: string; attempt?: number; abandoned?: true; n: number };

function network(seed: number): ClusterNetwork<M> {
  return new ClusterNetwork<M>(new Prng(seed), { minDelayMs: 1, maxDelayMs: 15, lossRate: 0, maxInFlight: 1000 });
}

/** Sends alters (and heartbeats between them) from broker 1 every 20 ms; returns the controller's arrival order. */
function arrivals(net: ClusterNetwork<M>): M[] {
  const out: M[] = [];
  let t = 0;
  for (let n = 0; n < 40; n++, t += 20) {
    net.send(1, 0, t, { kind: n % 2 === 0 ? 'alter' : 'heartbeat', attempt: n, n });
    for (const e of net.due(t)) out.push(e.msg);
  }
  for (; t < 5000; t += 5) for (const e of net.due(t)) out.push(e.msg);
  return out;
}

describe('replication sim: the lag fault', () => {
  it('keeps the order of each channel of a lagging leader, with a first attempt ahead of its retry, and flags nothing', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const net = network(seed);
      net.leader = () => 1;
      net.leaderLagMs = 400;
      const got = arrivals(net);
      const alters = got.filter((m) => m.kind === 'alter');
      const beats = got.filter((m) => m.kind !== 'alter');
      expect(beats.map((m) => m.n)).toEqual([...beats.map((m) => m.n)].sort((a, b) => a - b));
      // Every live attempt arrives, in order, each after its abandoned copy if it has one.
      const order = alters.map((m) => 2 * m.attempt! + (m.abandoned ? 0 : 1));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(alters.filter((m) => !m.abandoned)).toHaveLength(20);
      expect(net.reordered).toBe(false);
    }
  });

  it('a slow broker\'s copies overtake each other, and the network says so', () => {
    let flagged = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const net = network(seed);
      net.slow.add(1);
      arrivals(net);
      if (net.reordered) flagged++;
    }
    expect(flagged).toBeGreaterThan(10);
  });
});

/** A cluster stand-in with what the watchers read: broker 1 leads with `leader`, the controller's ISR is `isr`. */
function fakeCluster(leader: LeaderReplicaState, isr: number[], reordered = false): ReplicationCluster {
  const broker = (id: number) => ({ id, up: true, log: [], leader: id === 1 ? leader : null });
  return {
    nowMs: 100,
    brokers: new Map([1, 2, 3].map((id) => [id, broker(id)])),
    acked: new Map(),
    net: { reordered },
    image: { partition: (topic: string) => (topic === TOPIC ? { leader: 1, leaderEpoch: 0, partitionEpoch: 1, isr, replicas: [1, 2, 3] } : undefined) },
  } as unknown as ReplicationCluster;
}

function leaderWith(isr: number[]): LeaderReplicaState {
  return new LeaderReplicaState({ localId: 1, replicas: [1, 2, 3], isr, leaderEpoch: 0, partitionEpoch: 0, minInsync: 2, replicaLagTimeMaxMs: 60, logEndOffset: 0, highWatermark: 0, nowMs: 0 });
}

describe('replication sim: isr-within-maximal', () => {
  it('fires when the controller\'s ISR holds a broker outside the leader\'s maximal ISR', () => {
    const w = replicationWatchers();
    w.afterStep(fakeCluster(leaderWith([1, 3]), [1, 2, 3]));
    expect(w.violation()?.property).toBe('isr-within-maximal');
  });

  it('is quiet when the broker is a pending addition, when the controller shrank the ISR, and once copies were reordered', () => {
    const pending = leaderWith([1, 3]);
    pending.onFollowerFetch(2, 0, 10, 0, 7); // caught up: proposes [1,3,2]
    expect(pending.pendingAlter?.newIsr).toEqual([1, 3, 2]);
    for (const c of [fakeCluster(pending, [1, 2, 3]), fakeCluster(leaderWith([1, 2, 3]), [1, 2]), fakeCluster(leaderWith([1, 3]), [1, 2, 3], true)]) {
      const w = replicationWatchers();
      w.afterStep(c);
      expect(w.violation()).toBeNull();
    }
  });
});
