/**
 * Partition administration through the Kafka admin APIs, forwarded to the active controller:
 * AlterPartitionReassignments v0 and ListPartitionReassignments v0 (KIP-455: the new replicas are
 * added and catch up first; the old ones are removed only once every new one is in the ISR), and
 * ElectLeaders v0-1 (preferred-leader election; unclean elections on request are refused: they happen
 * only through `unclean.leader.election.enable`), and UnregisterBroker v0 (the last step of
 * decommissioning a broker, after its replicas were moved away and it was shut down: the controller
 * fences it and drops its registration; BROKER_ID_NOT_REGISTERED for an unknown id).
 */
import { ErrorCode } from '../protocol/errors.ts';
import type { Body, BrokerContext } from './context.ts';

type Refs = Array<{ topic: string; partition: number }>;

function code(name: string): number {
  return ErrorCode[name as keyof typeof ErrorCode] ?? ErrorCode.UNKNOWN_SERVER_ERROR;
}

export async function handleAlterPartitionReassignments(ctx: BrokerContext, _version: number, req: Body): Promise<Body> {
  const reqs = (req.topics as Body[]).flatMap((t) => (t.partitions as Body[]).map((p) => ({ topic: t.name as string, partition: p.partitionIndex as number, replicas: (p.replicas ?? null) as number[] | null })));
  let results: Array<{ topic: string; partition: number; errorCode: string }>;
  try {
    results = await ctx.metadata.call('reassignPartitions', reqs, Math.max(1000, Math.min(Number(req.timeoutMs), 60_000)));
  } catch (err) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `controller unavailable: ${(err as Error).message}`, responses: [] };
  }
  const byTopic = new Map<string, Body[]>();
  for (const r of results) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ partitionIndex: r.partition, errorCode: code(r.errorCode), errorMessage: r.errorCode === 'NONE' ? null : r.errorCode });
    byTopic.set(r.topic, list);
  }
  return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, responses: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
}

export async function handleListPartitionReassignments(ctx: BrokerContext, _version: number, req: Body): Promise<Body> {
  let ongoing: Array<{ topic: string; partition: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }>;
  try {
    ongoing = await ctx.metadata.call('listReassignments', null, Math.max(1000, Math.min(Number(req.timeoutMs), 60_000)));
  } catch (err) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `controller unavailable: ${(err as Error).message}`, topics: [] };
  }
  const wanted = req.topics as Body[] | null;
  const keep = (topic: string, partition: number) => wanted === null || wanted.some((t) => t.name === topic && (t.partitionIndexes as number[]).includes(partition));
  const byTopic = new Map<string, Body[]>();
  for (const o of ongoing) {
    if (!keep(o.topic, o.partition)) continue;
    const list = byTopic.get(o.topic) ?? [];
    list.push({ partitionIndex: o.partition, replicas: [...o.replicas], addingReplicas: [...o.addingReplicas], removingReplicas: [...o.removingReplicas] });
    byTopic.set(o.topic, list);
  }
  return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
}

export async function handleElectLeaders(ctx: BrokerContext, version: number, req: Body): Promise<Body> {
  const asked = req.topicPartitions as Body[] | null;
  const refs: Refs | null = asked === null ? null : asked.flatMap((t) => (t.partitions as number[]).map((partition) => ({ topic: t.topic as string, partition })));
  const group = (rs: Array<{ topic: string; partition: number; errorCode: number; errorMessage: string | null }>) => {
    const byTopic = new Map<string, Body[]>();
    for (const r of rs) {
      const list = byTopic.get(r.topic) ?? [];
      list.push({ partitionId: r.partition, errorCode: r.errorCode, errorMessage: r.errorMessage });
      byTopic.set(r.topic, list);
    }
    return [...byTopic].map(([topic, partitionResult]) => ({ topic, partitionResult }));
  };
  if (version >= 1 && req.electionType !== 0) {
    const rs = (refs ?? []).map((r) => ({ ...r, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'only preferred elections (type 0) are supported; unclean elections follow unclean.leader.election.enable' }));
    return { throttleTimeMs: 0, errorCode: 0, replicaElectionResults: group(rs) };
  }
  try {
    const results = (await ctx.metadata.call('electLeaders', refs, Math.max(1000, Math.min(Number(req.timeoutMs), 60_000)))) as Array<{ topic: string; partition: number; errorCode: string }>;
    const rs = results.map((r) => ({ topic: r.topic, partition: r.partition, errorCode: code(r.errorCode), errorMessage: r.errorCode === 'NONE' ? null : r.errorCode }));
    return { throttleTimeMs: 0, errorCode: 0, replicaElectionResults: group(rs) };
  } catch {
    return { throttleTimeMs: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT, replicaElectionResults: [] };
  }
}

export async function handleUnregisterBroker(ctx: BrokerContext, _version: number, req: Body): Promise<Body> {
  try {
    const reply = (await ctx.metadata.call('unregisterBroker', { brokerId: Number(req.brokerId) }, 10_000)) as { errorCode: string };
    return { throttleTimeMs: 0, errorCode: code(reply.errorCode), errorMessage: reply.errorCode === 'NONE' ? null : reply.errorCode };
  } catch (err) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `controller unavailable: ${(err as Error).message}` };
  }
}
