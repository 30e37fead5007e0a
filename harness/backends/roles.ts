/**
 * `fetchRoles(bootstrap, topics?)`: who is controller and who leads each partition, as the cluster's own
 * Metadata answers say (controller id, and leader, replicas and ISR per partition), asked over one
 * connection of the project's own client to the first node of `bootstrap` that answers. No other node
 * is contacted: a general client (kafkajs) moves on to brokers named in the answer, so asking "node n2"
 * could really ask a paused n1, time out, and make the majority below lose n2's answer.
 *
 * Spec: never hangs. Connection and request timeouts are short, there are no retries, and the whole
 * call is raced against `timeoutMs` (default 4000); on timeout or error it rejects with a RolesError.
 * The connection is always closed. Keys are "<topic>-<partition>" as in history.jsonl.
 *
 * `fetchRolesByMajority(addresses, topics?)` asks every node on its own (in parallel, same bounds) and
 * keeps, per field, the answer most nodes give: a node cut off by a partition still believes in the old
 * controller and leaders, and must not decide whom the nemesis hits next. Ties go to the smaller id
 * (deterministic). It resolves once a majority of the nodes answered (or all settled), so a paused node
 * does not hold every nemesis round up to the timeout. Rejects only when no node answers.
 *
 * Who is controller (`controllerVia`, from the system definition's `roles.controller`):
 * - `metadata` (default): Metadata's controller id. Right for Faultline's broker, whose Metadata names
 *   the Raft leader; wrong for Apache Kafka in KRaft mode, whose Metadata names a random broker.
 * - `describe-quorum`: DescribeQuorum v0 on `__cluster_metadata`-0 (`describeQuorumLeader`): the leader
 *   answers with itself; a non-leader controller answers NOT_LEADER_OR_FOLLOWER with the leader it knows
 *   (Faultline), a Kafka broker forwards to the active controller. Each node's answer is the leader it
 *   names, and the plurality over nodes decides as above. A node that does not answer DescribeQuorum
 *   (or does not advertise v0 of it) contributes no controller; its partition leaders still count.
 */
import { KafkaConnection } from '../../broker/client.ts';
import { ApiKeys, ZERO_UUID } from '../../broker/protocol/codec.ts';
import type { Roles } from '../backend.ts';
import { withDeadline } from '../util/time.ts';

export class RolesError extends Error {
  readonly code = 'FAULTLINE_ROLES';
  constructor(message: string) {
    super(message);
    this.name = 'RolesError';
  }
}

/** How the active controller is found (system definition `roles.controller`; see the module docstring). */
export type ControllerDiscovery = 'metadata' | 'describe-quorum';

export interface FetchRolesOptions {
  timeoutMs?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** default 'metadata' */
  controllerVia?: ControllerDiscovery;
}

const METADATA_TOPIC = '__cluster_metadata';

export interface QuorumAnswer {
  /** 0 when the node answering is the leader; NOT_LEADER_OR_FOLLOWER (6) when it only names one */
  errorCode: number;
  /** the leader the node names, or -1 */
  leaderId: number;
  leaderEpoch: number;
}

/** Splits `host:port` (IPv6 hosts in brackets). */
function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new RolesError(`bad address ${JSON.stringify(address)} (want host:port)`);
  return { host, port };
}

/**
 * Asks one node (`host:port`) who leads the metadata quorum: ApiVersions v0 first (a node that does not
 * advertise DescribeQuorum v0 gets a RolesError saying so), then DescribeQuorum v0. Bounded by
 * `timeoutMs` for connect and each request; the connection is always closed.
 */
