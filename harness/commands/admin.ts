/**
 * `faultline admin` — cluster administration over the Kafka admin APIs (any Kafka-compatible cluster
 * that implements them, our broker included):
 *
 *   faultline admin --bootstrap HOST:PORT describe [--topic T] [--json]
 *   faultline admin --bootstrap HOST:PORT reassign --topic T --partition P --replicas 2,3,4 [--wait S]
 *   faultline admin --bootstrap HOST:PORT cancel-reassignment --topic T --partition P
 *   faultline admin --bootstrap HOST:PORT reassignments [--json]
 *   faultline admin --bootstrap HOST:PORT elect-preferred [--topic T [--partition P]]
 *
 * `reassign` copies the data to the new replicas before the old ones are dropped (KIP-455); with
 * `--wait S` it returns once the reassignment finished, or exits 1 after S seconds.
 */
import { KafkaConnection } from '../../broker/client.ts';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { errorName } from '../../broker/protocol/errors.ts';
import { UsageError } from '../errors.ts';
import { boolOf, helpText, msOf, parseCommandLine, stringOf } from '../../broker/flags.ts';
import type { CommandTable } from '../../broker/flags.ts';
import { waitUntil } from '../util/time.ts';
import { fmtMs } from '../format.ts';

const subcommands = ['describe', 'reassign', 'cancel-reassignment', 'reassignments', 'elect-preferred'] as const;
type Sub = (typeof subcommands)[number];

export const adminTable: CommandTable = {
  command: 'faultline admin',
  summary: 'cluster administration over the Kafka admin APIs (any Kafka-compatible cluster that implements them)',
  positionals: [
    {
      name: 'SUBCOMMAND',
      required: true,
      values: subcommands,
      help: 'describe: topics, partitions, leaders, ISR and the controller; reassign --topic --partition --replicas [--wait]; cancel-reassignment --topic --partition; reassignments: those in progress; elect-preferred [--topic [--partition]]: leadership back to preferred replicas',
    },
  ],
  flags: {
    bootstrap: { kind: { type: 'string', allowed: 'HOST:PORT', check: (v) => (/^.+:\d{1,5}$/.test(v) ? null : `expects HOST:PORT; got '${v}'`) }, metavar: 'HOST:PORT', required: true, help: 'a broker of the cluster' },
    topic: { kind: { type: 'string', allowed: 'a topic name' }, metavar: 'T', default: null, help: 'the topic (describe, reassign, cancel-reassignment, elect-preferred)' },
    partition: { kind: { type: 'int', min: 0, max: 1_000_000 }, metavar: 'P', default: null, help: 'the partition (reassign, cancel-reassignment, elect-preferred)' },
    replicas: { kind: { type: 'string', allowed: 'a comma list of broker ids, e.g. 1,2,3', check: (v) => (/^\d+(,\d+)*$/.test(v.replace(/\s/g, '')) ? null : `expects a comma list of broker ids, e.g. 1,2,3; got '${v}'`) }, metavar: 'IDS', default: null, help: 'the new replica list (reassign)' },
    wait: { kind: { type: 'number', min: 0.001, max: 86400, unit: 's' }, default: null, defaultText: 'do not wait', help: 'reassign: return once done, or exit 1 after S seconds' },
    json: { kind: { type: 'boolean' }, help: 'one JSON object on stdout (describe, reassignments)' },
  },
};

const usage = helpText(adminTable);

