// power-loss against real brokers: every node's data dir on the lazyfs layer, acks=all writes, then the
// power of all three nodes cut at once and the cluster rebooted. With the default flush settings (the
// broker leaves flushing to the OS, as Kafka does) acknowledged writes are lost; with
// log.flush.interval.messages=1 none are. Skipped, with the reason, where FUSE is not available.
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../harness/backends/local.ts';
import { lazyfsStats } from '../../harness/backends/lazyfs/lazyfs.ts';
import { lazyfsSupport } from '../../harness/backends/lazyfs/lazyfs.ts';

const support = await lazyfsSupport();
const workDir = mkdtempSync(join(tmpdir(), 'fl-powerloss-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const base = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'auto.create.topics.enable': 'false',
  'broker.session.timeout.ms': '3000',
  'broker.heartbeat.interval.ms': '500',
  'controller.quorum.election.timeout.ms': '1000',
  'controller.quorum.fetch.timeout.ms': '2000',
  'replica.fetch.backoff.ms': '100',
};

/** Write `count` values with acks=all, cut every node's power, reboot, read back: acked values missing. */
async function ackedLostAfterPowerLossAll(label: string, settings: Record<string, string>, count: number): Promise<{ acked: number; lost: number; dirtyPagesBefore: number }> {
  const backend = await createLocalBackend();
  try {
    const nodes = await backend.start({ nodes: 3, brokerSettings: { ...base, ...settings }, workDir: join(workDir, label), runId: `pl${label}${process.pid}`, startTimeoutMs: 60_000, powerLoss: true });
    const brokers = nodes.map((n) => n.kafkaAddress);
    const kafka = new Kafka({ clientId: `power-${label}`, brokers, logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const acked: string[] = [];
    for (let i = 0; i < count; i++) {
      await producer.send({ topic: 't', acks: -1, messages: [{ value: String(i) }] });
      acked.push(String(i));
    }
    await producer.disconnect();
    const dirtyPagesBefore = nodes.map((n) => lazyfsStats({ mountpoint: n.dataDir }).dirtyPages).reduce((a, b) => a + b, 0);
    await Promise.all(nodes.map((n) => backend.powerLoss(n.name)));
    await Promise.all(nodes.map((n) => backend.restart(n.name)));

    const consumer = kafka.consumer({ groupId: `read-${label}`, retry: { retries: 10 } });
    const seen = new Set<string>();
    await consumer.connect();
    await consumer.subscribe({ topic: 't', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.add(message.value?.toString() ?? '') });
    // read until every acked value is back, or the log has been quiet for a while (what is gone is gone)
    const deadline = Date.now() + 40_000;
    let last = -1;
    let quietSince = Date.now();
    while (Date.now() < deadline && seen.size < acked.length) {
      await new Promise((r) => setTimeout(r, 500));
      if (seen.size !== last) {
        last = seen.size;
        quietSince = Date.now();
      } else if (Date.now() - quietSince > 12_000) break;
    }
    await consumer.disconnect();
    return { acked: acked.length, lost: acked.filter((v) => !seen.has(v)).length, dirtyPagesBefore };
  } finally {
    await backend.stop();
  }
}

describe.skipIf(!support.ok)(`power-loss on a real cluster${support.ok ? '' : ` (skipped: needs ${support.missing.join(', ')})`}`, () => {
  it('default flush settings: cutting every node loses acknowledged acks=all writes', async () => {
    const r = await ackedLostAfterPowerLossAll('default', {}, 200);
    expect(r.dirtyPagesBefore).toBeGreaterThan(0);
    expect(r.lost).toBeGreaterThan(0);
  }, 180_000);

  it('log.flush.interval.messages=1: cutting every node loses none', async () => {
    const r = await ackedLostAfterPowerLossAll('flush1', { 'log.flush.interval.messages': '1' }, 200);
    expect(r.acked).toBe(200);
    expect(r.lost).toBe(0);
  }, 180_000);
});
