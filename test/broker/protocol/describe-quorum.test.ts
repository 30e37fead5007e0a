/**
 * DescribeQuorum v0 (API key 55): the codec against bytes written out by hand from Kafka's schema
 * (flexible from v0: compact arrays and strings, tag buffers), request and response round trips, and
 * the handler's answers (apis/quorum.ts) on a leader, a non-leader and a wrong partition.
 */
import { describe, expect, it } from 'vitest';
import type { BrokerContext } from '../../../broker/apis/context.ts';
import { handleDescribeQuorum, METADATA_TOPIC } from '../../../broker/apis/quorum.ts';
import { isAdvertised } from '../../../broker/apis/versions.ts';
import { ApiKeys, decodeRequest, decodeResponse, encodeRequest, encodeResponse, readRequestHeader } from '../../../broker/protocol/codec.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import type { QuorumDescription } from '../../../broker/metadata-service.ts';

const request = { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }] };

function ctxWith(q: QuorumDescription): BrokerContext {
  return { metadata: { describeQuorum: () => q } } as unknown as BrokerContext;
}

describe('DescribeQuorum v0 codec', () => {
  it('is advertised as exactly v0', () => {
    expect(ApiKeys.DescribeQuorum).toBe(55);
    expect(isAdvertised(55, 0)).toBe(true);
    expect(isAdvertised(55, 1)).toBe(false);
  });

  it('encodes the request body as the schema says (compact array and string, tag buffers)', () => {
    const frame = encodeRequest(ApiKeys.DescribeQuorum, 0, 5, 'c', request).subarray(4);
    const h = readRequestHeader(frame);
    expect(h).toMatchObject({ apiKey: 55, apiVersion: 0, correlationId: 5, clientId: 'c' });
    const body = frame.subarray(h.bodyOffset);
    const name = Buffer.from(METADATA_TOPIC);
    expect(body).toEqual(Buffer.concat([Buffer.from([2, name.length + 1]), name, Buffer.from([2, 0, 0, 0, 0, 0, 0, 0])]));
    expect(decodeRequest(ApiKeys.DescribeQuorum, 0, frame, h.bodyOffset)).toEqual(request);
  });

  it('round-trips a full response', () => {
    const res = {
      errorCode: 0,
      topics: [
        {
          topicName: METADATA_TOPIC,
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              leaderId: 2,
              leaderEpoch: 7,
              highWatermark: 41n,
              currentVoters: [
                { replicaId: 1, logEndOffset: 40n },
                { replicaId: 2, logEndOffset: 41n },
                { replicaId: 3, logEndOffset: -1n },
              ],
              observers: [{ replicaId: 4, logEndOffset: 39n }],
            },
          ],
        },
      ],
    };
    const frame = encodeResponse(ApiKeys.DescribeQuorum, 0, 9, res).subarray(4);
    const { correlationId, body } = decodeResponse(ApiKeys.DescribeQuorum, 0, frame);
    expect(correlationId).toBe(9);
    expect(body).toMatchObject(JSON.parse(JSON.stringify(res, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))));
  });
});

describe('DescribeQuorum handler', () => {
  const leader: QuorumDescription = {
    leader: true,
    leaderId: 2,
    leaderEpoch: 7,
    highWatermark: 41,
    voters: [
      { replicaId: 1, logEndOffset: 40 },
      { replicaId: 2, logEndOffset: 41 },
      { replicaId: 3, logEndOffset: -1 },
    ],
    observers: [{ replicaId: 4, logEndOffset: 39 }],
  };

  it('the leader describes the quorum', () => {
    const r = handleDescribeQuorum(ctxWith(leader), 0, request);
    expect(r).toEqual({
      errorCode: 0,
      topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0, errorCode: 0, leaderId: 2, leaderEpoch: 7, highWatermark: 41, currentVoters: leader.voters, observers: leader.observers }] }],
    });
    // and the answer encodes in v0
    expect(() => encodeResponse(ApiKeys.DescribeQuorum, 0, 1, r)).not.toThrow();
  });

  it('a non-leader answers NOT_LEADER_OR_FOLLOWER with the leader it knows', () => {
    const r = handleDescribeQuorum(ctxWith({ leader: false, leaderId: 2, leaderEpoch: 7, highWatermark: -1, voters: [], observers: [] }), 0, request);
    expect(r.topics[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderId: 2, leaderEpoch: 7, currentVoters: [] });
  });

  it('any other topic or partition gets UNKNOWN_TOPIC_OR_PARTITION on every partition named', () => {
    for (const req of [
      { topics: [{ topicName: 'other', partitions: [{ partitionIndex: 0 }] }] },
      { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 1 }] }] },
      { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }, { partitionIndex: 1 }] }] },
    ]) {
      const r = handleDescribeQuorum(ctxWith(leader), 0, req);
      expect(r.errorCode).toBe(0);
      const parts = r.topics.flatMap((t: { partitions: Array<{ errorCode: number }> }) => t.partitions);
      expect(parts.length).toBe(req.topics[0]!.partitions.length);
      for (const p of parts) expect(p.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      expect(() => encodeResponse(ApiKeys.DescribeQuorum, 0, 1, r)).not.toThrow();
    }
  });
});