export async function describeQuorumLeader(address: string, timeoutMs = 2_000): Promise<QuorumAnswer> {
  const { host, port } = parseAddress(address);
  const conn = await KafkaConnection.connect(host, port, { clientId: 'faultline-roles', connectTimeoutMs: timeoutMs });
  try {
    const versions = (await conn.request(ApiKeys.ApiVersions, 0, {}, timeoutMs)) as { errorCode: number; apiKeys: Array<{ apiKey: number; minVersion: number; maxVersion: number }> };
    const dq = versions.apiKeys.find((k) => k.apiKey === ApiKeys.DescribeQuorum);
    if (dq === undefined || dq.minVersion > 0) throw new RolesError(`${address} does not offer DescribeQuorum v0; use "roles": { "controller": "metadata" } for this system`);
    const res = (await conn.request(ApiKeys.DescribeQuorum, 0, { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }] }, timeoutMs)) as {
      errorCode: number;
      topics: Array<{ topicName: string; partitions: Array<{ partitionIndex: number; errorCode: number; leaderId: number; leaderEpoch: number }> }>;
    };
    const p = res.topics.find((t) => t.topicName === METADATA_TOPIC)?.partitions.find((x) => x.partitionIndex === 0);
    if (res.errorCode !== 0 || p === undefined) throw new RolesError(`${address}: DescribeQuorum failed (error ${res.errorCode !== 0 ? res.errorCode : 'no __cluster_metadata-0 in the answer'})`);
    return { errorCode: p.errorCode, leaderId: p.errorCode === 0 || p.errorCode === 6 ? p.leaderId : -1, leaderEpoch: p.leaderEpoch };
  } finally {
    conn.close();
  }
}

/** The controller as `bootstrap`'s nodes name it through DescribeQuorum: the first node's answer that names one, else null. */
async function quorumController(bootstrap: string[], timeoutMs: number): Promise<number | null> {
  for (const a of bootstrap) {
    try {
      const q = await describeQuorumLeader(a, timeoutMs);
      if (q.leaderId >= 0) return q.leaderId;
    } catch {
      // next address; none answering means the controller is unknown
    }
  }
  return null;
}

interface PartitionMetadataLike {
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Pure: the Roles record from metadata answers. */
export function rolesFromMetadata(
  controller: number | null | undefined,
  topics: Array<{ name: string; partitions: PartitionMetadataLike[] }>,
): Roles {
  const roles: Roles = { controller: typeof controller === 'number' && controller >= 0 ? controller : null, leaders: {}, replicas: {} };
  for (const t of topics) {
    for (const p of t.partitions) {
      const key = `${t.name}-${p.partitionId}`;
      roles.leaders[key] = typeof p.leader === 'number' ? p.leader : -1;
      roles.replicas[key] = { replicas: [...(p.replicas ?? [])], isr: [...(p.isr ?? [])] };
    }
  }
  return roles;
}

function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return withDeadline(p, timeoutMs, what, (m) => new RolesError(m));
}

/** Metadata versions this asks with: v1 is the first with a controller id, v12 the codec's newest. */
const METADATA_MIN_VERSION = 1;
const METADATA_MAX_VERSION = 12;

interface MetadataAnswer {
  controllerId?: number;
  topics: Array<{ name: string | null; partitions: Array<{ partitionIndex: number; leaderId: number; replicaNodes: number[]; isrNodes: number[] }> }>;
}

/**
 * One node's own Metadata answer: ApiVersions v0, then Metadata at the newest version both sides speak.
 * Only `address` is ever contacted (a general client such as kafkajs moves on to brokers named in the
 * answer, so "ask each node" would silently ask another). Each step is bounded by its timeout.
 */
