/**
 * `npx tsx bench/controller.ts [--brokers 100] [--partitions 1000] [--rounds 20] [--controller DIR]`
 *
 * The cost of controller decisions that change nothing, which run on the event loop Raft and
 * heartbeats share: every broker's heartbeat (`--brokers` live brokers, `--partitions` partitions of
 * replication factor 3), and the periodic tick. Also one decision that does change something (an
 * ISR shrink) to show staging cost. Prints microseconds per decision.
 * `--controller DIR`: load controller.ts from DIR instead (with its image.ts and records.ts beside
 * it), e.g. an older version extracted with `git show`, to compare before and after side by side.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    brokers: { type: 'string', default: '100' },
    partitions: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '20' },
    controller: { type: 'string' },
  },
});
const brokers = Number(values.brokers);
const partitions = Number(values.partitions);
const rounds = Number(values.rounds);
for (const [k, v] of [['brokers', brokers], ['partitions', partitions], ['rounds', rounds]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`bench:controller: --${k} must be a positive integer, got ${String(values[k])}\n`);
    process.exit(2);
  }
}
if (brokers < 3) {
  process.stderr.write('bench:controller: --brokers must be at least 3 (replication factor 3)\n');
  process.exit(2);
}

const dir = values.controller === undefined ? new URL('../broker/controller/', import.meta.url).href : pathToFileURL(resolve(values.controller) + '/').href;
const { Controller } = (await import(new URL('controller.ts', dir).href)) as typeof import('../broker/controller/controller.ts');
const { MetadataImage } = (await import(new URL('image.ts', dir).href)) as typeof import('../broker/controller/image.ts');
type Decision = { records: unknown[]; reply: any };

const image = new MetadataImage();
const controller = new Controller({
  config: {
    sessionTimeoutMs: 1e12,
    minInsyncReplicas: 2,
    defaultReplicationFactor: 3,
    numPartitions: 1,
    uncleanLeaderElection: false,
    autoLeaderRebalance: false,
    leaderImbalanceCheckIntervalMs: 1e12,
  },
  image,
  newTopicId: () => '00000000-0000-4000-8000-000000000001',
});
const commit = (d: Decision): any => {
  const base = image.lastOffset + 1;
  d.records.forEach((r, i) => image.apply(JSON.parse(JSON.stringify(r)), base + i));
  return d.reply;
};
controller.activate(0);
const epochs = new Map<number, number>();
for (let id = 1; id <= brokers; id++) {
  const base = image.lastOffset + 1;
  const reply = commit(controller.registerBroker({ brokerId: id, incarnationId: `i${id}`, host: 'h', port: id }, 0));
  epochs.set(id, base + reply.registerRecordIndex);
  commit(controller.heartbeat({ brokerId: id, brokerEpoch: epochs.get(id)!, currentMetadataOffset: image.lastOffset, wantShutDown: false }, 0));
}
commit(controller.createTopics([{ name: 't', numPartitions: partitions, replicationFactor: 3, configs: {} }]));

function time(what: string, n: number, f: (i: number) => void): void {
  f(0); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`${what.padEnd(44)} ${us.toFixed(1).padStart(10)} us/decision  (${n} decisions)`);
}

console.log(`controller at ${dir}: ${brokers} brokers, ${partitions} partitions (rf 3)`);
let now = 1;
time('heartbeat (live broker, nothing changes)', rounds * brokers, (i) => {
  const id = (i % brokers) + 1;
  const d = controller.heartbeat({ brokerId: id, brokerEpoch: epochs.get(id)!, currentMetadataOffset: image.lastOffset, wantShutDown: false }, now++);
  if (d.records.length > 0) throw new Error('a quiet heartbeat emitted records');
});
time('tick (nothing changes)', rounds * 10, () => {
  const d = controller.tick(now++);
  if (d.records.length > 0) throw new Error('a quiet tick emitted records');
});
time('alterPartition (shrink, one record)', Math.min(partitions, rounds * 10), (i) => {
  const p = image.partition('t', i % partitions)!;
  const d = controller.alterPartition({
    brokerId: p.leader, brokerEpoch: epochs.get(p.leader)!, topic: 't', partition: i % partitions,
    leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: p.isr.filter((r, j) => j === 0 || r !== p.isr[p.isr.length - 1]),
  });
  commit(d as Decision);
});
