/**
 * Restart cost of a partition log: `npm run bench:log-open -- [--impl FILE] [--dir DIR] [--segments N] [--segment-bytes N] [--keep]`.
 *
 * Builds (once, or reuses with --keep) a partition of `--segments` segments (default 2000) of
 * `--segment-bytes` (default 512000, so about 1 GB) of 16-record batches, a quarter of them from
 * idempotent producers, then opens it in a fresh child process per case and prints the wall time of
 * PartitionLog.open, the segments it read and the child's peak RSS (maxRSS). Cases:
 *   clean      after a clean shutdown (close() ran): the clean-shutdown marker is present
 *   crash      no marker: the recovery point is the active segment's base
 *   no-snap    no marker and no producer snapshots: the fallback full scan
 * `--impl FILE` opens the same directory with another PartitionLog module (for example main's code,
 * `git archive main broker | tar -x -C /tmp/fl-main` then `--impl /tmp/fl-main/broker/log/partition-log.ts`),
 * measured in the same way; it is run on the `crash` directory state. Reading is from the page
 * cache (the directory was just written or read), which is the common case for a process restart.
 * Every child is bounded by a timeout; the directory is removed at the end unless --keep.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BATCH_HEADER_BYTES, writeBatchCrc } from '../broker/protocol/batch-header.ts';

const HERE = fileURLToPath(import.meta.url);
const OWN_IMPL = fileURLToPath(new URL('../broker/log/partition-log.ts', import.meta.url));
const CHILD_TIMEOUT_MS = 600_000;
const RECORDS_PER_BATCH = 16;
const VALUE_BYTES = 1000;

function varint(n: number): number[] {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  for (; z >= 0x80; z = Math.floor(z / 128)) out.push((z & 0x7f) | 0x80);
  out.push(z);
  return out;
}

function batch(producerId: number, baseSequence: number): Buffer {
  const records = Buffer.concat(
    Array.from({ length: RECORDS_PER_BATCH }, (_, i) => {
      const body = Buffer.concat([Buffer.from([0, ...varint(0), ...varint(i), ...varint(-1), ...varint(VALUE_BYTES)]), Buffer.alloc(VALUE_BYTES, 0x61 + (i % 26)), Buffer.from(varint(0))]);
      return Buffer.concat([Buffer.from(varint(body.length)), body]);
    }),
  );
  const buf = Buffer.alloc(BATCH_HEADER_BYTES + records.length);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt8(2, 16);
  buf.writeInt32BE(RECORDS_PER_BATCH - 1, 23);
  buf.writeBigInt64BE(BigInt(Date.now()), 27);
  buf.writeBigInt64BE(BigInt(Date.now()), 35);
  buf.writeBigInt64BE(BigInt(producerId), 43);
  buf.writeInt16BE(producerId >= 0 ? 0 : -1, 51);
  buf.writeInt32BE(baseSequence, 53);
  buf.writeInt32BE(RECORDS_PER_BATCH, 57);
  records.copy(buf, BATCH_HEADER_BYTES);
  return buf;
}

interface OpenFigures {
  openMs: number;
  maxRssMiB: number;
  segments: number;
  segmentsScanned: number | null;
  logEndOffset: number;
}

type LogModule = typeof import('../broker/log/partition-log.ts');

/** Child: open the log with `impl`, print figures as JSON. */
async function child(impl: string, dir: string, segmentBytes: number): Promise<void> {
  const mod = (await import(pathToFileURL(impl).href)) as LogModule;
  const t0 = performance.now();
  const log = mod.PartitionLog.open(dir, { ...mod.defaultLogConfig, segmentBytes });
  const openMs = performance.now() - t0;
  const rec = log.recovery as { segmentsScanned?: number };
  const out: OpenFigures = { openMs, maxRssMiB: process.resourceUsage().maxRSS / 1024, segments: log.segmentCount, segmentsScanned: rec.segmentsScanned ?? null, logEndOffset: log.logEndOffset };
  // Leave the directory as it was: no close() (it would write a clean-shutdown marker).
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

function runChild(impl: string, dir: string, segmentBytes: number): OpenFigures {
  const res = spawnSync(process.execPath, [...process.execArgv, HERE, '--child', '--impl', impl, '--dir', dir, '--segment-bytes', String(segmentBytes)], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  if (res.status !== 0) throw new Error(`child failed (${res.status ?? res.signal}): ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as OpenFigures;
}

async function build(dir: string, segments: number, segmentBytes: number): Promise<void> {
  const { PartitionLog, defaultLogConfig } = (await import(pathToFileURL(OWN_IMPL).href)) as LogModule;
  fs.rmSync(dir, { recursive: true, force: true });
  const log = PartitionLog.open(dir, { ...defaultLogConfig, segmentBytes });
  const seq = new Map<number, number>();
  const t0 = performance.now();
  let i = 0;
  while (log.segmentCount < segments) {
    const pid = i % 4 === 0 ? (i / 4) % 50 : -1;
    const s = pid >= 0 ? (seq.get(pid) ?? 0) : -1;
    const b = batch(pid, s);
    writeBatchCrc(b, 0, b.length);
    log.appendAsLeader(b, 0);
    if (pid >= 0) seq.set(pid, s + RECORDS_PER_BATCH);
    i++;
  }
  log.close();
  const bytes = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  console.error(`built ${log.segmentCount} segments, ${(bytes / 1e6).toFixed(1)} MB, ${i} batches in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'boolean', default: false },
      impl: { type: 'string' },
      dir: { type: 'string' },
      segments: { type: 'string', default: '2000' },
      'segment-bytes': { type: 'string', default: '512000' },
      keep: { type: 'boolean', default: false },
    },
  });
  const segments = Number(values.segments);
  const segmentBytes = Number(values['segment-bytes']);
  if (!Number.isInteger(segments) || segments < 2 || !Number.isInteger(segmentBytes) || segmentBytes < 1024) {
    console.error('--segments must be an integer >= 2 and --segment-bytes an integer >= 1024');
    process.exit(2);
  }
  const dir = values.dir ?? path.join(os.tmpdir(), 'faultline-bench-log-open');
  if (values.child) return child(values.impl ?? OWN_IMPL, dir, segmentBytes);
  if (values.impl !== undefined && !fs.existsSync(values.impl)) {
    console.error(`--impl ${values.impl}: no such file`);
    process.exit(2);
  }
  const marker = path.join(dir, 'clean-shutdown');
  if (!values.keep || !fs.existsSync(marker)) await build(dir, segments, segmentBytes);
  const rows: Array<[string, OpenFigures]> = [];
  const snapshot = fs.readFileSync(marker);
  rows.push(['this code, clean', runChild(OWN_IMPL, dir, segmentBytes)]);
  fs.rmSync(marker, { force: true }); // the open above consumed it already
  rows.push(['this code, crash', runChild(OWN_IMPL, dir, segmentBytes)]);
  if (values.impl !== undefined) rows.push([`--impl, crash`, runChild(values.impl, dir, segmentBytes)]);
  const snaps = fs.readdirSync(dir).filter((f) => f.endsWith('.snapshot'));
  const saved = new Map(snaps.map((f) => [f, fs.readFileSync(path.join(dir, f))] as const));
  for (const f of snaps) fs.rmSync(path.join(dir, f));
  rows.push(['this code, no-snap', runChild(OWN_IMPL, dir, segmentBytes)]);
  for (const [f, data] of saved) fs.writeFileSync(path.join(dir, f), data);
  fs.writeFileSync(marker, snapshot);
  console.log(`log-open: ${segments} segments of ${segmentBytes} bytes, one child process per case (page cache warm)`);
  console.log('case                    open ms   peak RSS MiB   segments read');
  for (const [name, f] of rows) {
    console.log(`${name.padEnd(22)} ${f.openMs.toFixed(1).padStart(8)}   ${f.maxRssMiB.toFixed(1).padStart(12)}   ${String(f.segmentsScanned ?? 'all').padStart(13)}`);
  }
  if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
}

await main();
