/**
 * A 3-node cluster of real broker processes on loopback: acks=all writes continue through the SIGKILL
 * of any one node (partition leaders and the active controller included); the failover time (kill to
 * the first successful acks=all write on a partition the killed node led) is measured over 10 kills;
 * killed nodes restart, rejoin the ISR, and all three replicas end byte-identical. No acknowledged
 * write is lost: every acked (partition, offset, value) is read back at that offset.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../helpers/broker-process.ts';

const run = promisify(execFile);
const TOPIC = 'ha';
const PARTITIONS = 3;

function kafkaFor(cluster: TestCluster, clientId: string, opts: { retries?: number; requestTimeout?: number } = {}) {
  return new Kafka({
    brokers: cluster.brokers.map((b) => `127.0.0.1:${b.port}`),
    clientId,
    logLevel: logLevel.NOTHING,
    requestTimeout: opts.requestTimeout ?? 3000,
    connectionTimeout: 500,
    retry: { retries: opts.retries ?? 10, initialRetryTime: 50, maxRetryTime: 500 },
  });
}

async function roles(cluster: TestCluster): Promise<{ controller: number; leaders: number[]; isr: number[][] }> {
  const admin = kafkaFor(cluster, 'roles', { retries: 5 }).admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    const parts = md.topics[0]!.partitions.sort((a, b) => a.partitionId - b.partitionId);
    const c = await admin.describeCluster();
    return { controller: c.controller ?? -1, leaders: parts.map((p) => p.leader), isr: parts.map((p) => [...p.isr].sort()) };
  } finally {
    await admin.disconnect();
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function partitionDigest(dataDir: string, topic: string, p: number): string {
  const dir = join(dataDir, 'partitions', `${topic}-${p}`);
  const h = createHash('sha256');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) h.update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

describe('3-node cluster under SIGKILL', () => {
  let cluster: TestCluster | null = null;
  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('keeps accepting acks=all writes through 10 kills, loses nothing, and converges', async () => {
    cluster = await TestCluster.start(3, {
      'default.replication.factor': '3',
      'min.insync.replicas': '2',
      'offsets.topic.replication.factor': '3',
      'auto.leader.rebalance.enable': 'true',
      'leader.imbalance.check.interval.seconds': '2',
      'log.flush.interval.messages': '1',
    });
    const c = cluster;
    const admin = kafkaFor(c, 'setup').admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();

    // Background load: one producer per partition, acks=all, recording what was acknowledged where.
    const acked: Array<{ partition: number; offset: number; value: string }> = [];
    let stop = false;
    let next = 0;
    const load = Array.from({ length: PARTITIONS }, async (_, partition) => {
      const producer = kafkaFor(c, `load-${partition}`, { retries: 3, requestTimeout: 2000 }).producer({ allowAutoTopicCreation: false });
      await producer.connect();
      while (!stop) {
        const value = String(next++);
        try {
          const [r] = await producer.send({ topic: TOPIC, acks: -1, timeout: 2000, messages: [{ partition, value }] });
          acked.push({ partition, offset: Number(r!.baseOffset), value });
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await producer.disconnect();
    });

    const failoversMs: Array<{ kill: number; target: number; role: string; partition: number; ms: number }> = [];
    for (let kill = 1; kill <= 10; kill++) {
      const before = await roles(c);
      // Alternate: the active controller on even kills, a partition leader on odd ones.
      const target = kill % 2 === 0 ? before.controller : before.leaders[kill % PARTITIONS]!;
      const led = before.leaders.findIndex((l) => l === target);
      const probePartition = led >= 0 ? led : 0;
      const role = [target === before.controller ? 'controller' : '', led >= 0 ? 'leader' : ''].filter(Boolean).join('+') || 'follower';
      const probe = kafkaFor(c, `probe-${kill}`, { retries: 0, requestTimeout: 1000 }).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await probe.connect();
      // The warm-up write only gives the probe fresh metadata and connections before the kill; it may
      // meet a leadership move (auto rebalance) or an ISR still catching up, so it waits, bounded.
      await waitFor(`probe write before kill ${kill}`, 30_000, async () => {
        await probe.send({ topic: TOPIC, acks: -1, messages: [{ partition: probePartition, value: `probe-before-${kill}` }] });
        return true;
      });
      const t0 = Date.now();
      await c.kill(target, 'SIGKILL');
      let ms = -1;
      while (Date.now() - t0 < 30_000) {
        try {
          await probe.send({ topic: TOPIC, acks: -1, timeout: 1000, messages: [{ partition: probePartition, value: `probe-after-${kill}` }] });
          ms = Date.now() - t0;
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      await probe.disconnect();
      expect(ms, `no acks=all write succeeded on partition ${probePartition} within 30 s of killing ${target}`).toBeGreaterThanOrEqual(0);
      failoversMs.push({ kill, target, role, partition: probePartition, ms });

      if (kill === 3) {
        // librdkafka (kcat) finds the new leader by itself too.
        const kcat = execFile('kcat', ['-b', c.bootstrap.join(','), '-P', '-t', TOPIC, '-p', String(probePartition), '-X', 'acks=all', '-X', 'message.timeout.ms=20000']);
        kcat.stdin!.end('kcat-during-failover\n');
        const code = await new Promise<number | null>((resolve) => kcat.once('exit', resolve));
        expect(code).toBe(0);
      }

      await c.restart(target);
      await waitFor(`node ${target} back in every ISR`, 30_000, async () => {
        const r = await roles(c);
        return r.isr.every((isr) => isr.length === 3) ? r : null;
      });
    }
    stop = true;
    await Promise.all(load);

    // Every acknowledged write is readable at its offset.
    const consumer = kafkaFor(c, 'verify').consumer({ groupId: 'verify' });
    const admin2 = kafkaFor(c, 'verify-admin').admin();
    await admin2.connect();
    const ends = await admin2.fetchTopicOffsets(TOPIC);
    await admin2.disconnect();
    const total = ends.reduce((s, o) => s + Number(o.high), 0);
    const read = new Map<string, string>();
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 60_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          read.set(`${partition}:${message.offset}`, message.value!.toString());
          if (read.size >= total) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(read.size).toBe(total);
    const lost = acked.filter((a) => read.get(`${a.partition}:${a.offset}`) !== a.value);
    expect(lost, `acknowledged writes not read back at their offsets`).toEqual([]);
    expect(acked.length).toBeGreaterThan(100);

    // Replicas converge: stop cleanly, then every partition's segments are byte-identical on all nodes.
    await waitFor('replicas caught up', 20_000, async () => {
      const digests = [...Array(PARTITIONS).keys()].map((p) => new Set(c.brokers.map((b) => partitionDigest(b.dataDir, TOPIC, p))));
      return digests.every((d) => d.size === 1) ? true : null;
    });

    // Preferred-leader rebalancing (auto.leader.rebalance.enable, checked every 2 s here) hands every
    // partition back to the first replica of its assignment once that replica is in sync again.
    await waitFor('preferred leaders restored', 20_000, async () => {
      const admin3 = kafkaFor(c, 'preferred').admin();
      await admin3.connect();
      try {
        const parts = (await admin3.fetchTopicMetadata({ topics: [TOPIC] })).topics[0]!.partitions;
        return parts.every((p) => p.leader === p.replicas[0]) ? true : null;
      } finally {
        await admin3.disconnect();
      }
    });

    const ms = failoversMs.map((f) => f.ms);
    const summary = { medianMs: median(ms), maxMs: Math.max(...ms), minMs: Math.min(...ms), acked: acked.length, kills: failoversMs };
    mkdirSync('results/measurements', { recursive: true });
    writeFileSync('results/measurements/failover.json', JSON.stringify(summary, null, 2));
    process.stderr.write(`failover (kill -> first acks=all write): median ${summary.medianMs} ms, min ${summary.minMs}, max ${summary.maxMs}; ${JSON.stringify(failoversMs)}\n`);
  });
});
