/**
 * Consumer group APIs, delegated to the GroupCoordinator of the node that leads the group's
 * `__consumer_offsets` partition (FindCoordinator names it).
 * Version notes: JoinGroup v0 has no rebalance timeout (the session timeout is used); v4+ hands a new
 * member its id with MEMBER_ID_REQUIRED first; v5 carries group.instance.id, which is recorded and
 * reported but not given static-membership semantics. LeaveGroup v3 leaves a batch of members.
 * OffsetCommit v0 is a commit outside any generation; v2-4 retention times are accepted and ignored
 * (committed offsets do not expire here). OffsetFetch v2+ returns all of a group's offsets for a null
 * topic list. FindCoordinator with key type 1 (transactions) gets COORDINATOR_NOT_AVAILABLE:
 * transactions are not supported.
 */
import { ErrorCode } from '../protocol/errors.ts';
import { OFFSETS_TOPIC, type Body, type BrokerContext } from './context.ts';

const GROUP_OPS = (1 << 3) | (1 << 6) | (1 << 8);
const OMITTED = -2147483648;

export async function handleFindCoordinator(ctx: BrokerContext, version: number, req: Body): Promise<Body> {
  const fail = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, errorCode, errorMessage, nodeId: -1, host: '', port: -1 });
  if (version >= 1 && req.keyType !== 0) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'transactions are not supported by this broker');
  try {
    await ctx.ensureOffsetsTopic();
  } catch (err) {
    return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `offsets topic unavailable: ${(err as Error).message}`);
  }
  const p = ctx.groups.partitionFor(req.key);
  const state = ctx.metadata.image.partition(OFFSETS_TOPIC, p);
  const broker = state && state.leader >= 0 ? ctx.metadata.image.broker(state.leader) : undefined;
  if (!broker) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `no leader for ${OFFSETS_TOPIC}-${p}`);
  return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: broker.brokerId, host: broker.host, port: broker.port };
}

export async function handleJoinGroup(ctx: BrokerContext, version: number, req: Body, clientId: string | null, remote: string): Promise<Body> {
  const r = await ctx.groups.join({
    groupId: req.groupId,
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs: version >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
    memberId: req.memberId,
    groupInstanceId: version >= 5 ? (req.groupInstanceId ?? null) : null,
    protocolType: req.protocolType,
    protocols: (req.protocols as Body[]).map((p) => ({ name: p.name, metadata: p.metadata })),
    clientId: clientId ?? '',
    clientHost: remote.replace(/:\d+$/, ''),
    requireKnownMemberId: version >= 4,
  });
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolName: r.protocolName ?? '',
    leader: r.leader,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
}

export async function handleSyncGroup(ctx: BrokerContext, _version: number, req: Body): Promise<Body> {
  const r = await ctx.groups.sync({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    assignments: (req.assignments as Body[]).map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
  });
  return { throttleTimeMs: 0, errorCode: r.errorCode, assignment: r.assignment };
}

export function handleHeartbeat(ctx: BrokerContext, _version: number, req: Body): Body {
  return { throttleTimeMs: 0, errorCode: ctx.groups.heartbeat({ groupId: req.groupId, generationId: req.generationId, memberId: req.memberId }) };
}

export function handleLeaveGroup(ctx: BrokerContext, version: number, req: Body): Body {
  const ids = version >= 3 ? (req.members as Body[]).map((m) => m.memberId as string) : [req.memberId as string];
  const r = ctx.groups.leave(req.groupId, ids);
  if (version < 3) return { throttleTimeMs: 0, errorCode: r.errorCode !== 0 ? r.errorCode : (r.members[0]?.errorCode ?? 0) };
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    members: r.members.map((m, i) => ({ memberId: m.memberId, groupInstanceId: (req.members as Body[])[i]?.groupInstanceId ?? null, errorCode: m.errorCode })),
  };
}

export async function handleOffsetCommit(ctx: BrokerContext, version: number, req: Body): Promise<Body> {
  const offsets = (req.topics as Body[]).flatMap((t) =>
    (t.partitions as Body[]).map((p) => ({
      topic: t.name as string,
      partition: p.partitionIndex as number,
      offset: Number(p.committedOffset),
      leaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1,
      metadata: (p.committedMetadata ?? null) as string | null,
    })),
  );
  const code = await ctx.groups.commit({
    groupId: req.groupId,
    generationId: version >= 1 ? req.generationIdOrMemberEpoch : -1,
    memberId: version >= 1 ? req.memberId : '',
    offsets,
  });
  return {
    throttleTimeMs: 0,
    topics: (req.topics as Body[]).map((t) => ({ name: t.name, partitions: (t.partitions as Body[]).map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })) })),
  };
}

export function handleOffsetFetch(ctx: BrokerContext, version: number, req: Body): Body {
  const asked = req.topics as Body[] | null;
  const partitions = asked === null ? null : asked.flatMap((t) => (t.partitionIndexes as number[]).map((partition) => ({ topic: t.name as string, partition })));
  if (partitions === null && version < 2) {
    return { throttleTimeMs: 0, topics: [], errorCode: ErrorCode.INVALID_REQUEST };
  }
  const r = ctx.groups.fetchOffsets(req.groupId, partitions);
  const byTopic = new Map<string, Body[]>();
  for (const o of r.offsets) {
    const list = byTopic.get(o.topic) ?? [];
    list.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', errorCode: 0 });
    byTopic.set(o.topic, list);
  }
  if (r.errorCode !== 0 && version < 2) {
    // v0-1 have no top-level error: report it on every partition asked.
    return {
      throttleTimeMs: 0,
      topics: (asked ?? []).map((t) => ({ name: t.name, partitions: (t.partitionIndexes as number[]).map((i) => ({ partitionIndex: i, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: r.errorCode })) })),
    };
  }
  return { throttleTimeMs: 0, topics: [...byTopic].map(([name, ps]) => ({ name, partitions: ps })), errorCode: r.errorCode };
}

export function handleDescribeGroups(ctx: BrokerContext, version: number, req: Body): Body {
  return {
    throttleTimeMs: 0,
    groups: (req.groups as string[]).map((groupId) => {
      const d = ctx.groups.describe(groupId);
      return {
        errorCode: d.errorCode,
        groupId,
        groupState: d.state,
        protocolType: d.protocolType,
        protocolData: d.protocol,
        members: d.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost, memberMetadata: m.metadata, memberAssignment: m.assignment })),
        authorizedOperations: version >= 3 && req.includeAuthorizedOperations ? GROUP_OPS : OMITTED,
      };
    }),
  };
}

export function handleListGroups(ctx: BrokerContext): Body {
  return { throttleTimeMs: 0, errorCode: 0, groups: ctx.groups.listGroups().map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })) };
}
