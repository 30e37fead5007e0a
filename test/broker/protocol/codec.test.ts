/**
 * Targeted behaviours of the codec that the round-trip property does not pin down: header versions,
 * Kafka's non-ignorable-field rule, defaults, tagged fields (order, omission, unknown tags), int64 and
 * uuid representations, ProtocolError identity, zero-copy records.
 */
import { describe, expect, it } from 'vitest';
import {
  ApiKeys,
  apiSchema,
  decodeRequest,
  decodeResponse,
  EncodeError,
  encodeRequest,
  encodeResponse,
  encodeResponseParts,
  isFlexibleVersion,
  ProtocolError,
  readRequestHeader,
  ZERO_UUID,
} from '../../../broker/protocol/codec.ts';

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('headers', () => {
  it('request header v1 for non-flexible versions, v2 (tag buffer) for flexible ones', () => {
    const v8 = encodeRequest(ApiKeys.Produce, 8, 42, 'me', { acks: 1, timeoutMs: 5, topicData: [] });
    const v9 = encodeRequest(ApiKeys.Produce, 9, 42, 'me', { acks: 1, timeoutMs: 5, topicData: [] });
    const h8 = readRequestHeader(v8.subarray(4));
    const h9 = readRequestHeader(v9.subarray(4));
    expect(h8).toEqual({ apiKey: 0, apiVersion: 8, correlationId: 42, clientId: 'me', bodyOffset: 12 });
    expect(h9).toEqual({ apiKey: 0, apiVersion: 9, correlationId: 42, clientId: 'me', bodyOffset: 13 });
    // clientId stays a non-compact i16 string in header v2
    expect(v9.readInt16BE(4 + 8)).toBe(2);
    expect(v9[4 + 12]).toBe(0);
  });

  it('response header v1 for flexible versions but always v0 for ApiVersions', () => {
    const fetch12 = encodeResponse(ApiKeys.Fetch, 12, 7, { responses: [] });
    const fetch11 = encodeResponse(ApiKeys.Fetch, 11, 7, { responses: [] });
    // v12: size, correlationId, header tag buffer, throttle, errorCode, sessionId, compact [] (1), body tags
    expect(fetch12.length).toBe(4 + 4 + 1 + 4 + 2 + 4 + 1 + 1);
    expect(fetch12[8]).toBe(0);
    // v11: size, correlationId, throttle, errorCode, sessionId, int32 []
    expect(fetch11.length).toBe(4 + 4 + 4 + 2 + 4 + 4);
    const av3 = encodeResponse(ApiKeys.ApiVersions, 3, 9, { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }] });
    // size, correlationId, then directly errorCode (no header tag buffer)
    expect(av3.readInt32BE(4)).toBe(9);
    expect(av3.readInt16BE(8)).toBe(0);
    expect(av3[10]).toBe(2); // compact array length 1 + 1
    expect(decodeResponse(ApiKeys.ApiVersions, 3, av3.subarray(4)).body.apiKeys).toEqual([{ apiKey: 0, minVersion: 0, maxVersion: 11 }]);
  });

  it('unknown api keys and unsupported versions still yield the header; the body then throws ProtocolError with ids', () => {
    const frame = Buffer.alloc(12);
    frame.writeInt16BE(999, 0);
    frame.writeInt16BE(3, 2);
    frame.writeInt32BE(1234, 4);
    frame.writeInt16BE(-1, 8);
    const h = readRequestHeader(frame);
    expect(h).toEqual({ apiKey: 999, apiVersion: 3, correlationId: 1234, clientId: null, bodyOffset: 10 });
    const err = catchErr(() => decodeRequest(999, 3, frame, h.bodyOffset));
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'PROTOCOL_ERROR', apiKey: 999, apiVersion: 3, correlationId: 1234 });

    // ApiVersions v9 (newer than we know): header is flexible (3+), so the tag buffer is consumed
    const av = Buffer.from([0, 18, 0, 9, 0, 0, 0, 5, 0, 1, 0x41, 0]);
    expect(isFlexibleVersion(18, 9)).toBe(true);
    expect(readRequestHeader(av)).toEqual({ apiKey: 18, apiVersion: 9, correlationId: 5, clientId: 'A', bodyOffset: 12 });
    expect(catchErr(() => decodeRequest(18, 9, av, 12))).toMatchObject({ code: 'PROTOCOL_ERROR', apiKey: 18, apiVersion: 9, correlationId: 5 });
  });

  it('a truncated header is a ProtocolError carrying the ids it could read', () => {
    expect(catchErr(() => readRequestHeader(Buffer.alloc(5)))).toBeInstanceOf(ProtocolError);
    const f = Buffer.from([0, 3, 0, 6, 0, 0, 0, 77, 0, 9, 0x41]);
    expect(catchErr(() => readRequestHeader(f))).toMatchObject({ apiKey: 3, apiVersion: 6, correlationId: 77 });
  });
});

