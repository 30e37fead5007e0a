import { describe, expect, it } from 'vitest';
import { MetadataImage, MetadataImageError } from '../../../broker/controller/image.ts';
import type { MetadataRecord } from '../../../broker/controller/records.ts';

function build(records: MetadataRecord[]): MetadataImage {
  const image = new MetadataImage();
  records.forEach((r, i) => image.apply(r, i));
  return image;
}

const topic: MetadataRecord[] = [
  { type: 'RegisterBroker', brokerId: 1, incarnationId: 'a', host: 'h1', port: 1 },
  { type: 'RegisterBroker', brokerId: 2, incarnationId: 'b', host: 'h2', port: 2, rack: 'r2' },
  { type: 'UnfenceBroker', brokerId: 1 },
  { type: 'Topic', name: 't', topicId: 'id-t', numPartitions: 2, configs: { 'x': '1' } },
  { type: 'Partition', topic: 't', partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] },
  { type: 'Partition', topic: 't', partition: 1, replicas: [2, 1], isr: [2, 1], leader: 2, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] },
];

describe('MetadataImage', () => {
  it('sets a broker epoch to its registration offset and registers it fenced', () => {
    const image = build(topic);
    expect(image.broker(1)).toMatchObject({ epoch: 0, fenced: false, host: 'h1' });
    expect(image.broker(2)).toMatchObject({ epoch: 1, fenced: true, rack: 'r2' });
    expect(image.liveBrokers().map((b) => b.brokerId)).toEqual([1]);
    image.apply({ type: 'RegisterBroker', brokerId: 1, incarnationId: 'a2', host: 'h1', port: 1 }, 10);
    expect(image.broker(1)).toMatchObject({ epoch: 10, fenced: true, incarnationId: 'a2' });
  });

  it('answers topic, partition, leadership and replica queries', () => {
    const image = build(topic);
    expect(image.topicById('id-t')?.name).toBe('t');
    expect(image.topic('t')?.configs).toEqual({ x: '1' });
    expect(image.partitionsLedBy(1)).toEqual([{ topic: 't', partition: 0 }]);
    expect(image.partitionsWithReplica(2)).toEqual([{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }]);
  });

  it('bumps leaderEpoch only on a leader change and partitionEpoch on every change', () => {
    const image = build(topic);
    image.apply({ type: 'PartitionChange', topic: 't', partition: 0, isr: [1] }, 6);
    expect(image.partition('t', 0)).toMatchObject({ isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 1 });
    image.apply({ type: 'PartitionChange', topic: 't', partition: 0, leader: 2, isr: [2] }, 7);
    expect(image.partition('t', 0)).toMatchObject({ isr: [2], leader: 2, leaderEpoch: 1, partitionEpoch: 2, replicas: [1, 2] });
    image.apply({ type: 'PartitionChange', topic: 't', partition: 0, leader: 2 }, 8);
    expect(image.partition('t', 0)).toMatchObject({ leaderEpoch: 1, partitionEpoch: 3 });
  });

  it('bumps leaderEpoch once when a change removes a replica, whether or not the leader changes (seed 29)', () => {
    const image = build(topic);
    // Growing the replica set keeps the epoch; removing one bumps it (the removed replica is fenced).
    image.apply({ type: 'PartitionChange', topic: 't', partition: 0, replicas: [1, 2, 3], addingReplicas: [3] }, 6);
    expect(image.partition('t', 0)).toMatchObject({ replicas: [1, 2, 3], leaderEpoch: 0, partitionEpoch: 1 });
    image.apply({ type: 'PartitionChange', topic: 't', partition: 0, replicas: [1, 3], isr: [1, 3], addingReplicas: [] }, 7);
    expect(image.partition('t', 0)).toMatchObject({ replicas: [1, 3], leader: 1, leaderEpoch: 1, partitionEpoch: 2 });
    // A removal together with a leader change bumps once, not twice.
    image.apply({ type: 'PartitionChange', topic: 't', partition: 0, replicas: [3], isr: [3], leader: 3 }, 8);
    expect(image.partition('t', 0)).toMatchObject({ replicas: [3], leader: 3, leaderEpoch: 2, partitionEpoch: 3 });
    // A reorder (same members) keeps it.
    image.apply({ type: 'PartitionChange', topic: 't', partition: 1, replicas: [1, 2] }, 9);
    expect(image.partition('t', 1)).toMatchObject({ replicas: [1, 2], leaderEpoch: 0, partitionEpoch: 1 });
  });

  it('removes a topic with its partitions and id', () => {
    const image = build([...topic, { type: 'RemoveTopic', name: 't', topicId: 'id-t' }]);
    expect(image.topic('t')).toBeUndefined();
    expect(image.topicById('id-t')).toBeUndefined();
    expect(image.partitionsWithReplica(1)).toEqual([]);
  });

  it('refuses a RemoveTopic naming another incarnation of the topic (KIP-516)', () => {
    const image = build(topic);
    expect(() => image.apply({ type: 'RemoveTopic', name: 't', topicId: 'id-old' }, 100)).toThrow(MetadataImageError);
    expect(image.topic('t')?.topicId).toBe('id-t');
  });

  it('round-trips through a snapshot, in place', () => {
    const image = build([...topic, { type: 'PartitionChange', topic: 't', partition: 0, leader: 2, isr: [2] }, { type: 'ProducerIdsBlock', brokerId: 1, firstId: 0, size: 1000 }]);
    const copy = new MetadataImage();
    copy.apply({ type: 'Topic', name: 'gone', topicId: 'id-gone', numPartitions: 0, configs: {} }, 1);
    copy.restore(image.toSnapshot());
    expect(copy.toSnapshot()).toBe(image.toSnapshot());
    expect(copy.topic('gone')).toBeUndefined();
    expect(copy.topicById('id-t')?.name).toBe('t');
    expect(copy.broker(1)).toEqual(image.broker(1));
    expect(copy.lastOffset).toBe(image.lastOffset);
    expect(() => copy.restore('{"version":99}')).toThrow(MetadataImageError);
    expect(copy.topic('t')).toBeDefined();
  });

  it('advances nextProducerId past every block', () => {
    const image = build([
      { type: 'ProducerIdsBlock', brokerId: 1, firstId: 0, size: 1000 },
      { type: 'ProducerIdsBlock', brokerId: 2, firstId: 1000, size: 1000 },
    ]);
    expect(image.nextProducerId).toBe(2000);
  });

  it('throws on records naming unknown things, leaving the image unchanged', () => {
    const image = build(topic);
    expect(() => image.apply({ type: 'FenceBroker', brokerId: 9 }, 6)).toThrow(MetadataImageError);
    expect(() => image.apply({ type: 'PartitionChange', topic: 't', partition: 5, isr: [1] }, 6)).toThrow(MetadataImageError);
    expect(() => image.apply({ type: 'Topic', name: 't', topicId: 'x', numPartitions: 1, configs: {} }, 6)).toThrow(MetadataImageError);
    expect(image.lastOffset).toBe(5);
  });

  it('clone is independent of the original', () => {
    const image = build(topic);
    const copy = image.clone();
    copy.apply({ type: 'FenceBroker', brokerId: 1 }, 6);
    copy.apply({ type: 'PartitionChange', topic: 't', partition: 0, isr: [2] }, 7);
    expect(image.broker(1)?.fenced).toBe(false);
    expect(image.partition('t', 0)?.isr).toEqual([1, 2]);
  });
});
