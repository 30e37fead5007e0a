/**
 * ReplicaManager on a real log, driven by a hand-made metadata image: acks=all semantics for first
 * attempts and for idempotent retries, follower fetches advancing the high watermark, and the role
 * changes a fetcher must hear about.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../broker/config.ts';
import { MetadataImage } from '../../broker/controller/image.ts';
import type { MetadataRecord } from '../../broker/controller/records.ts';
import type { Logger } from '../../broker/logger.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { buildBatch } from '../../broker/protocol/records.ts';
import { ReplicaManager, type Replica } from '../../broker/replica-manager.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const managers: ReplicaManager[] = [];
afterEach(() => {
  for (const m of managers.splice(0)) m.stop();
});

function setup(leader = 1, opts: { start?: boolean } = {}) {
  const rm = new ReplicaManager({ brokerId: 1, dataDir: mkdtempSync(join(tmpdir(), 'fl-rm-')), config: buildConfig({ 'min.insync.replicas': '2' }), logger: quiet, isr: { alterPartition: async () => undefined } });
  managers.push(rm);
  const image = new MetadataImage();
  let offset = 1;
  const apply = (r: MetadataRecord) => image.apply(r, offset++);
  for (const id of [1, 2, 3]) {
    apply({ type: 'RegisterBroker', brokerId: id, incarnationId: `i${id}`, host: '127.0.0.1', port: 9000 + id });
    apply({ type: 'UnfenceBroker', brokerId: id });
  }
  apply({ type: 'Topic', name: 't', topicId: '00000000-0000-0000-0000-000000000001', numPartitions: 1, configs: {} });
  apply({ type: 'Partition', topic: 't', partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] });
  apply({ type: 'Topic', name: 'solo', topicId: '00000000-0000-0000-0000-000000000002', numPartitions: 1, configs: { 'min.insync.replicas': '1' } });
  apply({ type: 'Partition', topic: 'solo', partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] });
  const changed: Replica[][] = [];
  rm.onFollowersChanged((c) => changed.push(c));
  rm.applyImage(image);
  if (opts.start !== false) rm.start();
  return { rm, image, apply, changed };
}

const batch = (seq = 0) => buildBatch({ compression: 'none', producerId: 7, producerEpoch: 0, baseSequence: seq, records: [{ key: null, value: Buffer.from(`v${seq}`) }] });
const follow = (rm: ReplicaManager, id: number, fetchOffset: number) =>
  rm.readPartition(id, { topic: 't', partition: 0, fetchOffset, currentLeaderEpoch: 0, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }, 1 << 20, true);

describe('ReplicaManager', () => {
  it('acks=all waits for the high watermark; a timed-out first attempt reports REQUEST_TIMED_OUT', async () => {
    const { rm } = setup();
    const first = await rm.produce('t', 0, batch(), -1, 100);
    expect(first.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    expect(rm.get('t', 0)!.highWatermark).toBe(0);
  });

  it('an idempotent retry of an appended but unreplicated batch is not acknowledged before replication', async () => {
    const { rm } = setup();
    await rm.produce('t', 0, batch(), -1, 50);
    // The retry is a duplicate (same producer, epoch, sequence): it must wait like the first attempt.
    const early = await rm.produce('t', 0, batch(), -1, 100);
    expect(early.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    const retry = rm.produce('t', 0, batch(), -1, 5000);
    follow(rm, 2, 1);
    follow(rm, 3, 1);
    const done = await retry;
    expect(done.errorCode).toBe(0);
    expect(done.baseOffset).toBe(0);
    expect(rm.get('t', 0)!.log.logEndOffset).toBe(1); // appended once
    // With acks=1 the duplicate is answered at once.
    expect((await rm.produce('t', 0, batch(), 1, 100)).errorCode).toBe(0);
  });

  it('follower fetches at the log end advance the high watermark (min over the ISR) and release acks=all', async () => {
    const { rm } = setup();
    const pending = rm.produce('t', 0, batch(), -1, 5000);
    expect(follow(rm, 2, 0).records!.length).toBeGreaterThan(0);
    follow(rm, 2, 1);
    expect(rm.get('t', 0)!.highWatermark).toBe(0); // broker 3, in the ISR, has not fetched
    follow(rm, 3, 1);
    expect((await pending).errorCode).toBe(0);
    expect(rm.get('t', 0)!.highWatermark).toBe(1);
  });

  it('acks=all answers as soon as the high watermark passes, without the periodic tick: at once for a leader-only ISR, and every parked request on the fetch that completes the ISR', async () => {
    const { rm } = setup(1, { start: false });
    const plain = () => buildBatch({ compression: 'none', records: [{ key: null, value: Buffer.from('x') }] });
    // The ISR is the leader alone: its own append is the high watermark.
    const solo = await rm.produce('solo', 0, plain(), -1, 60_000);
    expect(solo.errorCode).toBe(0);
    expect(rm.get('solo', 0)!.highWatermark).toBe(1);
    const parked = [rm.produce('t', 0, plain(), -1, 60_000), rm.produce('t', 0, plain(), -1, 60_000), rm.produce('t', 0, plain(), -1, 60_000)];
    follow(rm, 2, 3);
    follow(rm, 3, 3);
    expect((await Promise.all(parked)).map((r) => [r.errorCode, r.baseOffset])).toEqual([[0, 0], [0, 1], [0, 2]]);
  });

  it('tells the fetcher about a follower promoted to leader, so it leaves the old leader loop', () => {
    const { rm, apply, image, changed } = setup(2);
    expect(rm.get('t', 0)!.role).toBe('follower');
    changed.length = 0;
    apply({ type: 'PartitionChange', topic: 't', partition: 0, leader: 1 });
    rm.applyImage(image);
    expect(rm.get('t', 0)!.role).toBe('leader');
    expect(changed.flat().map((r) => `${r.topic}-${r.partition}`)).toEqual(['t-0']);
  });
});
