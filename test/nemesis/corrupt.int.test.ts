// corrupt against real brokers. First by hand, with the fault's own functions: a follower is killed, bits
// of its partition log are flipped (nemesis/corrupt.ts plans them), it restarts on the damaged file and
// must repair it from the leader: after it is back in the ISR and the cluster has stopped, its own log
// (read from disk with CRCs checked) holds exactly the leader's records, and every acknowledged value
// reads back. Then the nemesis package end to end: it records which file of which node it changed and
// how, and restarts the node. Values are 1 KB, so most flipped bits land in record data, which only a
// CRC check can tell from good data.
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../harness/backends/local.ts';
import { fetchRolesByMajority } from '../../harness/backends/roles.ts';
import { readPartitionDir } from '../../harness/run/replica-logs.ts';
import { createRng } from '../../harness/rng.ts';
import { planCorruption } from '../../nemesis/corrupt.ts';
import { rejoined } from '../../nemesis/faults.ts';
import { startNemesis, type NemesisRecord } from '../../nemesis/index.ts';
import { fastFailoverSettings } from '../helpers/fast-failover.ts';

const workDir = mkdtempSync(join(tmpdir(), 'fl-corrupt-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const settings = fastFailoverSettings;

async function waitFor(what: string, timeoutMs: number, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('corrupt on a real cluster', () => {
  it('a follower restarted on a log with flipped bits repairs it from the leader; nothing acknowledged is lost', async () => {
    const backend = await createLocalBackend();
    const dir = join(workDir, 'hand');
    let nodes: Awaited<ReturnType<typeof backend.start>> | undefined;
    const acked: string[] = [];
    try {
      nodes = await backend.start({ nodes: 3, brokerSettings: settings, workDir: dir, runId: `cor${process.pid}`, startTimeoutMs: 60_000 });
      const bootstrap = nodes.map((n) => n.kafkaAddress);
      const kafka = new Kafka({ clientId: 'corrupt', brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const send = async (from: number, count: number): Promise<void> => {
        for (let i = from; i < from + count; i++) {
          const v = `v${i}:${'x'.repeat(1000)}`;
          await producer.send({ topic: 't', acks: -1, timeout: 20_000, messages: [{ value: v }] });
          acked.push(v);
        }
      };
      await send(0, 60);
      const roles = await fetchRolesByMajority(bootstrap, ['t']);
      const follower = nodes.find((n) => n.id !== roles.leaders['t-0'])!;
      await backend.kill(follower.name);
      const log = (await backend.dataFiles(follower.name)).find((f) => /(^|\/)t-0\/0+\.log$/.test(f.path))!;
      expect(log.sizeBytes).toBeGreaterThan(60_000);
      const plan = planCorruption(log.sizeBytes, 'bitflip', 4242);
      if (plan.mode !== 'bitflip') throw new Error('bitflip expected');
      await backend.flipBits(follower.name, log.path, plan.flips);
      await send(60, 20);
      await backend.restart(follower.name);
      await waitFor(`${follower.name} back in the ISR`, 60_000, async () => rejoined(await fetchRolesByMajority(bootstrap, ['t'], { timeoutMs: 3_000 }), follower.id, 't'));
      await send(80, 20);
      // the follower's log end must reach the leader's before the cluster stops
      await new Promise((r) => setTimeout(r, 2_000));
      await producer.disconnect();

      const consumer = kafka.consumer({ groupId: 'read-back', retry: { retries: 10 } });
      const seen = new Set<string>();
      await consumer.connect();
      await consumer.subscribe({ topic: 't', fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.add(message.value?.toString() ?? '') });
      await waitFor('every acknowledged value', 40_000, async () => acked.every((v) => seen.has(v)));
      await consumer.disconnect();
      expect([...seen].filter((v) => !acked.includes(v))).toEqual([]);
    } finally {
      await backend.stop();
    }
    // the repaired replica, read from disk with CRCs checked, is the leader's log
    const logs = nodes!.map((n) => ({ name: n.name, ...readPartitionDir(join(dir, n.name, 'data', 'partitions', 't-0')) }));
    for (const l of logs) expect(l.error, `${l.name}'s log`).toBeUndefined();
    const [a, ...rest] = logs;
    for (const l of rest) expect(l.pairs, `${l.name} vs ${a!.name}`).toEqual(a!.pairs);
    expect(a!.pairs.length).toBe(acked.length);
  }, 240_000);

  it('the corrupt nemesis records the file of each node it changed and how, and restarts the node', async () => {
    const backend = await createLocalBackend();
    try {
      await backend.start({ nodes: 3, brokerSettings: settings, workDir: join(workDir, 'nem'), runId: `corn${process.pid}`, startTimeoutMs: 60_000 });
      const kafka = new Kafka({ clientId: 'corrupt-nem', brokers: backend.nodes().map((n) => n.kafkaAddress), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const records: NemesisRecord[] = [];
      const h = await startNemesis({ backend, faults: ['corrupt-random'], intervalMs: 1_000, rng: createRng(17), topic: 't', record: (op) => records.push(op) });
      await waitFor('two corruptions and their restarts', 60_000, async () => records.filter((r) => r.f === 'restart').length >= 2);
      await h.stop();
      for (const r of records) expect(r.value.error, `${r.f} ${r.value.nodes.join(',')}`).toBeUndefined();
      const starts = records.filter((r) => r.f === 'corrupt');
      for (const s of starts) {
        const what = s.value.corruption?.files?.[s.value.nodes[0]!] ?? '';
        expect(what).toMatch(/\((segment|index|checkpoint)[,)].*(truncated \d+ -> \d+ bytes|bits flipped at \d+\.\d)/);
      }
      for (const n of backend.nodes()) expect(backend.pidOf(n.name)).not.toBeNull();
    } finally {
      await backend.stop();
    }
  }, 180_000);
});