async function metadataOf(address: string, topics: string[] | undefined, connectTimeoutMs: number, requestTimeoutMs: number): Promise<MetadataAnswer> {
  const { host, port } = parseAddress(address);
  const conn = await KafkaConnection.connect(host, port, { clientId: 'faultline-roles', connectTimeoutMs });
  try {
    const versions = (await conn.request(ApiKeys.ApiVersions, 0, {}, requestTimeoutMs)) as { apiKeys: Array<{ apiKey: number; minVersion: number; maxVersion: number }> };
    const md = versions.apiKeys.find((k) => k.apiKey === ApiKeys.Metadata);
    const version = md === undefined ? -1 : Math.min(md.maxVersion, METADATA_MAX_VERSION);
    if (md === undefined || version < Math.max(md.minVersion, METADATA_MIN_VERSION)) throw new RolesError(`${address} does not offer Metadata v${METADATA_MIN_VERSION}..v${METADATA_MAX_VERSION}`);
    const request = {
      topics: topics === undefined ? null : topics.map((name) => ({ name, topicId: ZERO_UUID })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    };
    return (await conn.request(ApiKeys.Metadata, version, request, requestTimeoutMs)) as MetadataAnswer;
  } finally {
    conn.close();
  }
}

/**
 * Roles as the first of `bootstrap`'s nodes that answers says (tried in order; no other node is asked).
 * Topics the node does not know are left out; `topics` undefined asks for every topic, `[]` for none.
 */
export async function fetchRoles(bootstrap: string[], topics?: string[], opts: FetchRolesOptions = {}): Promise<Roles> {
  if (bootstrap.length === 0) throw new RolesError('fetchRoles needs at least one bootstrap address');
  const timeoutMs = opts.timeoutMs ?? 4_000;
  const connectTimeoutMs = opts.connectionTimeoutMs ?? 1_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 2_000;
  const work = (async () => {
    const errors: string[] = [];
    for (const address of bootstrap) {
      let answer: MetadataAnswer;
      try {
        answer = await metadataOf(address, topics, connectTimeoutMs, requestTimeoutMs);
      } catch (err) {
        errors.push(`${address}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      const known = answer.topics.filter((t) => t.name !== null && (topics === undefined || topics.includes(t.name)) && t.partitions.length > 0);
      const controller = opts.controllerVia === 'describe-quorum' ? await quorumController([address], requestTimeoutMs) : answer.controllerId;
      return rolesFromMetadata(
        controller,
        known.map((t) => ({ name: t.name!, partitions: t.partitions.map((p) => ({ partitionId: p.partitionIndex, leader: p.leaderId, replicas: p.replicaNodes, isr: p.isrNodes })) })),
      );
    }
    throw new RolesError(errors.join('; '));
  })();
  work.catch(() => {}); // a late rejection after the timeout is not unhandled
  try {
    return await withTimeout(work, timeoutMs, `fetching roles from ${bootstrap.join(',')}`);
  } catch (err) {
    throw new RolesError(`fetching roles from ${bootstrap.join(',')}: ${err instanceof Error ? err.message.replace(/^fetching roles from \S+: /, '') : String(err)}`);
  }
}

function plurality(values: number[]): number | null {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | null = null;
  let bestCount = 0;
  for (const [v, c] of [...counts].sort((a, b) => a[0] - b[0])) {
    if (c > bestCount) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

/** Pure: combine per-node answers, field by field, by plurality (see the module docstring). */
export function combineRoles(answers: readonly Roles[]): Roles {
  const controllers = answers.map((a) => a.controller).filter((c): c is number => c !== null);
  const out: Roles = { controller: plurality(controllers), leaders: {}, replicas: {} };
  const keys = [...new Set(answers.flatMap((a) => Object.keys(a.leaders)))].sort();
  for (const k of keys) {
    const leader = plurality(answers.flatMap((a) => (k in a.leaders ? [a.leaders[k]!] : [])));
    out.leaders[k] = leader ?? -1;
    // replicas and ISR from an answer that agrees with the chosen leader
    const agreeing = answers.find((a) => a.leaders[k] === leader && a.replicas[k] !== undefined) ?? answers.find((a) => a.replicas[k] !== undefined);
    if (agreeing !== undefined) out.replicas[k] = structuredClone(agreeing.replicas[k]!);
  }
  return out;
}

export async function fetchRolesByMajority(addresses: string[], topics?: string[], opts: FetchRolesOptions = {}): Promise<Roles> {
  if (addresses.length === 0) throw new RolesError('fetchRolesByMajority needs at least one address');
  const majority = Math.floor(addresses.length / 2) + 1;
  const answers: Roles[] = [];
  const errors: string[] = [];
  // resolve as soon as a majority answered (a paused node must not hold up every round), else when all settled
  return new Promise<Roles>((resolve, reject) => {
    let settled = 0;
    let done = false;
    const check = (): void => {
      if (done) return;
      if (answers.length >= majority || settled === addresses.length) {
        done = true;
        if (answers.length === 0) reject(new RolesError(`no node answered metadata (${addresses.join(',')}): ${errors[0] ?? 'unknown error'}`));
        else resolve(combineRoles(answers));
      }
    };
    for (const a of addresses) {
      fetchRoles([a], topics, opts).then(
        (r) => {
          settled++;
          answers.push(r);
          check();
        },
        (err: unknown) => {
          settled++;
          errors.push(err instanceof Error ? err.message : String(err));
          check();
        },
      );
    }
  });
}
