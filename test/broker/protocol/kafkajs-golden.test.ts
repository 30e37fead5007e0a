/**
 * Golden comparisons against kafkajs 2.2.4's own encoders and decoders, for the versions kafkajs sends:
 * - our readRequestHeader/decodeRequest read the bytes kafkajs produces, field by field, and our
 *   encodeRequest of the decoded body reproduces those bytes exactly;
 * - kafkajs's response decoders read the bytes our encodeResponse produces.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ApiKeys, decodeRequest, encodeRequest, encodeResponse, readRequestHeader } from '../../../broker/protocol/codec.ts';
import { buildBatch } from '../../../broker/protocol/records.ts';

const require = createRequire(import.meta.url);
const kjs = (path: string): any => require(`kafkajs/src/protocol/${path}`);
const createRequest: (o: { correlationId: number; clientId: string; request: unknown }) => Promise<{ buffer: Buffer }> = kjs('request.js');
const req = (api: string, v: number): ((args: any) => any) => kjs(`requests/${api}/v${v}/request.js`);
const res = (api: string, v: number): { decode: (b: Buffer) => Promise<any> } => kjs(`requests/${api}/v${v}/response.js`);

interface RequestCase {
  api: string;
  apiKey: number;
  version: number;
  args: Record<string, unknown>;
  expected: Record<string, unknown>;
}

const CLIENT_ID = 'faultline-test';

const requestCases: RequestCase[] = [
  {
    api: 'fetch',
    apiKey: ApiKeys.Fetch,
    version: 11,
    args: {
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 10485760,
      topics: [{ topic: 'orders', partitions: [{ partition: 2, currentLeaderEpoch: 4, fetchOffset: '1234', logStartOffset: '-1', maxBytes: 1048576 }] }],
      rackId: 'r1',
    },
    expected: {
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 10485760,
      isolationLevel: 1,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'orders', partitions: [{ partition: 2, currentLeaderEpoch: 4, fetchOffset: 1234, logStartOffset: -1, partitionMaxBytes: 1048576 }] }],
      forgottenTopicsData: [],
      rackId: 'r1',
    },
  },
  {
    api: 'listOffsets',
    apiKey: ApiKeys.ListOffsets,
    version: 3,
    args: { replicaId: -1, isolationLevel: 1, topics: [{ topic: 't', partitions: [{ partition: 0, timestamp: -2 }, { partition: 1 }] }] },
    expected: { replicaId: -1, isolationLevel: 1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: -2 }, { partitionIndex: 1, timestamp: -1 }] }] },
  },
  {
    api: 'metadata',
    apiKey: ApiKeys.Metadata,
    version: 6,
    args: { topics: ['a', 'b'], allowAutoTopicCreation: false },
    expected: { topics: [{ name: 'a' }, { name: 'b' }], allowAutoTopicCreation: false },
  },
  {
    api: 'metadata',
    apiKey: ApiKeys.Metadata,
    version: 6,
    // kafkajs writes an empty topic list as null (length -1): all topics
    args: { topics: [] },
    expected: { topics: null, allowAutoTopicCreation: true },
  },
  {
    api: 'offsetCommit',
    apiKey: ApiKeys.OffsetCommit,
    version: 5,
    args: { groupId: 'g', groupGenerationId: 3, memberId: 'm-1', topics: [{ topic: 't', partitions: [{ partition: 0, offset: '42' }, { partition: 1, offset: '7', metadata: 'x' }] }] },
    expected: {
      groupId: 'g',
      generationIdOrMemberEpoch: 3,
      memberId: 'm-1',
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 42, committedMetadata: null }, { partitionIndex: 1, committedOffset: 7, committedMetadata: 'x' }] }],
    },
  },
  {
    api: 'offsetFetch',
    apiKey: ApiKeys.OffsetFetch,
    version: 4,
    args: { groupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 0 }, { partition: 3 }] }] },
    expected: { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 3] }] },
  },
  {
    api: 'findCoordinator',
    apiKey: ApiKeys.FindCoordinator,
    version: 2,
    args: { coordinatorKey: 'g', coordinatorType: 0 },
    expected: { key: 'g', keyType: 0 },
  },
  {
    api: 'joinGroup',
    apiKey: ApiKeys.JoinGroup,
    version: 5,
    args: { groupId: 'g', sessionTimeout: 30000, rebalanceTimeout: 60000, memberId: '', protocolType: 'consumer', groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 2]) }] },
    expected: {
      groupId: 'g',
      sessionTimeoutMs: 30000,
      rebalanceTimeoutMs: 60000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 2]) }],
    },
  },
  {
    api: 'syncGroup',
    apiKey: ApiKeys.SyncGroup,
    version: 3,
    args: { groupId: 'g', generationId: 2, memberId: 'm', groupAssignment: [{ memberId: 'm', memberAssignment: Buffer.from('abc') }] },
    expected: { groupId: 'g', generationId: 2, memberId: 'm', groupInstanceId: null, assignments: [{ memberId: 'm', assignment: Buffer.from('abc') }] },
  },
  {
    api: 'heartbeat',
    apiKey: ApiKeys.Heartbeat,
    version: 3,
    args: { groupId: 'g', groupGenerationId: 9, memberId: 'm', groupInstanceId: null },
    expected: { groupId: 'g', generationId: 9, memberId: 'm', groupInstanceId: null },
  },
  {
    api: 'leaveGroup',
    apiKey: ApiKeys.LeaveGroup,
    version: 3,
    args: { groupId: 'g', members: [{ memberId: 'm1' }, { memberId: 'm2', groupInstanceId: 'i2' }] },
    expected: { groupId: 'g', members: [{ memberId: 'm1', groupInstanceId: null }, { memberId: 'm2', groupInstanceId: 'i2' }] },
  },
  {
    api: 'createTopics',
    apiKey: ApiKeys.CreateTopics,
    version: 3,
    args: {
      topics: [{ topic: 'new', numPartitions: 3, replicationFactor: 2, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
      validateOnly: false,
      timeout: 5000,
    },
    expected: {
      topics: [{ name: 'new', numPartitions: 3, replicationFactor: 2, assignments: [], configs: [{ name: 'min.insync.replicas', value: '2' }] }],
      timeoutMs: 5000,
      validateOnly: false,
    },
  },
  {
    api: 'initProducerId',
    apiKey: ApiKeys.InitProducerId,
    version: 1,
    args: { transactionalId: null, transactionTimeout: 60000 },
    expected: { transactionalId: null, transactionTimeoutMs: 60000 },
  },
  {
    api: 'apiVersions',
    apiKey: ApiKeys.ApiVersions,
    version: 2,
    args: {},
    expected: {},
  },
];

async function kafkajsFrame(api: string, version: number, args: Record<string, unknown>, correlationId: number): Promise<Buffer> {
  const { buffer } = await createRequest({ correlationId, clientId: CLIENT_ID, request: req(api, version)(args) });
  return buffer;
}

describe('kafkajs requests decode with our codec and re-encode byte for byte', () => {
  for (const c of requestCases) {
    it(`${c.api} v${c.version}`, async () => {
      const bytes = await kafkajsFrame(c.api, c.version, c.args, 77);
      const frame = bytes.subarray(4);
      const h = readRequestHeader(frame);
      expect(h).toMatchObject({ apiKey: c.apiKey, apiVersion: c.version, correlationId: 77, clientId: CLIENT_ID });
      const body = decodeRequest(c.apiKey, c.version, frame, h.bodyOffset);
      expect(body).toMatchObject(c.expected);
      expect(encodeRequest(c.apiKey, c.version, 77, CLIENT_ID, body).equals(bytes)).toBe(true);
    });
  }

  it('produce v7 with a kafkajs-built record batch (idempotent, headers)', async () => {
    const Long = require('kafkajs/src/utils/long');
    const args = {
      acks: -1,
      timeout: 30000,
      transactionalId: null,
      producerId: Long.fromNumber(4000),
      producerEpoch: 2,
      topicData: [
        {
          topic: 'orders',
          partitions: [
            {
              partition: 1,
              firstSequence: 17,
              messages: [
                { key: 'k1', value: 'v1', timestamp: 1_700_000_000_000, headers: { h: 'x' } },
                { key: null, value: 'v2', timestamp: 1_700_000_000_005 },
              ],
            },
          ],
        },
      ],
    };
    const bytes = await kafkajsFrame('produce', 7, args, 5);
    const frame = bytes.subarray(4);
    const h = readRequestHeader(frame);
    const body = decodeRequest(ApiKeys.Produce, 7, frame, h.bodyOffset);
    expect(body).toMatchObject({ transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 'orders', partitionData: [{ index: 1 }] }] });
    const records: Buffer = body.topicData[0].partitionData[0].records;
    expect(records.readInt32BE(53)).toBe(17); // baseSequence
    expect(Number(records.readBigInt64BE(43))).toBe(4000); // producerId
    expect(encodeRequest(ApiKeys.Produce, 7, 5, CLIENT_ID, body).equals(bytes)).toBe(true);
  });
});

/** Our response frame minus the size prefix and the (v0) correlation id: what kafkajs hands its decoders. */
function payloadOf(apiKey: number, version: number, body: Record<string, unknown>): Buffer {
  const out = encodeResponse(apiKey, version, 123, body);
  expect(out.readInt32BE(0)).toBe(out.length - 4);
  expect(out.readInt32BE(4)).toBe(123);
  return out.subarray(8);
}

