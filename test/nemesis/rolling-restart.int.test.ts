// rolling-restart against real brokers: the nemesis stops (SIGTERM) and restarts each of 3 nodes in turn
// under acks=all load, waiting until the restarted node is back in every ISR before it stops the next.
// A sampler polls the ISRs all along: never more than one replica is out of the ISR at a time (the roll
// never takes a second node while the first is still catching up), every node was restarted once, and
// the acks=all writes of the whole roll succeed. And the roll's own view of the cluster showed each
// restarted node back in every ISR before it stopped the next one.
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../harness/backends/local.ts';
import { fetchRolesByMajority } from '../../harness/backends/roles.ts';
import { createRng } from '../../harness/rng.ts';
import type { Roles } from '../../harness/backend.ts';
import { rejoined } from '../../nemesis/faults.ts';
import { startNemesis, type NemesisRecord } from '../../nemesis/index.ts';
import { fastFailoverSettings } from '../helpers/fast-failover.ts';

const workDir = mkdtempSync(join(tmpdir(), 'fl-roll-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const settings = fastFailoverSettings;

describe('rolling-restart on a real cluster', () => {
  it('restarts every node once, one at a time: never two replicas out of the ISR, acks=all writes go on', async () => {
    const backend = await createLocalBackend();
    try {
      const nodes = await backend.start({ nodes: 3, brokerSettings: settings, workDir, runId: `roll${process.pid}`, startTimeoutMs: 60_000 });
      const bootstrap = nodes.map((n) => n.kafkaAddress);
      const kafka = new Kafka({ clientId: 'roll', brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();

      const records: Array<NemesisRecord & { atMs: number }> = [];
      // every roles answer the nemesis acted on, with when it came
      const seen: Array<{ atMs: number; roles: Roles | null }> = [];
      const roles = async (): Promise<Roles | null> => {
        const r = await fetchRolesByMajority(bootstrap, ['t'], { timeoutMs: 3_000 }).catch(() => null);
        seen.push({ atMs: performance.now(), roles: r });
        return r;
      };
      const h = await startNemesis({ backend, faults: ['rolling-restart'], intervalMs: 300, rng: createRng(3), topic: 't', roles, record: (op) => records.push({ ...op, atMs: performance.now() }) });
      let rolling = true;
      let mostOut = 0;
      const sampler = (async () => {
        while (rolling) {
          const r = await fetchRolesByMajority(bootstrap, ['t'], { timeoutMs: 3_000 }).catch(() => null);
          if (r !== null && records.some((x) => x.f === 'rolling-restart')) {
            for (const k of ['t-0', 't-1']) mostOut = Math.max(mostOut, 3 - (r.replicas[k]?.isr.length ?? 3));
          }
          await new Promise((res) => setTimeout(res, 100));
        }
      })();
      let sent = 0;
      const deadline = Date.now() + 150_000;
      while (!records.some((r) => r.f === 'rolling-restart-end') && Date.now() < deadline) {
        await producer.send({ topic: 't', acks: -1, timeout: 20_000, messages: [{ key: String(sent % 2), value: `v${sent}` }] });
        sent++;
      }
      await h.stop();
      rolling = false;
      await sampler;
      await producer.disconnect();

      for (const r of records) expect(r.value.error, `${r.f} ${r.value.nodes.join(',')}`).toBeUndefined();
      const i = records.findIndex((r) => r.f === 'rolling-restart');
      const roll = records.slice(i, records.findIndex((r) => r.f === 'rolling-restart-end') + 1);
      expect(roll.map((r) => r.f)).toEqual(['rolling-restart', 'stop', 'restart', 'stop', 'restart', 'stop', 'restart', 'rolling-restart-end']);
      expect(roll.filter((r) => r.f === 'restart').map((r) => r.value.nodes[0]).sort()).toEqual(['n1', 'n2', 'n3']);
      // before stopping the next node, the roll saw the one it restarted back in every ISR
      for (let k = 2; k + 1 < roll.length - 1; k += 2) {
        const restarted = nodes.find((n) => n.name === roll[k]!.value.nodes[0])!.id;
        const from = roll[k]!.atMs;
        const to = roll[k + 1]!.atMs;
        const back = seen.some((s) => s.atMs >= from && s.atMs <= to && rejoined(s.roles, restarted, 't'));
        expect(back, `${roll[k]!.value.nodes[0]} back in the ISR before ${roll[k + 1]!.value.nodes[0]} was stopped`).toBe(true);
      }
      expect(sent).toBeGreaterThan(10);
      expect(mostOut).toBeGreaterThanOrEqual(1); // the sampler saw the roll
      expect(mostOut).toBe(1);
    } finally {
      await backend.stop();
    }
  }, 240_000);
});
