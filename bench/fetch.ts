/**
 * `npm run bench:fetch [-- --partitions N --seconds S]`
 *
 * The cost of one replica fetch round as the number of partitions a follower fetches grows: a leader
 * (ReplicaManager behind a real KafkaServer on loopback, the broker's own Fetch handler and codec) and
 * a follower (ReplicaManager + ReplicaFetcherManager) in this process, one topic of N partitions led
 * by node 1 and followed by node 2, no new data, `replica.fetch.wait.max.ms=0` so every fetch is
 * answered at once. Each round is: the follower builds a Fetch of N partitions, the leader reads and
 * encodes N partition results, the follower decodes and applies them. Prints rounds/s and CPU
 * microseconds per round and per partition; run it at two sizes (e.g. 200 and 2000): per partition
 * stays flat when a round is O(N), and grows with N when something in it is O(N^2).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dispatch } from '../broker/apis/index.ts';
import type { BrokerContext } from '../broker/apis/context.ts';
import { buildConfig } from '../broker/config.ts';
import { MetadataImage } from '../broker/controller/image.ts';
import type { MetadataRecord } from '../broker/controller/records.ts';
import type { Logger } from '../broker/logger.ts';
import { ApiKeys } from '../broker/protocol/codec.ts';
import { ReplicaFetcherManager } from '../broker/replica-fetcher.ts';
import { ReplicaManager } from '../broker/replica-manager.ts';
import { KafkaServer } from '../broker/server.ts';

const { values } = parseArgs({ args: process.argv.slice(2), options: { partitions: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '5' } } });
const partitions = Number(values.partitions);
const seconds = Number(values.seconds);
if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`--partitions must be a positive integer, got ${values.partitions}`);
if (!(seconds > 0)) throw new Error(`--seconds must be positive, got ${values.seconds}`);

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-fetch-'));
  const config = buildConfig({ 'replica.fetch.wait.max.ms': '0', 'replica.fetch.backoff.ms': '0', 'replica.lag.time.max.ms': '600000' });
  const leader = new ReplicaManager({ brokerId: 1, dataDir: join(dir, 'n1'), config, logger: quiet, isr: { alterPartition: async () => undefined } });
  const follower = new ReplicaManager({ brokerId: 2, dataDir: join(dir, 'n2'), config, logger: quiet, isr: { alterPartition: async () => undefined } });
  let fetches = 0;
  const ctx = { replicas: leader } as unknown as BrokerContext;
  const server = new KafkaServer({
    host: '127.0.0.1',
    port: 0,
    maxFrameBytes: config['socket.request.max.bytes'],
    logger: quiet,
    handle: (rc) => {
      if (rc.apiKey === ApiKeys.Fetch) fetches++;
      return dispatch(ctx, rc);
    },
  });
  const { port } = await server.listen();
  const image = new MetadataImage();
  let offset = 1;
  const apply = (r: MetadataRecord) => image.apply(r, offset++);
  for (const id of [1, 2]) {
    apply({ type: 'RegisterBroker', brokerId: id, incarnationId: `i${id}`, host: '127.0.0.1', port });
    apply({ type: 'UnfenceBroker', brokerId: id });
  }
  apply({ type: 'Topic', name: 'f', topicId: '00000000-0000-0000-0000-0000000000f0', numPartitions: partitions, configs: {} });
  for (let p = 0; p < partitions; p++) {
    apply({ type: 'Partition', topic: 'f', partition: p, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] });
  }
  // Built apart from the call, so a broker epoch (-1: unknown) is passed where the fetcher takes one (KIP-903).
  const deps = { brokerId: 2, config, logger: quiet, replicas: follower, image: () => image, brokerEpoch: () => -1 };
  const fetcher = new ReplicaFetcherManager(deps);
  follower.onFollowersChanged((changed) => fetcher.update(changed));
  leader.applyImage(image);
  follower.applyImage(image);
  try {
    // Warm-up (JIT, the connection), then a timed window.
    await new Promise((r) => setTimeout(r, 1000));
    const f0 = fetches;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const rounds = fetches - f0;
    const cpu = process.cpuUsage(cpu0);
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuUsPerRound = (cpu.user + cpu.system) / Math.max(1, rounds);
    console.log(
      `fetch rounds, ${partitions} partitions: ${rounds} in ${wallS.toFixed(2)} s = ${(rounds / wallS).toFixed(1)} rounds/s; ` +
        `CPU ${(cpuUsPerRound / 1000).toFixed(2)} ms per round, ${(cpuUsPerRound / partitions).toFixed(2)} us per partition per round`,
    );
  } finally {
    await fetcher.stop();
    await server.close();
    leader.stop();
    follower.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
