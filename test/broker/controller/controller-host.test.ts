/**
 * The controller host (broker/controller/controller-host.ts) over a fake metadata log whose
 * proposals can be made to time out and commit later, as a Raft entry can: decisions after a timeout
 * must see the pending batch (the uncommitted view). Each scenario is one of the defects of deciding
 * against the committed image: a producer-id block handed to two brokers, a stale fence putting
 * back into the ISR a replica that a pending shrink removed, a preferred-leader election outside the
 * pending ISR. Also: a definite failure makes the host renounce and start over from the committed
 * image behind a new barrier.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ControllerHost, type ControllerLog, type ControllerMethod } from '../../../broker/controller/controller-host.ts';
import type { ControllerConfig } from '../../../broker/controller/controller.ts';
import { MetadataImage } from '../../../broker/controller/image.ts';
import type { MetadataRecord, ProducerIdsBlockRecord } from '../../../broker/controller/records.ts';

const config: ControllerConfig = {
  sessionTimeoutMs: 1000,
  minInsyncReplicas: 1,
  defaultReplicationFactor: 3,
  numPartitions: 1,
  uncleanLeaderElection: false,
  autoLeaderRebalance: false,
  leaderImbalanceCheckIntervalMs: 1_000_000,
};

interface Entry {
  index: number;
  records: MetadataRecord[];
  settled: boolean;
  resolve: (v: { index: number }) => void;
  reject: (e: Error) => void;
}

/** A leader's log: entries stay in order; each may time out (settled, still in the log) and commit later. */
class FakeLog implements ControllerLog {
  lastIndex = 0;
  isLeader = true;
  term = 1;
  readonly committed = new MetadataImage();
  readonly entries: Entry[] = [];
  readonly all: Array<{ index: number; records: MetadataRecord[] }> = [];
  #commitIndex = 0;

  propose(payloads: readonly string[]): Promise<{ index: number }> {
    const index = ++this.lastIndex;
    return new Promise((resolve, reject) => {
      this.entries.push({ index, records: JSON.parse(payloads[0] as string) as MetadataRecord[], settled: false, resolve, reject });
    });
  }

  /** The caller of the newest entry gets TIMEOUT; the entry stays in the log. */
  timeOutLast(): void {
    const e = this.entries[this.entries.length - 1] as Entry;
    e.settled = true;
    e.reject(Object.assign(new Error(`propose ${e.index} timed out`), { code: 'TIMEOUT' }));
  }

  /** The newest entry was never appended (NOT_LEADER); it leaves the log. */
  failLast(): void {
    const e = this.entries.pop() as Entry;
    this.lastIndex--;
    e.settled = true;
    e.reject(Object.assign(new Error('not leader'), { code: 'NOT_LEADER' }));
  }

