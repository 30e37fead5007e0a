/**
 * High watermarks across restarts (the replication-offset checkpoint) and KIP-207, on a real
 * ReplicaManager and log: a restarted last ISR member, re-elected with the ISR below
 * min.insync.replicas, still serves what was committed; a corrupt checkpoint starts at 0; while a
 * new leader's HW lags its epoch start, a consumer's ListOffsets answers OFFSET_NOT_AVAILABLE.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../broker/config.ts';
import { MetadataImage } from '../../broker/controller/image.ts';
import type { MetadataRecord } from '../../broker/controller/records.ts';
import type { Logger } from '../../broker/logger.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { buildBatch } from '../../broker/protocol/records.ts';
import { ReplicaManager } from '../../broker/replica-manager.ts';

const warnings: string[] = [];
const quiet: Logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {}, child: () => quiet };
const managers: ReplicaManager[] = [];
afterEach(() => {
  for (const m of managers.splice(0)) m.stop();
  warnings.length = 0;
});

/** Brokers 1-3 and topic t (id `topicId`) with partition 0 on replicas 1,2,3, led by 1 with this ISR. */
function imageOf(isr: number[], leaderEpoch = 0, topicId = '00000000-0000-0000-0000-000000000001'): MetadataImage {
  const image = new MetadataImage();
  let offset = 1;
  const apply = (r: MetadataRecord) => image.apply(r, offset++);
  for (const id of [1, 2, 3]) {
    apply({ type: 'RegisterBroker', brokerId: id, incarnationId: `i${id}`, host: '127.0.0.1', port: 9000 + id });
    apply({ type: 'UnfenceBroker', brokerId: id });
  }
  apply({ type: 'Topic', name: 't', topicId, numPartitions: 1, configs: {} });
  apply({ type: 'Partition', topic: 't', partition: 0, replicas: [1, 2, 3], isr, leader: 1, leaderEpoch, partitionEpoch: leaderEpoch, addingReplicas: [], removingReplicas: [] });
  return image;
}

/** A node 1 holding t-0 (replicas 1,2,3) with the given leader and ISR. */
function node(dataDir: string, isr: number[], leaderEpoch = 0) {
  const rm = new ReplicaManager({ brokerId: 1, dataDir, config: buildConfig({ 'min.insync.replicas': '2' }), logger: quiet, isr: { alterPartition: async () => undefined } });
  managers.push(rm);
  rm.applyImage(imageOf(isr, leaderEpoch));
  return rm;
}

const batch = (i: number) => buildBatch({ compression: 'none', producerId: -1, producerEpoch: -1, baseSequence: -1, records: [{ key: null, value: Buffer.from(`v${i}`) }] });
const follow = (rm: ReplicaManager, id: number, fetchOffset: number) =>
  rm.readPartition(id, { topic: 't', partition: 0, fetchOffset, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }, 1 << 20, true);
const latest = (rm: ReplicaManager) => rm.listOffset('t', 0, -1, -1, -1);
const consume = (rm: ReplicaManager) => rm.readPartition(-1, { topic: 't', partition: 0, fetchOffset: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }, 1 << 20, false);

/** Commits `n` records on a node leading with ISR {1,2,3}; returns its data dir. */
async function committed(n: number): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fl-hw-'));
  const rm = node(dataDir, [1, 2, 3]);
  for (let i = 0; i < n; i++) await rm.produce('t', 0, batch(i), 1, 1000);
  follow(rm, 2, n);
  follow(rm, 3, n);
  expect(rm.get('t', 0)!.highWatermark).toBe(n);
  return dataDir;
}

