/**
 * DescribeQuorum against real broker processes: on a 3-voter cluster with one broker-only observer,
 * the node that answers DescribeQuorum as leader is the Raft leader as every voter's own log says it
 * (RaftNode's `leader N term T (role R)` line, with the same term as the answer's epoch), its answer
 * lists the three voters with log end offsets and the observer, the observer and the followers answer
 * NOT_LEADER_OR_FOLLOWER naming it, a wrong partition gets UNKNOWN_TOPIC_OR_PARTITION;
 * roles via `describe-quorum` pick that node, and pick the new one after the leader is killed.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { describeQuorumLeader, fetchRolesByMajority } from '../../../harness/backends/roles.ts';
import { KafkaConnection } from '../../../broker/client.ts';
import { ApiKeys } from '../../../broker/protocol/codec.ts';
import { TestCluster, type BrokerProc } from '../../helpers/broker-process.ts';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

const addr = (b: BrokerProc): string => `127.0.0.1:${b.port}`;

/** The leader and term a node's own log last reported (RaftNode's leader-change line). */
function loggedLeader(b: BrokerProc): { leader: number; term: number } | null {
  const lines = [...readFileSync(b.logFile, 'utf8').matchAll(/leader (\d+|unknown) term (\d+) \(role (\w+)\)/g)];
  const last = lines.at(-1);
  if (last === undefined || last[1] === 'unknown') return null;
  return { leader: Number(last[1]), term: Number(last[2]) };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

async function describeFull(b: BrokerProc): Promise<any> {
  const conn = await KafkaConnection.connect('127.0.0.1', b.port, { connectTimeoutMs: 2000 });
  try {
    return await conn.request(ApiKeys.DescribeQuorum, 0, { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] }, 2000);
  } finally {
    conn.close();
  }
}

/** Every live node's answer names the same leader, exactly that node answers as leader, and its own log agrees. */
async function settledLeader(voters: BrokerProc[]): Promise<{ leader: number; epoch: number } | null> {
  const answers = await Promise.all(voters.map((b) => describeQuorumLeader(addr(b), 2000)));
  const leader = answers[0]!.leaderId;
  if (leader < 0 || answers.some((a) => a.leaderId !== leader)) return null;
  const selfClaims = voters.filter((_b, i) => answers[i]!.errorCode === 0).map((b) => b.id);
  if (selfClaims.length !== 1 || selfClaims[0] !== leader) return null;
  for (const [i, b] of voters.entries()) {
    if (answers[i]!.errorCode !== 0 && answers[i]!.errorCode !== 6) return null;
    const logged = loggedLeader(b);
    if (logged === null || logged.leader !== leader || logged.term !== answers[i]!.leaderEpoch) return null;
  }
  return { leader, epoch: answers[0]!.leaderEpoch };
}

describe('DescribeQuorum on a real cluster', () => {
  it('names the Raft leader, its voters and observer; roles via describe-quorum follow it across a leader kill', async () => {
    cluster = await TestCluster.start(3);
    const observer = await cluster.addBroker();
    const voters = () => cluster!.brokers.filter((b) => b.voter && b.child !== null);

    const first = await until('a settled Raft leader', 20_000, () => settledLeader(voters()));
    const leaderProc = cluster.broker(first.leader);
    // the leader's full answer: three voters with log end offsets, the high watermark, the observer
    const full = await until('every voter and the observer in the leader answer', 15_000, async () => {
      const r = await describeFull(leaderProc);
      const p = r.topics[0].partitions[0];
      const ok = p.currentVoters.length === 3 && p.currentVoters.every((v: any) => Number(v.logEndOffset) > 0) && p.observers.some((o: any) => o.replicaId === observer.id);
      return ok ? p : null;
    });
    expect(full).toMatchObject({ partitionIndex: 0, errorCode: 0, leaderId: first.leader, leaderEpoch: first.epoch });
    expect(full.currentVoters.map((v: any) => v.replicaId).sort()).toEqual([1, 2, 3]);
    const own = full.currentVoters.find((v: any) => v.replicaId === first.leader);
    expect(Number(full.highWatermark)).toBeGreaterThan(0);
    expect(Number(own.logEndOffset)).toBeGreaterThanOrEqual(Number(full.highWatermark));
    // the observer is not the leader and says so, naming the leader it learned
    expect(await describeQuorumLeader(addr(observer), 2000)).toMatchObject({ errorCode: 6, leaderId: first.leader });
    // a wrong partition gets UNKNOWN_TOPIC_OR_PARTITION (3)
    const conn = await KafkaConnection.connect('127.0.0.1', leaderProc.port, { connectTimeoutMs: 2000 });
    const wrong = await conn.request(ApiKeys.DescribeQuorum, 0, { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 1 }] }] }, 2000);
    conn.close();
    expect(wrong.topics[0].partitions[0].errorCode).toBe(3);

    const all = cluster.brokers.map(addr);
    const roles = await fetchRolesByMajority(all, [], { controllerVia: 'describe-quorum' });
    expect(roles.controller).toBe(first.leader);

    await cluster.kill(first.leader);
    const second = await until('a new settled Raft leader', 20_000, () => settledLeader(voters()));
    expect(second.leader).not.toBe(first.leader);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    const after = await until('roles naming the new leader', 10_000, async () => {
      const r = await fetchRolesByMajority(cluster!.brokers.map(addr), [], { controllerVia: 'describe-quorum', timeoutMs: 3000 });
      return r.controller === second.leader ? r : null;
    });
    expect(after.controller).toBe(second.leader);
  }, 90_000);
});
