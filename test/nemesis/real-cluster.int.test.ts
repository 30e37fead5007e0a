// The nemesis against real brokers (node bin/faultline.mjs broker) in the local backend: faults hit the
// role they name, every fault ends, and the cluster answers metadata afterwards. Partition faults run
// only where the backend can partition (root with ip and iptables); otherwise kill and pause only.
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canPartition } from '../../harness/backend.ts';
import { createLocalBackend } from '../../harness/backends/local.ts';
import { fetchRoles, fetchRolesByMajority } from '../../harness/backends/roles.ts';
import { isAlive, processState } from '../../harness/proc/process.ts';
import { createRng } from '../../harness/rng.ts';
import { startNemesis, type NemesisRecord } from '../../nemesis/index.ts';

const workDir = mkdtempSync(join(tmpdir(), 'fl-nemesis-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('nemesis on a real local cluster', () => {
  it('targets roles from the cluster metadata, ends every fault, and leaves every node running', async () => {
    const backend = await createLocalBackend();
    try {
      const nodes = await backend.start({ nodes: 3, brokerSettings: {}, workDir, runId: `nem${process.pid}`, startTimeoutMs: 60_000 });
      const bootstrap = nodes.map((n) => n.kafkaAddress);
      const admin = new Kafka({ clientId: 'nemesis-test', brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 5 } }).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2, replicationFactor: 3 }], waitForLeaders: true });
      await admin.disconnect();

      // two phases so each fault surely runs: partitions first (where possible), then kills and pauses
      const phases: Array<{ names: string[]; ms: number }> = [
        ...(canPartition(backend) ? [{ names: ['partition-controller'], ms: 6_000 }] : []),
        { names: ['kill-leader', 'pause-follower'], ms: 10_000 },
      ];
      const records: Array<NemesisRecord & { rolesBefore: string }> = [];
      let lastRoles = '';
      for (const [i, phase] of phases.entries()) {
        const h = await startNemesis({
          backend,
          faults: phase.names,
          intervalMs: 1_200,
          rng: createRng(2024).fork(`nemesis-${i}`),
          topic: 't',
          roles: async () => {
            const r = await fetchRolesByMajority(bootstrap, ['t']).catch(() => null);
            lastRoles = JSON.stringify(r);
            return r;
          },
          record: (op) => records.push({ ...op, rolesBefore: lastRoles }),
        });
        await new Promise((r) => setTimeout(r, phase.ms));
        await h.stop();
      }
      for (const f of ['kill', 'pause', ...(canPartition(backend) ? ['partition'] : [])]) expect(records.map((r) => r.f)).toContain(f);

      const starts = records.filter((r) => ['kill', 'pause', 'partition'].includes(r.f));
      expect(starts.length).toBeGreaterThan(0);
      for (const r of records) expect(r.value.error).toBeUndefined();
      for (const s of starts) {
        const roles = JSON.parse(s.rolesBefore) as { controller: number | null; leaders: Record<string, number> } | null;
        if (roles === null || s.value.role === 'random') continue; // fell back, and said so in `note`
        const id = nodes.find((n) => n.name === s.value.nodes[0])!.id;
        if (s.f === 'kill') expect(Object.values(roles.leaders)).toContain(id);
        if (s.f === 'partition') expect(roles.controller).toBe(id);
      }
      const count = (f: string): number => records.filter((r) => r.f === f).length;
      expect(count('restart')).toBe(count('kill'));
      expect(count('resume')).toBe(count('pause'));
      if (count('partition') > 0) expect(records.filter((r) => r.f === 'partition' || r.f === 'heal').at(-1)!.f).toBe('heal');
      for (const n of nodes) {
        const pid = (backend as { pidOf(node: string): number | null }).pidOf(n.name);
        expect(pid !== null && isAlive(pid) && processState(pid) !== 'T').toBe(true);
      }
      const after = await fetchRoles(bootstrap, ['t'], { timeoutMs: 10_000 });
      expect(Object.keys(after.leaders).sort()).toEqual(['t-0', 't-1']);

      // a paused node does not hold up the majority answer: its own fetch would take the full 30 s
      // bound, the majority answers long before (the margin is wide so a loaded machine cannot flake it)
      await backend.pause('n1');
      const t0 = Date.now();
      const majority = await fetchRolesByMajority(bootstrap, ['t'], { timeoutMs: 30_000 });
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(Object.keys(majority.leaders).sort()).toEqual(['t-0', 't-1']);
      await backend.resume('n1');
    } finally {
      await backend.stop();
    }
  });
});
