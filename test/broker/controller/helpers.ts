/**
 * Test helpers: a MetadataImage plus Controller whose decisions are committed at once (a
 * single-node metadata log), with brokers 1..n registered and unfenced and a clock in ms.
 */
import { Controller } from '../../../broker/controller/controller.ts';
import type { ControllerConfig, Decision } from '../../../broker/controller/controller.ts';
import { MetadataImage } from '../../../broker/controller/image.ts';
import type { PartitionState } from '../../../broker/controller/image.ts';

export const baseConfig: ControllerConfig = {
  sessionTimeoutMs: 1000,
  minInsyncReplicas: 2,
  defaultReplicationFactor: 3,
  numPartitions: 1,
  uncleanLeaderElection: false,
  autoLeaderRebalance: false,
  leaderImbalanceCheckIntervalMs: 5000,
};

export interface TestCluster {
  image: MetadataImage;
  controller: Controller;
  epochs: Map<number, number>;
  /** Applies a decision's records and returns its reply. */
  commit<R>(d: Decision<R>): R;
  register(brokerId: number, incarnation: string, nowMs: number): number;
  unfence(brokerId: number, nowMs: number): void;
  partition(topic: string, partition: number): PartitionState;
}

export function makeCluster(brokerCount: number, config: Partial<ControllerConfig> = {}): TestCluster {
  const image = new MetadataImage();
  let ids = 0;
  const controller = new Controller({
    config: { ...baseConfig, ...config },
    image,
    newTopicId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
  });
  const epochs = new Map<number, number>();
  const t: TestCluster = {
    image,
    controller,
    epochs,
    commit(d) {
      const base = image.lastOffset + 1;
      d.records.forEach((r, i) => image.apply(JSON.parse(JSON.stringify(r)), base + i));
      return d.reply;
    },
    register(brokerId, incarnation, nowMs) {
      const base = image.lastOffset + 1;
      const reply = t.commit(controller.registerBroker({ brokerId, incarnationId: incarnation, host: 'h', port: 9000 + brokerId }, nowMs));
      const epoch = base + reply.registerRecordIndex;
      epochs.set(brokerId, epoch);
      return epoch;
    },
    unfence(brokerId, nowMs) {
      const epoch = epochs.get(brokerId) ?? -1;
      const reply = t.commit(controller.heartbeat({ brokerId, brokerEpoch: epoch, currentMetadataOffset: image.lastOffset, wantShutDown: false }, nowMs));
      if (reply.isFenced) throw new Error(`broker ${brokerId} still fenced`);
    },
    partition(topic, partition) {
      const p = image.partition(topic, partition);
      if (p === undefined) throw new Error(`no partition ${topic}-${partition}`);
      return p;
    },
  };
  controller.activate(0);
  for (let id = 1; id <= brokerCount; id++) {
    t.register(id, `inc-${id}`, 0);
    t.unfence(id, 0);
  }
  return t;
}
