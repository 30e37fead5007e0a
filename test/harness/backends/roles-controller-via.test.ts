/**
 * Which answer names the active controller is the system definition's choice (`roles.controller`):
 * Metadata's controller id, or the Raft leader DescribeQuorum names (in a KRaft cluster of Apache
 * Kafka the two differ: Metadata names some broker). Our broker gives the same node both ways, so a
 * stub node over TCP (the project's own server and codec) answers Metadata with controller 1 and
 * DescribeQuorum with leader 2: `fetchRoles` must follow the option, and a node that does not offer
 * DescribeQuorum v0 names no controller (its DescribeQuorum error says why).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { advertisedVersions } from '../../../broker/apis/versions.ts';
import { createLogger } from '../../../broker/logger.ts';
import { ApiKeys, decodeRequest, encodeResponse } from '../../../broker/protocol/codec.ts';
import type { Body } from '../../../broker/apis/context.ts';
import { KafkaServer } from '../../../broker/server.ts';
import { describeQuorumLeader, fetchRoles } from '../../../harness/backends/roles.ts';

const OMITTED = -2147483648;
let server: KafkaServer | null = null;

async function stubNode(opts: { offerDescribeQuorum: boolean }): Promise<string> {
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
            brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }],
            clusterId: 'stub',
            controllerId: 1,
            topics: [],
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
});
