/**
 * Hostile input: random bytes and mutations of valid frames fed to readRequestHeader, decodeRequest and
 * decodeResponse only ever throw ProtocolError (never RangeError, TypeError, out-of-memory), and huge
 * declared lengths/counts are refused before anything is allocated.
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
  ProtocolError,
  readRequestHeader,
} from '../../../broker/protocol/codec.ts';
import { structArb } from './arbitraries.ts';

const apis = allApis();

/** Runs fn; passes if it returns or throws a ProtocolError, fails on anything else. */
function onlyProtocolErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
  }
}

const apiVersionArb = fc.constantFrom(...apis).chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: a.minVersion, max: a.maxVersion })));

const mutationArb = fc.record({
  edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  cut: fc.nat({ max: 12 }),
  insert: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 6 })), { nil: null }),
});

function mutate(buf: Buffer, from: number, m: { edits: [number, number][]; cut: number; insert: [number, Uint8Array] | null }): Buffer {
  let b = Buffer.from(buf);
  const span = Math.max(1, b.length - from);
  for (const [at, byte] of m.edits) b[from + (at % span)] = byte;
  if (m.insert) {
    const at = from + (m.insert[0] % span);
    b = Buffer.concat([b.subarray(0, at), m.insert[1], b.subarray(at)]);
  }
  return b.subarray(0, Math.max(0, b.length - m.cut));
}

describe('fuzz: request side', () => {
  it('random frames', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), apiVersionArb, (bytes, [api, v]) => {
        const frame = Buffer.from(bytes);
        onlyProtocolErrors(() => {
          const h = readRequestHeader(frame);
          decodeRequest(h.apiKey, h.apiVersion, frame, h.bodyOffset);
        });
        // the same bytes as the body of a known api/version
        onlyProtocolErrors(() => decodeRequest(api.apiKey, v, frame, Math.min(frame.length, 8)));
      }),
      { numRuns: 4000 },
    );
  });

  it('mutations of valid frames of every api', () => {
    fc.assert(
      fc.property(
        apiVersionArb.chain(([api, v]) => fc.tuple(fc.constant(api), fc.constant(v), structArb(api.spec.request.fields, v))),
        mutationArb,
        ([api, v, body], m) => {
          const frame = encodeRequest(api.apiKey, v, 1, 'c', body).subarray(4);
          const bad = mutate(frame, 8, m);
          onlyProtocolErrors(() => {
            const h = readRequestHeader(bad);
            decodeRequest(h.apiKey, h.apiVersion, bad, h.bodyOffset);
          });
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('fuzz: response side', () => {
  it('random and mutated response frames', () => {
    fc.assert(
      fc.property(
        apiVersionArb.chain(([api, v]) => fc.tuple(fc.constant(api), fc.constant(v), structArb(api.spec.response.fields, v))),
        mutationArb,
        fc.uint8Array({ maxLength: 64 }),
        ([api, v, body], m, noise) => {
          const frame = encodeResponse(api.apiKey, v, 1, body).subarray(4);
          onlyProtocolErrors(() => decodeResponse(api.apiKey, v, mutate(frame, 4, m)));
          onlyProtocolErrors(() => decodeResponse(api.apiKey, v, Buffer.from(noise)));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('declared sizes are checked before allocation', () => {
  function expectProtocolError(fn: () => unknown): void {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProtocolError);
  }

  it('an i32 array count far beyond the frame', () => {
    // Metadata v1 response: throttle-less; brokers array count = 2^31-1, then nothing
    const frame = Buffer.from([0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]);
    expectProtocolError(() => decodeResponse(ApiKeys.Metadata, 1, frame));
  });

  it('a compact array count and a compact string length beyond the frame', () => {
    // Metadata v9 request: header v2, then topics compact array count 0xffffffff-1 via a 5-byte varint
    const head = Buffer.from([0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0]);
    expectProtocolError(() => decodeRequest(ApiKeys.Metadata, 9, Buffer.concat([head, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])]), head.length));
    // a 6-byte varint is refused
    expectProtocolError(() => decodeRequest(ApiKeys.Metadata, 9, Buffer.concat([head, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])]), head.length));
    // FindCoordinator v4 request: key type then compact coordinator keys: 1 entry whose string claims 2^20 bytes
    const fc4 = Buffer.from([0, 10, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 2, 0x81, 0x80, 0x40]);
    expectProtocolError(() => decodeRequest(ApiKeys.FindCoordinator, 4, fc4, 11));
  });

  it('i16 string and i32 bytes lengths beyond the frame', () => {
    // Heartbeat v0: groupId with length 30000
    const hb = Buffer.from([0, 12, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x75, 0x30, 0x41]);
    expectProtocolError(() => decodeRequest(ApiKeys.Heartbeat, 0, hb, 10));
    // Produce v3: transactionalId null, acks, timeout, 1 topic 't', 1 partition, records length 2^31-1
    const p = Buffer.from([0, 0, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
    expectProtocolError(() => decodeRequest(ApiKeys.Produce, 3, p, 10));
  });
});
