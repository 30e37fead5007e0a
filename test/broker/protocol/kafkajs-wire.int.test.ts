/**
 * End to end over loopback TCP: a real kafkajs 2.2.4 client talks to a minimal server built only from
 * the codec (framing, ApiVersions, Metadata, Produce with validateBatches, ListOffsets, Fetch), so the
 * size prefix, header versions and body encodings are checked in a live exchange, not only byte
 * comparisons. The server keeps one partition's batches in memory.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { ApiKeys, allApis, decodeRequest, encodeResponse, readRequestHeader } from '../../../broker/protocol/codec.ts';
import { stampBatch } from '../../../broker/protocol/batch-header.ts';
import { validateBatches } from '../../../broker/protocol/records.ts';

const require = createRequire(import.meta.url);
const KafkaJsBroker = require('kafkajs/src/broker/index.js');
const ConnectionPool = require('kafkajs/src/network/connectionPool.js');
const socketFactory = require('kafkajs/src/network/socketFactory.js');
const { createLogger } = require('kafkajs/src/loggers/index.js');

const TOPIC = 'wire-test';
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** kafkajs's highest versions: advertising exactly these keeps it on the non-flexible paths it implements. */
const KAFKAJS_MAX: Record<number, number> = { 0: 7, 1: 11, 2: 3, 3: 6, 18: 2 };

let server: Server;
let port = 0;
const log: Buffer[] = [];
let nextOffset = 0;

function handle(frame: Buffer): Buffer | null {
  const h = readRequestHeader(frame);
  const body = decodeRequest(h.apiKey, h.apiVersion, frame, h.bodyOffset);
  const reply = (b: Record<string, unknown>): Buffer => encodeResponse(h.apiKey, h.apiVersion, h.correlationId, b);
  switch (h.apiKey) {
    case ApiKeys.ApiVersions:
      return reply({
        errorCode: 0,
        apiKeys: allApis()
          .filter((a) => KAFKAJS_MAX[a.apiKey] !== undefined)
          .map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: KAFKAJS_MAX[a.apiKey] })),
      });
    case ApiKeys.Metadata:
      return reply({
        brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }],
        clusterId: 'wire',
        controllerId: 1,
        topics: [{ errorCode: 0, name: TOPIC, isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }] }],
      });
    case ApiKeys.Produce: {
      const responses = body.topicData.map((t: any) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p: any) => {
          const v = validateBatches(p.records);
          if (!v.ok) return { index: p.index, errorCode: v.error.errorCode, baseOffset: -1 };
          const base = nextOffset;
          for (const b of v.batches) {
            const copy = Buffer.from(p.records.subarray(b.position, b.position + b.sizeBytes));
            stampBatch(copy, 0, nextOffset, 0);
            log.push(copy);
            nextOffset += b.header.lastOffsetDelta + 1;
          }
          return { index: p.index, errorCode: 0, baseOffset: base, logStartOffset: 0 };
        }),
      }));
      return body.acks === 0 ? null : reply({ responses });
    }
    case ApiKeys.ListOffsets:
      return reply({
        topics: body.topics.map((t: any) => ({
          name: t.name,
          partitions: t.partitions.map((p: any) => ({ partitionIndex: p.partitionIndex, errorCode: 0, timestamp: -1, offset: p.timestamp === -2 ? 0 : nextOffset })),
        })),
      });
    case ApiKeys.Fetch:
      return reply({
        responses: body.topics.map((t: any) => ({
          topic: t.topic,
          partitions: t.partitions.map((p: any) => ({
            partitionIndex: p.partition,
            errorCode: 0,
            highWatermark: nextOffset,
            lastStableOffset: nextOffset,
            logStartOffset: 0,
            abortedTransactions: null,
            records: Buffer.concat(log.filter((b) => Number(b.readBigInt64BE(0)) + b.readInt32BE(23) >= p.fetchOffset)),
          })),
        })),
      });
    default:
      throw new Error(`unexpected api ${h.apiKey}`);
  }
}

function serve(socket: Socket): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer): void => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (size < 0 || size > MAX_FRAME_BYTES) {
        socket.destroy();
        return;
      }
      if (pending.length < 4 + size) return;
      const frame = pending.subarray(4, 4 + size);
      pending = pending.subarray(4 + size);
      const out = handle(frame);
      if (out) socket.write(out);
    }
  });
  socket.on('error', () => socket.destroy());
}

beforeAll(async () => {
  server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('kafkajs over the wire against a codec-only server', () => {
  it('produces (plain and gzip), lists offsets and consumes back every message', async () => {
    const kafka = new Kafka({ clientId: 'wire', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const first = await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: 'a', value: '1' }, { key: null, value: '2', headers: { h: 'x' } }] });
    expect(first).toEqual([expect.objectContaining({ topicName: TOPIC, partition: 0, errorCode: 0, baseOffset: '0' })]);
    const second = await producer.send({ topic: TOPIC, acks: 1, compression: CompressionTypes.GZIP, messages: [{ value: '3' }] });
    expect(second[0]).toMatchObject({ baseOffset: '2' });
    await producer.disconnect();

    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.fetchTopicOffsets(TOPIC)).toEqual([expect.objectContaining({ partition: 0, offset: '3', low: '0', high: '3' })]);
    await admin.disconnect();

    // A bare Fetch v11 through kafkajs's own Broker, which decodes the batches with kafkajs's decoder.
    const logger = createLogger({ level: 0, logCreator: () => () => undefined });
    const pool = new ConnectionPool({ host: '127.0.0.1', port, clientId: 'wire', logger, socketFactory: socketFactory(), connectionTimeout: 2000, requestTimeout: 5000, enforceRequestTimeout: true, maxInFlightRequests: null });
    const consumerBroker = new KafkaJsBroker({ connectionPool: pool, logger });
    await consumerBroker.connect();
    const fetched = await consumerBroker.fetch({ maxWaitTime: 10, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: '0', maxBytes: 1 << 20 }] }] });
    const messages = fetched.responses[0].partitions[0].messages;
    expect(messages.map((m: any) => [m.offset, m.key === null ? null : m.key.toString(), m.value.toString()])).toEqual([
      ['0', 'a', '1'],
      ['1', null, '2'],
      ['2', null, '3'],
    ]);
    expect(messages[1].headers).toEqual({ h: Buffer.from('x') });
    await consumerBroker.disconnect();
  });
});
