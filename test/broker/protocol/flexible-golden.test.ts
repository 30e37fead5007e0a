/**
 * Byte-level goldens for flexible versions (which kafkajs never sends), written out by hand from the
 * Kafka protocol rules: request header v2 (clientId stays i16), compact strings/arrays (unsigned varint
 * length + 1), compact nullable strings (0 = null), uuid as 16 raw bytes, tagged-field buffers after
 * every struct, ApiVersions responses with header v0.
 */
import { describe, expect, it } from 'vitest';
import { ApiKeys, decodeRequest, decodeResponse, encodeRequest, encodeResponse, readRequestHeader } from '../../../broker/protocol/codec.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): string => Buffer.from(s).toString('hex');
const sized = (b: Buffer): Buffer => {
  const size = Buffer.alloc(4);
  size.writeInt32BE(b.length);
  return Buffer.concat([size, b]);
};

describe('flexible goldens', () => {
  it('ApiVersions v3 request as librdkafka sends it', () => {
    const frame = hex(`0012 0003 00000001 0007 ${ascii('rdkafka')} 00 0b ${ascii('librdkafka')} 06 ${ascii('2.0.2')} 00`);
    const h = readRequestHeader(frame);
    expect(h).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka', bodyOffset: 18 });
    expect(decodeRequest(ApiKeys.ApiVersions, 3, frame, h.bodyOffset)).toEqual({ clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
    expect(encodeRequest(ApiKeys.ApiVersions, 3, 1, 'rdkafka', { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' })).toEqual(sized(frame));
  });

  it('ApiVersions v3 response: header v0, compact array, tagged finalizedFeaturesEpoch', () => {
    const frame = hex(`00000007 0000 03 0000 0000 000b 00 0001 0003 000c 00 00000000 01 01 08 0000000000000005`);
    const body = {
      errorCode: 0,
      apiKeys: [
        { apiKey: 0, minVersion: 0, maxVersion: 11 },
        { apiKey: 1, minVersion: 3, maxVersion: 12 },
      ],
      throttleTimeMs: 0,
      finalizedFeaturesEpoch: 5,
    };
    expect(encodeResponse(ApiKeys.ApiVersions, 3, 7, body)).toEqual(sized(frame));
    expect(decodeResponse(ApiKeys.ApiVersions, 3, frame)).toEqual({
      correlationId: 7,
      body: { ...body, supportedFeatures: [], finalizedFeatures: [], zkMigrationReady: false },
    });
  });

  it('Metadata v12 request: uuid, compact nullable name, bools, tag buffers', () => {
    const zero = '00'.repeat(16);
    const frame = hex(`0003 000c 0000002a ffff 00 03 ${zero} 02 ${ascii('t')} 00 ${'ab'.repeat(16)} 00 00 01 00 00`);
    const h = readRequestHeader(frame);
    expect(h).toMatchObject({ apiKey: 3, apiVersion: 12, correlationId: 42, clientId: null, bodyOffset: 11 });
    const body = {
      topics: [
        { topicId: '00000000-0000-0000-0000-000000000000', name: 't' },
        { topicId: 'abababab-abab-abab-abab-abababababab', name: null },
      ],
      allowAutoTopicCreation: true,
      includeTopicAuthorizedOperations: false,
    };
    expect(decodeRequest(ApiKeys.Metadata, 12, frame, h.bodyOffset)).toEqual({ ...body, includeClusterAuthorizedOperations: false });
    expect(encodeRequest(ApiKeys.Metadata, 12, 42, null, body)).toEqual(sized(frame));
  });

  it('Produce v9 response: header v1 and per-struct tag buffers', () => {
    // header: corr + tags; responses [ { name 't', partitionResponses [ {index 0, error 0, base 5, appendTime -1,
    // logStart 0, recordErrors [], errorMessage null, tags} ], tags } ], throttle 0, tags
    const frame = hex(
      `00000009 00 02 02 ${ascii('t')} 02 00000000 0000 0000000000000005 ffffffffffffffff 0000000000000000 01 00 00 00 00000000 00`,
    );
    const body = {
      responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 5, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null }] }],
      throttleTimeMs: 0,
    };
    expect(encodeResponse(ApiKeys.Produce, 9, 9, body)).toEqual(sized(frame));
    expect(decodeResponse(ApiKeys.Produce, 9, frame).body).toMatchObject(body);
  });
});
