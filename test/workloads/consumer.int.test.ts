/**
 * The queue workload's own consumer (workloads/consumer.ts, workloads/group.ts) against a real broker
 * process: a poll is invoke + completion around one Fetch, an empty answer is `{}`, a foreign payload
 * is kept as its text, OFFSET_OUT_OF_RANGE is recorded as a `reposition` (never an `assign`), explicit
 * commits are `commit` ops, and a subscribe-mode member gets every partition and resumes at the commit.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { Consumer } from '../../workloads/consumer.ts';
import type { Emit } from '../../workloads/consumer.ts';
import { GroupMember } from '../../workloads/group.ts';
import { TestCluster } from '../helpers/broker-process.ts';

type Rec = { type: string; f: string; value: unknown; atMs: number };

function consumer(brokers: string[], ops: Rec[]): Consumer {
  const emit: Emit = (op) => ops.push({ ...op, atMs: performance.now() });
  return new Consumer({ brokers, topic: 'ct', clientId: 'ct', requestTimeoutMs: 3000, connectionTimeoutMs: 1000, maxWaitMs: 200, emit });
}

describe('workload consumer', () => {
  let cluster: TestCluster | null = null;
  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('records polls around Fetches, empty ones, text payloads, repositions and commits', async () => {
    cluster = await TestCluster.start(1, { 'offsets.topic.replication.factor': '1', 'default.replication.factor': '1', 'min.insync.replicas': '1' });
    const kafka = new Kafka({ brokers: cluster.bootstrap, clientId: 'ct', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'ct', numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'ct', acks: -1, messages: [{ partition: 0, value: '1' }, { partition: 0, value: 'hello' }, { partition: 0, value: '3' }] });
    await producer.disconnect();

    const ops: Rec[] = [];
    const c = consumer(cluster.bootstrap, ops);
    await c.assign([0, 1]);
    expect(ops[0]).toMatchObject({ type: 'ok', f: 'assign', value: { keys: ['ct-0', 'ct-1'] } });
    const read: Record<string, unknown[]> = {};
    const maxPolls = 20;
    for (let i = 0; i < maxPolls && (read['ct-0']?.length ?? 0) < 3; i++) {
      const r = await c.poll();
      if (r.type === 'ok') for (const [k, pairs] of Object.entries(r.value)) read[k] = [...(read[k] ?? []), ...pairs];
    }
    expect(read['ct-0']).toEqual([[0, 1], [1, 'hello'], [2, 3]]);
    // nothing new: empty answers, recorded as {} after the broker held the Fetch (maxWaitMs)
    for (let i = 0; i < 2; i++) await c.poll();
    const polls = ops.filter((o) => o.f === 'poll');
    for (let i = 0; i < polls.length; i += 2) {
      expect(polls[i]!.type).toBe('invoke');
      expect(polls[i + 1]!.type).toBe('ok');
    }
    const empties = polls.filter((o, i) => o.type === 'ok' && Object.keys(o.value as object).length === 0 && i > 0);
    expect(empties.length).toBeGreaterThan(0);
    const lastEmpty = polls.lastIndexOf(empties.at(-1)!);
    expect(polls[lastEmpty]!.atMs - polls[lastEmpty - 1]!.atMs).toBeGreaterThan(100);

    // the consumer commits its positions: a commit op with the next offsets
    await c.commit('ct-group', await c.coordinator('ct-group'));
    const commits = ops.filter((o) => o.f === 'commit');
    expect(commits).toMatchObject([{ type: 'invoke', value: { 'ct-0': 3, 'ct-1': 0 } }, { type: 'ok', value: { 'ct-0': 3, 'ct-1': 0 } }]);

    // a position past the log end: the broker answers OFFSET_OUT_OF_RANGE, the consumer resets to the
    // earliest offset and records a reposition (not an assign)
    await c.assign([0], new Map([[0, 1000]]));
    const before = ops.length;
    await c.poll();
    const after = ops.slice(before);
    expect(after.filter((o) => o.f === 'assign')).toEqual([]);
    expect(after.find((o) => o.f === 'reposition')).toMatchObject({ type: 'info', value: { key: 'ct-0', from: 1000, to: 0, reason: 'OFFSET_OUT_OF_RANGE' } });
    c.close();

    // a subscribe-mode member: joins, gets both partitions, resumes at the group's commit
    const gops: Rec[] = [];
    const g = consumer(cluster.bootstrap, gops);
    const m = new GroupMember(g, { groupId: 'ct-group', topic: 'ct', partitions: 2, sessionTimeoutMs: 6000, rebalanceTimeoutMs: 3000 });
    expect(await m.maintain()).toBe(true);
    expect(gops[0]).toMatchObject({ type: 'ok', f: 'assign', value: { keys: ['ct-0', 'ct-1'] } });
    expect(g.positions.get(0)).toBe(3);
    await m.commit();
    expect(gops.filter((o) => o.f === 'commit').map((o) => o.type)).toEqual(['invoke', 'ok']);
    await m.leave();
    g.close();
  });
});
