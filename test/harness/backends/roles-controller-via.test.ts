/**
 * Which answer names the active controller is the system definition's choice (`roles.controller`):
 * Metadata's controller id, or the Raft leader DescribeQuorum names (in a KRaft cluster of Apache
 * Kafka the two differ: Metadata names some broker). Our broker gives the same node both ways, so a
 * stub node over TCP (the project's own server and codec) answers Metadata with controller 1 and
 * DescribeQuorum with leader 2: `fetchRoles` must follow the option, and a node that does not offer
 * DescribeQuorum v0 names no controller (its DescribeQuorum error says why).
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { advertisedVersions } from '../../../broker/apis/versions.ts';
import { createLogger } from '../../../broker/logger.ts';
import { ApiKeys, decodeRequest, encodeResponse } from '../../../broker/protocol/codec.ts';
import type { Body } from '../../../broker/apis/context.ts';
import { KafkaServer } from '../../../broker/server.ts';
import { describeQuorumLeader, fetchRoles, fetchRolesByMajority } from '../../../harness/backends/roles.ts';

const OMITTED = -2147483648;
let server: KafkaServer | null = null;

/** A node that accepts connections and never answers (a paused broker), counting the connections it got. */
let silent: Server | null = null;
async function silentNode(): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  silent = createServer((s) => {
    n++;
    s.on('error', () => {});
  });
  await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', () => r()));
  const addr = silent.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return { port: addr.port, connections: () => n };
}

/** `other`: a second broker the stub's Metadata names as broker 2, leader of t-1. */
async function stubNode(opts: { offerDescribeQuorum: boolean; other?: { port: number } }): Promise<string> {
  let port = 0;
  const versions = advertisedVersions.filter((v) => opts.offerDescribeQuorum || v.apiKey !== ApiKeys.DescribeQuorum);
  server = new KafkaServer({
    host: '127.0.0.1',
    port: 0,
    maxFrameBytes: 1 << 20,
    logger: createLogger('stub', 'error', () => {}),
    handle(rc) {
      const req = decodeRequest<Body>(rc.apiKey, rc.apiVersion, rc.frame, rc.bodyOffset);
      let body: Body;
      switch (rc.apiKey) {
        case ApiKeys.ApiVersions:
          body = { errorCode: 0, apiKeys: versions, throttleTimeMs: 0 };
          break;
        case ApiKeys.Metadata:
          body = {
            throttleTimeMs: 0,
            brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }, ...(opts.other ? [{ nodeId: 2, host: '127.0.0.1', port: opts.other.port, rack: null }] : [])],
            clusterId: 'stub',
            controllerId: 1,
            topics: opts.other
              ? [
                  {
                    errorCode: 0,
                    name: 't',
                    topicId: '5f8e1a62-8a1c-4b7e-9d7c-0c3a4f1b2e6d',
                    isInternal: false,
                    partitions: [0, 1].map((i) => ({ errorCode: 0, partitionIndex: i, leaderId: i + 1, leaderEpoch: 0, replicaNodes: [1, 2], isrNodes: [1, 2], offlineReplicas: [] })),
                    topicAuthorizedOperations: OMITTED,
                  },
                ]
              : [],
            clusterAuthorizedOperations: rc.apiVersion >= 8 && req.includeClusterAuthorizedOperations ? 0 : OMITTED,
          };
          break;
        case ApiKeys.DescribeQuorum:
          body = {
            errorCode: 0,
            topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0, errorCode: 0, leaderId: 2, leaderEpoch: 7, highWatermark: 10, currentVoters: [{ replicaId: 2, logEndOffset: 10 }], observers: [] }] }],
          };
          break;
        default:
          throw new Error(`stub node: no answer for api ${rc.apiKey}`);
      }
      return encodeResponse(rc.apiKey, rc.apiVersion, rc.correlationId, body);
    },
  });
  ({ port } = await server.listen());
  return `127.0.0.1:${port}`;
}

afterEach(async () => {
  await server?.close();
  server = null;
  silent?.close();
  silent = null;
});

describe('the active controller: Metadata or DescribeQuorum, as the system definition says', () => {
  it('follows controllerVia', async () => {
    const address = await stubNode({ offerDescribeQuorum: true });
    expect((await fetchRoles([address], [])).controller).toBe(1);
    expect((await fetchRoles([address], [], { controllerVia: 'metadata' })).controller).toBe(1);
    expect((await fetchRoles([address], [], { controllerVia: 'describe-quorum' })).controller).toBe(2);
  });

  it('names no controller (never a wrong one) from a node without DescribeQuorum v0, whose own error says so', async () => {
    const address = await stubNode({ offerDescribeQuorum: false });
    expect((await fetchRoles([address], [], { controllerVia: 'describe-quorum' })).controller).toBeNull();
    await expect(describeQuorumLeader(address)).rejects.toThrow(/DescribeQuorum/);
  });

  it('asks only the node it is given, never a broker that node names (a paused one would make it time out)', async () => {
    const paused = await silentNode();
    const address = await stubNode({ offerDescribeQuorum: true, other: paused });
    // a general client picks a random known broker for its next request: six asks would reach broker 2
    // with probability 63/64, so a hop cannot hide
    for (let i = 0; i < 6; i++) {
      const roles = await fetchRoles([address], ['t'], { timeoutMs: 3_000 });
      expect(roles.leaders).toEqual({ 't-0': 1, 't-1': 2 });
      expect(roles.replicas['t-1']).toEqual({ replicas: [1, 2], isr: [1, 2] });
    }
    expect((await fetchRolesByMajority([address], ['t'], { timeoutMs: 3_000 })).controller).toBe(1);
    expect(paused.connections()).toBe(0);
  });
});
