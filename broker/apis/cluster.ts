/**
 * Cluster-level APIs answered from the committed metadata image: Metadata (with automatic topic
 * creation), CreateTopics, DeleteTopics (through the controller), InitProducerId.
 * Version notes: Metadata v0 reads an empty topic list as "all topics", v1+ reads null as all and an
 * empty list as none; v4+ lets the client forbid auto-creation; v5+ lists offline replicas (replicas
 * on fenced brokers); v7+ leader epochs; v8 authorized operations (no ACLs here: everything allowed);
 * v9 is flexible; v10 answers each topic's id (KIP-516, for Fetch v13) and refuses a topic asked by id
 * only (a null name: that is v12's) with INVALID_REQUEST (name '', since v10-11 answers carry no null name).
 * CreateTopics v1+ honours validateOnly; manual replica assignments are refused with
 * INVALID_REPLICA_ASSIGNMENT (placement is always the controller's). Transactions are not supported:
 * InitProducerId with a transactional id is refused.
 */
import { isValidTopicName } from '../controller/controller.ts';
import { validateTopicConfigs } from '../config.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { ZERO_UUID } from '../protocol/codec.ts';
import { OFFSETS_TOPIC, type Body, type BrokerContext } from './context.ts';

/** Kafka's ALL operations bitfield for topics/cluster when no authorizer is configured (ops 2..14). */
const ALL_TOPIC_OPS = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 11);
const ALL_CLUSTER_OPS = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 13) | (1 << 14);
const OMITTED = -2147483648;

export async function handleMetadata(ctx: BrokerContext, version: number, req: Body): Promise<Body> {
  const image = ctx.metadata.image;
  let names: string[];
  const requested = req.topics as Body[] | null;
  // v10+ may name a topic by id only (a null name); asking by id is a v12 feature, as in Kafka, so
  // such an entry is refused here (INVALID_REQUEST, name '') rather than answered by name.
  const byIdOnly = (requested ?? []).filter((t) => t.name === null || t.name === undefined);
  if (requested === null || (version === 0 && requested.length === 0)) names = image.topicNames();
  else names = requested.filter((t) => typeof t.name === 'string').map((t) => t.name as string);
  const allowAuto = ctx.config['auto.create.topics.enable'] && (version < 4 || req.allowAutoTopicCreation !== false);
  const missing = names.filter((n) => !image.topic(n) && isValidTopicName(n) && n !== OFFSETS_TOPIC);
  if (allowAuto && missing.length > 0) {
    await Promise.all(missing.map((n) => ctx.createTopic(n, -1, -1, {}, 1000).catch(() => undefined)));
  }
  const fresh = ctx.metadata.image;
  const brokers = fresh.liveBrokers();
  const topics = names.map((name) => {
    const t = fresh.topic(name);
    if (!t) {
      const errorCode = !isValidTopicName(name) ? ErrorCode.INVALID_TOPIC_EXCEPTION : allowAuto ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      return { errorCode, name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: OMITTED };
    }
    return {
      errorCode: 0,
      name,
      // v10+ (KIP-516): the incarnation, so a client can fetch by id (Fetch v13)
      topicId: t.topicId,
      isInternal: name === OFFSETS_TOPIC,
      partitions: t.partitions.map((p, i) => ({
        errorCode: p.leader >= 0 ? 0 : ErrorCode.LEADER_NOT_AVAILABLE,
        partitionIndex: i,
        leaderId: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicaNodes: [...p.replicas],
        isrNodes: [...p.isr],
        offlineReplicas: p.replicas.filter((r) => !fresh.isUnfenced(r)),
      })),
      topicAuthorizedOperations: version >= 8 && req.includeTopicAuthorizedOperations ? ALL_TOPIC_OPS : OMITTED,
    };
  });
  return {
    throttleTimeMs: 0,
    brokers: brokers.map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack ?? null })),
    clusterId: ctx.clusterId,
    controllerId: ctx.metadata.controllerId(),
    topics: [...topics, ...byIdOnly.map((t) => ({ errorCode: ErrorCode.INVALID_REQUEST, name: '', topicId: t.topicId ?? ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: OMITTED }))],
    clusterAuthorizedOperations: version >= 8 && req.includeClusterAuthorizedOperations ? ALL_CLUSTER_OPS : OMITTED,
  };
}

