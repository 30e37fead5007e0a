/**
 * `kafkaAdmin(addresses)`: the cluster operations the `reassign` and `membership` faults carry out, over
 * the Kafka admin APIs, so they work against any Kafka-compatible cluster that implements them (our
 * broker forwards each to the active controller, as Kafka brokers do since KIP-590):
 * - `describe(topics)`: Metadata v8 (null = every topic): live broker ids, and each partition's leader,
 *   replicas and ISR as the answering node sees them;
 * - `reassign(topic, partition, replicas)`: AlterPartitionReassignments v0 (KIP-455);
 * - `reassignments()`: ListPartitionReassignments v0, the controller's reassignments in progress;
 * - `electPreferred(topic, partition)`: ElectLeaders v1, type preferred (ELECTION_NOT_NEEDED is success);
 * - `unregisterBroker(id)`: UnregisterBroker v0, the last step of a decommission.
 *
 * Spec: never hangs and never keeps a connection. Each call asks the nodes one after the other (starting
 * from the next one each call, so a dead node does not always go first) until one answers: a node that
 * cannot be reached, times out (`timeoutMs` each, default 5000) or answers a retriable error (the
 * controller unreachable from it) passes the call to the next; a definite refusal (an invalid
 * assignment, an unknown broker) rejects at once. When every node failed, the call rejects with an
 * AdminError naming each node's failure.
 */
import { KafkaConnection } from '../../broker/client.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { errorName } from '../../broker/protocol/errors.ts';

export class AdminError extends Error {
  readonly code = 'FAULTLINE_ADMIN';
  /** the Kafka error name, when a node answered with one */
  readonly kafkaError: string | null;
  constructor(message: string, kafkaError: string | null = null) {
    super(message);
    this.name = 'AdminError';
    this.kafkaError = kafkaError;
  }
}

