/**
 * RecordBatch v2: interoperability with kafkajs's RecordBatch encoder/decoder (with and without gzip),
 * build/decode round trips, validateBatches' error classes (framing -> CORRUPT_MESSAGE, contents ->
 * INVALID_RECORD, snappy/lz4/zstd -> UNSUPPORTED_COMPRESSION_TYPE, size -> MESSAGE_TOO_LARGE), and
 * robustness: validateBatches never throws and decodeBatch throws only RecordsError on mutated input.
 */
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { batchCrcOk, writeBatchCrc } from '../../../broker/protocol/batch-header.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import {
  buildBatch,
  type BuildRecord,
  decodeBatch,
  decodeRecords,
  iterateBatches,
  RecordsError,
  validateBatches,
} from '../../../broker/protocol/records.ts';
import { utf8Unit } from './arbitraries.ts';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long');
const KDecoder = require('kafkajs/src/protocol/decoder');
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
const KRecord = require('kafkajs/src/protocol/recordBatch/record/v0');
const kDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder');
const { Types } = require('kafkajs/src/protocol/message/compression');

const T0 = 1_700_000_000_000;

async function kafkajsBatch(compression: number): Promise<Buffer> {
  const messages = [
    { key: 'k0', value: 'v0', headers: { a: '1' } },
    { key: null, value: 'v1', headers: {} },
    { key: 'k2', value: 'x'.repeat(300), headers: { b: 'two', c: 'three' } },
  ];
  const records = messages.map((m, i) => KRecord({ ...m, offsetDelta: i, timestampDelta: i * 10 }));
  const enc = await RecordBatch({
    compression,
    records,
    firstTimestamp: T0,
    maxTimestamp: T0 + 20,
    producerId: Long.fromNumber(77),
    producerEpoch: 1,
    firstSequence: 5,
    lastOffsetDelta: records.length - 1,
  });
  return enc.buffer;
}

function errorOf(buf: Buffer, opts?: Parameters<typeof validateBatches>[1]): string | undefined {
  const r = validateBatches(buf, opts);
  return r.ok ? undefined : r.error.code;
}

/** A copy of `batch` with a header field patched and the CRC recomputed. */
function patched(batch: Buffer, patch: (b: Buffer) => void): Buffer {
  const b = Buffer.from(batch);
  patch(b);
  writeBatchCrc(b, 0, b.length);
  return b;
}

const sample: BuildRecord[] = [
  { key: Buffer.from('a'), value: Buffer.from('1') },
  { key: null, value: null, headers: [{ key: 'hk', value: null }, { key: 'ü', value: Buffer.from('v') }], timestampDelta: 7 },
  { key: Buffer.alloc(0), value: Buffer.from('three'), timestampDelta: -3 },
];

describe('kafkajs interop', () => {
  for (const [name, compression] of [['none', Types.None], ['gzip', Types.GZIP]] as const) {
    it(`kafkajs-built ${name} batches validate and decode with ours`, async () => {
      const buf = await kafkajsBatch(compression);
      expect(batchCrcOk(buf, 0, buf.length)).toBe(true);
      const v = validateBatches(buf);
      expect(v.ok).toBe(true);
      if (!v.ok) return;
      expect(v.batches).toHaveLength(1);
      expect(v.batches[0]).toMatchObject({ position: 0, sizeBytes: buf.length, header: { producerId: 77, producerEpoch: 1, baseSequence: 5, recordsCount: 3, lastOffsetDelta: 2 } });
      expect(v.batches[0]!.header.attributes & 7).toBe(compression);
      const { records } = decodeBatch(buf);
      expect(records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString(), r.headers.map((h) => `${h.key}=${h.value}`)])).toEqual([
        [0, T0, 'k0', 'v0', ['a=1']],
        [1, T0 + 10, null, 'v1', []],
        [2, T0 + 20, 'k2', 'x'.repeat(300), ['b=two', 'c=three']],
      ]);
    });

    it(`our ${name} batches decode with kafkajs's decoder`, async () => {
      const buf = buildBatch({ baseOffset: 100, partitionLeaderEpoch: 4, producerId: 9, producerEpoch: 0, baseSequence: 0, baseTimestamp: T0, compression: name, records: sample });
      const d = await kDecodeBatch(new KDecoder(buf));
      expect(d).toMatchObject({ firstOffset: '100', partitionLeaderEpoch: 4, producerId: '9', firstSequence: 0, lastOffsetDelta: 2, maxTimestamp: String(T0 + 7) });
      expect(d.records.map((r: any) => [r.offset, r.timestamp, r.key === null ? null : r.key.toString(), r.value === null ? null : r.value.toString()])).toEqual([
        ['100', String(T0), 'a', '1'],
        ['101', String(T0 + 7), null, null],
        ['102', String(T0 - 3), '', 'three'],
      ]);
      expect(d.records[1].headers).toEqual({ hk: null, ü: Buffer.from('v') });
    });
  }
});

