/**
 * Partition-log micro-benchmark (not wired into npm scripts): `npx tsx bench/log.ts [totalMiB]`.
 * Appends batches of 100-byte records through PartitionLog.appendAsLeader, then reads the whole log
 * back with read(offset, 1 MiB, LEO), and prints MB/s (1 MB = 10^6 bytes of batch bytes) and
 * records/s for several batch sizes. Page-cache appends (Kafka's default flush policy) and an
 * fsync-per-append policy are measured separately. Writes under the OS temp dir and removes it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../broker/log/partition-log.ts';
import { BATCH_HEADER_BYTES, writeBatchCrc } from '../broker/protocol/batch-header.ts';

const RECORD_VALUE_BYTES = 100;

/** Zigzag varint, as record fields are encoded. */
function varint(n: number): number[] {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  for (; z >= 0x80; z = Math.floor(z / 128)) out.push((z & 0x7f) | 0x80);
  out.push(z);
  return out;
}

/** One uncompressed batch of `count` records with 100-byte values (null keys, no headers). */
function batchOf(count: number): Buffer {
  const record = (i: number): Buffer => {
    const head = [0, ...varint(0), ...varint(i), ...varint(-1), ...varint(RECORD_VALUE_BYTES)];
    const body = Buffer.concat([Buffer.from(head), Buffer.alloc(RECORD_VALUE_BYTES, 0x78), Buffer.from(varint(0))]);
    return Buffer.concat([Buffer.from(varint(body.length)), body]);
  };
  const records = Buffer.concat(Array.from({ length: count }, (_, i) => record(i)));
  const buf = Buffer.alloc(BATCH_HEADER_BYTES + records.length);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt8(2, 16);
  buf.writeInt32BE(count - 1, 23);
  buf.writeBigInt64BE(BigInt(Date.now()), 27);
  buf.writeBigInt64BE(BigInt(Date.now()), 35);
  buf.writeBigInt64BE(-1n, 43);
  buf.writeInt16BE(-1, 51);
  buf.writeInt32BE(-1, 53);
  buf.writeInt32BE(count, 57);
  records.copy(buf, BATCH_HEADER_BYTES);
  writeBatchCrc(buf, 0, buf.length);
  return buf;
}

interface Figures {
  label: string;
  appendMBps: number;
  appendRecordsPerS: number;
  readMBps: number;
}

function run(label: string, recordsPerBatch: number, totalBytes: number, config: LogConfig): Figures {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-log-'));
  try {
    const batch = batchOf(recordsPerBatch);
    const appends = Math.max(1, Math.floor(totalBytes / batch.length));
    const log = PartitionLog.open(dir, config);
    const t0 = performance.now();
    for (let i = 0; i < appends; i++) log.appendAsLeader(batch, 0);
    const appendS = (performance.now() - t0) / 1000;
    const bytes = appends * batch.length;
    const t1 = performance.now();
    let offset = 0;
    let readBytes = 0;
    for (let i = 0; i <= appends && offset < log.logEndOffset; i++) {
      const r = log.read(offset, 1 << 20, log.logEndOffset);
      readBytes += r.records.length;
      offset = r.nextOffset;
    }
    const readS = (performance.now() - t1) / 1000;
    if (readBytes !== bytes) throw new Error(`read ${readBytes} bytes, wrote ${bytes}`);
    log.close();
    return {
      label,
      appendMBps: bytes / 1e6 / appendS,
      appendRecordsPerS: (appends * recordsPerBatch) / appendS,
      readMBps: readBytes / 1e6 / readS,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const totalMiB = Number(process.argv[2] ?? 128);
const pageCache: LogConfig = { ...defaultLogConfig, segmentBytes: 64 << 20 };
const results = [
  run('1 record/batch, page cache', 1, (totalMiB << 20) / 8, pageCache),
  run('10 records/batch, page cache', 10, (totalMiB << 20) / 2, pageCache),
  run('100 records/batch, page cache', 100, totalMiB << 20, pageCache),
  run('100 records/batch, fsync every append', 100, 8 << 20, { ...pageCache, flushIntervalMessages: 1 }),
];
console.log(`node ${process.version}, ${os.cpus().length} cpus, ${RECORD_VALUE_BYTES}-byte records, temp dir ${os.tmpdir()}`);
for (const r of results) {
  console.log(
    `${r.label.padEnd(40)} append ${r.appendMBps.toFixed(1).padStart(7)} MB/s ${Math.round(r.appendRecordsPerS).toLocaleString('en-US').padStart(11)} rec/s   read ${r.readMBps.toFixed(1).padStart(7)} MB/s`,
  );
}