  /** Commits every entry in order, applying its records to the committed image at its index. */
  commitAll(): void {
    for (const e of this.entries) {
      if (e.index <= this.#commitIndex) continue;
      for (const r of e.records) this.committed.apply(JSON.parse(JSON.stringify(r)) as MetadataRecord, e.index);
      this.all.push({ index: e.index, records: e.records });
      this.#commitIndex = e.index;
      if (!e.settled) {
        e.settled = true;
        e.resolve({ index: e.index });
      }
    }
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

interface Rig {
  log: FakeLog;
  host: ControllerHost;
  nowMs: { value: number };
  epochs: Map<number, number>;
  /** Runs an operation and commits everything, returning the reply. */
  decide(method: ControllerMethod, params: unknown): Promise<any>;
}

async function rig(brokers: number): Promise<Rig> {
  const log = new FakeLog();
  const nowMs = { value: 0 };
  let ids = 0;
  const host = new ControllerHost({
    config,
    log,
    committed: () => log.committed,
    newTopicId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
    nowMs: () => nowMs.value,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined },
  });
  host.activate();
  log.commitAll();
  await flush();
  expect(host.active).toBe(true);
  const epochs = new Map<number, number>();
  const decide = async (method: ControllerMethod, params: unknown): Promise<any> => {
    const p = host.run(method, params);
    log.commitAll();
    return p;
  };
  for (let id = 1; id <= brokers; id++) {
    const r = await decide('registerBroker', { brokerId: id, incarnationId: `inc-${id}`, host: 'h', port: 9000 + id });
    epochs.set(id, r.brokerEpoch);
    expect(log.committed.broker(id)?.epoch).toBe(r.brokerEpoch);
    await decide('heartbeat', { brokerId: id, brokerEpoch: r.brokerEpoch, currentMetadataOffset: log.lastIndex, wantShutDown: false });
  }
  expect(log.committed.liveBrokers()).toHaveLength(brokers);
  return { log, host, nowMs, epochs, decide };
}

/** Starts an operation whose proposal then times out; its batch stays in the log, uncommitted. */
async function timedOut(r: Rig, method: ControllerMethod, params: unknown): Promise<void> {
  const p = r.host.run(method, params);
  r.log.timeOutLast();
  await expect(p).rejects.toMatchObject({ code: 'TIMEOUT' });
}

function withEpochs(r: Rig, isr: number[]): Array<{ brokerId: number; brokerEpoch: number }> {
  return isr.map((brokerId) => ({ brokerId, brokerEpoch: r.epochs.get(brokerId) ?? -1 }));
}

describe('controller host: decisions see batches whose proposal timed out', () => {
  it('never hands the same producer-id block to two brokers', async () => {
    const r = await rig(2);
    await timedOut(r, 'allocateProducerIds', { brokerId: 1, brokerEpoch: r.epochs.get(1) });
    const b2 = await r.decide('allocateProducerIds', { brokerId: 2, brokerEpoch: r.epochs.get(2) });
    // Broker 1 retries after its timeout and gets a block of its own.
    const b1 = await r.decide('allocateProducerIds', { brokerId: 1, brokerEpoch: r.epochs.get(1) });
    const blocks = r.log.all.flatMap((e) => e.records).filter((x): x is ProducerIdsBlockRecord => x.type === 'ProducerIdsBlock');
    expect(blocks).toHaveLength(3);
    // Every block in the log is disjoint from every other, the timed-out one included.
    for (const [i, a] of blocks.entries()) {
      for (const b of blocks.slice(i + 1)) expect(a.firstId + a.size <= b.firstId || b.firstId + b.size <= a.firstId, `${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`).toBe(true);
    }
    expect(b2.firstId).not.toBe(blocks[0]!.firstId);
    expect(b1.firstId).not.toBe(b2.firstId);
    expect(r.host.renounces).toBe(0);
  });

  it('a fence decided after a timed-out ISR shrink never puts the removed replica back', async () => {
    const r = await rig(3);
    await r.decide('createTopics', [{ name: 't', numPartitions: 1, replicationFactor: 3, configs: {} }]);
    const p = r.log.committed.partition('t', 0)!;
    const [leader, keep, lagging] = p.replicas as [number, number, number];
    // The leader shrinks the ISR (the lagging replica leaves); the proposal times out, uncommitted.
    await timedOut(r, 'alterPartition', {
      brokerId: leader, brokerEpoch: r.epochs.get(leader), topic: 't', partition: 0,
      leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [leader, keep], newIsrWithEpochs: withEpochs(r, [leader, keep]),
    });
    // `keep` goes silent: its session expires and the fence removes it from the ISR.
    r.nowMs.value = 1500;
    // (Heartbeats change nothing here, so they propose nothing and the shrink stays uncommitted.)
    for (const id of [leader, lagging]) await r.host.run('heartbeat', { brokerId: id, brokerEpoch: r.epochs.get(id), currentMetadataOffset: r.log.lastIndex, wantShutDown: false });
    r.host.tick();
    expect(r.log.committed.partition('t', 0)!.isr).toHaveLength(3);
    r.log.commitAll();
    await flush();
    expect(r.log.committed.isUnfenced(keep)).toBe(false);
    const after = r.log.committed.partition('t', 0)!;
    expect(after.isr).toEqual([leader]);
    expect(after.isr).not.toContain(lagging);
  });

  it('a preferred-leader election after a timed-out ISR shrink never picks a replica outside the pending ISR', async () => {
    const r = await rig(3);
    await r.decide('createTopics', [{ name: 't', numPartitions: 1, replicationFactor: 3, configs: {} }]);
    const preferred = r.log.committed.partition('t', 0)!.replicas[0] as number;
    // The preferred replica restarts (new incarnation): leadership moves away; it rejoins the ISR.
    const re = await r.decide('registerBroker', { brokerId: preferred, incarnationId: 'again', host: 'h', port: 1 });
    r.epochs.set(preferred, re.brokerEpoch);
    await r.decide('heartbeat', { brokerId: preferred, brokerEpoch: re.brokerEpoch, currentMetadataOffset: r.log.lastIndex, wantShutDown: false });
    let p = r.log.committed.partition('t', 0)!;
    const leader = p.leader;
    expect(leader).not.toBe(preferred);
    const grown = [...p.isr, preferred];
    const g = await r.decide('alterPartition', {
      brokerId: leader, brokerEpoch: r.epochs.get(leader), topic: 't', partition: 0,
      leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: grown, newIsrWithEpochs: withEpochs(r, grown),
    });
    expect(g.errorCode).toBe('NONE');
    p = r.log.committed.partition('t', 0)!;
    // The preferred replica falls behind: the leader's shrink times out, uncommitted.
    const shrunk = p.isr.filter((x) => x !== preferred);
    await timedOut(r, 'alterPartition', {
      brokerId: leader, brokerEpoch: r.epochs.get(leader), topic: 't', partition: 0,
      leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: shrunk, newIsrWithEpochs: withEpochs(r, shrunk),
    });
    const [res] = await r.decide('electLeaders', [{ topic: 't', partition: 0 }]);
    expect(res.errorCode).toBe('PREFERRED_LEADER_NOT_AVAILABLE');
    const after = r.log.committed.partition('t', 0)!;
    expect(after.isr).toContain(after.leader);
    expect(after.leader).toBe(leader);
  });

  it('renounces on a definite failure and starts again from the committed image behind a barrier', async () => {
    const r = await rig(2);
    const p = r.host.run('allocateProducerIds', { brokerId: 1, brokerEpoch: r.epochs.get(1) });
    r.log.failLast();
    await expect(p).rejects.toMatchObject({ code: 'NOT_LEADER' });
    expect(r.host.renounces).toBe(1);
    expect(r.host.active).toBe(false);
    await expect(r.host.run('allocateProducerIds', { brokerId: 1, brokerEpoch: r.epochs.get(1) })).rejects.toMatchObject({ code: 'NOT_CONTROLLER' });
    r.log.commitAll();
    await flush();
    expect(r.host.active).toBe(true);
    // The failed block was never in the log: the rebuilt view hands out the same range again, once.
    const b = await r.decide('allocateProducerIds', { brokerId: 1, brokerEpoch: r.epochs.get(1) });
    expect(b.firstId).toBe(0);
    expect(r.host.controller!.view.nextProducerId).toBe(r.log.committed.nextProducerId);
  });
});

/** Everything a decision can read, for comparing the view with the committed image. */
function dump(image: MetadataImage): unknown {
  return { brokers: image.brokers(), partitions: [...image.allPartitions()], nextProducerId: image.nextProducerId, topics: image.topicNames() };
}

type Op =
  | { kind: 'allocate'; broker: number }
  | { kind: 'heartbeat'; broker: number }
  | { kind: 'silence'; broker: number }
  | { kind: 'tick'; advanceMs: number }
  | { kind: 'alter'; partition: number; drop: boolean; member: number }
  | { kind: 'elect' }
  | { kind: 'register'; broker: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('allocate' as const), broker: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('heartbeat' as const), broker: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('silence' as const), broker: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('tick' as const), advanceMs: fc.integer({ min: 0, max: 700 }) }),
  fc.record({ kind: fc.constant('alter' as const), partition: fc.integer({ min: 0, max: 2 }), drop: fc.boolean(), member: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('elect' as const) }),
  fc.record({ kind: fc.constant('register' as const), broker: fc.integer({ min: 1, max: 3 }) }),
);

