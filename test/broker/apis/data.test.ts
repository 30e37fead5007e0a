/**
 * Fetch v13 (KIP-516) in the broker's handler, over the wire codec and a real ReplicaManager on a
 * hand-made metadata image: topics named by topic id in the request and the answer; an id the node's
 * metadata does not know gets UNKNOWN_TOPIC_ID (100) per partition; an id whose local replica holds
 * another incarnation gets INCONSISTENT_TOPIC_ID (103); neither reads the log nor counts the fetch
 * as the follower's progress. Fetches by name (v12 and below) are unchanged.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { handleFetch, type FetchContext } from '../../../broker/apis/data.ts';
import { isAdvertised } from '../../../broker/apis/versions.ts';
import { buildConfig } from '../../../broker/config.ts';
import { MetadataImage } from '../../../broker/controller/image.ts';
import type { MetadataRecord } from '../../../broker/controller/records.ts';
import type { Logger } from '../../../broker/logger.ts';
import { ApiKeys, decodeRequest, decodeResponse, encodeRequest, encodeResponse, readRequestHeader } from '../../../broker/protocol/codec.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { buildBatch } from '../../../broker/protocol/records.ts';
import { ReplicaManager } from '../../../broker/replica-manager.ts';
import { realRuntime } from '../../../broker/runtime/real.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const OLD_ID = '0000000a-0000-0000-0000-000000000001';
const NEW_ID = '0000000b-0000-0000-0000-000000000002';
const UNKNOWN_ID = '0000000c-0000-0000-0000-000000000003';

const managers: ReplicaManager[] = [];
afterEach(() => {
  for (const m of managers.splice(0)) m.stop();
});

/** An image with brokers 1-3 and topic `t` (one partition led by 1, ISR [1,2,3]) of incarnation `topicId`. */
function imageWith(topicId: string): MetadataImage {
  const image = new MetadataImage();
  let offset = 1;
  const apply = (r: MetadataRecord) => image.apply(r, offset++);
  for (const id of [1, 2, 3]) {
    apply({ type: 'RegisterBroker', brokerId: id, incarnationId: `i${id}`, host: '127.0.0.1', port: 9000 + id });
    apply({ type: 'UnfenceBroker', brokerId: id });
  }
  apply({ type: 'Topic', name: 't', topicId, numPartitions: 1, configs: {} });
  apply({ type: 'Partition', topic: 't', partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] });
  return image;
}

/**
 * Broker 1 leading `t`-0 of incarnation OLD_ID with one record. `metadataId`: the incarnation the
 * node's metadata image (which resolves topic ids) names, ahead of the replica manager's when it
 * differs (the delete and re-creation are applied there, not yet to the local replica).
 */
async function setup(metadataId = OLD_ID) {
  const rm = new ReplicaManager({ brokerId: 1, dataDir: mkdtempSync(join(tmpdir(), 'fl-fetch13-')), config: buildConfig({ 'min.insync.replicas': '2' }), logger: quiet, isr: { alterPartition: async () => undefined } });
  managers.push(rm);
  rm.applyImage(imageWith(OLD_ID));
  const appended = await rm.produce('t', 0, buildBatch({ compression: 'none', records: [{ key: null, value: Buffer.from('v0') }] }), 1, 1000);
  expect(appended.errorCode).toBe(0);
  const ctx: FetchContext = { metadata: { image: metadataId === OLD_ID ? imageWith(OLD_ID) : imageWith(metadataId) }, replicas: rm, runtime: realRuntime };
  return { rm, ctx, leader: rm.get('t', 0)!.leader! };
}

