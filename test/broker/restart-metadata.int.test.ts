/**
 * A restart never re-applies old metadata to newer data (docs/metadata.md), with real broker
 * processes and real clients (kcat/librdkafka for the data, kafkajs admin and `faultline admin`
 * for topics and reassignment):
 * - a topic deleted and re-created under the same name keeps the re-created topic's acks=all data
 *   across a restart by SIGTERM and by SIGKILL: every message reads back, the partition directory
 *   on disk holds them and names the new incarnation's topic id, and nothing of the old one is served;
 * - a replica moved away and back by reassignment keeps its data across a restart, also when it is
 *   the last member of the ISR (so an empty copy would be elected and served).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { PARTITION_METADATA_FILE } from '../../broker/replica-manager.ts';
import { TestCluster } from '../helpers/broker-process.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/faultline.mjs', import.meta.url));

function admin(bootstrap: string[]) {
  return new Kafka({ brokers: bootstrap, clientId: 'restart-test', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } }).admin();
}

async function kcatProduce(broker: string, topic: string, values: string[]): Promise<void> {
  const producer = execFile('kcat', ['-b', broker, '-P', '-t', topic, '-p', '0', '-X', 'acks=all', '-X', 'message.send.max.retries=20']);
  producer.stdin!.end(values.join('\n') + '\n');
  await new Promise<void>((resolve, reject) => producer.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}`)))));
}

/** Reads partition 0 from the beginning with kcat until `expected` values arrived or the deadline. */
async function kcatReadAll(broker: string, topic: string, expected: number, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let got: string[] = [];
  while (Date.now() < deadline) {
    try {
      const { stdout } = await run('kcat', ['-b', broker, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q'], { timeout: 10_000 });
      got = stdout.split('\n').filter((l) => l !== '');
      if (got.length >= expected) return got;
    } catch {
      // The partition may have no leader yet right after the restart: try again.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return got;
}

/** Every byte of the partition directory's segment files (kcat sends uncompressed values). */
function segmentBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).filter((f) => f.endsWith('.log')).sort().map((f) => readFileSync(join(dir, f))));
}

function topicIdOnDisk(dir: string): string | undefined {
  return /topic_id: (\S+)/.exec(readFileSync(join(dir, PARTITION_METADATA_FILE), 'utf8'))?.[1];
}

describe('restart keeps newer data (topic ids, catch-up before publish, snapshots)', () => {
  let cluster: TestCluster | null = null;
  afterEach(async () => {
    await cluster?.stopAll();
    cluster = null;
  });

  // SIGTERM: with a tiny snapshot threshold, so the restart starts from a snapshot and replays only
  // its tail. SIGKILL: with the default one (no snapshot yet), so the restart replays the delete and
  // the re-creation, and only catch-up before publish keeps the intermediate image from the replicas.
  for (const { signal, snapshot } of [{ signal: 'SIGTERM', snapshot: true }, { signal: 'SIGKILL', snapshot: false }] as const) {
    it(`a topic deleted and re-created keeps all 20 acks=all messages across a ${signal} restart (${snapshot ? 'from a snapshot' : 'replaying the log'})`, async () => {
      const c = (cluster = await TestCluster.start(1, snapshot ? { 'metadata.log.max.record.bytes.between.snapshots': '100' } : {}));
      const a = admin(c.bootstrap);
      await a.connect();
      await a.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
      await kcatProduce(c.bootstrap[0]!, 't', Array.from({ length: 10 }, (_, i) => `old-${i}`));
      await a.deleteTopics({ topics: ['t'] });
      const dir = join(c.broker(1).dataDir, 'partitions', 't-0');
      const gone = Date.now() + 10_000;
      while ((await a.listTopics()).includes('t') && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
      await a.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
      const values = Array.from({ length: 20 }, (_, i) => `new-${i}`);
      await kcatProduce(c.bootstrap[0]!, 't', values);
      expect(await kcatReadAll(c.bootstrap[0]!, 't', 20)).toEqual(values);
      const idBefore = topicIdOnDisk(dir);
      await a.disconnect();

      await c.kill(1, signal);
      await c.restart(1);
      expect(await kcatReadAll(c.bootstrap[0]!, 't', 20)).toEqual(values);
      const bytes = segmentBytes(dir);
      for (const v of values) expect(bytes.includes(Buffer.from(v))).toBe(true);
      expect(bytes.includes(Buffer.from('old-0'))).toBe(false);
      expect(topicIdOnDisk(dir)).toBe(idBefore);
      // The restart started from a snapshot rather than from index 1, or replayed the log.
      expect(readFileSync(c.broker(1).logFile, 'utf8')).toMatch(snapshot ? /restored from the snapshot at \d+/ : /starting at term \d+ with \d+ log entries/);
    });
  }

  it('a replica moved away and back keeps its data across a restart, also as the last ISR member', async () => {
    const c = (cluster = await TestCluster.start(3, { 'min.insync.replicas': '1' }));
    const a = admin(c.bootstrap);
    await a.connect();
    await a.createTopics({ topics: [{ topic: 'mv', numPartitions: 1, replicationFactor: 2 }], waitForLeaders: true });
    // x moves away and back; y stays and later dies, leaving x the last ISR member.
    const [x, y] = (await a.fetchTopicMetadata({ topics: ['mv'] })).topics[0]!.partitions[0]!.replicas as [number, number];
    const z = [1, 2, 3].find((b) => b !== x && b !== y)!;
    const reassign = async (replicas: number[]) => {
      const { stderr } = await run(process.execPath, [BIN, 'admin', '--bootstrap', c.bootstrap[0]!, 'reassign', '--topic', 'mv', '--partition', '0', '--replicas', replicas.join(','), '--wait', '30'], { timeout: 60_000 });
      expect(stderr).toMatch(/reassignment of mv-0 done/);
    };
    await kcatProduce(c.bootstrap[0]!, 'mv', Array.from({ length: 10 }, (_, i) => `a-${i}`));
    await reassign([y, z]);
    await reassign([x, y]);
    const values = [...Array.from({ length: 10 }, (_, i) => `a-${i}`), ...Array.from({ length: 10 }, (_, i) => `b-${i}`)];
    await kcatProduce(c.bootstrap[0]!, 'mv', values.slice(10));
    const dir = join(c.broker(x).dataDir, 'partitions', 'mv-0');
    // Broker x holds every value (it fetched the old ones back from the leader).
    const copied = Date.now() + 10_000;
    while (!values.every((v) => segmentBytes(dir).includes(Buffer.from(v))) && Date.now() < copied) await new Promise((r) => setTimeout(r, 100));
    expect(values.every((v) => segmentBytes(dir).includes(Buffer.from(v)))).toBe(true);

    // Broker y dies: broker x becomes the last ISR member, then restarts.
    await c.kill(y, 'SIGKILL');
    const shrunk = Date.now() + 15_000;
    const isrOf = async () => (await a.fetchTopicMetadata({ topics: ['mv'] })).topics[0]!.partitions[0]!;
    while (Date.now() < shrunk && ((await isrOf()).isr.length !== 1 || (await isrOf()).leader !== x)) await new Promise((r) => setTimeout(r, 200));
    expect(await isrOf()).toMatchObject({ leader: x, isr: [x] });
    await a.disconnect();
    const logBefore = readFileSync(c.broker(x).logFile, 'utf8').length;
    await c.kill(x, 'SIGTERM');
    await c.restart(x);
    expect(await kcatReadAll(c.bootstrap[0]!, 'mv', 20)).toEqual(values);
    for (const v of values) expect(segmentBytes(dir).includes(Buffer.from(v))).toBe(true);
    // The restarted node never removed its replica, not even for a moment.
    expect(readFileSync(c.broker(x).logFile, 'utf8').slice(logBefore)).not.toMatch(/mv-0: (removed local replica|deleted)/);
  });
});
