// Clock faults against real brokers: every node starts under libfaketime (wall clock only), the nemesis
// bumps one node's clock 10 minutes back and later strobes another's, and the node's own log lines (the
// broker stamps each with its wall clock) are read from outside to see the clock it really had. Meanwhile
// the skewed node keeps heartbeating (its timers run on the monotonic clock), so it stays in the ISR, and
// acks=all writes go on. Skipped, with the reason, where libfaketime is missing.
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { faketimeSupport } from '../../harness/backends/faketime.ts';
import { createLocalBackend } from '../../harness/backends/local.ts';
import { fetchRolesByMajority } from '../../harness/backends/roles.ts';
import { createRng } from '../../harness/rng.ts';
import { startNemesis, type NemesisRecord } from '../../nemesis/index.ts';
import { fastFailoverSettings } from '../helpers/fast-failover.ts';

const support = faketimeSupport();
const workDir = mkdtempSync(join(tmpdir(), 'fl-clock-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const settings = fastFailoverSettings;

/** Wall-clock offsets (ms, the node's stamp minus the real time it was read at) of the node's log lines about `topic`. */
function stampOffsets(logFile: string, topic: string, sinceMs: number, untilMs: number): number[] {
  const out: number[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes(`[`) || !line.includes(`${topic}-0:`)) continue;
    const stamp = Date.parse(line.slice(0, line.indexOf(' ')));
    if (Number.isFinite(stamp)) out.push(stamp);
  }
  // each stamp was written between sinceMs and untilMs real time: report its offset from that window
  return out.map((s) => (s < sinceMs ? s - sinceMs : s > untilMs ? s - untilMs : 0));
}

describe.skipIf(!support.ok)(`clock faults on a real cluster${support.ok ? '' : ` (skipped: needs ${support.missing.join(', ')})`}`, () => {
  it('bump: one node writes its log 10 minutes in the past, stays in the ISR and the cluster takes acks=all writes; strobe flips it', async () => {
    const backend = await createLocalBackend();
    try {
      const nodes = await backend.start({ nodes: 3, brokerSettings: settings, workDir, runId: `clk${process.pid}`, startTimeoutMs: 60_000, clock: true });
      const bootstrap = nodes.map((n) => n.kafkaAddress);
      const kafka = new Kafka({ clientId: 'clock', brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();

      // the active controller: its broker-session timing must not follow its wall clock (Kafka's
      // BrokerHeartbeatManager counts on the monotonic clock), or a jump fences every broker
      const controller = (await fetchRolesByMajority(bootstrap, ['t'])).controller;
      const target = nodes.find((n) => n.id === controller) ?? nodes[1]!;
      await backend.setClockOffset(target.name, -600_000);
      // probe the node's wall clock: a new topic makes every replica log a line stamped with its clock
      const t0 = Date.now();
      await admin.createTopics({ topics: [{ topic: 'probe-bump', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
      await new Promise((r) => setTimeout(r, 1_000));
      const bumped = stampOffsets(target.logFile, 'probe-bump', t0, Date.now());
      expect(bumped.length).toBeGreaterThan(0);
      for (const off of bumped) expect(Math.abs(off + 600_000), `offset ${off}`).toBeLessThan(30_000);
      const other = stampOffsets(nodes.find((n) => n !== target)!.logFile, 'probe-bump', t0, Date.now());
      for (const off of other) expect(off).toBe(0);

      // two session timeouts with its clock 10 minutes back: its timers still fire, it stays unfenced and in the ISR
      await new Promise((r) => setTimeout(r, 6_000));
      for (let i = 0; i < 20; i++) await producer.send({ topic: 't', acks: -1, timeout: 20_000, messages: [{ value: `skewed-${i}` }] });
      // in the ISR: a loaded machine may drop a follower for a moment, so wait (bounded) for all three
      let isr: number[] = [];
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
        isr = ((await fetchRolesByMajority(bootstrap, ['t']).catch(() => null))?.replicas['t-0']?.isr ?? []).sort();
        if (isr.length === 3) break;
      }
      expect(isr).toEqual([1, 2, 3]);

      // strobe: the node's clock flips between real time and 10 minutes ahead every 400 ms
      await backend.strobeClock(target.name, 600_000, 400);
      const flips: number[] = [];
      for (let i = 0; i < 8; i++) {
        const s0 = Date.now();
        await admin.createTopics({ topics: [{ topic: `probe-strobe-${i}`, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
        await new Promise((r) => setTimeout(r, 300));
        flips.push(...stampOffsets(target.logFile, `probe-strobe-${i}`, s0, Date.now()));
      }
      expect(flips.some((o) => o === 0)).toBe(true);
      expect(flips.some((o) => Math.abs(o - 600_000) < 30_000)).toBe(true);

      // reset: the true time again
      await backend.setClockOffset(target.name, 0);
      const r0 = Date.now();
      await admin.createTopics({ topics: [{ topic: 'probe-reset', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
      await new Promise((r) => setTimeout(r, 1_000));
      const reset = stampOffsets(target.logFile, 'probe-reset', r0, Date.now());
      expect(reset.length).toBeGreaterThan(0);
      for (const off of reset) expect(off).toBe(0);
      await producer.disconnect();
      await admin.disconnect();
    } finally {
      await backend.stop();
    }
  }, 180_000);

  it('the nemesis records each clock fault with its node, role and delta, and resets every clock at the end', async () => {
    const backend = await createLocalBackend();
    try {
      const nodes = await backend.start({ nodes: 3, brokerSettings: settings, workDir: join(workDir, 'nem'), runId: `clkn${process.pid}`, startTimeoutMs: 60_000, clock: true });
      const records: NemesisRecord[] = [];
      const h = await startNemesis({ backend, faults: ['clock-random'], intervalMs: 400, rng: createRng(9), topic: 't', record: (op) => records.push(op) });
      const deadline = Date.now() + 30_000;
      while (records.filter((r) => r.f === 'clock-reset').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await h.stop();
      const starts = records.filter((r) => r.f === 'clock-bump' || r.f === 'clock-strobe');
      expect(starts.length).toBeGreaterThanOrEqual(2);
      for (const r of records) expect(r.value.error).toBeUndefined();
      for (const s of starts) expect(s.value).toMatchObject({ role: 'random', deltaMs: expect.any(Number) });
      expect(records.at(-1)!.f).toBe('clock-reset');
      for (const n of nodes) expect(readFileSync(join(workDir, 'nem', n.name, 'faketime'), 'utf8').trim()).toBe('+0.000');
    } finally {
      await backend.stop();
    }
  }, 120_000);
});