describe('kafkajs response decoders read our responses', () => {
  it('produce v7', async () => {
    const payload = payloadOf(ApiKeys.Produce, 7, {
      responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 99, logAppendTimeMs: -1, logStartOffset: 5 }] }],
      throttleTimeMs: 0,
    });
    const d = await res('produce', 7).decode(payload);
    expect(d.topics).toEqual([{ topicName: 't', partitions: [{ partition: 0, errorCode: 0, baseOffset: '99', logAppendTime: '-1', logStartOffset: '5' }] }]);
  });

  it('fetch v11 with a record batch', async () => {
    const batch = buildBatch({
      baseOffset: 10,
      partitionLeaderEpoch: 3,
      baseTimestamp: 1_700_000_000_000,
      records: [
        { key: Buffer.from('a'), value: Buffer.from('1') },
        { key: null, value: Buffer.from('2'), headers: [{ key: 'h', value: Buffer.from('v') }], timestampDelta: 4 },
      ],
    });
    const payload = payloadOf(ApiKeys.Fetch, 11, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 't',
          partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 12, lastStableOffset: 12, logStartOffset: 0, abortedTransactions: null, preferredReadReplica: -1, records: batch }],
        },
      ],
    });
    const d = await res('fetch', 11).decode(payload);
    const p = d.responses[0].partitions[0];
    expect(d.responses[0].topicName).toBe('t');
    expect(p).toMatchObject({ partition: 0, errorCode: 0, highWatermark: '12', lastStableOffset: '12', preferredReadReplica: -1 });
    expect(p.messages.map((m: any) => [m.offset, m.key?.toString() ?? null, m.value.toString(), m.timestamp])).toEqual([
      ['10', 'a', '1', '1700000000000'],
      ['11', null, '2', '1700000000004'],
    ]);
    expect(p.messages[1].headers).toEqual({ h: Buffer.from('v') });
  });

  it('metadata v6', async () => {
    const payload = payloadOf(ApiKeys.Metadata, 6, {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092, rack: null }],
      clusterId: 'c1',
      controllerId: 1,
      topics: [{ errorCode: 0, name: 't', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1, 2], isrNodes: [1], offlineReplicas: [2] }] }],
    });
    const d = await res('metadata', 6).decode(payload);
    expect(d).toMatchObject({
      brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092, rack: null }],
      clusterId: 'c1',
      controllerId: 1,
      topicMetadata: [{ topicErrorCode: 0, topic: 't', isInternal: false, partitionMetadata: [{ partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1, 2], isr: [1], offlineReplicas: [2] }] }],
    });
  });

  it('listOffsets v3', async () => {
    const payload = payloadOf(ApiKeys.ListOffsets, 3, { topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1, offset: 42 }] }] });
    const d = await res('listOffsets', 3).decode(payload);
    expect(d.responses).toEqual([{ topic: 't', partitions: [{ partition: 0, errorCode: 0, timestamp: '-1', offset: '42' }] }]);
  });

  it('offsetCommit v5, offsetFetch v4', async () => {
    const oc = await res('offsetCommit', 5).decode(payloadOf(ApiKeys.OffsetCommit, 5, { topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0 }] }] }));
    expect(oc.responses).toEqual([{ topic: 't', partitions: [{ partition: 0, errorCode: 0 }] }]);
    const of = await res('offsetFetch', 4).decode(
      payloadOf(ApiKeys.OffsetFetch, 4, { topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 17, metadata: '', errorCode: 0 }] }], errorCode: 0 }),
    );
    expect(of.responses).toEqual([{ topic: 't', partitions: [{ partition: 0, offset: '17', metadata: '', errorCode: 0 }] }]);
    expect(of.errorCode).toBe(0);
  });

  it('findCoordinator v2, heartbeat v3, leaveGroup v3', async () => {
    const fc = await res('findCoordinator', 2).decode(payloadOf(ApiKeys.FindCoordinator, 2, { errorCode: 0, errorMessage: null, nodeId: 2, host: 'h', port: 9093 }));
    expect(fc).toMatchObject({ errorCode: 0, coordinator: { nodeId: 2, host: 'h', port: 9093 } });
    const hb = await res('heartbeat', 3).decode(payloadOf(ApiKeys.Heartbeat, 3, { errorCode: 27 }));
    expect(hb.errorCode).toBe(27);
    const lg = await res('leaveGroup', 3).decode(payloadOf(ApiKeys.LeaveGroup, 3, { errorCode: 0, members: [{ memberId: 'm', groupInstanceId: null, errorCode: 0 }] }));
    expect(lg).toMatchObject({ errorCode: 0, members: [{ memberId: 'm', groupInstanceId: null, errorCode: 0 }] });
  });

  it('joinGroup v5, syncGroup v3', async () => {
    const jg = await res('joinGroup', 5).decode(
      payloadOf(ApiKeys.JoinGroup, 5, {
        errorCode: 0,
        generationId: 4,
        protocolName: 'RoundRobinAssigner',
        leader: 'm1',
        memberId: 'm1',
        members: [{ memberId: 'm1', groupInstanceId: null, metadata: Buffer.from([9]) }],
      }),
    );
    expect(jg).toMatchObject({ errorCode: 0, generationId: 4, groupProtocol: 'RoundRobinAssigner', leaderId: 'm1', memberId: 'm1', members: [{ memberId: 'm1', memberMetadata: Buffer.from([9]) }] });
    const sg = await res('syncGroup', 3).decode(payloadOf(ApiKeys.SyncGroup, 3, { errorCode: 0, assignment: Buffer.from('xyz') }));
    expect(sg).toMatchObject({ errorCode: 0, memberAssignment: Buffer.from('xyz') });
  });

  it('createTopics v3, initProducerId v1, apiVersions v2', async () => {
    const ct = await res('createTopics', 3).decode(payloadOf(ApiKeys.CreateTopics, 3, { topics: [{ name: 'n', errorCode: 36, errorMessage: 'exists' }] }));
    expect(ct.topicErrors).toEqual([{ topic: 'n', errorCode: 36, errorMessage: 'exists' }]);
    const ip = await res('initProducerId', 1).decode(payloadOf(ApiKeys.InitProducerId, 1, { errorCode: 0, producerId: 4000, producerEpoch: 0 }));
    expect(ip).toMatchObject({ errorCode: 0, producerId: '4000', producerEpoch: 0 });
    const av = await res('apiVersions', 2).decode(payloadOf(ApiKeys.ApiVersions, 2, { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 8 }] }));
    expect(av).toMatchObject({ errorCode: 0, apiVersions: [{ apiKey: 0, minVersion: 3, maxVersion: 8 }] });
  });
});
