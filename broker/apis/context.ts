/** What the API handlers reach: the node's services, passed explicitly so handlers stay small and testable. */
import type { BrokerConfig } from '../config.ts';
import type { GroupCoordinator } from '../group/coordinator.ts';
import type { Logger } from '../logger.ts';
import type { MetadataService } from '../metadata-service.ts';
import type { ReplicaManager } from '../replica-manager.ts';
import type { Runtime } from '../runtime/runtime.ts';

export interface BrokerContext {
  id: number;
  clusterId: string;
  config: BrokerConfig;
  logger: Logger;
  metadata: MetadataService;
  replicas: ReplicaManager;
  groups: GroupCoordinator;
  /** The node's clock and timers (and the rest of its I/O). */
  runtime: Runtime;
  /** Hands out producer ids from blocks the controller allocates to this broker. */
  nextProducerId(): Promise<number>;
  /** Creates the internal offsets topic if it does not exist yet (bounded wait). */
  ensureOffsetsTopic(): Promise<void>;
  /** Creates a topic through the controller and waits (bounded) until this node's image has it. */
  createTopic(name: string, numPartitions: number, replicationFactor: number, configs: Record<string, string>, waitMs: number): Promise<{ errorCode: number; errorMessage: string | null }>;
}

export const OFFSETS_TOPIC = '__consumer_offsets';

/** A request body as the codec decodes it (field names in lowerCamelCase, per the Kafka schemas). */
export type Body = Record<string, any>;
