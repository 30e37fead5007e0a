/**
 * Committed consumer-group offsets live in the replicated `__consumer_offsets` topic, so they survive
 * the SIGKILL of the group's coordinator: the new leader of the group's offsets partition replays them.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { offsetsPartitionFor } from '../../broker/group/coordinator.ts';
import { TestCluster } from '../helpers/broker-process.ts';

describe('group coordinator failover', () => {
  let cluster: TestCluster | null = null;
  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('keeps committed offsets when the coordinator dies', async () => {
    cluster = await TestCluster.start(3, { 'offsets.topic.replication.factor': '3', 'min.insync.replicas': '2', 'default.replication.factor': '3' });
    const c = cluster;
    const kafka = new Kafka({ brokers: c.bootstrap, clientId: 'gf', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'gt', numPartitions: 2, replicationFactor: 3 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'gt', acks: -1, messages: Array.from({ length: 200 }, (_, i) => ({ partition: i % 2, value: String(i) })) });
    await producer.disconnect();

    // The group reads everything and commits.
    const consumer = kafka.consumer({ groupId: 'survivor', sessionTimeout: 10_000, heartbeatInterval: 300 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'gt', fromBeginning: true });
    let n = 0;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 30_000);
      void consumer.run({
        eachMessage: async () => {
          if (++n >= 200) {
            clearTimeout(t);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(n).toBe(200);
    const before = await admin.fetchOffsets({ groupId: 'survivor', topics: ['gt'] });
    expect(before[0]!.partitions.map((p) => Number(p.offset)).sort()).toEqual([100, 100]);

    // Kill the coordinator: the leader of the group's offsets partition.
    const md = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
    const p = offsetsPartitionFor('survivor', md.topics[0]!.partitions.length);
    const coordinator = md.topics[0]!.partitions.find((x) => x.partitionId === p)!.leader;
    await admin.disconnect();
    await c.kill(coordinator);

    const survivors = c.brokers.filter((b) => b.id !== coordinator).map((b) => `127.0.0.1:${b.port}`);
    const kafka2 = new Kafka({ brokers: survivors, clientId: 'gf2', logLevel: logLevel.NOTHING, retry: { retries: 15, initialRetryTime: 100 } });
    const admin2 = kafka2.admin();
    await admin2.connect();
    const deadline = Date.now() + 20_000;
    let after: Array<{ partition: number; offset: string }> = [];
    while (Date.now() < deadline) {
      try {
        after = (await admin2.fetchOffsets({ groupId: 'survivor', topics: ['gt'] }))[0]!.partitions;
        if (after.every((x) => Number(x.offset) === 100)) break;
      } catch {
        // coordinator moving: retry
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await admin2.disconnect();
    expect(after.map((x) => Number(x.offset)).sort()).toEqual([100, 100]);
  });
});
