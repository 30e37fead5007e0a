/**
 * Every API x every valid version x both directions: encode then decode is the identity on the fields
 * present in that version (values drawn from arbitraries generated from the schema tables), and the
 * encoded frame's size prefix and header are right.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allApis,
  ApiKeys,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  readRequestHeader,
} from '../../../broker/protocol/codec.ts';
import { project, structArb } from './arbitraries.ts';

const RUNS = 12;

describe('round trip over the schema tables', () => {
  for (const api of allApis()) {
    it(`${api.name} (${api.apiKey}) v${api.minVersion}-${api.maxVersion}`, () => {
      for (let v = api.minVersion; v <= api.maxVersion; v++) {
        const reqFields = api.spec.request.fields;
        fc.assert(
          fc.property(structArb(reqFields, v), fc.integer(), fc.option(fc.string({ maxLength: 8 }), { nil: null }), (body, corr, clientId) => {
            const frame = encodeRequest(api.apiKey, v, corr, clientId, body);
            expect(frame.readInt32BE(0)).toBe(frame.length - 4);
            const inner = frame.subarray(4);
            const h = readRequestHeader(inner);
            expect(h).toMatchObject({ apiKey: api.apiKey, apiVersion: v, correlationId: corr, clientId });
            const decoded = decodeRequest(api.apiKey, v, inner, h.bodyOffset);
            expect(project(reqFields, v, decoded)).toEqual(body);
          }),
          { numRuns: RUNS },
        );
        const resFields = api.spec.response.fields;
        fc.assert(
          fc.property(structArb(resFields, v), fc.integer(), (body, corr) => {
            const frame = encodeResponse(api.apiKey, v, corr, body);
            expect(frame.readInt32BE(0)).toBe(frame.length - 4);
            const { correlationId, body: decoded } = decodeResponse(api.apiKey, v, frame.subarray(4));
            expect(correlationId).toBe(corr);
            expect(project(resFields, v, decoded)).toEqual(body);
          }),
          { numRuns: RUNS },
        );
      }
    });
  }

  it('ApiKeys names every API of the generated tables with its key', () => {
    const fromTables = Object.fromEntries(allApis().map((a) => [a.name, a.apiKey]));
    expect(fromTables).toEqual({ ...ApiKeys });
  });
});