describe('encoding rules', () => {
  it('a non-default value of a non-ignorable field absent in the version is an EncodeError naming it', () => {
    const err = catchErr(() => encodeRequest(ApiKeys.ListOffsets, 1, 1, null, { replicaId: -1, isolationLevel: 1, topics: [] }));
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).field).toBe('isolationLevel');
    const nested = catchErr(() =>
      encodeResponse(ApiKeys.Fetch, 10, 1, { responses: [{ topic: 't', partitions: [{ partitionIndex: 0, preferredReadReplica: 3 }] }] }),
    );
    expect((nested as EncodeError).field).toBe('responses[].partitions[].preferredReadReplica');
    // default values and ignorable fields are dropped silently
    expect(() => encodeRequest(ApiKeys.ListOffsets, 1, 1, null, { replicaId: -1, isolationLevel: 0, topics: [] })).not.toThrow();
    expect(() => encodeRequest(ApiKeys.Fetch, 10, 1, null, { rackId: 'rack-a', topics: [] })).not.toThrow();
    expect(() => encodeResponse(ApiKeys.Fetch, 10, 1, { responses: [{ topic: 't', partitions: [{ preferredReadReplica: -1 }] }] })).not.toThrow();
  });

  it('missing fields take schema defaults; absent-in-version fields decode as defaults', () => {
    const f = encodeRequest(ApiKeys.Fetch, 4, 1, 'c', { topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 5 }] }] });
    const inner = f.subarray(4);
    const b = decodeRequest(ApiKeys.Fetch, 4, inner, readRequestHeader(inner).bodyOffset);
    expect(b.maxBytes).toBe(0x7fffffff);
    expect(b.replicaId).toBe(-1);
    expect(b.sessionEpoch).toBe(-1); // v7+, absent in v4 -> default
    expect(b.topics[0].partitions[0]).toMatchObject({ partition: 0, fetchOffset: 5, currentLeaderEpoch: -1, logStartOffset: -1, partitionMaxBytes: 0 });
    expect(b.topics[0].topicId).toBe(ZERO_UUID);
    const m = encodeRequest(ApiKeys.Metadata, 4, 1, 'c', { topics: null });
    const mi = m.subarray(4);
    expect(decodeRequest(ApiKeys.Metadata, 4, mi, readRequestHeader(mi).bodyOffset)).toMatchObject({ topics: null, allowAutoTopicCreation: true });
  });

  it('type errors are EncodeErrors, not crashes or silent truncation', () => {
    expect(catchErr(() => encodeRequest(ApiKeys.Heartbeat, 3, 1, null, { groupId: 'g', generationId: 2 ** 31, memberId: 'm' }))).toBeInstanceOf(EncodeError);
    expect(catchErr(() => encodeRequest(ApiKeys.Heartbeat, 3, 1, null, { groupId: 5 }))).toBeInstanceOf(EncodeError);
    expect(catchErr(() => encodeRequest(ApiKeys.Heartbeat, 3, 1, null, { groupId: null }))).toBeInstanceOf(EncodeError);
    expect(catchErr(() => encodeRequest(ApiKeys.Fetch, 13, 1, null, { topics: [{ topicId: 'nope' }] }))).toBeInstanceOf(EncodeError);
    expect(catchErr(() => encodeRequest(ApiKeys.Heartbeat, 99, 1, null, {}))).toBeInstanceOf(EncodeError);
    expect(catchErr(() => encodeRequest(ApiKeys.JoinGroup, 5, 1, null, { protocols: [{ name: 'p', metadata: null }] }))).toBeInstanceOf(EncodeError);
  });
});

describe('tagged fields', () => {
  it('are written only when non-default, in ascending tag order, and read back', () => {
    const base = { responses: [{ topicId: ZERO_UUID, partitions: [{ partitionIndex: 0, records: null }] }] };
    const plain = encodeResponse(ApiKeys.Fetch, 13, 1, base);
    const tagged = encodeResponse(ApiKeys.Fetch, 13, 1, {
      responses: [{ topicId: ZERO_UUID, partitions: [{ partitionIndex: 0, records: null, snapshotId: { endOffset: 9, epoch: 2 }, divergingEpoch: { epoch: 3, endOffset: 40 } }] }],
    });
    // divergingEpoch (tag 0): tag, size, epoch i32, endOffset i64, struct tag buffer = 1+1+4+8+1
    // snapshotId (tag 2): 1+1+8+4+1
    expect(tagged.length - plain.length).toBe(15 + 15);
    const p = decodeResponse(ApiKeys.Fetch, 13, tagged.subarray(4)).body.responses[0].partitions[0];
    expect(p.divergingEpoch).toEqual({ epoch: 3, endOffset: 40 });
    expect(p.snapshotId).toEqual({ endOffset: 9, epoch: 2 });
    expect(p.currentLeader).toEqual({ leaderId: -1, leaderEpoch: -1 });
    // tag buffer: count 2, tag 0, size 13, ..., tag 2, size 13
    const pos = tagged.indexOf(Buffer.from([2, 0, 13, 0, 0, 0, 3]));
    expect(pos).toBeGreaterThan(0);
    expect(tagged.indexOf(Buffer.from([2, 13]), pos + 3)).toBe(pos + 3 + 13);
  });

  it('unknown tags are skipped; a tag whose size lies is a ProtocolError', () => {
    // Heartbeat v4 request body: groupId, generationId, memberId, groupInstanceId, tag buffer
    const good = encodeRequest(ApiKeys.Heartbeat, 4, 1, null, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null });
    const body = good.subarray(4);
    const h = readRequestHeader(body);
    const withTag = Buffer.concat([body.subarray(0, body.length - 1), Buffer.from([1, 7, 3, 0xaa, 0xbb, 0xcc])]);
    expect(decodeRequest(ApiKeys.Heartbeat, 4, withTag, h.bodyOffset)).toEqual({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null });
    const liar = Buffer.concat([body.subarray(0, body.length - 1), Buffer.from([1, 7, 9, 0xaa])]);
    expect(catchErr(() => decodeRequest(ApiKeys.Heartbeat, 4, liar, h.bodyOffset))).toBeInstanceOf(ProtocolError);
  });
});

