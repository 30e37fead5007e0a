// reassign against real brokers: 4 nodes, a topic of 2 partitions with 3 replicas, acks=all writes all
// along while the nemesis moves partitions' replicas several times. Each move's end is recorded only once
// it is complete: the moment the end is recorded, the test's own admin client finds no reassignment of
// the partition in progress and the metadata showing the new replica list. The moves really happened (a
// broker outside the old replica list got a replica, and was in the ISR when the move completed), every
// fault ended, and every acknowledged write reads back afterwards.
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../harness/backends/local.ts';
import { kafkaAdmin } from '../../harness/backends/admin.ts';
import { createRng } from '../../harness/rng.ts';
import { startNemesis, type NemesisRecord } from '../../nemesis/index.ts';
import { fastFailoverSettings } from '../helpers/fast-failover.ts';
import { unreadAcked } from '../helpers/read-back.ts';

const workDir = mkdtempSync(join(tmpdir(), 'fl-reassign-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('reassign on a real cluster', () => {
  it('moves replicas several times under acks=all load: each end recorded once complete, the moves real, no acknowledged write lost', async () => {
    const backend = await createLocalBackend();
    try {
      const nodes = await backend.start({ nodes: 4, brokerSettings: fastFailoverSettings, workDir, runId: `ra${process.pid}`, startTimeoutMs: 60_000 });
      const bootstrap = nodes.map((n) => n.kafkaAddress);
      const kafka = new Kafka({ clientId: 'reassign', brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();

      const probe = kafkaAdmin(() => bootstrap);
      const records: NemesisRecord[] = [];
      // what the cluster showed the moment each end was recorded
      const atEnd: Array<Promise<{ key: string; ongoing: boolean; replicas: number[] | undefined }>> = [];
      const h = await startNemesis({
        backend,
        faults: ['reassign'],
        intervalMs: 700,
        rng: createRng(11),
        topic: 't',
        record: (op) => {
          records.push(op);
          if (op.f !== 'reassign-done' || op.value.error !== undefined) return;
          const key = op.value.reassignment!.key;
          const partition = Number(key.slice(2));
          atEnd.push(
            (async () => {
              const [ongoing, d] = await Promise.all([probe.reassignments(), probe.describe(['t'])]);
              return { key, ongoing: ongoing.some((r) => r.partition === partition), replicas: d.partitions.find((p) => p.partition === partition)?.replicas };
            })(),
          );
        },
      });
      const acked: string[] = [];
      let sent = 0;
      const deadline = Date.now() + 90_000;
      while (records.filter((r) => r.f === 'reassign-done').length < 4 && Date.now() < deadline) {
        const v = `v${sent++}`;
        await producer.send({ topic: 't', acks: -1, timeout: 10_000, messages: [{ key: String(sent % 2), value: v }] });
        acked.push(v);
      }
      await h.stop();
      await producer.disconnect();

      for (const r of records) expect(r.value.error, `${r.f} ${JSON.stringify(r.value.reassignment)}`).toBeUndefined();
      const starts = records.filter((r) => r.f === 'reassign');
      const ends = records.filter((r) => r.f === 'reassign-done');
      expect(ends.length).toBeGreaterThanOrEqual(4);
      expect(ends.length).toBe(starts.length); // every fault ended
      // each end was recorded once its move was complete
      for (const [i, seen] of (await Promise.all(atEnd)).entries()) {
        expect(seen.ongoing, `${seen.key} still reassigning when its end was recorded`).toBe(false);
        expect(seen.replicas, `${seen.key} replicas when its end was recorded`).toEqual(ends[i]!.value.reassignment!.to);
      }
      // the moves were real: some broker outside the old replica list got a replica
      expect(ends.some((e) => e.value.reassignment!.to.some((id) => !e.value.reassignment!.from.includes(id)))).toBe(true);
      for (const e of ends) {
        const r = e.value.reassignment!;
        expect(r.observed!.replicas).toEqual(r.to);
        // KIP-455: a move completes only once every new replica caught up (joined the ISR)
        for (const id of r.to.filter((x) => !r.from.includes(x))) expect(r.observed!.isr, `${r.key}: new replica ${id} in the ISR when the move completed`).toContain(id);
      }

      // every acknowledged write reads back
      const lost = await unreadAcked(kafka, 't', acked);
      expect(acked.length).toBeGreaterThan(20);
      expect(lost, `acked ${acked.length}`).toEqual([]);
    } finally {
      await backend.stop();
    }
  }, 180_000);
});
