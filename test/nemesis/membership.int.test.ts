// membership against real brokers: a 3-voter cluster under acks=all load; the nemesis adds a broker-only
// node n4 (its own namespace on the run's bridge where namespaces are on), moves a partition onto it so
// that it leads it (writes go to it, a consumer reads from it), then decommissions it: its replicas are
// moved away, it is stopped and unregistered, and the backend removes it and its namespace. No
// acknowledged write is lost; afterwards the cluster lists only its voters and no replica on n4.
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../harness/backends/local.ts';
import { kafkaAdmin } from '../../harness/backends/admin.ts';
import { runCommand } from '../../harness/proc/exec.ts';
import { createRng } from '../../harness/rng.ts';
import { startNemesis, type NemesisRecord } from '../../nemesis/index.ts';
import { fastFailoverSettings } from '../helpers/fast-failover.ts';
import { unreadAcked } from '../helpers/read-back.ts';

const workDir = mkdtempSync(join(tmpdir(), 'fl-members-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('membership on a real cluster', () => {
  it('adds a broker-only node that leads a partition and serves reads, then decommissions it; no acknowledged write lost', async () => {
    const backend = await createLocalBackend();
    try {
      const nodes = await backend.start({ nodes: 3, brokerSettings: fastFailoverSettings, workDir, runId: `mem${process.pid}`, startTimeoutMs: 60_000 });
      const bootstrap = nodes.map((n) => n.kafkaAddress);
      const kafka = new Kafka({ clientId: 'members', brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const acked: string[] = [];
      let writing = true;
      let sent = 0;
      const load = (async () => {
        while (writing) {
          const v = `v${sent++}`;
          await producer.send({ topic: 't', acks: -1, timeout: 10_000, messages: [{ key: String(sent % 2), value: v }] });
          acked.push(v);
        }
      })();

      const records: NemesisRecord[] = [];
      const h = await startNemesis({ backend, faults: ['membership'], intervalMs: 10_000, rng: createRng(21), topic: 't', record: (op) => records.push(op) });
      await until('a broker added', 60_000, () => records.some((r) => r.f === 'add-broker'));
      const add = records.find((r) => r.f === 'add-broker')!;
      expect(add.value.error).toBeUndefined();
      expect(add.value).toMatchObject({ nodes: ['n4'], ids: [4] });
      expect(backend.nodes().map((n) => n.name)).toEqual(['n1', 'n2', 'n3', 'n4']);
      const moved = add.value.reassignment!;
      expect(moved.to[0]).toBe(4);
      expect(moved.observed).toMatchObject({ replicas: moved.to, leader: 4 });
      const partition = Number(moved.key.slice(2));

      // the new broker serves reads: a consumer that knows only n4 reads the partition it leads
      const n4 = backend.nodes().find((n) => n.name === 'n4')!;
      const reader = new Kafka({ clientId: 'n4-reader', brokers: [n4.kafkaAddress], logLevel: logLevel.NOTHING, retry: { retries: 10 } }).consumer({ groupId: 'n4-reader' });
      let readFromN4 = 0;
      await reader.connect();
      await reader.subscribe({ topic: 't', fromBeginning: true });
      await reader.run({ eachMessage: async (m) => void (m.partition === partition && readFromN4++) });
      await until('reads of the partition n4 leads', 20_000, () => readFromN4 > 0 || records.some((r) => r.f === 'decommission'));
      await reader.disconnect();
      expect(records.some((r) => r.f === 'decommission'), 'n4 was decommissioned before the read').toBe(false);
      expect(readFromN4).toBeGreaterThan(0);

      await until('the broker decommissioned', 60_000, () => records.some((r) => r.f === 'decommission'));
      await h.stop();
      writing = false;
      await load;
      await producer.disconnect();

      const dec = records.find((r) => r.f === 'decommission')!;
      for (const r of records) expect(r.value.error, `${r.f}`).toBeUndefined();
      expect(dec.value).toMatchObject({ nodes: ['n4'], ids: [4] });
      expect(dec.value.moves!.length).toBeGreaterThan(0);
      for (const m of dec.value.moves!) expect(m.observed?.replicas).not.toContain(4);
      expect(backend.nodes().map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
      const d = await kafkaAdmin(() => bootstrap).describe(null);
      expect(d.brokers).toEqual([1, 2, 3]);
      expect(d.partitions.filter((p) => p.replicas.includes(4))).toEqual([]);
      const netns = (await runCommand('ip', ['netns', 'list'], 5_000)).stdout;
      expect(netns).not.toMatch(new RegExp(`mem${process.pid}n4`));

      // every acknowledged write reads back
      const lost = await unreadAcked(kafka, 't', acked);
      expect(acked.length).toBeGreaterThan(20);
      expect(lost, `acked ${acked.length}`).toEqual([]);
    } finally {
      await backend.stop();
    }
  }, 240_000);
});