describe('high watermark checkpoint', () => {
  it('a restarted last ISR member re-elected below min.insync keeps serving what was committed', async () => {
    const dataDir = await committed(5);
    managers.pop()!.stop(); // clean shutdown writes the checkpoint
    expect(readFileSync(join(dataDir, 'replication-offset-checkpoint'), 'utf8')).toBe('0\n1\nt 0 5\n');
    const again = node(dataDir, [1], 1);
    expect(again.get('t', 0)!.highWatermark).toBe(5);
    expect(latest(again)).toMatchObject({ errorCode: 0, offset: 5 });
    expect(consume(again).records!.length).toBeGreaterThan(0);
  });

  // The replica manager is only given caught-up images (metadata-loader.ts), so a checkpointed entry
  // waits for the first one; until then (the metadata still catching up) it is carried, not dropped.
  it('keeps a checkpointed HW while no image has been published yet (metadata catching up)', async () => {
    const dataDir = await committed(4);
    managers.pop()!.stop();
    const rm = new ReplicaManager({ brokerId: 1, dataDir, config: buildConfig({}), logger: quiet, isr: { alterPartition: async () => undefined } });
    managers.push(rm);
    rm.checkpointHighWatermarks();
    expect(readFileSync(join(dataDir, 'replication-offset-checkpoint'), 'utf8')).toBe('0\n1\nt 0 4\n');
    managers.pop()!.stop();
    expect(node(dataDir, [1], 1).get('t', 0)!.highWatermark).toBe(4);
  });

  it('a topic deleted and re-created under its name gets its checkpoint entry rewritten at once (entries are keyed by name)', async () => {
    const dataDir = await committed(4);
    const rm = managers[managers.length - 1]!;
    rm.checkpointHighWatermarks();
    const file = join(dataDir, 'replication-offset-checkpoint');
    expect(readFileSync(file, 'utf8')).toBe('0\n1\nt 0 4\n');
    const image = imageOf([1, 2, 3], 0, '00000000-0000-0000-0000-000000000002');
    rm.applyImage(image);
    // no tick, no clean stop: a crash now must not bring back the old incarnation's HW of 4
    expect(readFileSync(file, 'utf8')).toBe('0\n1\nt 0 0\n');
  });

  it('is written once replica.high.watermark.checkpoint.interval.ms has passed', async () => {
    let now = 1_000;
    const dataDir = mkdtempSync(join(tmpdir(), 'fl-hw-'));
    const rm = new ReplicaManager({ brokerId: 1, dataDir, config: buildConfig({ 'replica.high.watermark.checkpoint.interval.ms': '5000' }), logger: quiet, isr: { alterPartition: async () => undefined }, nowMs: () => now });
    managers.push(rm);
    const file = join(dataDir, 'replication-offset-checkpoint');
    rm.tick();
    expect(() => readFileSync(file)).toThrow();
    now += 5000;
    rm.tick();
    expect(readFileSync(file, 'utf8')).toBe('0\n0\n');
  });

  it('starts at 0 with a warning when the checkpoint is corrupt', async () => {
    const dataDir = await committed(3);
    managers.pop()!.stop();
    writeFileSync(join(dataDir, 'replication-offset-checkpoint'), '0\n7\nt 0 3\n');
    const again = node(dataDir, [1], 1);
    expect(again.get('t', 0)!.highWatermark).toBe(0);
    expect(warnings.join('\n')).toMatch(/corrupt.*7 entries/);
  });

  it('never starts above the log end', async () => {
    const dataDir = await committed(2);
    managers.pop()!.stop();
    writeFileSync(join(dataDir, 'replication-offset-checkpoint'), '0\n1\nt 0 999\n');
    expect(node(dataDir, [1], 1).get('t', 0)!.highWatermark).toBe(2);
  });
});

describe('KIP-207: OFFSET_NOT_AVAILABLE while the HW lags the leader epoch start', () => {
  it('answers a consumer ListOffsets(latest) and an empty by-time lookup with OFFSET_NOT_AVAILABLE, until the HW catches up', async () => {
    const dataDir = await committed(3);
    const rm = managers.at(-1)!;
    await rm.produce('t', 0, batch(3), 1, 1000); // LEO 4, HW 3: not committed
    managers.pop()!.stop();
    // Re-elected at a new epoch: HW 3 (checkpoint) < epoch start 4 (log end).
    const again = node(dataDir, [1, 2], 1);
    expect(again.get('t', 0)!.highWatermark).toBe(3);
    expect(latest(again).errorCode).toBe(ErrorCode.OFFSET_NOT_AVAILABLE);
    expect(again.listOffset('t', 0, Date.now() + 60_000, -1, -1).errorCode).toBe(ErrorCode.OFFSET_NOT_AVAILABLE);
    // Earliest, a follower's and the debugging id's requests are not held back.
    expect(again.listOffset('t', 0, -2, -1, -1)).toMatchObject({ errorCode: 0, offset: 0 });
    expect(again.listOffset('t', 0, -1, -1, 2)).toMatchObject({ errorCode: 0, offset: 4 });
    expect(again.listOffset('t', 0, -1, -1, -2)).toMatchObject({ errorCode: 0, offset: 4 });
    follow(again, 2, 4);
    expect(latest(again)).toMatchObject({ errorCode: 0, offset: 4 });
  });
});

describe('leader answer to a follower whose last epoch it cannot place', () => {
  it('is OFFSET_OUT_OF_RANGE (as Kafka), never a DivergingEpoch of {-1,-1} that reads as "none" on the wire', async () => {
    await committed(2);
    const rm = managers.at(-1)!;
    const res = rm.readPartition(2, { topic: 't', partition: 0, fetchOffset: 2, currentLeaderEpoch: -1, lastFetchedEpoch: 5, partitionMaxBytes: 1 << 20 }, 1 << 20, true);
    expect(res.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(res.divergingEpoch).toBeNull();
  });
});