const recordArb: fc.Arbitrary<BuildRecord> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), { nil: null }),
  headers: fc.array(fc.record({ key: fc.string({ unit: utf8Unit, maxLength: 6 }), value: fc.option(fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)), { nil: null }) }), { maxLength: 3 }),
  timestampDelta: fc.integer({ min: -1_000_000, max: 1_000_000_000 }),
});

describe('build and decode', () => {
  it('decodeBatch(buildBatch(x)) returns x, with and without gzip', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 8 }), fc.boolean(), fc.maxSafeInteger(), (records, gzip, ts) => {
        const baseOffset = 1000;
        const buf = buildBatch({ baseOffset, baseTimestamp: ts, compression: gzip ? 'gzip' : 'none', records });
        const v = validateBatches(buf);
        expect(v.ok).toBe(true);
        const got = decodeBatch(buf).records;
        expect(got).toHaveLength(records.length);
        got.forEach((r, i) => {
          const want = records[i]!;
          expect(r.offset).toBe(baseOffset + i);
          expect(r.timestampDelta).toBe(want.timestampDelta);
          expect(r.key).toEqual(want.key);
          expect(r.value).toEqual(want.value);
          expect(r.headers).toEqual(want.headers);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('walks several batches and reports positions; iterateBatches yields the same slices', () => {
    const a = buildBatch({ baseOffset: 0, baseTimestamp: T0, records: sample });
    const b = buildBatch({ baseOffset: 3, baseTimestamp: T0, compression: 'gzip', records: sample.slice(0, 1) });
    const buf = Buffer.concat([a, b]);
    const v = validateBatches(buf);
    expect(v.ok && v.batches.map((x) => [x.position, x.sizeBytes, x.header.baseOffset])).toEqual([[0, a.length, 0], [a.length, b.length, 3]]);
    expect([...iterateBatches(buf)].map((x) => x.length)).toEqual([a.length, b.length]);
    expect([...iterateBatches(buf.subarray(0, buf.length - 1))].map((x) => x.length)).toEqual([a.length]);
    expect(decodeRecords(buf).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
  });
});

describe('validateBatches error classes', () => {
  const good = buildBatch({ baseTimestamp: T0, records: sample });

  it('accepts a good batch', () => {
    expect(errorOf(good)).toBeUndefined();
  });

  it('framing problems are CORRUPT_MESSAGE', () => {
    expect(errorOf(good.subarray(0, good.length - 1))).toBe('CORRUPT_MESSAGE');
    expect(errorOf(good.subarray(0, 30))).toBe('CORRUPT_MESSAGE');
    expect(errorOf(Buffer.concat([good, Buffer.alloc(5)]))).toBe('CORRUPT_MESSAGE');
    const crc = Buffer.from(good);
    crc[good.length - 1] = crc[good.length - 1]! ^ 1;
    expect(errorOf(crc)).toBe('CORRUPT_MESSAGE');
    expect(errorOf(patched(good, (b) => b.writeInt8(3, 16)))).toBe('CORRUPT_MESSAGE');
    expect(errorOf(patched(good, (b) => b.writeInt8(-1, 16)))).toBe('CORRUPT_MESSAGE');
    expect(errorOf(patched(good, (b) => b.writeInt32BE(10, 8)))).toBe('CORRUPT_MESSAGE');
    expect(errorOf(patched(good, (b) => b.writeInt16BE(5, 21)))).toBe('CORRUPT_MESSAGE'); // unknown compression id
  });

  it('snappy, lz4 and zstd are UNSUPPORTED_COMPRESSION_TYPE with the Kafka error code', () => {
    for (const id of [2, 3, 4]) {
      const r = validateBatches(patched(good, (b) => b.writeInt16BE(id, 21)));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error).toBeInstanceOf(RecordsError);
        expect(r.error.code).toBe('UNSUPPORTED_COMPRESSION_TYPE');
        expect(r.error.errorCode).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
      }
    }
  });

  it('inconsistent counts are INVALID_RECORD for client batches only where Kafka checks them', () => {
    const lod = patched(good, (b) => b.writeInt32BE(5, 23)); // lastOffsetDelta 5, recordsCount 3
    expect(errorOf(lod)).toBe('INVALID_RECORD');
    expect(errorOf(lod, { origin: 'replication' })).toBeUndefined();
    const count = patched(good, (b) => b.writeInt32BE(2, 57)); // records present: 3
    expect(errorOf(count, { origin: 'replication' })).toBe('INVALID_RECORD');
    expect(errorOf(patched(good, (b) => b.writeInt16BE(0x20, 21)))).toBe('INVALID_RECORD'); // control batch from a client
    expect(errorOf(patched(good, (b) => b.writeBigInt64BE(5n, 43)))).toBe('INVALID_RECORD'); // producer id, sequence -1
  });

  it('legacy message formats (magic 0/1) are INVALID_RECORD, as Kafka answers Produce v3+', () => {
    expect(errorOf(patched(good, (b) => b.writeInt8(1, 16)))).toBe('INVALID_RECORD');
    expect(errorOf(patched(good, (b) => b.writeInt8(0, 16)))).toBe('INVALID_RECORD');
  });

  it('malformed records inside a well-framed batch are INVALID_RECORD', () => {
    const bad = patched(good, (b) => b.writeUInt8(0x7e, 61)); // first record claims 63 bytes
    expect(errorOf(bad)).toBe('INVALID_RECORD');
  });

  it('size and decompression bounds', () => {
    expect(errorOf(good, { maxBatchBytes: good.length - 1 })).toBe('MESSAGE_TOO_LARGE');
    expect(errorOf(good, { maxBatchBytes: good.length })).toBeUndefined();
    const bomb = buildBatch({ baseTimestamp: T0, compression: 'gzip', records: [{ key: null, value: Buffer.alloc(100_000) }] });
    expect(errorOf(bomb, { maxUncompressedBytes: 10_000 })).toBe('CORRUPT_MESSAGE');
    expect(errorOf(bomb)).toBeUndefined();
    const notGzip = patched(good, (b) => b.writeInt16BE(1, 21));
    expect(errorOf(notGzip)).toBe('CORRUPT_MESSAGE');
    // a gzip body whose records are garbage
    const garbage = Buffer.concat([good.subarray(0, 61), gzipSync(Buffer.from([1, 2, 3]))]);
    garbage.writeInt32BE(garbage.length - 12, 8);
    garbage.writeInt16BE(1, 21);
    writeBatchCrc(garbage, 0, garbage.length);
    expect(errorOf(garbage)).toBe('INVALID_RECORD');
  });
});

describe('robustness', () => {
  const seeds = [
    buildBatch({ baseTimestamp: T0, records: sample }),
    buildBatch({ baseTimestamp: T0, compression: 'gzip', records: sample }),
  ];

  it('mutated batches (CRC fixed up, so the record parser is reached) never make validation throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.nat({ max: 80 }),
        (seed, edits, fixCrc, cut) => {
          const b = Buffer.from(seed);
          for (const [at, byte] of edits) b[at % b.length] = byte;
          if (fixCrc && b.length >= 61) writeBatchCrc(b, 0, b.length);
          const input = b.subarray(0, Math.max(0, b.length - (cut > 60 ? cut : 0)));
          const r = validateBatches(input, { origin: 'replication', maxUncompressedBytes: 1 << 20 });
          expect(typeof r.ok).toBe('boolean');
          try {
            decodeBatch(input, 0, 1 << 20);
          } catch (err) {
            expect(err).toBeInstanceOf(RecordsError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