describe('values', () => {
  it('int64 is a number when safe and a bigint beyond 2^53', () => {
    const big = 2n ** 62n + 3n;
    for (const offset of [0, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, big, -big]) {
      const f = encodeRequest(ApiKeys.ListOffsets, 1, 1, null, { replicaId: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: offset }] }] });
      const i = f.subarray(4);
      expect(decodeRequest(ApiKeys.ListOffsets, 1, i, readRequestHeader(i).bodyOffset).topics[0].partitions[0].timestamp).toBe(offset);
    }
    expect(catchErr(() => encodeRequest(ApiKeys.ListOffsets, 1, 1, null, { topics: [{ name: 't', partitions: [{ timestamp: 2n ** 63n }] }] }))).toBeInstanceOf(EncodeError);
  });

  it('records are zero-copy slices of the frame', () => {
    const records = Buffer.from('0123456789abcdef'.repeat(64));
    const f = encodeRequest(ApiKeys.Produce, 7, 1, 'c', { acks: -1, timeoutMs: 100, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] });
    const inner = f.subarray(4);
    const got: Buffer = decodeRequest(ApiKeys.Produce, 7, inner, readRequestHeader(inner).bodyOffset).topicData[0].partitionData[0].records;
    expect(got.equals(records)).toBe(true);
    expect(got.buffer).toBe(inner.buffer);
    inner[inner.length - 1] = 0x21;
    expect(got[got.length - 1]).toBe(0x21);
  });

  it('encodeResponseParts equals encodeResponse and passes large records through uncopied', () => {
    const big = Buffer.alloc(5000, 7);
    const small = Buffer.from('tiny');
    const body = { responses: [{ topic: 't', partitions: [{ partitionIndex: 0, records: big }, { partitionIndex: 1, records: small }] }] };
    for (const v of [4, 11, 12]) {
      const parts = encodeResponseParts(ApiKeys.Fetch, v, 3, body);
      expect(Buffer.concat(parts).equals(encodeResponse(ApiKeys.Fetch, v, 3, body))).toBe(true);
      expect(parts.some((p) => p === big)).toBe(true);
    }
  });

  it('successive encodes do not share output memory', () => {
    const a = encodeRequest(ApiKeys.Heartbeat, 3, 1, 'a', { groupId: 'first', generationId: 1, memberId: 'm' });
    const copy = Buffer.from(a);
    const parts = encodeResponseParts(ApiKeys.Heartbeat, 3, 2, { errorCode: 1 });
    const partsCopy = Buffer.concat(parts);
    encodeRequest(ApiKeys.Heartbeat, 3, 9, 'zzzzzzzz', { groupId: 'second-and-longer', generationId: 2, memberId: 'n' });
    encodeResponse(ApiKeys.Heartbeat, 3, 7, { errorCode: 27 });
    expect(a.equals(copy)).toBe(true);
    expect(Buffer.concat(parts).equals(partsCopy)).toBe(true);
  });

  it('trailing bytes after a body are a ProtocolError', () => {
    const f = encodeRequest(ApiKeys.Heartbeat, 3, 1, null, { groupId: 'g', generationId: 1, memberId: 'm' });
    const inner = Buffer.concat([f.subarray(4), Buffer.from([0])]);
    expect(catchErr(() => decodeRequest(ApiKeys.Heartbeat, 3, inner, readRequestHeader(inner).bodyOffset))).toBeInstanceOf(ProtocolError);
  });
});

describe('schema access', () => {
  it('apiSchema exposes the version ranges', () => {
    expect(apiSchema(ApiKeys.Produce)).toMatchObject({ name: 'Produce', minVersion: 0, firstFlexibleVersion: 9 });
    const produce = apiSchema(ApiKeys.Produce)!;
    expect(produce.maxVersion).toBeGreaterThanOrEqual(9);
    expect(produce.validVersions).toEqual([0, produce.maxVersion]);
    expect([8, 9, 11].map((v) => produce.isFlexible(v))).toEqual([false, true, true]);
    expect(apiSchema(ApiKeys.Heartbeat)!.isFlexible(3)).toBe(false);
    expect(apiSchema(1000)).toBeUndefined();
  });
});
