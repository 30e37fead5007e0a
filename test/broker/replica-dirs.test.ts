/**
 * Partition directories and topic ids (KIP-516) in the ReplicaManager: every directory names its
 * incarnation in partition.metadata; a directory of another incarnation is never used as the
 * topic's data; strays (topic id gone, or not assigned here) are deleted by the first published
 * image, and a directory that is still assigned survives a restart untouched.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../broker/config.ts';
import { MetadataImage } from '../../broker/controller/image.ts';
import type { Logger } from '../../broker/logger.ts';
import { buildBatch } from '../../broker/protocol/records.ts';
import { PARTITION_METADATA_FILE, ReplicaManager, formatPartitionMetadata } from '../../broker/replica-manager.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const managers: ReplicaManager[] = [];
afterEach(() => {
  for (const m of managers.splice(0)) m.stop();
});

const ID_OLD = '00000000-0000-0000-0000-00000000000a';
const ID_NEW = '00000000-0000-0000-0000-00000000000b';

function manager(dataDir: string): ReplicaManager {
  const rm = new ReplicaManager({ brokerId: 1, dataDir, config: buildConfig({}), logger: quiet, isr: { alterPartition: async () => undefined } });
  managers.push(rm);
  return rm;
}

/** An image where broker 1 leads `topic` (incarnation `topicId`) partition 0 alone. */
function imageWith(topics: Array<{ name: string; topicId: string; replicas: number[] }>): MetadataImage {
  const image = new MetadataImage();
  let offset = 1;
  image.apply({ type: 'RegisterBroker', brokerId: 1, incarnationId: 'i1', host: '127.0.0.1', port: 9001 }, offset++);
  image.apply({ type: 'UnfenceBroker', brokerId: 1 }, offset++);
  for (const t of topics) {
    image.apply({ type: 'Topic', name: t.name, topicId: t.topicId, numPartitions: 1, configs: {} }, offset++);
    image.apply({ type: 'Partition', topic: t.name, partition: 0, replicas: t.replicas, isr: t.replicas, leader: t.replicas[0]!, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] }, offset++);
  }
  return image;
}

async function write(rm: ReplicaManager, topic: string, value: string): Promise<void> {
  const res = await rm.produce(topic, 0, buildBatch({ compression: 'none', records: [{ key: null, value: Buffer.from(value) }] }), 1, 1000);
  expect(res.errorCode).toBe(0);
}

describe('ReplicaManager partition directories and topic ids', () => {
  it('writes partition.metadata in Kafka format when it creates a replica, and reopens the same data after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fl-dirs-'));
    const rm = manager(dataDir);
    rm.applyImage(imageWith([{ name: 't', topicId: ID_NEW, replicas: [1] }]));
    await write(rm, 't', 'kept');
    expect(readFileSync(join(dataDir, 'partitions', 't-0', PARTITION_METADATA_FILE), 'utf8')).toBe(`version: 0\ntopic_id: ${ID_NEW}\n`);
    rm.stop();
    const again = manager(dataDir);
    again.applyImage(imageWith([{ name: 't', topicId: ID_NEW, replicas: [1] }]));
    expect(again.get('t', 0)!.log.logEndOffset).toBe(1);
  });

  it('never uses the directory of an earlier incarnation of the same name as the new topic\'s data', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fl-dirs-'));
    const rm = manager(dataDir);
    rm.applyImage(imageWith([{ name: 't', topicId: ID_OLD, replicas: [1] }]));
    await write(rm, 't', 'old');
    rm.stop();
    // While the node was down, t was deleted and re-created: the first image it sees has the new id.
    const again = manager(dataDir);
    again.applyImage(imageWith([{ name: 't', topicId: ID_NEW, replicas: [1] }]));
    expect(again.get('t', 0)!.log.logEndOffset).toBe(0);
    expect(again.get('t', 0)!.topicId).toBe(ID_NEW);
    expect(readFileSync(join(dataDir, 'partitions', 't-0', PARTITION_METADATA_FILE), 'utf8')).toContain(ID_NEW);
  });

  it('a running replica whose topic the next image shows re-created (a snapshot jumped over the delete) is replaced, not reused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fl-dirs-'));
    const rm = manager(dataDir);
    rm.applyImage(imageWith([{ name: 't', topicId: ID_OLD, replicas: [1] }]));
    await write(rm, 't', 'old');
    rm.applyImage(imageWith([{ name: 't', topicId: ID_NEW, replicas: [1] }]));
    expect(rm.get('t', 0)!.topicId).toBe(ID_NEW);
    expect(rm.get('t', 0)!.log.logEndOffset).toBe(0);
  });

  it('deletes strays on the first image (id gone, or not assigned here), adopts a directory without a file, moves an unreadable one aside', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fl-dirs-'));
    const dir = (name: string, id: string | null, text?: string) => {
      mkdirSync(join(dataDir, 'partitions', name), { recursive: true });
      if (id !== null || text !== undefined) writeFileSync(join(dataDir, 'partitions', name, PARTITION_METADATA_FILE), text ?? formatPartitionMetadata(id!));
    };
    dir('gone-0', ID_OLD);
    dir('moved-0', ID_NEW);
    dir('legacy-0', null);
    dir('bad-0', null, 'version: 7\n');
    const rm = manager(dataDir);
    rm.applyImage(imageWith([
      { name: 'moved', topicId: ID_NEW, replicas: [2] },
      { name: 'legacy', topicId: '00000000-0000-0000-0000-00000000000c', replicas: [1] },
      { name: 'bad', topicId: '00000000-0000-0000-0000-00000000000d', replicas: [1] },
    ]));
    expect(existsSync(join(dataDir, 'partitions', 'gone-0'))).toBe(false);
    expect(existsSync(join(dataDir, 'partitions', 'moved-0'))).toBe(false);
    expect(readFileSync(join(dataDir, 'partitions', 'legacy-0', PARTITION_METADATA_FILE), 'utf8')).toContain('00000000-0000-0000-0000-00000000000c');
    expect(rm.get('bad', 0)!.log.logEndOffset).toBe(0);
    expect(readFileSync(join(dataDir, 'partitions', 'bad-0', PARTITION_METADATA_FILE), 'utf8')).toContain('00000000-0000-0000-0000-00000000000d');
  });
});