/** A follower's fetch through the codec, in `version`, naming `t` by id (v13) or by name (v12). */
async function fetch(ctx: FetchContext, version: number, replicaId: number, topic: { topicId: string } | { topic: string } | Array<{ topicId: string }>, fetchOffset: number) {
  const topics = (Array.isArray(topic) ? topic : [topic]).map((t) => ({ ...t, partitions: [{ partition: 0, currentLeaderEpoch: 0, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }));
  const body = {
    replicaId,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics,
    forgottenTopicsData: [],
    rackId: '',
  };
  const frame = encodeRequest(ApiKeys.Fetch, version, 1, 'test', body).subarray(4);
  const req = decodeRequest(ApiKeys.Fetch, version, frame, readRequestHeader(frame).bodyOffset);
  const res = await handleFetch(ctx, version, req);
  return decodeResponse<any>(ApiKeys.Fetch, version, encodeResponse(ApiKeys.Fetch, version, 1, res).subarray(4)).body;
}

describe('Fetch v13 (topic ids, KIP-516)', () => {
  it('is advertised, and v14 is not', () => {
    expect(isAdvertised(ApiKeys.Fetch, 13)).toBe(true);
    expect(isAdvertised(ApiKeys.Fetch, 14)).toBe(false);
  });

  it('a known topic id reads the log and answers by topic id', async () => {
    const { ctx, leader } = await setup();
    const res = await fetch(ctx, 13, 2, { topicId: OLD_ID }, 0);
    expect(res.responses).toHaveLength(1);
    expect(res.responses[0].topicId).toBe(OLD_ID);
    const p = res.responses[0].partitions[0];
    expect(p.errorCode).toBe(0);
    expect(p.records.length).toBeGreaterThan(0);
    expect(leader.follower(2)?.logEndOffset).toBe(0);
  });

  it('an unknown topic id gets UNKNOWN_TOPIC_ID (100) for each partition, reads nothing and records no progress', async () => {
    const { ctx, leader } = await setup();
    const res = await fetch(ctx, 13, 2, { topicId: UNKNOWN_ID }, 1);
    expect(res.responses[0].topicId).toBe(UNKNOWN_ID);
    const p = res.responses[0].partitions[0];
    expect(p.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_ID);
    expect(p.records?.length ?? 0).toBe(0);
    expect(Number(p.highWatermark)).toBe(-1);
    expect(leader.follower(2)?.lastFetchTimeMs ?? 0).toBe(0);
  });

  it('answers each topic of a request by its own id, in request order: an unknown one does not spoil a known one', async () => {
    const { ctx } = await setup();
    const res = await fetch(ctx, 13, -1, [{ topicId: UNKNOWN_ID }, { topicId: OLD_ID }], 0);
    expect(res.responses.map((t: any) => [t.topicId, t.partitions[0].errorCode])).toEqual([[UNKNOWN_ID, ErrorCode.UNKNOWN_TOPIC_ID], [OLD_ID, 0]]);
  });

  it('a topic id whose local replica is of another incarnation gets INCONSISTENT_TOPIC_ID (103) and records no follower progress', async () => {
    // The node's metadata maps `t` to NEW_ID; its local replica still holds OLD_ID's log.
    const { rm, ctx, leader } = await setup(NEW_ID);
    for (const follower of [2, 3]) {
      const res = await fetch(ctx, 13, follower, { topicId: NEW_ID }, 1);
      expect(res.responses[0].topicId).toBe(NEW_ID);
      const p = res.responses[0].partitions[0];
      expect(p.errorCode).toBe(ErrorCode.INCONSISTENT_TOPIC_ID);
      expect(p.records?.length ?? 0).toBe(0);
      expect(leader.follower(follower)?.lastFetchTimeMs ?? 0).toBe(0);
    }
    // Both ISR followers fetched at the log end, but of another incarnation: the HW stays.
    expect(rm.get('t', 0)!.highWatermark).toBe(0);
    // The same fetches naming the local incarnation count (the check, not the set-up, held the HW).
    ctx.metadata = { image: imageWith(OLD_ID) };
    for (const follower of [2, 3]) expect((await fetch(ctx, 13, follower, { topicId: OLD_ID }, 1)).responses[0].partitions[0].errorCode).toBe(0);
    expect(rm.get('t', 0)!.highWatermark).toBe(1);
  });

  it('a fetch by name (v12) is unchanged: it reads the local replica and answers by name', async () => {
    const { ctx, leader } = await setup(NEW_ID);
    const res = await fetch(ctx, 12, 2, { topic: 't' }, 0);
    expect(res.responses[0].topic).toBe('t');
    expect(res.responses[0].partitions[0].errorCode).toBe(0);
    expect(res.responses[0].partitions[0].records.length).toBeGreaterThan(0);
    expect(leader.follower(2)?.logEndOffset).toBe(0);
  });
});
