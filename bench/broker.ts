/**
 * `npm run bench:broker [-- --nodes 1|3 --acks 0|1|all --messages N --size BYTES --batch N --inflight N --partitions N
 *                        --warmup N --consume true|false --wire raw|codec]`
 *
 * The three shapes issue 9 compares with the NATS JetStream anchor (3 nodes, acks=all, 100-byte messages):
 * - batched:              `--nodes 3 --acks all --batch 1000 --inflight 8 --partitions 4 --messages 1000000`
 * - one per request:      `--nodes 3 --acks all --batch 1 --inflight 256 --partitions 1 --messages 200000`
 * - one at a time:        `--nodes 3 --acks all --batch 1 --inflight 1 --partitions 1 --messages 10000`
 *
 * Starts the brokers as separate processes (this process is only the load generator), then:
 * - produce: pre-built RecordBatches of `--batch` records of `--size` bytes, `--inflight` Produce
 *   requests pipelined per partition connection, round-robin over `--partitions` partitions;
 *   prints messages/s, MB/s and per-request latency p50/p99 (acks=0 has no responses to time);
 * - consume: Fetch from offset 0 on every partition until the log end; prints messages/s and MB/s.
 * The load generator speaks the protocol through the broker's own codec, so the figures are the
 * broker's, not a client library's. With `--wire raw` (the default, as the JetStream anchor's
 * `api=raw`) each partition's produce phase encodes its request once and then only patches the
 * correlation id, and reads each response's error code at its fixed place (checked against the
 * codec's decoding on the first response): the load generator then costs a few microseconds per
 * request instead of tens (on 2 cores it competes with the brokers for CPU). `--wire codec` encodes
 * and decodes every request with broker/client.ts. Brokers get extra node flags from
 * FAULTLINE_BROKER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=DIR`; Node refuses those in
 * NODE_OPTIONS). Figures on a shared 2-core machine are noisy: compare runs made side by side.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { KafkaConnection } from '../broker/client.ts';
import { ApiKeys, decodeResponse, encodeRequest } from '../broker/protocol/codec.ts';
import { buildBatch } from '../broker/protocol/records.ts';
import { readBatchHeader } from '../broker/protocol/batch-header.ts';
import { TestCluster } from '../test/helpers/broker-process.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nodes: { type: 'string', default: '1' },
    acks: { type: 'string', default: '1' },
    messages: { type: 'string', default: '1000000' },
    size: { type: 'string', default: '100' },
    batch: { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '8' },
    partitions: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '5000' },
    consume: { type: 'string', default: 'true' },
    wire: { type: 'string', default: 'raw' },
  },
});
const nodes = Number(values.nodes);
const acksFlag = values.acks!;
if (!['0', '1', 'all', '-1'].includes(acksFlag)) throw new Error(`--acks must be 0, 1 or all, got ${acksFlag}`);
const acks = acksFlag === 'all' ? -1 : Number(acksFlag);
const total = Number(values.messages);
const size = Number(values.size);
const perBatch = Number(values.batch);
const inflight = Number(values.inflight);
const partitions = Number(values.partitions);
const warmupMessages = Number(values.warmup);
const consume = values.consume !== 'false';
const wire = values.wire!;
if (wire !== 'raw' && wire !== 'codec') throw new Error(`--wire must be raw or codec, got ${wire}`);
for (const [name, v] of Object.entries({ nodes, messages: total, size, batch: perBatch, inflight, partitions })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${String(v)}`);
}
if (!Number.isInteger(warmupMessages) || warmupMessages < 0) throw new Error(`--warmup must be a non-negative integer, got ${values.warmup}`);
const TOPIC = 'bench';

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** CPU seconds (user + system) a process used so far, from /proc (Linux); NaN where unreadable. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return NaN;
  }
}
const CLOCK_TICKS_PER_S = 100;

const PRODUCE_VERSION = 8;

/**
 * A produce-only pipelining connection for `--wire raw`: one pre-encoded Produce frame whose
 * correlation id is patched per request; responses are matched in order (the broker answers a
 * connection's requests in order) and only their first partition's error code is read, at its fixed
 * place in a Produce v8 response (correlationId, responses[1], name, partitionResponses[1], index,
 * errorCode). The first response is decoded by the codec as well and must agree.
 */
class RawProducer {
  private readonly socket: net.Socket;
  private readonly frame: Buffer;
  private readonly errorCodeAt: number;
  private readonly waiting: Array<(errorCode: number) => void> = [];
  private nextCorrelationId = 1;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private checked = false;
  private failed: Error | null = null;
  private corked = false;