export async function handleCreateTopics(ctx: BrokerContext, version: number, req: Body): Promise<Body> {
  const timeoutMs = Math.max(0, Math.min(Number(req.timeoutMs), 60_000));
  const seen = new Set<string>();
  const topics = await Promise.all(
    (req.topics as Body[]).map(async (t) => {
      const name = t.name as string;
      const fail = (errorCode: number, errorMessage: string) => ({ name, errorCode, errorMessage });
      if (seen.has(name)) return fail(ErrorCode.INVALID_REQUEST, `topic '${name}' appears twice in the request`);
      seen.add(name);
      if (!isValidTopicName(name)) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `'${name}' is not a valid topic name: use 1-249 of [a-zA-Z0-9._-]`);
      if ((t.assignments as Body[]).length > 0) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'manual replica assignment is not supported; give numPartitions and replicationFactor');
      const configs: Record<string, string> = {};
      for (const c of t.configs as Body[]) if (c.value !== null) configs[c.name] = c.value;
      const bad = validateTopicConfigs(configs);
      if (bad) return fail(ErrorCode.INVALID_CONFIG, bad);
      const numPartitions = Number(t.numPartitions);
      const rf = Number(t.replicationFactor);
      // -1 means the broker default; Kafka's server accepts it in every version (only its Java client refuses it below v4).
      if (numPartitions === 0 || numPartitions < -1) return fail(ErrorCode.INVALID_PARTITIONS, 'numPartitions must be positive or -1 for the default');
      if (rf === 0 || rf < -1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'replicationFactor must be positive or -1 for the default');
      if (version >= 1 && req.validateOnly) {
        if (ctx.metadata.image.topic(name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`);
        const live = ctx.metadata.image.liveBrokers().length;
        const effectiveRf = rf === -1 ? ctx.config['default.replication.factor'] : rf;
        if (effectiveRf > live) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${effectiveRf} is larger than the ${live} available brokers`);
        return { name, errorCode: 0, errorMessage: null };
      }
      return { name, ...(await ctx.createTopic(name, numPartitions, rf, configs, timeoutMs)) };
    }),
  );
  return { throttleTimeMs: 0, topics };
}

export async function handleDeleteTopics(ctx: BrokerContext, version: number, req: Body): Promise<Body> {
  const names = req.topicNames as string[];
  if (!ctx.config['delete.topic.enable']) {
    return { throttleTimeMs: 0, responses: names.map((name) => ({ name, errorCode: ErrorCode.TOPIC_DELETION_DISABLED })) };
  }
  try {
    const reply = (await ctx.metadata.call('deleteTopics', names, Math.max(1000, Number(req.timeoutMs)))) as Array<{ name: string; errorCode: string }>;
    return { throttleTimeMs: 0, responses: reply.map((r) => ({ name: r.name, errorCode: ErrorCode[r.errorCode as keyof typeof ErrorCode] ?? ErrorCode.UNKNOWN_SERVER_ERROR })) };
  } catch {
    return { throttleTimeMs: 0, responses: names.map((name) => ({ name, errorCode: ErrorCode.REQUEST_TIMED_OUT })) };
  }
}

export async function handleInitProducerId(ctx: BrokerContext, _version: number, req: Body): Promise<Body> {
  if (req.transactionalId !== null && req.transactionalId !== undefined) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
  }
  try {
    return { throttleTimeMs: 0, errorCode: 0, producerId: await ctx.nextProducerId(), producerEpoch: 0 };
  } catch {
    return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, producerId: -1, producerEpoch: -1 };
  }
}
