/**
 * Controlled shutdown with real broker processes (3 nodes, acks=all, min.insync.replicas 2): SIGTERM
 * to a partition's leader moves its leadership before the process exits — another broker's Metadata
 * already names a new leader while the SIGTERMed process is still running — and acks=all writes go
 * on. The unavailability (the longest gap between successful acks=all writes on that partition from
 * the signal until the first success after the process is gone) is printed next to the same figure
 * for a SIGKILL of the leader, which waits for the session timeout.
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/client.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { TestCluster } from '../helpers/broker-process.ts';

const TOPIC = 'cs';
const PARTITIONS = 3;

function kafkaFor(cluster: TestCluster, clientId: string, requestTimeout = 2000): Kafka {
  return new Kafka({
    brokers: cluster.bootstrap,
    clientId,
    logLevel: logLevel.NOTHING,
    requestTimeout,
    connectionTimeout: 500,
    retry: { retries: 5, initialRetryTime: 50, maxRetryTime: 300 },
  });
}

/** Leader and ISR of each partition as broker `port` answers Metadata (null if it does not answer). */
async function metadataFrom(conn: KafkaConnection): Promise<Array<{ leader: number; isr: number[] }> | null> {
  try {
    const md: any = await conn.request(ApiKeys.Metadata, 8, { topics: [{ name: TOPIC }], allowAutoTopicCreation: false }, 1000);
    const parts = [...md.topics[0].partitions].sort((a: any, b: any) => a.partitionIndex - b.partitionIndex);
    return parts.map((p: any) => ({ leader: p.leaderId, isr: [...p.isrNodes].sort() }));
  } catch {
    return null;
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Writes acks=all to one partition as fast as it can, recording when each write succeeded. */
function writer(cluster: TestCluster, partition: number): { successesMs: number[]; stop: () => Promise<void> } {
  const successesMs: number[] = [];
  let stopped = false;
  const producer = kafkaFor(cluster, `probe-${partition}`, 1000).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  const done = (async () => {
    await producer.connect();
    let i = 0;
    while (!stopped) {
      try {
        await producer.send({ topic: TOPIC, acks: -1, timeout: 1000, messages: [{ partition, value: `w-${i++}` }] });
        successesMs.push(Date.now());
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await producer.disconnect();
  })();
  return {
    successesMs,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** The longest wait for a successful write from t0 until the first success after `untilMs`. */
function unavailabilityMs(successesMs: number[], t0: number, untilMs: number): number | null {
  const after = successesMs.filter((t) => t > t0);
  const end = after.findIndex((t) => t > untilMs);
  if (end < 0) return null;
  let prev = t0;
  let gap = 0;
  for (const t of after.slice(0, end + 1)) {
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return gap;
}

describe('controlled shutdown', () => {
  let cluster: TestCluster | null = null;
  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('moves a SIGTERMed leader\'s partitions before it exits; acks=all writes continue', async () => {
    cluster = await TestCluster.start(3, {
      'default.replication.factor': '3',
      'min.insync.replicas': '2',
      'auto.leader.rebalance.enable': 'false',
      'controlled.shutdown.timeout.ms': '10000',
    });
    const c = cluster;
    const admin = kafkaFor(c, 'setup').admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
    const controller = (await admin.describeCluster()).controller ?? -1;
    await admin.disconnect();

    const conns = new Map<number, KafkaConnection>();
    for (const b of c.brokers) conns.set(b.id, await KafkaConnection.connect('127.0.0.1', b.port, { connectTimeoutMs: 1000 }));
    const full = await waitFor('every ISR full', 20_000, async () => {
      const md = await metadataFrom(conns.get(1)!);
      return md && md.every((p) => p.isr.length === 3) ? md : null;
    });
    // A partition whose leader is not the active controller, so only controlled shutdown is at work.
    const partition = full.findIndex((p) => p.leader !== controller);
    expect(partition).toBeGreaterThanOrEqual(0);
    const target = full[partition]!.leader;
    const other = c.brokers.find((b) => b.id !== target && b.id !== controller) ?? c.brokers.find((b) => b.id !== target)!;

    const w = writer(c, partition);
    await waitFor('writes flowing', 10_000, async () => (w.successesMs.length >= 20 ? true : null));

    // SIGTERM: while the process still runs, another broker must already name a new leader.
    const child = c.broker(target).child!;
    let exitedAtMs = 0;
    const exited = new Promise<void>((resolve) => child.once('exit', () => { exitedAtMs = Date.now(); resolve(); }));
    const t0 = Date.now();
    child.kill('SIGTERM');
    let movedWhileRunning: { leader: number; isr: number[] } | null = null;
    while (exitedAtMs === 0) {
      const md = await metadataFrom(conns.get(other.id)!);
      const p = md?.[partition];
      if (p && p.leader !== target && p.leader >= 0 && exitedAtMs === 0) {
        movedWhileRunning = p;
        break;
      }
    }
    await exited;
    expect(movedWhileRunning, 'no broker named a new leader before the SIGTERMed leader exited').not.toBeNull();
    expect(movedWhileRunning!.isr).not.toContain(target);
    expect(c.broker(target).lastExit).toMatchObject({ code: 0 });
    expect(readFileSync(c.broker(target).logFile, 'utf8')).toMatch(/controlled shutdown approved/);
    // acks=all writes continue on the new leader.
    const before = w.successesMs.length;
    await waitFor('acks=all writes after the exit', 10_000, async () => (w.successesMs.some((t) => t > exitedAtMs) && w.successesMs.length > before ? true : null));
    const termMs = unavailabilityMs(w.successesMs, t0, exitedAtMs);

    // The same measure for a SIGKILL of the partition's leader (restart the stopped node first).
    await c.restart(target);
    const again = await waitFor('every ISR full again', 30_000, async () => {
      const md = await metadataFrom(conns.get(other.id)!);
      return md && md.every((p) => p.isr.length === 3) ? md : null;
    });
    const killTarget = again[partition]!.leader;
    const k0 = Date.now();
    await c.kill(killTarget, 'SIGKILL');
    const killedAtMs = Date.now();
    await waitFor('acks=all writes after the SIGKILL', 30_000, async () => (w.successesMs.some((t) => t > killedAtMs) ? true : null));
    const killMs = unavailabilityMs(w.successesMs, k0, killedAtMs);
    await w.stop();
    for (const conn of conns.values()) conn.close();

    console.log(
      `controlled shutdown: SIGTERM to exit ${exitedAtMs - t0} ms; unavailability of partition ${partition} ` +
        `(longest wait for an acks=all write) after SIGTERM of leader ${target}: ${termMs} ms; after SIGKILL of leader ${killTarget}: ${killMs} ms`,
    );
    expect(termMs).not.toBeNull();
    expect(killMs).not.toBeNull();
  }, 120_000);
});
