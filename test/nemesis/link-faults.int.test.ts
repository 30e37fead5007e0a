// The link and node-group faults against a real local cluster in network namespaces (root, ip, iptables,
// tc): controller-link cuts only the Raft/controller links (the controller moves, Kafka traffic flows),
// packet-loss and bandwidth put their rules on every link between nodes and heal removes them, a
// bandwidth limit really slows replication (on one node's links only, when targeted), stop is a graceful SIGTERM, kill-majority takes two nodes
// down together. Skipped (with the reason) where namespaces are not available.
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canDegrade } from '../../harness/backend.ts';
import { createLocalBackend, detectLocalMode, type LocalNetnsBackend } from '../../harness/backends/local.ts';
import { dropSources, shapingClasses } from '../../harness/backends/netns.ts';
import { fetchRolesByMajority } from '../../harness/backends/roles.ts';
import { runChecked } from '../../harness/proc/exec.ts';
import { createRng } from '../../harness/rng.ts';
import { startNemesis, type NemesisRecord } from '../../nemesis/index.ts';
import { isolate } from '../../nemesis/shapes.ts';

const mode = await detectLocalMode();
const workDir = mkdtempSync(join(tmpdir(), 'fl-linkfaults-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

async function waitUntil(what: string, timeoutMs: number, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function iptablesRules(namespace: string): Promise<string> {
  return runChecked('ip', ['netns', 'exec', namespace, 'iptables', '-w', '10', '-S', 'INPUT'], 10_000);
}

/** Milliseconds to send `bytes` over TCP from namespace `from` to a listener in namespace `to`. */
async function transferMs(from: string, to: string, toAddress: string, bytes: number): Promise<number> {
  const port = 19_555;
  const server = `const s=require('net').createServer(c=>{let n=0;c.on('data',d=>{n+=d.length;if(n>=${bytes}){c.end('k');s.close()}})}).listen(${port},'${toAddress}',()=>console.log('up'));setTimeout(()=>process.exit(3),60000)`;
  const client = `const t=Date.now();const c=require('net').connect(${port},'${toAddress}',()=>c.write(Buffer.alloc(${bytes})));c.on('data',()=>{console.log(Date.now()-t);process.exit(0)});setTimeout(()=>process.exit(3),60000)`;
  const { spawn } = await import('node:child_process');
  const srv = spawn('ip', ['netns', 'exec', to, process.execPath, '-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      srv.stdout.once('data', () => resolve());
      srv.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
    });
    const out = await runChecked('ip', ['netns', 'exec', from, process.execPath, '-e', client], 60_000);
    return Number(out.trim());
  } finally {
    srv.kill('SIGKILL');
  }
}

const settings = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'auto.create.topics.enable': 'false',
  'broker.session.timeout.ms': '3000',
  'broker.heartbeat.interval.ms': '500',
  'replica.lag.time.max.ms': '10000',
  'controller.quorum.election.timeout.ms': '1000',
  'controller.quorum.fetch.timeout.ms': '2000',
  'replica.fetch.backoff.ms': '100',
  'replica.socket.timeout.ms': '30000',
};

describe.skipIf(mode.mode !== 'netns')(`link and node-group faults on a real cluster${mode.mode !== 'netns' ? ` (skipped: ${mode.missing.join(', ')})` : ''}`, () => {
  let backend: LocalNetnsBackend;
  let bootstrap: string[];
  let producer: Producer;
  const names = ['n1', 'n2', 'n3'];

  beforeAll(async () => {
    backend = (await createLocalBackend({ force: 'netns' })) as LocalNetnsBackend;
    const nodes = await backend.start({ nodes: 3, brokerSettings: settings, workDir, runId: `lf${process.pid}`, startTimeoutMs: 60_000 });
    bootstrap = nodes.map((n) => n.kafkaAddress);
    const kafka = new Kafka({ clientId: 'link-faults', brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  }, 120_000);

  afterAll(async () => {
    await producer?.disconnect().catch(() => {});
    await backend?.stop();
  });

  const send = (value: string): Promise<unknown> => producer.send({ topic: 't', acks: -1, timeout: 20_000, messages: [{ value }] });

  it('controller-link: only the controller listeners are cut, the controller moves, Kafka traffic flows', async () => {
    const before = await fetchRolesByMajority(bootstrap, ['t']);
    const ctrl = backend.nodes().find((n) => n.id === before.controller)!;
    await backend.partition(isolate(ctrl.name, names), 'controller');
    const plan = backend.network()!;
    const rules = await iptablesRules(plan.nodes.find((n) => n.node === ctrl.name)!.namespace);
    expect(rules).toMatch(/--dport 9093 -j DROP/);
    expect(rules).toMatch(/--sport 9093 -j DROP/);
    expect(rules).not.toMatch(/-s \S+ -j DROP/); // no whole-host drop
    // the other two elect another controller; acks=all writes still succeed through the cut
    await waitUntil('a new controller', 20_000, async () => {
      const r = await fetchRolesByMajority(bootstrap, ['t'], { timeoutMs: 3_000 });
      return r.controller !== null && r.controller !== ctrl.id;
    });
    await send('through-controller-link-cut');
    await backend.heal();
    for (const n of plan.nodes) expect(await dropSources(n.namespace)).toEqual([]);
  }, 60_000);

  it('packet-loss puts a random-drop rule on every link between nodes; heal removes them; writes go on', async () => {
    await backend.degrade({ kind: 'packet-loss', probability: 0.2 });
    const plan = backend.network()!;
    for (const n of plan.nodes) {
      const rules = await iptablesRules(n.namespace);
      expect(rules.match(/-m statistic --mode random --probability 0\.2\d* -j DROP/g)?.length, n.node).toBe(2);
      expect(rules).not.toContain(`-s ${plan.bridgeAddress}/32`);
    }
    await send('under-packet-loss');
    await backend.heal();
    for (const n of plan.nodes) expect(await iptablesRules(n.namespace)).not.toMatch(/statistic/);
  }, 60_000);

  it('bandwidth limits the links between nodes, not the clients (measured with a plain TCP transfer)', async () => {
    expect(canDegrade(backend)).toBe(true);
    await backend.degrade({ kind: 'bandwidth', rateKbit: 256 });
    const plan = backend.network()!;
    for (const n of plan.nodes) expect(await shapingClasses(n.namespace)).toMatch(/class htb 1:20 .*rate 256Kbit/);
    // 64 KiB from n1 to n2 through a 256 kbit/s link takes at least 2 s; a loaded machine only makes it
    // slower, so the lower bound cannot flake
    const [a, b] = [plan.nodes[0]!, plan.nodes[1]!];
    const ms = await transferMs(a.namespace, b.namespace, b.address, 64 * 1024);
    expect(ms).toBeGreaterThan(1_500);
    await backend.heal();
    for (const n of plan.nodes) expect(await shapingClasses(n.namespace)).not.toMatch(/1:20/);
    await send('after-bandwidth');
  }, 120_000);

  it('bandwidth on one node (bandwidth-<role>): its links are slow both ways, the others\' links are not shaped', async () => {
    await backend.degrade({ kind: 'bandwidth', rateKbit: 256, nodes: ['n2'] });
    const plan = backend.network()!;
    const [n1, n2, n3] = [plan.nodes[0]!, plan.nodes[1]!, plan.nodes[2]!];
    // bytes n1 has sent through its limited class (tc -s counts every packet a class passes)
    const limitedBytes = async (): Promise<number> => {
      const out = await runChecked('ip', ['netns', 'exec', n1.namespace, 'tc', '-s', 'class', 'show', 'dev', 'eth0'], 10_000);
      const m = /class htb 1:20 [^\n]*\n\s*Sent (\d+) bytes/.exec(out);
      if (m === null) throw new Error(`no limited class on n1:\n${out}`);
      return Number(m[1]);
    };
    // 64 KiB through a 256 kbit/s link takes at least 2 s, either way; load only makes it slower
    expect(await transferMs(n2.namespace, n1.namespace, n1.address, 64 * 1024)).toBeGreaterThan(1_500);
    expect(await transferMs(n1.namespace, n2.namespace, n2.address, 64 * 1024)).toBeGreaterThan(1_500);
    // n1 -> n3 does not go through the limited class: 1 MiB passes, the class (capped at 32 kB/s, so
    // the brokers' own traffic to n2 adds little) grows by far less
    const before = await limitedBytes();
    await transferMs(n1.namespace, n3.namespace, n3.address, 1024 * 1024);
    expect(await limitedBytes() - before).toBeLessThan(256 * 1024);
    await backend.heal();
    for (const n of plan.nodes) expect(await shapingClasses(n.namespace)).not.toMatch(/1:20/);
    await send('after-bandwidth-one-node');
  }, 120_000);

  it('stop-leader stops gracefully (SIGTERM) and restarts; kill-majority takes two nodes down together', async () => {
    for (const fault of ['stop-leader', 'kill-majority']) {
      const records: NemesisRecord[] = [];
      const h = await startNemesis({
        backend,
        faults: [fault],
        intervalMs: 1_500,
        rng: createRng(77).fork(fault),
        topic: 't',
        record: (op) => records.push(op),
      });
      await waitUntil(`${fault} to start and end`, 30_000, async () => records.some((r) => r.f === 'restart'));
      await h.stop();
      for (const r of records) expect(r.value.error, `${r.f} ${r.value.nodes.join(',')}`).toBeUndefined();
      const start = records.find((r) => r.f === 'stop' || r.f === 'kill')!;
      expect(start.f).toBe(fault.split('-')[0]);
      expect(start.value.nodes.length).toBe(fault === 'kill-majority' ? 2 : 1);
    }
    await waitUntil('the cluster to take acks=all writes again', 30_000, async () => {
      await send('after-stop-and-kill');
      return true;
    });
  }, 120_000);

  it('a sequence (bandwidth-leader then stop-leader): the leader throttled, then stopped; restarted while still throttled, healed a gap later', async () => {
    const records: NemesisRecord[] = [];
    const stamped: Array<{ f: string; nodes: string[]; atMs: number }> = [];
    const t0 = Date.now();
    const h = await startNemesis({
      backend,
      faults: ['bandwidth-leader', 'stop-leader'],
      sequence: true,
      intervalMs: 2_000,
      rng: createRng(78).fork('sequence'),
      topic: 't',
      record: (op) => {
        records.push(op);
        stamped.push({ f: op.f, nodes: op.value.nodes, atMs: Date.now() - t0 });
      },
    });
    await waitUntil('one round of the sequence to end', 60_000, async () => records.some((r) => r.f === 'heal'));
    await h.stop();
    for (const r of records) expect(r.value.error, `${r.f} ${r.value.nodes.join(',')}`).toBeUndefined();
    const round = stamped.slice(0, 4);
    expect(round.map((r) => r.f)).toEqual(['bandwidth', 'stop', 'restart', 'heal']);
    // the stop hit the throttled leader (nothing else held it), and the heal came after the restart had finished
    expect(round[1]!.nodes).toEqual(round[0]!.nodes);
    expect(round[2]!.nodes).toEqual(round[0]!.nodes);
    expect(round[3]!.atMs - round[2]!.atMs).toBeGreaterThanOrEqual(2_000 * 0.2 - 50);
    expect(h.schedule().faults.slice(0, 2).map((f) => f.lane)).toEqual(['sequence:1:bandwidth-leader', 'sequence:2:stop-leader']);
    await waitUntil('the cluster to take acks=all writes again', 30_000, async () => {
      await send('after-sequence');
      return true;
    });
  }, 120_000);
});