describe('controller host: property', () => {
  it('with proposals timing out and committing later, the log never holds overlapping producer-id blocks or a leader outside its ISR, and the view ends equal to the committed image', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(opArb, fc.constantFrom('commit', 'timeout', 'pending')), { minLength: 1, maxLength: 40 }), async (steps) => {
        const r = await rig(3);
        await r.decide('createTopics', [{ name: 't', numPartitions: 3, replicationFactor: 3, configs: {} }]);
        const silent = new Set<number>();
        const later: Array<Promise<unknown>> = [];
        let incarnation = 0;
        for (const [op, fate] of steps) {
          const view = r.host.controller!.view;
          const before = r.log.lastIndex;
          let p: Promise<unknown> | null = null;
          switch (op.kind) {
            case 'allocate':
              p = r.host.run('allocateProducerIds', { brokerId: op.broker, brokerEpoch: r.epochs.get(op.broker) });
              break;
            case 'heartbeat':
              silent.delete(op.broker);
              p = r.host.run('heartbeat', { brokerId: op.broker, brokerEpoch: r.epochs.get(op.broker), currentMetadataOffset: r.log.lastIndex, wantShutDown: false });
              break;
            case 'silence':
              silent.add(op.broker);
              break;
            case 'tick':
              r.nowMs.value += op.advanceMs;
              for (const id of [1, 2, 3]) if (!silent.has(id)) later.push(r.host.run('heartbeat', { brokerId: id, brokerEpoch: r.epochs.get(id), currentMetadataOffset: r.log.lastIndex, wantShutDown: false }).catch(() => undefined));
              r.host.tick();
              break;
            case 'alter': {
              // The partition's leader proposes a change against what it last saw (the view), naming current epochs.
              const s = view.partition('t', op.partition)!;
              if (s.leader < 0) break;
              const isr = op.drop ? s.isr.filter((x) => x !== op.member || x === s.leader) : [...new Set([...s.isr, op.member])];
              p = r.host.run('alterPartition', {
                brokerId: s.leader, brokerEpoch: r.epochs.get(s.leader), topic: 't', partition: op.partition,
                leaderEpoch: s.leaderEpoch, partitionEpoch: s.partitionEpoch, newIsr: isr, newIsrWithEpochs: withEpochs(r, isr),
              });
              break;
            }
            case 'elect':
              p = r.host.run('electLeaders', null);
              break;
            case 'register': {
              const reply = r.host.run('registerBroker', { brokerId: op.broker, incarnationId: `x${++incarnation}`, host: 'h', port: 1 });
              p = reply.then((x: any) => r.epochs.set(op.broker, x.brokerEpoch));
              break;
            }
          }
          const proposed = r.log.lastIndex > before;
          if (proposed && fate === 'timeout') r.log.timeOutLast();
          if (fate === 'commit') r.log.commitAll();
          if (p !== null) {
            const settled = p.catch(() => undefined);
            if (fate === 'pending' && proposed) later.push(settled);
            else await settled;
          }
        }
        r.log.commitAll();
        await Promise.all(later);
        await flush();
        expect(r.host.renounces).toBe(0);
        const blocks = r.log.all.flatMap((e) => e.records).filter((x): x is ProducerIdsBlockRecord => x.type === 'ProducerIdsBlock');
        for (const [i, a] of blocks.entries()) for (const b of blocks.slice(i + 1)) expect(a.firstId + a.size <= b.firstId || b.firstId + b.size <= a.firstId).toBe(true);
        for (const { state } of r.log.committed.allPartitions()) {
          expect(state.isr.length).toBeGreaterThan(0);
          if (state.leader >= 0) expect(state.isr).toContain(state.leader);
        }
        expect(dump(r.host.controller!.view)).toEqual(dump(r.log.committed));
      }),
      { numRuns: 150 },
    );
  });
});
