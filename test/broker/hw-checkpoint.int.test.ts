/**
 * The reviewer's scenario, with real broker processes and kafkajs: topic h (RF 2, min.insync 2);
 * ten records committed with acks=all; the follower dies, the ISR shrinks to the leader alone; the
 * leader is SIGKILLed and restarted, and re-elected as the last ISR member with the ISR below
 * min.insync.replicas, so its high watermark cannot advance. It must start from its checkpointed
 * high watermark: the committed records stay readable and ListOffsets(latest) says 10, not 0.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/client.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { TestCluster } from '../helpers/broker-process.ts';

async function meta(addrs: string[]): Promise<{ leader: number; replicas: number[]; isr: number[] }> {
  for (const addr of addrs) {
    const [host, port] = addr.split(':') as [string, string];
    const conn = await KafkaConnection.connect(host, Number(port)).catch(() => null);
    if (!conn) continue;
    try {
      const md: any = await conn.request(ApiKeys.Metadata, 8, { topics: [{ name: 'h' }], allowAutoTopicCreation: false }, 3000);
      const p = md.topics[0]?.partitions[0];
      if (p) return { leader: p.leaderId, replicas: p.replicaNodes, isr: p.isrNodes };
    } catch {
      // try the next broker
    } finally {
      conn.close();
    }
  }
  throw new Error('no broker answered');
}

async function until<T>(what: string, ms: number, f: () => Promise<T | null> | T | null): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await Promise.resolve().then(f).catch(() => null);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}`);
}

describe('high watermark checkpoint (real brokers)', () => {
  let cluster: TestCluster | null = null;
  afterEach(async () => {
    await cluster?.stopAll();
    cluster = null;
  });

  it('a restarted last ISR member below min.insync serves the committed records and ListOffsets(latest) is not 0', async () => {
    cluster = await TestCluster.start(3, { 'auto.leader.rebalance.enable': 'false', 'replica.high.watermark.checkpoint.interval.ms': '200' });
    const c = cluster;
    const all = c.brokers.map((b) => `127.0.0.1:${b.port}`);
    const kafka = new Kafka({ brokers: all, clientId: 'hw', logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'h', numPartitions: 1, replicationFactor: 2, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true });
    await admin.disconnect();
    const p = await until('h-0 has a leader and a full ISR', 15_000, async () => {
      const m = await meta(all);
      return m.leader >= 0 && m.isr.length === 2 ? m : null;
    });
    const leader = p.leader;
    const follower = p.replicas.find((r) => r !== leader)!;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'h', acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
    await producer.disconnect();

    await c.kill(follower);
    await until('the ISR shrinks to the leader', 15_000, async () => ((await meta(all)).isr.join() === String(leader) ? true : null));
    const checkpoint = join(c.broker(leader).dataDir, 'replication-offset-checkpoint');
    await until('the leader checkpointed HW 10', 10_000, () => (/^h 0 10$/m.test(readFileSync(checkpoint, 'utf8')) ? true : null));

    await c.kill(leader);
    await c.restart(leader);
    await until('the last ISR member leads again', 20_000, async () => ((await meta(all)).leader === leader ? true : null));

    const admin2 = kafka.admin();
    await admin2.connect();
    const offsets = await until('ListOffsets answers', 10_000, async () => admin2.fetchTopicOffsets('h'));
    await admin2.disconnect();
    expect(offsets[0]!.high).toBe('10');

    const consumer = kafka.consumer({ groupId: 'hw-check' });
    const read: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'h', fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`read ${read.length} of 10`)), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          read.push(message.value!.toString());
          if (read.length === 10) {
            clearTimeout(t);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(read).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
  });
});
