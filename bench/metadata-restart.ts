/**
 * Restart of a node whose metadata log holds many records: start-up time and peak RSS.
 *
 *   npm run bench:metadata-restart -- [--records 100000] [--bin PATH/bin/faultline.mjs] [--starts 2]
 *
 * Writes a single-voter node's Raft log directly (the on-disk format: frames of
 * [u32 length][u32 CRC-32C][JSON entry], one metadata record per entry, term 1): broker 1 registers,
 * then topics are created (Topic + Partition, replica on broker 1), their ISR changes eight times
 * (PartitionChange), and all but every 50th are deleted again, until the log holds `--records`
 * records. Then it starts the broker process `--starts` times in a row on that data directory and,
 * for each start, prints the time from spawn until the Kafka listener accepts connections (the
 * broker listens once its metadata has caught up and it is unfenced) and the process's peak RSS
 * (VmHWM from /proc), then stops it with SIGTERM. The first start is the first one on a log written
 * without snapshots; the later ones are restarts of a node that has run on it. `--bin` points at
 * another checkout's bin/faultline.mjs to measure that code on the same log. Everything runs on
 * loopback and under the OS temp dir, which is removed afterwards.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { encodeEntryFrame } from '../broker/controller/raft/storage.ts';
import type { MetadataRecord } from '../broker/controller/records.ts';
import { freePorts, tryConnect } from '../harness/proc/net.ts';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const RECORDS = Number(flag('records', '100000'));
const STARTS = Number(flag('starts', '2'));
const BIN = path.resolve(flag('bin', fileURLToPath(new URL('../bin/faultline.mjs', import.meta.url))));
const START_TIMEOUT_MS = 600_000;
if (!Number.isSafeInteger(RECORDS) || RECORDS < 10 || !Number.isSafeInteger(STARTS) || STARTS < 1) {
  console.error('--records must be an integer >= 10 and --starts >= 1');
  process.exit(2);
}

/** The metadata history, one record per entry. */
function* history(): Generator<MetadataRecord> {
  yield { type: 'RegisterBroker', brokerId: 1, incarnationId: 'bench', host: '127.0.0.1', port: 1 };
  yield { type: 'UnfenceBroker', brokerId: 1 };
  let n = 2;
  for (let i = 0; n < RECORDS; i++) {
    const name = `bench-${i}`;
    const topicId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const burst: MetadataRecord[] = [
      { type: 'Topic', name, topicId, numPartitions: 1, configs: {} },
      { type: 'Partition', topic: name, partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] },
      ...Array.from({ length: 8 }, (): MetadataRecord => ({ type: 'PartitionChange', topic: name, partition: 0, isr: [1] })),
    ];
    if (i % 50 !== 0) burst.push({ type: 'RemoveTopic', name, topicId });
    for (const r of burst) {
      if (n >= RECORDS) return;
      n++;
      yield r;
    }
  }
}

function writeLog(dataDir: string): number {
  const raft = path.join(dataDir, 'raft');
  fs.mkdirSync(raft, { recursive: true });
  fs.writeFileSync(path.join(raft, 'raft-state.json'), JSON.stringify({ term: 1, votedFor: 1 }));
  const fd = fs.openSync(path.join(raft, 'raft-log.bin'), 'w');
  let index = 0;
  let bytes = 0;
  let chunk: Buffer[] = [];
  const flush = () => {
    const b = Buffer.concat(chunk);
    fs.writeSync(fd, b);
    bytes += b.length;
    chunk = [];
  };
  for (const r of history()) {
    index++;
    chunk.push(encodeEntryFrame({ term: 1, index, payload: JSON.stringify([r]) }));
    if (chunk.length >= 1000) flush();
  }
  flush();
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return bytes;
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function startOnce(dataDir: string, logFile: string): Promise<{ startMs: number; peakRssMiB: number }> {
  const [port, controllerPort] = (await freePorts(2)) as [number, number];
  const args = [BIN, 'broker', '--id', '1', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--controller-listen', `127.0.0.1:${controllerPort}`, '--voters', `1@127.0.0.1:${controllerPort}`];
  for (const s of ['controller.quorum.fetch.timeout.ms=400', 'controller.quorum.election.timeout.ms=250', 'broker.heartbeat.interval.ms=100', 'broker.session.timeout.ms=5000']) args.push('--set', s);
  const out = fs.openSync(logFile, 'a');
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', out, out] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    let up = false;
    while (!up && performance.now() - t0 < START_TIMEOUT_MS && child.exitCode === null) {
      up = await tryConnect('127.0.0.1', port, 200);
      if (!up) await new Promise((r) => setTimeout(r, 20));
    }
    const startMs = performance.now() - t0;
    if (!up) throw new Error(`the broker did not listen within ${START_TIMEOUT_MS} ms (see ${logFile})`);
    const rss = peakRssMiB(child.pid!);
    return { startMs, peakRssMiB: rss };
  } finally {
    child.kill('SIGTERM');
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(killTimer);
    fs.closeSync(out);
  }
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-meta-'));
  try {
    const dataDir = path.join(root, 'n1');
    const logBytes = writeLog(dataDir);
    console.log(`metadata log: ${RECORDS} records, ${(logBytes / 2 ** 20).toFixed(1)} MiB; broker ${BIN}`);
    for (let i = 1; i <= STARTS; i++) {
      const r = await startOnce(dataDir, path.join(root, 'broker.log'));
      const raftFiles = fs.readdirSync(path.join(dataDir, 'raft'));
      const logSize = fs.statSync(path.join(dataDir, 'raft', 'raft-log.bin')).size;
      console.log(
        `start ${i}: listening after ${Math.round(r.startMs)} ms, peak RSS ${r.peakRssMiB.toFixed(0)} MiB; afterwards raft log ${(logSize / 2 ** 20).toFixed(2)} MiB, ${raftFiles.filter((f) => f.endsWith('.checkpoint')).length} snapshot file(s)`,
      );
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