  private constructor(socket: net.Socket, body: object) {
    this.socket = socket;
    this.frame = encodeRequest(ApiKeys.Produce, PRODUCE_VERSION, 0, 'bench-raw', body);
    this.errorCodeAt = 4 + 4 + 2 + Buffer.byteLength(TOPIC) + 4 + 4;
    socket.on('data', (d) => this.onData(d));
    const fail = (err: Error) => {
      this.failed ??= err;
      for (const w of this.waiting.splice(0)) w(-1);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static async connect(host: string, port: number, body: object): Promise<RawProducer> {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawProducer(socket, body);
  }

  /** Sends one produce request; resolves with its error code (-1: the connection failed). */
  produce(): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    const f = Buffer.from(this.frame);
    f.writeInt32BE(this.nextCorrelationId++ & 0x7fffffff, 8);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(f);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    while (this.buffered >= 4) {
      let head = this.chunks[0]!;
      if (head.length < 4) head = this.join();
      const size = head.readInt32BE(0);
      if (this.buffered < 4 + size) return;
      if (head.length < 4 + size) head = this.join();
      const frame = head.subarray(4, 4 + size);
      if (head.length === 4 + size) this.chunks.shift();
      else this.chunks[0] = head.subarray(4 + size);
      this.buffered -= 4 + size;
      const errorCode = frame.readInt16BE(this.errorCodeAt);
      if (!this.checked) {
        this.checked = true;
        const decoded: any = decodeResponse(ApiKeys.Produce, PRODUCE_VERSION, frame).body;
        const expected = decoded.responses[0].partitionResponses[0].errorCode;
        if (expected !== errorCode) throw new Error(`raw produce response: error code ${errorCode} at byte ${this.errorCodeAt}, the codec says ${expected}`);
      }
      this.waiting.shift()?.(errorCode);
    }
  }

  private join(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The nodes that lead at least one partition of the bench topic. */
const leaderIds = new Set<number>();
/** Each partition's leader address. */
const leaderAddress = new Map<number, { host: string; port: number }>();
const rawProducers: RawProducer[] = [];

async function leaderConnections(cluster: TestCluster): Promise<Map<number, KafkaConnection>> {
  const boot = await KafkaConnection.connect('127.0.0.1', cluster.brokers[0]!.port);
  const deadline = Date.now() + 30_000;
  let md: any;
  for (;;) {
    md = await boot.request(ApiKeys.Metadata, 8, { topics: [{ name: TOPIC }], allowAutoTopicCreation: false }, 5000);
    const t = md.topics[0];
    if (t.errorCode === 0 && t.partitions.length === partitions && t.partitions.every((p: any) => p.leaderId >= 0)) break;
    if (Date.now() > deadline) throw new Error('topic has no leaders');
    await new Promise((r) => setTimeout(r, 100));
  }
  boot.close();
  const byPartition = new Map<number, KafkaConnection>();
  for (const p of md.topics[0].partitions) {
    const b = md.brokers.find((x: any) => x.nodeId === p.leaderId);
    leaderIds.add(p.leaderId);
    leaderAddress.set(p.partitionIndex, { host: b.host, port: b.port });
    byPartition.set(p.partitionIndex, await KafkaConnection.connect(b.host, b.port, { clientId: `bench-${p.partitionIndex}` }));
  }
  return byPartition;
}

async function main(): Promise<void> {
  const settings: Record<string, string> = nodes > 1 ? { 'default.replication.factor': String(nodes), 'min.insync.replicas': String(Math.min(2, nodes)), 'offsets.topic.replication.factor': String(nodes) } : {};
  // Kafka's own replication timing, not the harness's fast failure detection.
  Object.assign(settings, { 'replica.fetch.wait.max.ms': '500', 'replica.fetch.backoff.ms': '1000', 'replica.lag.time.max.ms': '30000', 'broker.session.timeout.ms': '9000', 'broker.heartbeat.interval.ms': '2000', 'replica.fetch.max.bytes': String(4 << 20) });
  process.stderr.write(`starting ${nodes} broker process(es)...\n`);
  const cluster = await TestCluster.start(nodes, settings);
  let conns: Map<number, KafkaConnection> | undefined;
  try {
    const admin = await KafkaConnection.connect('127.0.0.1', cluster.brokers[0]!.port);
    const created: any = await admin.request(ApiKeys.CreateTopics, 4, { topics: [{ name: TOPIC, numPartitions: partitions, replicationFactor: nodes, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false }, 15_000);
    if (created.topics[0].errorCode !== 0) throw new Error(`create topic failed: ${created.topics[0].errorCode}`);
    admin.close();
    const leaders = await leaderConnections(cluster);
    conns = leaders;

    // Warm-up: one acks=all batch per partition, so followers are fetching before the clock starts
    // (a follower that asked a leader before the leader knew of its leadership backs off first).
    const warm = buildBatch({ compression: 'none', records: [{ key: null, value: Buffer.from('warm-up') }] });
    await Promise.all(
      [...conns.entries()].map(async ([p, conn]) => {
        const res: any = await conn.request(ApiKeys.Produce, 8, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: p, records: warm }] }] }, 35_000);
        if (res.responses[0].partitionResponses[0].errorCode !== 0) throw new Error(`warm-up produce to partition ${p} failed: ${res.responses[0].partitionResponses[0].errorCode}`);
      }),
    );

    const value = Buffer.alloc(size, 0x61);
    const template = buildBatch({ compression: 'none', records: Array.from({ length: perBatch }, () => ({ key: null, value })) });

    const useRaw = wire === 'raw' && acks !== 0;
    const raw = new Map<number, RawProducer>();
    if (useRaw) {
      for (const p of leaders.keys()) {
        const at = leaderAddress.get(p)!;
        const prod = await RawProducer.connect(at.host, at.port, { transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: p, records: template }] }] });
        rawProducers.push(prod);
        raw.set(p, prod);
      }
    }

    /**
     * `--wire raw`: keeps `inflight` requests outstanding per partition, the next one sent as a
     * response arrives (as the anchor's api=raw does), each timed from its send to its response.
     */
    async function rawRun(batches: number, latencies: number[]): Promise<{ sent: number; errors: number }> {
      let sent = 0;
      let errors = 0;
      await Promise.all(
        [...Array(partitions).keys()].map(
          (p) =>
            new Promise<void>((resolve, reject) => {
              const prod = raw.get(p)!;
              const mine = Math.floor(batches / partitions) + (p < batches % partitions ? 1 : 0);
              let issued = 0;
              let done = 0;
              const issue = (): void => {
                issued++;
                const start = process.hrtime.bigint();
                prod.produce().then((errorCode) => {
                  latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
                  if (errorCode !== 0) errors++;
                  else sent += perBatch;
                  done++;
                  if (errorCode === -1) reject(new Error(`partition ${p}: connection failed`));
                  else if (issued < mine) issue();
                  else if (done === mine) resolve();
                }, reject);
              };
              if (mine === 0) resolve();
              for (let k = 0; k < Math.min(inflight, mine); k++) issue();
            }),
        ),
      );
      return { sent, errors };
    }

    /** Sends `batches` Produce requests of `template`, `inflight` outstanding per partition connection. */
    async function produceRun(batches: number, latencies: number[]): Promise<{ sent: number; errors: number }> {
      if (useRaw) return rawRun(batches, latencies);
      let sent = 0;
      let errors = 0;
      await Promise.all(
        [...Array(partitions).keys()].map(async (p) => {
          const conn = leaders.get(p)!;
          const mine = Math.floor(batches / partitions) + (p < batches % partitions ? 1 : 0);
          let issued = 0;
          const window = new Set<Promise<void>>();
          while (issued < mine) {
            while (window.size < inflight && issued < mine) {
              issued++;
              const body = { transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: p, records: template }] }] };
              if (acks === 0) {
                conn.send(ApiKeys.Produce, 8, body);
                sent += perBatch;
                continue;
              }
              const start = process.hrtime.bigint();
              const pr = conn.request(ApiKeys.Produce, 8, body, 60_000).then((res: any) => {
                latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
                if (res.responses[0].partitionResponses[0].errorCode !== 0) errors++;
                else sent += perBatch;
              });
              const tracked: Promise<void> = pr.finally(() => window.delete(tracked));
              window.add(tracked);
            }
            if (window.size > 0) await Promise.race(window);
            else await new Promise((r) => setImmediate(r));
          }
          await Promise.all(window);
        }),
      );
      return { sent, errors };
    }

    // Warm-up in the same shape (JIT, buffers, the replication pipeline); not counted.
    if (warmupMessages > 0) {
      const w = await produceRun(Math.max(partitions, Math.ceil(warmupMessages / perBatch)), []);
      if (w.errors > 0) throw new Error(`warm-up: ${w.errors} produce requests failed`);
    }
    const batches = Math.ceil(total / perBatch);
    const latencies: number[] = [];
    process.stderr.write(`producing ${batches * perBatch} messages of ${size} bytes, acks=${acksFlag}, ${perBatch}/batch, ${inflight} in flight per partition, ${partitions} partitions, ${nodes} node(s)\n`);
    /** The sum of the partitions' high watermarks. */
    const storedNow = async (): Promise<number> => {
      let stored = 0;
      for (const [p, c] of leaders) {
        const r: any = await c.request(ApiKeys.ListOffsets, 1, { replicaId: -1, topics: [{ name: TOPIC, partitions: [{ partitionIndex: p, timestamp: -1 }] }] }, 5000);
        stored += Number(r.topics[0].partitions[0].offset);
      }
      return stored;
    };
    const storedBefore = acks === 0 ? await storedNow() : 0;
    const cpuBefore = cluster.brokers.map((b) => cpuSeconds(b.child?.pid));
    const selfBefore = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const { sent, errors } = await produceRun(batches, latencies);
    // acks=0: wait until the log ends show every batch, so the rate counts what the broker stored.
    if (acks === 0) while ((await storedNow()) - storedBefore < sent) await new Promise((r) => setTimeout(r, 5));
    const produceS = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuUsed = cluster.brokers.map((b, i) => cpuSeconds(b.child?.pid) - cpuBefore[i]!);
    const self = process.cpuUsage(selfBefore);
    const usPerMsg = (cpuS: number) => ((cpuS * 1e6) / sent).toFixed(1);
    const mb = (sent * size) / 1e6;
    console.log(`produce: ${sent} messages in ${produceS.toFixed(2)} s = ${Math.round(sent / produceS)} msg/s, ${(mb / produceS).toFixed(1)} MB/s (payload), errors ${errors}`);
    if (latencies.length) console.log(`produce latency per request of ${perBatch} messages: p50 ${pct(latencies, 50).toFixed(2)} ms, p99 ${pct(latencies, 99).toFixed(2)} ms (n=${latencies.length})`);
    else console.log('produce latency: n/a with acks=0 (no responses)');
    // CPU per message is steadier than msg/s on a shared machine: it counts work, not waiting for a core.
    console.log(`cpu per message (timed phase): ${cluster.brokers.map((b, i) => `node ${b.id}${leaderIds.has(b.id) ? ' (leader)' : ''} ${usPerMsg(cpuUsed[i]!)} us`).join(', ')}; all brokers ${usPerMsg(cpuUsed.reduce((a, b) => a + b, 0))} us; load generator ${usPerMsg((self.user + self.system) / 1e6)} us`);
    if (latencies.length) {
      console.log(`summary nodes=${nodes} acks=${acksFlag} batch=${perBatch} inflight=${inflight} partitions=${partitions} size=${size}: ${Math.round(sent / produceS)} msg/s p50=${pct(latencies, 50).toFixed(3)} ms p99=${pct(latencies, 99).toFixed(3)} ms`);
    }
    if (!consume) return;

    // Consume everything back from offset 0, up to the log ends after the produce phase (with acks 0/1
    // the high watermark may still trail them; the fetch loop waits for it).
    const ends = new Map<number, number>();
    for (const [p, c] of conns) {
      const r: any = await c.request(ApiKeys.ListOffsets, 1, { replicaId: -2, topics: [{ name: TOPIC, partitions: [{ partitionIndex: p, timestamp: -1 }] }] }, 5000);
      ends.set(p, Number(r.topics[0].partitions[0].offset));
    }
    const t1 = process.hrtime.bigint();
    let read = 0;
    let bytes = 0;
    await Promise.all(
      [...conns.entries()].map(async ([p, conn]) => {
        let offset = 0;
        for (;;) {
          const res: any = await conn.request(
            ApiKeys.Fetch,
            11,
            { replicaId: -1, maxWaitMs: 100, minBytes: 1, maxBytes: 8 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: TOPIC, partitions: [{ partition: p, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 4 << 20 }] }], forgottenTopicsData: [], rackId: '' },
            30_000,
          );
          const part = res.responses[0].partitions[0];
          const recs: Buffer = part.records ?? Buffer.alloc(0);
          if (offset >= ends.get(p)!) break;
          let pos = 0;
          while (pos + 61 <= recs.length) {
            const h = readBatchHeader(recs, pos);
            const n = 12 + h.batchLength;
            if (pos + n > recs.length) break;
            if (h.baseOffset + h.lastOffsetDelta >= offset) {
              read += h.recordsCount;
              bytes += h.recordsCount * size;
            }
            offset = h.baseOffset + h.lastOffsetDelta + 1;
            pos += n;
          }
        }
      }),
    );
    const consumeS = Number(process.hrtime.bigint() - t1) / 1e9;
    console.log(`consume: ${read} messages in ${consumeS.toFixed(2)} s = ${Math.round(read / consumeS)} msg/s, ${(bytes / 1e6 / consumeS).toFixed(1)} MB/s (payload)`);
  } finally {
    for (const c of conns?.values() ?? []) c.close();
    for (const r of rawProducers) r.close();
    // SIGTERM first, so brokers run with --cpu-prof (NODE_OPTIONS) write their profiles; bounded.
    await Promise.race([Promise.all(cluster.brokers.map((b) => cluster.kill(b.id, 'SIGTERM'))), new Promise((r) => setTimeout(r, 15_000).unref())]);
    await cluster.stopAll();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