function parseIntList(flag: string, s: string): number[] {
  const parts = s.split(',').map((x) => x.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new UsageError(`${flag} expects a comma list of broker ids, e.g. 1,2,3; got '${s}'`);
  return parts.map(Number);
}

export async function run(argv: string[]): Promise<number> {
  const t = adminTable;
  const parsed = parseCommandLine(t, argv);
  if (parsed.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const v = parsed.values;
  const sub = parsed.positionals[0] as Sub;
  const bootstrap = stringOf(t, v, 'bootstrap')!;
  const m = /^(.+):(\d+)$/.exec(bootstrap)!;
  const partitionN = stringOf(t, v, 'partition');
  const partition = partitionN === null ? undefined : Number(partitionN);
  const values = {
    bootstrap,
    topic: stringOf(t, v, 'topic') ?? undefined,
    replicas: stringOf(t, v, 'replicas') ?? undefined,
    /** `--wait S` read once into ms; null: do not wait */
    waitMs: stringOf(t, v, 'wait') === null ? null : msOf(t, v, 'wait'),
    json: boolOf(v, 'json'),
  };
  // what a subcommand needs is refused before connecting
  if (sub === 'reassign' && (!values.topic || partition === undefined || !values.replicas)) throw new UsageError('reassign needs --topic, --partition and --replicas');
  if (sub === 'cancel-reassignment' && (!values.topic || partition === undefined)) throw new UsageError('cancel-reassignment needs --topic and --partition');

  const conn = await KafkaConnection.connect(m[1]!, Number(m[2]), { clientId: 'faultline-admin' }).catch((err: Error) => {
    throw new UsageError(`cannot connect to ${values.bootstrap}: ${err.message}`);
  });
  try {
    switch (sub) {
      case 'describe':
        return await describe(conn, values.topic, values.json);
      case 'reassign': {
        if (!values.topic || partition === undefined || !values.replicas) throw new UsageError('reassign needs --topic, --partition and --replicas');
        const replicas = parseIntList('--replicas', values.replicas);
        const code = await alter(conn, values.topic, partition, replicas);
        if (code !== 0) return code;
        if (values.waitMs === null) return 0;
        return await waitDone(conn, values.topic, partition, replicas, values.waitMs);
      }
      case 'cancel-reassignment':
        if (!values.topic || partition === undefined) throw new UsageError('cancel-reassignment needs --topic and --partition');
        return await alter(conn, values.topic, partition, null);
      case 'reassignments':
        return await listReassignments(conn, values.json);
      case 'elect-preferred':
        return await electPreferred(conn, values.topic, partition);
    }
  } finally {
    conn.close();
  }
}

async function metadata(conn: KafkaConnection, topic?: string): Promise<any> {
  return conn.request(ApiKeys.Metadata, 8, { topics: topic ? [{ name: topic }] : null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, 10_000);
}

async function describe(conn: KafkaConnection, topic: string | undefined, json: boolean): Promise<number> {
  const md = await metadata(conn, topic);
  const view = {
    controller: md.controllerId,
    clusterId: md.clusterId,
    brokers: md.brokers.map((b: any) => ({ id: b.nodeId, address: `${b.host}:${b.port}` })),
    topics: md.topics.map((t: any) => ({
      name: t.name,
      error: t.errorCode ? errorName(t.errorCode) : null,
      partitions: t.partitions.map((p: any) => ({ partition: p.partitionIndex, leader: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicaNodes, isr: p.isrNodes, offline: p.offlineReplicas })),
    })),
  };
  if (json) {
    process.stdout.write(JSON.stringify(view) + '\n');
    return 0;
  }
  const lines = [`cluster ${view.clusterId}, controller ${view.controller}`, `brokers: ${view.brokers.map((b: any) => `${b.id}@${b.address}`).join(' ')}`];
  for (const t of view.topics) {
    lines.push(`topic ${t.name}${t.error ? ` (${t.error})` : ''}`);
    for (const p of t.partitions) lines.push(`  ${t.name}-${p.partition}  leader ${p.leader} (epoch ${p.leaderEpoch})  replicas [${p.replicas.join(',')}]  isr [${p.isr.join(',')}]${p.offline.length ? `  offline [${p.offline.join(',')}]` : ''}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

async function alter(conn: KafkaConnection, topic: string, partition: number, replicas: number[] | null): Promise<number> {
  const res: any = await conn.request(ApiKeys.AlterPartitionReassignments, 0, { timeoutMs: 30_000, topics: [{ name: topic, partitions: [{ partitionIndex: partition, replicas }] }] }, 35_000);
  if (res.errorCode !== 0) {
    process.stderr.write(`reassignment refused: ${errorName(res.errorCode)} ${res.errorMessage ?? ''}\n`);
    return 1;
  }
  const p = res.responses[0]?.partitions[0];
  if (!p || p.errorCode !== 0) {
    process.stderr.write(`reassignment of ${topic}-${partition} refused: ${p ? errorName(p.errorCode) : 'no answer'}\n`);
    return 1;
  }
  process.stderr.write(replicas ? `reassignment of ${topic}-${partition} to [${replicas.join(',')}] started\n` : `reassignment of ${topic}-${partition} cancelled\n`);
  return 0;
}

async function waitDone(conn: KafkaConnection, topic: string, partition: number, target: number[], timeoutMs: number): Promise<number> {
  let p: any;
  const done = await waitUntil(async () => {
    const md = await metadata(conn, topic);
    p = md.topics[0]?.partitions.find((x: any) => x.partitionIndex === partition);
    return p !== undefined && p.replicaNodes.length === target.length && target.every((r) => p.replicaNodes.includes(r)) && target.every((r) => p.isrNodes.includes(r));
  }, { timeoutMs, pollMs: 200 });
  if (done) {
    process.stderr.write(`reassignment of ${topic}-${partition} done: replicas [${p.replicaNodes.join(',')}], isr [${p.isrNodes.join(',')}], leader ${p.leaderId}\n`);
    return 0;
  }
  process.stderr.write(`reassignment of ${topic}-${partition} not finished after ${fmtMs(timeoutMs)}\n`);
  return 1;
}

async function listReassignments(conn: KafkaConnection, json: boolean): Promise<number> {
  const res: any = await conn.request(ApiKeys.ListPartitionReassignments, 0, { timeoutMs: 10_000, topics: null }, 15_000);
  if (res.errorCode !== 0) {
    process.stderr.write(`listing refused: ${errorName(res.errorCode)}\n`);
    return 1;
  }
  const rows = res.topics.flatMap((t: any) => t.partitions.map((p: any) => ({ topic: t.name, partition: p.partitionIndex, replicas: p.replicas, adding: p.addingReplicas, removing: p.removingReplicas })));
  if (json) process.stdout.write(JSON.stringify(rows) + '\n');
  else if (rows.length === 0) process.stdout.write('no reassignments in progress\n');
  else for (const r of rows) process.stdout.write(`${r.topic}-${r.partition}  replicas [${r.replicas.join(',')}]  adding [${r.adding.join(',')}]  removing [${r.removing.join(',')}]\n`);
  return 0;
}

async function electPreferred(conn: KafkaConnection, topic: string | undefined, partition: number | undefined): Promise<number> {
  let topicPartitions: Array<{ topic: string; partitions: number[] }> | null = null;
  if (topic) {
    const md = await metadata(conn, topic);
    const parts = partition !== undefined ? [partition] : md.topics[0].partitions.map((p: any) => p.partitionIndex);
    topicPartitions = [{ topic, partitions: parts }];
  }
  const res: any = await conn.request(ApiKeys.ElectLeaders, 1, { electionType: 0, topicPartitions, timeoutMs: 30_000 }, 35_000);
  let failed = 0;
  for (const t of res.replicaElectionResults) {
    for (const p of t.partitionResult) {
      const name = errorName(p.errorCode);
      process.stdout.write(`${t.topic}-${p.partitionId}: ${p.errorCode === 0 ? 'elected preferred leader' : name}\n`);
      if (p.errorCode !== 0 && name !== 'ELECTION_NOT_NEEDED') failed++;
    }
  }
  return failed > 0 ? 1 : 0;
}
