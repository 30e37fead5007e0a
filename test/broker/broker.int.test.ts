/**
 * The broker data plane through real clients over TCP, against a broker started as a separate
 * process: kafkajs producers (acks 0, 1, all; idempotent on and off) and consumer groups, kcat
 * (librdkafka), crash recovery after SIGKILL, and bad input on the wire.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync, truncateSync, appendFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { CompressionTypes, Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/client.ts';
import { writeBatchCrc } from '../../broker/protocol/batch-header.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { buildBatch } from '../../broker/protocol/records.ts';
import { TestCluster } from '../helpers/broker-process.ts';

const run = promisify(execFile);

function client(bootstrap: string[]) {
  return new Kafka({ brokers: bootstrap, clientId: 'int-test', logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
}

async function consumeAll(kafka: Kafka, topic: string, groupId: string, expected: number, timeoutMs = 30_000): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void consumer.run({
      eachMessage: async ({ message }) => {
        const v = message.value!.toString();
        seen.set(v, (seen.get(v) ?? 0) + 1);
        if (seen.size >= expected) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

describe('single broker with real clients', () => {
  let cluster: TestCluster;
  let kafka: Kafka;

  beforeAll(async () => {
    cluster = await TestCluster.start(1, { 'num.partitions': '4' });
    kafka = client(cluster.bootstrap);
  });
  afterAll(async () => {
    await cluster?.stopAll();
  });

  const cases: Array<{ acks: 0 | 1 | -1; idempotent: boolean }> = [
    { acks: 0, idempotent: false },
    { acks: 1, idempotent: false },
    { acks: -1, idempotent: false },
    { acks: -1, idempotent: true },
  ];
  for (const { acks, idempotent } of cases) {
    it(`round-trips 4000 messages with acks=${acks} idempotent=${idempotent} through a consumer group`, async () => {
      const topic = `rt-${acks === -1 ? 'all' : acks}-${idempotent ? 'idem' : 'plain'}`;
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer({ idempotent, maxInFlightRequests: idempotent ? 1 : 5, allowAutoTopicCreation: false });
      await producer.connect();
      const total = 4000;
      for (let i = 0; i < total; i += 200) {
        const messages = Array.from({ length: 200 }, (_, j) => ({ key: `k${(i + j) % 37}`, value: String(i + j) }));
        await producer.send({ topic, acks, messages });
      }
      await producer.disconnect();
      const seen = await consumeAll(kafka, topic, `g-${topic}`, total);
      expect(seen.size).toBe(total);
      for (const [, count] of seen) expect(count).toBe(1);
    });
  }

  it('a consumer group rebalances between two members, commits offsets, and resumes from them', async () => {
    const topic = 'groups';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 400 }, (_, i) => ({ value: String(i) })) });

    const got = new Set<string>();
    const members: Consumer[] = [];
    const assignments = new Map<number, number>();
    for (let m = 0; m < 2; m++) {
      const c = kafka.consumer({ groupId: 'pair', sessionTimeout: 10_000, heartbeatInterval: 300 });
      c.on(c.events.GROUP_JOIN, (e) => assignments.set(m, Object.values(e.payload.memberAssignment).flat().length));
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      void c.run({ eachMessage: async ({ message }) => void got.add(message.value!.toString()) });
      members.push(c);
    }
    const deadline = Date.now() + 30_000;
    while (got.size < 400 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(got.size).toBe(400);
    // Both members got partitions after the rebalance that the second join caused.
    const settle = Date.now() + 15_000;
    while (!(assignments.get(0) && assignments.get(1) && assignments.get(0)! + assignments.get(1)! === 4) && Date.now() < settle) await new Promise((r) => setTimeout(r, 100));
    expect((assignments.get(0) ?? 0) + (assignments.get(1) ?? 0)).toBe(4);
    for (const c of members) await c.disconnect();

    const offsets = await admin.fetchOffsets({ groupId: 'pair', topics: [topic] });
    const committed = offsets[0]!.partitions.reduce((s, p) => s + Number(p.offset), 0);
    expect(committed).toBe(400);
    // New messages only: a restarted member resumes at the committed offsets.
    await producer.send({ topic, acks: -1, messages: [{ value: 'late-1' }, { value: 'late-2' }] });
    const again = await consumeAll(kafka, topic, 'pair', 2, 20_000);
    expect([...again.keys()].sort()).toEqual(['late-1', 'late-2']);
    await producer.disconnect();
    await admin.disconnect();
  });

  it('stores gzip batches and serves them back to consumers', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 300 }, (_, i) => `gzip-${i}-${'x'.repeat(i % 50)}`);
    await producer.send({ topic: 'gzipped', acks: -1, compression: CompressionTypes.GZIP, messages: values.map((value) => ({ value })) });
    await producer.disconnect();
    const seen = await consumeAll(kafka, 'gzipped', 'g-gzip', values.length);
    expect([...seen.keys()].sort()).toEqual([...values].sort());
  });

  it('refuses snappy, lz4 and zstd batches with UNSUPPORTED_COMPRESSION_TYPE and a bad CRC with CORRUPT_MESSAGE', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'codecs', numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const [host, port] = cluster.bootstrap[0]!.split(':') as [string, string];
    const conn = await KafkaConnection.connect(host, Number(port));
    try {
      const produce = async (records: Buffer) => {
        const res: any = await conn.request(ApiKeys.Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'codecs', partitionData: [{ index: 0, records }] }] }, 10_000);
        return res.responses[0].partitionResponses[0].errorCode as number;
      };
      expect(await produce(buildBatch({ compression: 'none', records: [{ key: null, value: Buffer.from('plain') }] }))).toBe(0);
      for (const codec of [2, 3, 4]) {
        const b = buildBatch({ compression: 'none', records: [{ key: null, value: Buffer.from('x') }] });
        b.writeInt16BE((b.readInt16BE(21) & ~0x07) | codec, 21);
        writeBatchCrc(b, 0, b.length);
        expect(await produce(b)).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
      }
      const corrupt = buildBatch({ compression: 'none', records: [{ key: null, value: Buffer.from('y') }] });
      corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
      expect(await produce(corrupt)).toBe(ErrorCode.CORRUPT_MESSAGE);
    } finally {
      conn.close();
    }
  });

  it('kcat (librdkafka) produces and consumes', async () => {
    const broker = cluster.bootstrap[0]!;
    const lines = Array.from({ length: 50 }, (_, i) => `kcat-${i}`).join('\n') + '\n';
    const producer = execFile('kcat', ['-b', broker, '-P', '-t', 'kcat-topic', '-p', '0', '-X', 'acks=all']);
    producer.stdin!.end(lines);
    await new Promise<void>((resolve, reject) => producer.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}`)))));
    const { stdout } = await run('kcat', ['-b', broker, '-C', '-t', 'kcat-topic', '-p', '0', '-o', 'beginning', '-e', '-q'], { timeout: 30_000 });
    expect(stdout.trim().split('\n')).toEqual(lines.trim().split('\n'));
  });

  it('closes a connection that sends garbage and keeps serving others', async () => {
    const [host, port] = cluster.bootstrap[0]!.split(':') as [string, string];
    const send = (bytes: Buffer) =>
      new Promise<'closed' | 'open'>((resolve) => {
        const s = net.connect({ host, port: Number(port) }, () => s.write(bytes));
        const timer = setTimeout(() => {
          s.destroy();
          resolve('open');
        }, 1500);
        s.on('data', () => undefined);
        s.once('close', () => {
          clearTimeout(timer);
          resolve('closed');
        });
        s.once('error', () => undefined);
      });
    const frame = (body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0].map((_, i) => (body.length >>> (24 - 8 * i)) & 0xff)), body]);
    // Oversized frame, unknown API key, a header cut short, a Produce body cut short.
    expect(await send(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]))).toBe('closed');
    expect(await send(frame(Buffer.from([0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff])))).toBe('closed');
    expect(await send(frame(Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0, 9, 0x61])))).toBe('closed');
    expect(await send(frame(Buffer.from([0, 0, 0, 7, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 1])))).toBe('closed');
    // Random frames: whatever they are, the broker must keep answering a real client afterwards.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 8, maxLength: 200 }), async (bytes) => {
        await send(frame(Buffer.from(bytes)));
      }),
      { numRuns: 60 },
    );
    const admin = kafka.admin();
    await admin.connect();
    const cluster2 = await admin.describeCluster();
    expect(cluster2.brokers).toHaveLength(1);
    await admin.disconnect();
  });

  it('answers ApiVersions in an unsupported version in v0 format with UNSUPPORTED_VERSION', async () => {
    const [host, port] = cluster.bootstrap[0]!.split(':') as [string, string];
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect({ host, port: Number(port) }, () => {
        // Header v2 (ApiVersions is flexible from v3 on): null client id, then an empty tagged-field buffer.
        const body = Buffer.from([0, 18, 0, 99, 0, 0, 0, 42, 0xff, 0xff, 0]);
        const size = Buffer.alloc(4);
        size.writeInt32BE(body.length);
        s.write(Buffer.concat([size, body]));
      });
      s.once('data', (d) => {
        s.destroy();
        resolve(d);
      });
      s.once('close', () => reject(new Error('connection closed without an answer')));
      s.once('error', reject);
    });
    expect(reply.readInt32BE(4)).toBe(42); // correlation id, header v0
    expect(reply.readInt16BE(8)).toBe(35); // UNSUPPORTED_VERSION
    expect(reply.readInt32BE(10)).toBeGreaterThan(10); // and the list of what we do support
  });
});

describe('shutdown', () => {
  it('SIGTERM stops the broker cleanly (exit 0) and a restart serves the same data', async () => {
    const cluster = await TestCluster.start(1);
    try {
      const kafka = client(cluster.bootstrap);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'term', acks: -1, messages: Array.from({ length: 100 }, (_, i) => ({ value: String(i) })) });
      await producer.disconnect();
      const t0 = Date.now();
      await cluster.kill(1, 'SIGTERM');
      expect(cluster.broker(1).lastExit).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(20_000); // a liveness bound, not a speed claim
      expect(readFileSync(cluster.broker(1).logFile, 'utf8')).toMatch(/shutting down \(SIGTERM\)/);
      await cluster.restart(1);
      const seen = await consumeAll(client(cluster.bootstrap), 'term', 'after-term', 100);
      expect(seen.size).toBe(100);
    } finally {
      await cluster.stopAll();
    }
  });
});

describe('crash recovery', () => {
  it('serves every acks=all message after SIGKILL mid-load (flush every message), and truncates a torn tail', async () => {
    const cluster = await TestCluster.start(1, { 'log.flush.interval.messages': '1', 'num.partitions': '2' });
    try {
      const kafka = client(cluster.bootstrap);
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'durable', numPartitions: 2 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer({ retry: { retries: 0 } });
      await producer.connect();
      const acked: string[] = [];
      let n = 0;
      let stop = false;
      const load = (async () => {
        while (!stop) {
          const batch = Array.from({ length: 20 }, () => ({ value: String(n++) }));
          try {
            await producer.send({ topic: 'durable', acks: -1, messages: batch });
            acked.push(...batch.map((m) => m.value));
          } catch {
            return;
          }
        }
      })();
      while (acked.length < 1000) await new Promise((r) => setTimeout(r, 10));
      await cluster.kill(1, 'SIGKILL');
      stop = true;
      await load;
      await producer.disconnect().catch(() => undefined);

      // Tear the tail of partition 0's active segment: cut its last batch in half, then add junk.
      const dir = join(cluster.broker(1).dataDir, 'partitions', 'durable-0');
      const seg = readdirSync(dir).filter((f) => f.endsWith('.log')).sort().at(-1)!;
      const file = join(dir, seg);
      const size = statSync(file).size;
      const bytes = readFileSync(file);
      // Find the last batch's start by walking batch lengths.
      let pos = 0;
      let last = 0;
      while (pos + 12 <= bytes.length) {
        last = pos;
        pos += 12 + bytes.readInt32BE(pos + 8);
      }
      const lastBatchOffset = Number(bytes.readBigInt64BE(last));
      const lastBatchCount = bytes.readInt32BE(last + 57);
      truncateSync(file, last + Math.floor((size - last) / 2));
      appendFileSync(file, Buffer.from('garbage-after-a-torn-write'));

      await cluster.restart(1);
      const log = readFileSync(cluster.broker(1).logFile, 'utf8');
      expect(log).toMatch(/durable-0: recovery truncated \d+ bytes/);
      const kafka2 = client(cluster.bootstrap);
      // Partition 0 resumes exactly where the torn batch began.
      const admin2 = kafka2.admin();
      await admin2.connect();
      const offs = await admin2.fetchTopicOffsets('durable');
      await admin2.disconnect();
      expect(Number(offs.find((o) => o.partition === 0)!.high)).toBe(lastBatchOffset);
      const inLog = offs.reduce((sum, o) => sum + Number(o.high), 0);
      const seen = await consumeAll(kafka2, 'durable', 'after-crash', inLog, 40_000);
      expect(seen.size).toBe(inLog);
      // Every acknowledged value survived, except those of the batch we destroyed on disk ourselves.
      const lost = acked.filter((v) => !seen.has(v));
      expect(lost.length).toBeLessThanOrEqual(lastBatchCount);
    } finally {
      await cluster.stopAll();
    }
  });
});