export interface PartitionInfo {
  topic: string;
  partition: number;
  /** -1 when leaderless */
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface ClusterDescription {
  /** the node that answered */
  from: string;
  /** live broker ids, ascending */
  brokers: number[];
  partitions: PartitionInfo[];
}

export interface Reassigning {
  topic: string;
  partition: number;
  replicas: number[];
  adding: number[];
  removing: number[];
}

/** What the cluster-operation faults need of the cluster (tests substitute fakes). */
export interface ClusterAdmin {
  describe(topics: readonly string[] | null): Promise<ClusterDescription>;
  reassign(topic: string, partition: number, replicas: readonly number[]): Promise<void>;
  reassignments(): Promise<Reassigning[]>;
  electPreferred(topic: string, partition: number): Promise<void>;
  unregisterBroker(brokerId: number): Promise<void>;
}

/** Errors that say "this node could not do it now", so another node (or a later try) may. */
const retriable: ReadonlySet<string> = new Set(['REQUEST_TIMED_OUT', 'NOT_CONTROLLER', 'COORDINATOR_NOT_AVAILABLE', 'UNKNOWN_SERVER_ERROR', 'LEADER_NOT_AVAILABLE']);

class Refused extends AdminError {}

function check(errorCode: number, what: string, message?: string | null): void {
  if (errorCode === 0) return;
  const name = errorName(errorCode);
  const text = `${what}: ${name}${message !== undefined && message !== null && message !== name ? ` (${message})` : ''}`;
  if (retriable.has(name)) throw new AdminError(text, name);
  throw new Refused(text, name);
}

export function kafkaAdmin(addresses: () => readonly string[], opts: { timeoutMs?: number } = {}): ClusterAdmin {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  let next = 0;
  const ask = async <T>(what: string, f: (conn: KafkaConnection, address: string) => Promise<T>): Promise<T> => {
    const all = addresses();
    if (all.length === 0) throw new AdminError(`${what}: no nodes to ask`);
    const failures: string[] = [];
    const start = next++ % all.length;
    for (let i = 0; i < all.length; i++) {
      const address = all[(start + i) % all.length]!;
      const colon = address.lastIndexOf(':');
      let conn: KafkaConnection | null = null;
      try {
        conn = await KafkaConnection.connect(address.slice(0, colon), Number(address.slice(colon + 1)), { clientId: 'faultline-nemesis', connectTimeoutMs: timeoutMs });
        return await f(conn, address);
      } catch (err) {
        if (err instanceof Refused) throw err;
        failures.push(`${address}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        conn?.close();
      }
    }
    throw new AdminError(`${what}: no node could do it (${failures.join('; ')})`);
  };
  return {
    describe: (topics) =>
      ask('Metadata', async (conn, from) => {
        const md = await conn.request(ApiKeys.Metadata, 8, { topics: topics === null ? null : topics.map((name) => ({ name })), allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, timeoutMs);
        const partitions: PartitionInfo[] = [];
        for (const t of md.topics as Array<{ name: string; errorCode: number; partitions: Array<{ partitionIndex: number; leaderId: number; replicaNodes: number[]; isrNodes: number[] }> }>) {
          if (t.errorCode !== 0) continue;
          for (const p of t.partitions) partitions.push({ topic: t.name, partition: p.partitionIndex, leader: p.leaderId, replicas: [...p.replicaNodes], isr: [...p.isrNodes] });
        }
        partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
        return { from, brokers: (md.brokers as Array<{ nodeId: number }>).map((b) => b.nodeId).sort((a, b) => a - b), partitions };
      }),
    reassign: (topic, partition, replicas) =>
      ask(`AlterPartitionReassignments ${topic}-${partition} -> [${replicas.join(',')}]`, async (conn) => {
        const what = `reassignment of ${topic}-${partition} to [${replicas.join(',')}]`;
        const res = await conn.request(ApiKeys.AlterPartitionReassignments, 0, { timeoutMs, topics: [{ name: topic, partitions: [{ partitionIndex: partition, replicas: [...replicas] }] }] }, timeoutMs + 1_000);
        check(res.errorCode, what, res.errorMessage);
        const p = res.responses?.[0]?.partitions?.[0];
        if (p === undefined) throw new AdminError(`${what}: no answer for the partition`);
        check(p.errorCode, what, p.errorMessage);
      }),
    reassignments: () =>
      ask('ListPartitionReassignments', async (conn) => {
        const res = await conn.request(ApiKeys.ListPartitionReassignments, 0, { timeoutMs, topics: null }, timeoutMs + 1_000);
        check(res.errorCode, 'listing reassignments', res.errorMessage);
        return (res.topics as Array<{ name: string; partitions: Array<{ partitionIndex: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }> }>).flatMap((t) =>
          t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, replicas: [...p.replicas], adding: [...p.addingReplicas], removing: [...p.removingReplicas] })),
        );
      }),
    electPreferred: (topic, partition) =>
      ask(`ElectLeaders ${topic}-${partition}`, async (conn) => {
        const res = await conn.request(ApiKeys.ElectLeaders, 1, { electionType: 0, topicPartitions: [{ topic, partitions: [partition] }], timeoutMs }, timeoutMs + 1_000);
        check(res.errorCode, `preferred election of ${topic}-${partition}`);
        const p = res.replicaElectionResults?.[0]?.partitionResult?.[0];
        if (p !== undefined && errorName(p.errorCode) !== 'ELECTION_NOT_NEEDED') check(p.errorCode, `preferred election of ${topic}-${partition}`, p.errorMessage);
      }),
    unregisterBroker: (brokerId) =>
      ask(`UnregisterBroker ${brokerId}`, async (conn) => {
        const res = await conn.request(ApiKeys.UnregisterBroker, 0, { brokerId }, timeoutMs + 1_000);
        check(res.errorCode, `unregistering broker ${brokerId}`, res.errorMessage);
      }),
  };
}
