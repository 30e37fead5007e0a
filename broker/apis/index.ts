/**
 * Request dispatch: decode with the codec, run the handler, encode the response in the request's
 * version. ApiVersions is answered even for versions we do not support (in v0 format with
 * UNSUPPORTED_VERSION and our list, as Kafka does, so clients can fall back); any other unknown API
 * key or unadvertised version closes the connection (there is no way to answer it correctly).
 */
import { ApiKeys, decodeRequest, encodeResponse, encodeResponseParts } from '../protocol/codec.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { CloseConnection, type HandlerResult, type RequestContext } from '../server.ts';
import type { Body, BrokerContext } from './context.ts';
import { handleAlterPartitionReassignments, handleElectLeaders, handleListPartitionReassignments, handleUnregisterBroker } from './admin.ts';
import { handleCreateTopics, handleDeleteTopics, handleInitProducerId, handleMetadata } from './cluster.ts';
import { handleFetch, handleListOffsets, handleOffsetForLeaderEpoch, handleProduce } from './data.ts';
import {
  handleDescribeGroups,
  handleFindCoordinator,
  handleHeartbeat,
  handleJoinGroup,
  handleLeaveGroup,
  handleListGroups,
  handleOffsetCommit,
  handleOffsetFetch,
  handleSyncGroup,
} from './groups.ts';
import { handleDescribeQuorum } from './quorum.ts';
import { advertisedVersions, isAdvertised } from './versions.ts';

export async function dispatch(ctx: BrokerContext, rc: RequestContext): Promise<HandlerResult> {
  const { apiKey, apiVersion: v, correlationId } = rc;
  if (apiKey === ApiKeys.ApiVersions && !isAdvertised(apiKey, v)) {
    return encodeResponse(apiKey, 0, correlationId, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: advertisedVersions });
  }
  if (!isAdvertised(apiKey, v)) throw new CloseConnection(`unsupported apiKey ${apiKey} version ${v}`);
  const req = decodeRequest<Body>(apiKey, v, rc.frame, rc.bodyOffset);
  const body = await handle(ctx, rc, req);
  if (body === null) return null;
  // Fetch responses carry records read from the log: as parts, those go out without a copy into one frame.
  return apiKey === ApiKeys.Fetch ? encodeResponseParts(apiKey, v, correlationId, body) : encodeResponse(apiKey, v, correlationId, body);
}

async function handle(ctx: BrokerContext, rc: RequestContext, req: Body): Promise<Body | null> {
  const v = rc.apiVersion;
  switch (rc.apiKey) {
    case ApiKeys.ApiVersions:
      return { errorCode: 0, apiKeys: advertisedVersions, throttleTimeMs: 0 };
    case ApiKeys.Produce:
      return handleProduce(ctx, v, req);
    case ApiKeys.Fetch:
      return handleFetch(ctx, v, req, rc.clientId);
    case ApiKeys.ListOffsets:
      return handleListOffsets(ctx, v, req);
    case ApiKeys.OffsetForLeaderEpoch:
      return handleOffsetForLeaderEpoch(ctx, v, req);
    case ApiKeys.Metadata:
      return handleMetadata(ctx, v, req);
    case ApiKeys.CreateTopics:
      return handleCreateTopics(ctx, v, req);
    case ApiKeys.DeleteTopics:
      return handleDeleteTopics(ctx, v, req);
    case ApiKeys.InitProducerId:
      return handleInitProducerId(ctx, v, req);
    case ApiKeys.FindCoordinator:
      return handleFindCoordinator(ctx, v, req);
    case ApiKeys.JoinGroup:
      return handleJoinGroup(ctx, v, req, rc.clientId, rc.remote);
    case ApiKeys.SyncGroup:
      return handleSyncGroup(ctx, v, req);
    case ApiKeys.Heartbeat:
      return handleHeartbeat(ctx, v, req);
    case ApiKeys.LeaveGroup:
      return handleLeaveGroup(ctx, v, req);
    case ApiKeys.OffsetCommit:
      return handleOffsetCommit(ctx, v, req);
    case ApiKeys.OffsetFetch:
      return handleOffsetFetch(ctx, v, req);
    case ApiKeys.DescribeGroups:
      return handleDescribeGroups(ctx, v, req);
    case ApiKeys.ListGroups:
      return handleListGroups(ctx);
    case ApiKeys.AlterPartitionReassignments:
      return handleAlterPartitionReassignments(ctx, v, req);
    case ApiKeys.ListPartitionReassignments:
      return handleListPartitionReassignments(ctx, v, req);
    case ApiKeys.ElectLeaders:
      return handleElectLeaders(ctx, v, req);
    case ApiKeys.DescribeQuorum:
      return handleDescribeQuorum(ctx, v, req);
    case ApiKeys.UnregisterBroker:
      return handleUnregisterBroker(ctx, v, req);
    default:
      throw new CloseConnection(`no handler for apiKey ${rc.apiKey}`);
  }
}
