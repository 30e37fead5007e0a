/**
 * Metadata v9-v10 over the wire codec, on a hand-made metadata image: v10 answers each topic's id
 * (KIP-516: what a client needs to fetch by id with Fetch v13), an unknown topic has the zero id, and
 * a topic asked by id only (a null name, which Kafka supports from v12) is refused with
 * INVALID_REQUEST; v9 (flexible) answers as v8 did.
 */
import { describe, expect, it } from 'vitest';
import { handleMetadata } from '../../../broker/apis/cluster.ts';
import type { BrokerContext } from '../../../broker/apis/context.ts';
import { isAdvertised } from '../../../broker/apis/versions.ts';
import { buildConfig } from '../../../broker/config.ts';
import { MetadataImage } from '../../../broker/controller/image.ts';
import type { MetadataRecord } from '../../../broker/controller/records.ts';
import { ApiKeys, decodeRequest, decodeResponse, encodeRequest, encodeResponse, readRequestHeader, ZERO_UUID } from '../../../broker/protocol/codec.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';

const ID = '0000000a-0000-0000-0000-00000000000b';

function context(): BrokerContext {
  const image = new MetadataImage();
  let offset = 1;
  const apply = (r: MetadataRecord) => image.apply(r, offset++);
  apply({ type: 'RegisterBroker', brokerId: 1, incarnationId: 'i1', host: '127.0.0.1', port: 9001 });
  apply({ type: 'UnfenceBroker', brokerId: 1 });
  apply({ type: 'Topic', name: 't', topicId: ID, numPartitions: 1, configs: {} });
  apply({ type: 'Partition', topic: 't', partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] });
  return { metadata: { image, controllerId: () => 1 }, config: buildConfig({ 'auto.create.topics.enable': 'false' }), clusterId: 'c', createTopic: async () => undefined } as unknown as BrokerContext;
}

async function metadata(version: number, topics: Array<{ name: string | null; topicId?: string }> | null) {
  const body = { topics: topics === null ? null : topics.map((t) => ({ topicId: t.topicId ?? ZERO_UUID, name: t.name })), allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };
  const frame = encodeRequest(ApiKeys.Metadata, version, 1, 'test', body).subarray(4);
  const req = decodeRequest(ApiKeys.Metadata, version, frame, readRequestHeader(frame).bodyOffset);
  const res = await handleMetadata(context(), version, req);
  return decodeResponse<any>(ApiKeys.Metadata, version, encodeResponse(ApiKeys.Metadata, version, 1, res).subarray(4)).body;
}

describe('Metadata v9-v10 (topic ids, KIP-516)', () => {
  it('v10 is advertised, v11 is not', () => {
    expect(isAdvertised(ApiKeys.Metadata, 10)).toBe(true);
    expect(isAdvertised(ApiKeys.Metadata, 11)).toBe(false);
  });

  it('v10 answers each topic with its id; an unknown one with the zero id', async () => {
    const md = await metadata(10, [{ name: 't' }, { name: 'nope' }]);
    expect(md.topics.map((t: any) => [t.name, t.errorCode, t.topicId])).toEqual([['t', 0, ID], ['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ZERO_UUID]]);
    expect((await metadata(10, null)).topics.map((t: any) => t.topicId)).toEqual([ID]);
  });

  it('v10 refuses a topic asked by id only (a v12 feature), answering the others', async () => {
    const md = await metadata(10, [{ name: null, topicId: ID }, { name: 't' }]);
    expect(md.topics.map((t: any) => [t.name, t.errorCode])).toEqual([['t', 0], ['', ErrorCode.INVALID_REQUEST]]);
  });

  it('v9 (flexible) answers as before, with partitions and leaders', async () => {
    const md = await metadata(9, [{ name: 't' }]);
    expect(md.topics[0]).toMatchObject({ name: 't', errorCode: 0, partitions: [{ partitionIndex: 0, leaderId: 1, isrNodes: [1] }] });
  });
});
