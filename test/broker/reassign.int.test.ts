/**
 * Partition reassignment through `faultline admin reassign` (AlterPartitionReassignments): the new
 * replica copies the data and joins the ISR before the old one is removed; leadership moves off a
 * removed leader; writes keep working throughout; the removed replica's data is deleted.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../helpers/broker-process.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/faultline.mjs', import.meta.url));

function digest(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) h.update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

describe('partition reassignment', () => {
  let cluster: TestCluster | null = null;
  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('moves a partition onto a newly added broker (not a Raft voter) with its data', async () => {
    const c = await TestCluster.start(3, { 'min.insync.replicas': '1' });
    try {
      const kafka = new Kafka({ brokers: c.bootstrap, clientId: 'grow', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'grow', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'grow', acks: -1, messages: Array.from({ length: 300 }, (_, i) => ({ value: `g${i}` })) });
      const added = await c.addBroker();
      // The new broker registers through the metadata log it pulls from the voters.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !(await admin.describeCluster()).brokers.some((b) => b.nodeId === added.id)) await new Promise((r) => setTimeout(r, 200));
      expect((await admin.describeCluster()).brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3, added.id]);
      const before = (await admin.fetchTopicMetadata({ topics: ['grow'] })).topics[0]!.partitions[0]!;
      const target = [added.id, ...before.replicas.filter((r) => r !== before.leader)];
      const { stderr } = await run(process.execPath, [BIN, 'admin', '--bootstrap', c.bootstrap[0]!, 'reassign', '--topic', 'grow', '--partition', '0', '--replicas', target.join(','), '--wait', '30'], { timeout: 60_000 });
      expect(stderr).toMatch(/reassignment of grow-0 done/);
      await producer.send({ topic: 'grow', acks: -1, messages: [{ value: 'after' }] });
      await producer.disconnect();
      const after = (await admin.fetchTopicMetadata({ topics: ['grow'] })).topics[0]!.partitions[0]!;
      expect([...after.replicas].sort()).toEqual([...target].sort());
      await admin.disconnect();
      const dir = join(added.dataDir, 'partitions', 'grow-0');
      const end = Date.now() + 10_000;
      const other = join(c.broker(target[1]!).dataDir, 'partitions', 'grow-0');
      while (digest(dir) !== digest(other) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(digest(dir)).toBe(digest(other));
    } finally {
      await c.stopAll();
    }
  });

  it('moves a partition to another broker with its data, while writes continue', async () => {
    cluster = await TestCluster.start(3, { 'min.insync.replicas': '1' });
    const c = cluster;
    const kafka = new Kafka({ brokers: c.bootstrap, clientId: 'reassign', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'ra', numPartitions: 1, replicationFactor: 2 }], waitForLeaders: true });
    const before = (await admin.fetchTopicMetadata({ topics: ['ra'] })).topics[0]!.partitions[0]!;
    const leaving = before.leader;
    const staying = before.replicas.find((r) => r !== leaving)!;
    const joining = [1, 2, 3].find((b) => !before.replicas.includes(b))!;
    const target = [joining, staying];

    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 20; i++) await producer.send({ topic: 'ra', acks: -1, messages: Array.from({ length: 50 }, (_, j) => ({ value: `pre-${i * 50 + j}` })) });
    let writing = true;
    let during = 0;
    const load = (async () => {
      while (writing) {
        await producer.send({ topic: 'ra', acks: -1, messages: [{ value: `during-${during}` }] });
        during++;
      }
    })();

    const { stderr } = await run(process.execPath, [BIN, 'admin', '--bootstrap', c.bootstrap[0]!, 'reassign', '--topic', 'ra', '--partition', '0', '--replicas', target.join(','), '--wait', '30'], { timeout: 60_000 });
    expect(stderr).toMatch(/reassignment of ra-0 done/);
    writing = false;
    await load;
    await producer.disconnect();

    const after = (await admin.fetchTopicMetadata({ topics: ['ra'] })).topics[0]!.partitions[0]!;
    expect([...after.replicas].sort()).toEqual([...target].sort());
    expect([...after.isr].sort()).toEqual([...target].sort());
    expect(target).toContain(after.leader);
    await admin.disconnect();

    // The removed replica's data is gone; the two replicas hold the same bytes.
    const dirOf = (id: number) => join(c.broker(id).dataDir, 'partitions', 'ra-0');
    const deadline = Date.now() + 10_000;
    while (existsSync(dirOf(leaving)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(dirOf(leaving))).toBe(false);
    while (digest(dirOf(joining)) !== digest(dirOf(staying)) && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 100));
    expect(digest(dirOf(joining))).toBe(digest(dirOf(staying)));

    // Every message is still there, read from the new replica set.
    const consumer = kafka.consumer({ groupId: 'ra-check' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'ra', fromBeginning: true });
    const seen = new Set<string>();
    const want = 1000 + during;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.add(message.value!.toString());
          if (seen.size >= want) {
            clearTimeout(t);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(seen.size).toBe(want);

    // The CLI lists nothing in progress afterwards.
    const { stdout } = await run(process.execPath, [BIN, 'admin', '--bootstrap', c.bootstrap[0]!, 'reassignments'], { timeout: 30_000 });
    expect(stdout).toMatch(/no reassignments in progress/);
  });
});
