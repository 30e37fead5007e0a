/**
 * Leader election from the ISR only, unless `unclean.leader.election.enable`: with every ISR member
 * dead and only an out-of-sync replica alive, a clean cluster keeps the partition leaderless (no
 * acknowledged write is lost), while an unclean one elects the stale replica and acknowledged writes
 * are lost — also on the old replicas, which truncate to the new leader's log when they return.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/client.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { TestCluster } from '../helpers/broker-process.ts';

/** Partition u-0 as the cluster's Metadata says, asked with our own client so a leaderless answer is data, not an error. */
async function meta(kafka: Kafka & { bootstrap?: string[] }): Promise<{ leader: number; replicas: number[]; isr: number[] }> {
  for (const addr of kafka.bootstrap ?? []) {
    const [host, port] = addr.split(':') as [string, string];
    const conn = await KafkaConnection.connect(host, Number(port)).catch(() => null);
    if (!conn) continue;
    try {
      const md: any = await conn.request(ApiKeys.Metadata, 8, { topics: [{ name: 'u' }], allowAutoTopicCreation: false }, 3000);
      const p = md.topics[0]?.partitions[0];
      if (!p) throw new Error('no partition u-0 in metadata');
      return { leader: p.leaderId, replicas: p.replicaNodes, isr: p.isrNodes };
    } finally {
      conn.close();
    }
  }
  throw new Error('no broker answered');
}

async function until<T>(what: string, ms: number, f: () => Promise<T | null>): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}`);
}

async function readAll(kafka: Kafka, groupId: string, timeoutMs: number): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  const end = Number((await admin.fetchTopicOffsets('u'))[0]!.high);
  await admin.disconnect();
  const out: string[] = [];
  if (end === 0) return out;
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: 'u', fromBeginning: true });
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push(message.value!.toString());
        if (Number(message.offset) + 1 >= end) {
          clearTimeout(t);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

/**
 * Topic u (1 partition, RF 3, min ISR 1): write A with ISR {L,S,O}; kill S, write B (ISR {L,O});
 * kill O, write C (ISR {L}); kill L. Then S and O come back: a quorum, but no ISR member alive.
 * C was acknowledged with acks=all and exists only on L. Five nodes, so that the Raft quorum (every node
 * is a voter) survives three of them down at once.
 */
async function scenario(unclean: boolean) {
  const cluster = await TestCluster.start(5, { 'unclean.leader.election.enable': String(unclean), 'min.insync.replicas': '1', 'log.flush.interval.messages': '1', 'auto.leader.rebalance.enable': 'false' });
  const kafka = Object.assign(new Kafka({ brokers: cluster.bootstrap, clientId: 'unclean', logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } }), { bootstrap: cluster.brokers.map((b) => `127.0.0.1:${b.port}`) });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'u', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const p = await until('the new topic has a leader everywhere', 15_000, async () => {
    const m = await meta(kafka);
    return m.leader >= 0 && m.isr.length === 3 ? m : null;
  });
  const leader = p.leader;
  const [stale, other] = p.replicas.filter((r) => r !== leader) as [number, number];
  const write = async (prefix: string) => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'u', acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `${prefix}${i}` })) });
    await producer.disconnect();
  };
  const dropFromIsr = async (id: number) => {
    await cluster.kill(id);
    await until(`broker ${id} out of the ISR`, 15_000, async () => ((await meta(kafka)).isr.includes(id) ? null : true));
  };
  await write('A');
  await dropFromIsr(stale);
  await write('B');
  await dropFromIsr(other);
  await write('C');
  await cluster.kill(leader);
  await cluster.restart(stale);
  await cluster.restart(other);
  return { cluster, kafka, leader, stale, other };
}

describe('unclean leader election', () => {
  let cluster: TestCluster | null = null;
  afterEach(async () => {
    await cluster?.stopAll();
    cluster = null;
  });

  it('is refused by default: the partition waits leaderless for its ISR member, and no acked write is lost', async () => {
    const s = await scenario(false);
    cluster = s.cluster;
    // Give the controller time to fence the dead leader: still nobody may lead.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await meta(s.kafka)).leader).toBe(-1);
    await s.cluster.restart(s.leader);
    await until('the ISR member leads again', 20_000, async () => ((await meta(s.kafka)).leader === s.leader ? true : null));
    const read = await readAll(s.kafka, 'clean-check', 20_000);
    for (const prefix of ['A', 'B', 'C']) for (let i = 0; i < 10; i++) expect(read).toContain(`${prefix}${i}`);
  });

  it('with unclean.leader.election.enable elects an out-of-sync replica and loses acknowledged writes', async () => {
    const s = await scenario(true);
    cluster = s.cluster;
    const p = await until('an unclean leader', 20_000, async () => {
      const m = await meta(s.kafka);
      return m.leader === s.stale || m.leader === s.other ? m : null;
    });
    expect([s.stale, s.other]).toContain(p.leader);
    const read = await readAll(s.kafka, 'unclean-check', 20_000);
    for (let i = 0; i < 10; i++) expect(read).toContain(`A${i}`);
    // C was acknowledged (acks=all while the ISR was {L}) and is gone.
    expect(read.filter((v) => v.startsWith('C'))).toEqual([]);
    // The old leader returns as a follower and truncates its divergent suffix: C is gone for good.
    await s.cluster.restart(s.leader);
    await until('old leader back in the ISR', 20_000, async () => ((await meta(s.kafka)).isr.includes(s.leader) ? true : null));
    const again = await readAll(s.kafka, 'unclean-check-2', 20_000);
    expect(again.filter((v) => v.startsWith('C'))).toEqual([]);
  });
});
