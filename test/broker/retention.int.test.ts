/**
 * Retention against a real broker process with small settings (log.retention.check.interval.ms,
 * topic overrides retention.ms / retention.bytes / segment.bytes): old segments are deleted, the
 * log start moves (ListOffsets earliest, kafkajs and kcat see it), and a fetch below it gets
 * OFFSET_OUT_OF_RANGE. Bad topic configs are refused at CreateTopics.
 */
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/client.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { TestCluster } from '../helpers/broker-process.ts';

const run = promisify(execFile);

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('retention on a real broker', () => {
  let cluster: TestCluster;
  let kafka: Kafka;

  beforeAll(async () => {
    cluster = await TestCluster.start(1, { 'log.retention.check.interval.ms': '200' });
    kafka = new Kafka({ brokers: cluster.bootstrap, clientId: 'retention-test', logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
  });
  afterAll(async () => {
    await cluster?.stopAll();
  });

  const partitionDir = (topic: string): string => join(cluster.brokers[0]!.dataDir, 'partitions', `${topic}-0`);
  /** Segment files on disk: base offset and size, oldest first. */
  const segments = (topic: string): Array<{ base: number; sizeBytes: number }> =>
    readdirSync(partitionDir(topic))
      .filter((f) => /^\d{20}\.log$/.test(f))
      .sort()
      .map((f) => ({ base: Number(f.slice(0, 20)), sizeBytes: statSync(join(partitionDir(topic), f)).size }));
  const earliestAndLatest = async (topic: string): Promise<{ low: number; high: number }> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [p] = await admin.fetchTopicOffsets(topic);
      return { low: Number(p!.low), high: Number(p!.high) };
    } finally {
      await admin.disconnect();
    }
  };
  const kcatValues = async (topic: string): Promise<string[]> => {
    const { stdout } = await run('kcat', ['-b', cluster.bootstrap[0]!, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q'], { timeout: 30_000 });
    return stdout.split('\n').filter((l) => l !== '');
  };

  it('refuses bad retention and cleanup topic configs', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const [name, value] of [['retention.ms', 'soon'], ['retention.bytes', '-5'], ['cleanup.policy', 'shred'], ['delete.retention.ms', '-1']] as const) {
        await expect(admin.createTopics({ waitForLeaders: true, topics: [{ topic: `bad-${name.replace(/\./g, '-')}`, numPartitions: 1, configEntries: [{ name, value }] }] })).rejects.toThrow();
      }
    } finally {
      await admin.disconnect();
    }
  });

  it('retention.ms deletes old segments; the log start moves and a fetch below it is OFFSET_OUT_OF_RANGE', async () => {
    const topic = 'ret-time';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '60000' }, { name: 'segment.bytes', value: '1024' }] }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const hourAgo = String(Date.now() - 3_600_000);
    // One batch per send: the old records fill several 1 KiB segments.
    for (let i = 0; i < 40; i++) await producer.send({ topic, acks: -1, messages: [{ value: `old-${i}`.padEnd(60, '.'), timestamp: hourAgo }] });
    for (let i = 0; i < 5; i++) await producer.send({ topic, acks: -1, messages: [{ value: `new-${i}` }] });
    await producer.disconnect();
    // Rolls do not depend on retention: done when the first segment left is the one holding new-0
    // (offset 40), the newest segment that starts at or before it.
    await waitFor('retention to reach the first new record', async () => {
      const segs = segments(topic);
      return segs[0]!.base === Math.max(...segs.filter((x) => x.base <= 40).map((x) => x.base));
    });
    const { low, high } = await earliestAndLatest(topic);
    expect(high).toBe(45);
    expect(low).toBeGreaterThan(0);
    expect(low).toBe(segments(topic)[0]!.base);
    // Whatever is left starts at the log start and ends with the new records; the oldest are gone.
    const values = await kcatValues(topic);
    expect(values).toHaveLength(high - low);
    expect(values.slice(-5)).toEqual(['new-0', 'new-1', 'new-2', 'new-3', 'new-4']);
    expect(values).not.toContain('old-0'.padEnd(60, '.'));

    const conn = await KafkaConnection.connect('127.0.0.1', cluster.brokers[0]!.port);
    try {
      const fetchAt = async (offset: number): Promise<any> => {
        const res: any = await conn.request(
          ApiKeys.Fetch,
          11,
          { replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '' },
          10_000,
        );
        return res.responses[0].partitions[0];
      };
      const below = await fetchAt(0);
      expect(below.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
      const at = await fetchAt(low);
      expect(at.errorCode).toBe(ErrorCode.NONE);
      expect(Number(at.logStartOffset)).toBe(low);
    } finally {
      conn.close();
    }

    // A kafkajs consumer starting from the beginning reads from the new log start.
    const consumer = kafka.consumer({ groupId: 'ret-time-reader', sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const offsets: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumer read ${offsets.length} of ${high - low}`)), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          offsets.push(Number(message.offset));
          if (offsets.length === high - low) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(offsets[0]).toBe(low);
  });

  it('retention.bytes keeps the log within a whole segment of the bound', async () => {
    const topic = 'ret-bytes';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'retention.bytes', value: '2048' }, { name: 'segment.bytes', value: '1024' }] }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 60; i++) await producer.send({ topic, acks: -1, messages: [{ value: `v-${i}`.padEnd(60, '.') }] });
    await producer.disconnect();
    // Done when deleting the oldest segment would take the log below the bound.
    await waitFor('size retention', async () => {
      const segs = segments(topic);
      const total = segs.reduce((n, x) => n + x.sizeBytes, 0);
      return segs.length === 1 || total - segs[0]!.sizeBytes < 2048;
    });
    const { low, high } = await earliestAndLatest(topic);
    expect(low).toBe(segments(topic)[0]!.base);
    expect(low).toBeGreaterThan(0);
    expect(high).toBe(60);
    expect(await kcatValues(topic)).toHaveLength(high - low);
  });

  it('a restart (SIGTERM, then SIGKILL) keeps the moved log start and serves the same records', async () => {
    const topics = ['ret-time', 'ret-bytes'];
    const before = await Promise.all(topics.map(async (t) => ({ ...(await earliestAndLatest(t)), values: await kcatValues(t) })));
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      await cluster.kill(1, signal);
      await cluster.restart(1);
      for (const [i, t] of topics.entries()) {
        await waitFor(`${t} to be served after ${signal}`, async () => (await earliestAndLatest(t).catch(() => null)) !== null);
        const after = await earliestAndLatest(t);
        expect(after).toEqual({ low: before[i]!.low, high: before[i]!.high });
        expect(await kcatValues(t)).toEqual(before[i]!.values);
      }
    }
  });
});
