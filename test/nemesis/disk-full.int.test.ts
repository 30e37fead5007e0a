// disk-full against real brokers: every node's data dir sits on the FUSE layer, which answers ENOSPC to
// every write that needs space while the disk is full. With the leader's disk full (and then every
// node's), acks=all writes keep being sent; the broker must not acknowledge what it could not write, so
// after the disks are freed (and any broker that exited is started again) every acknowledged value reads
// back. Skipped, with the reason, where FUSE is not available.
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../harness/backends/local.ts';
import { lazyfsSupport } from '../../harness/backends/lazyfs/lazyfs.ts';
import { fetchRolesByMajority } from '../../harness/backends/roles.ts';
import { createRng } from '../../harness/rng.ts';
import { startNemesis, type NemesisRecord } from '../../nemesis/index.ts';
import { fastFailoverSettings } from '../helpers/fast-failover.ts';
import { unreadAcked } from '../helpers/read-back.ts';

const support = await lazyfsSupport();
const workDir = mkdtempSync(join(tmpdir(), 'fl-diskfull-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const settings = fastFailoverSettings;

describe.skipIf(!support.ok)(`disk-full on a real cluster${support.ok ? '' : ` (skipped: needs ${support.missing.join(', ')})`}`, () => {
  it('no acknowledged acks=all write is lost while the leader\'s disk, then every disk, is full; freeing the disks brings the cluster back', async () => {
    const backend = await createLocalBackend();
    try {
      const nodes = await backend.start({ nodes: 3, brokerSettings: settings, workDir, runId: `df${process.pid}`, startTimeoutMs: 60_000, diskFull: true });
      const bootstrap = nodes.map((n) => n.kafkaAddress);
      const kafka = new Kafka({ clientId: 'diskfull', brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 2, initialRetryTime: 100 } });
      await producer.connect();
      const acked: string[] = [];
      let failed = 0;
      let next = 0;
      const sendFor = async (ms: number): Promise<void> => {
        const until = Date.now() + ms;
        while (Date.now() < until) {
          const v = `v${next++}`;
          try {
            await producer.send({ topic: 't', acks: -1, timeout: 3_000, messages: [{ value: v }] });
            acked.push(v);
          } catch {
            failed++;
          }
        }
      };
      await sendFor(1_000);
      const before = acked.length;
      expect(before).toBeGreaterThan(0);

      // the leader's disk full: the layer refuses its writes (the control file says so)
      const records: NemesisRecord[] = [];
      const leaderFull = await startNemesis({ backend, faults: ['disk-full-leader'], intervalMs: 4_000, rng: createRng(8), topic: 't', record: (op) => records.push(op) });
      const t0 = Date.now();
      while (!records.some((r) => r.f === 'disk-full') && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
      const fullNode = nodes.find((n) => n.name === records.find((r) => r.f === 'disk-full')!.value.nodes[0])!;
      expect(() => writeFileSync(join(fullNode.dataDir, 'probe'), 'x')).toThrow(/ENOSPC/);
      await sendFor(3_000);
      await leaderFull.stop();
      expect(records.map((r) => r.f)).toContain('disk-free');

      // every disk full: nothing can be written anywhere, so nothing may be acknowledged
      for (const n of nodes) await backend.fillDisk(n.name);
      const ackedBeforeAll = acked.length;
      await sendFor(3_000);
      expect(acked.length, 'acks while every disk was full').toBe(ackedBeforeAll);
      const restarted = [];
      for (const n of nodes) if (await backend.freeDisk(n.name)) restarted.push(n.name);

      // recovered: writes go through again
      const deadline = Date.now() + 60_000;
      let after = 0;
      while (after === 0 && Date.now() < deadline) {
        const n = acked.length;
        await sendFor(1_000);
        after = acked.length - n;
      }
      expect(after, `writes after the disks were freed (restarted: ${restarted.join(',') || 'none'})`).toBeGreaterThan(0);
      await producer.disconnect();

      // every acknowledged value reads back
      const lost = await unreadAcked(kafka, 't', acked);
      expect(lost, `acked ${acked.length}, failed ${failed}`).toEqual([]);
      const roles = await fetchRolesByMajority(bootstrap, ['t']);
      expect(roles.leaders['t-0']).toBeGreaterThan(0);
    } finally {
      await backend.stop();
    }
  }, 240_000);
});
