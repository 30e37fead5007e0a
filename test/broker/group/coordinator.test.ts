import { describe, expect, it } from 'vitest';
import { GroupCoordinator, GroupError, offsetsPartitionFor, type JoinRequest } from '../../../broker/group/coordinator.ts';

function setup(opts: { failAppend?: boolean } = {}) {
  let now = 1000;
  const appended: Array<{ partition: number; n: number }> = [];
  const c = new GroupCoordinator({
    nowMs: () => now,
    offsetsPartitions: 4,
    initialRebalanceDelayMs: 0,
    minSessionTimeoutMs: 100,
    maxSessionTimeoutMs: 60_000,
    offsetLog: {
      append: async (partition, records) => {
        if (opts.failAppend) throw Object.assign(new Error('no'), { kafkaErrorCode: 19 });
        appended.push({ partition, n: records.length });
      },
    },
  });
  for (let p = 0; p < 4; p++) c.finishLoad(p, []);
  return { c, appended, advance: (ms: number) => (now += ms) };
}

const join = (memberId = '', over: Partial<JoinRequest> = {}): JoinRequest => ({
  groupId: 'g',
  sessionTimeoutMs: 1000,
  rebalanceTimeoutMs: 2000,
  memberId,
  groupInstanceId: null,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from('m') }],
  clientId: 'c',
  clientHost: 'h',
  requireKnownMemberId: true,
  ...over,
});

describe('group coordinator', () => {
  it('hashes group ids like Kafka (Java String.hashCode)', () => {
    // Java: "test-group".hashCode() == 627841412, abs % 50 == 12
    expect(offsetsPartitionFor('test-group', 50)).toBe(12);
    expect(offsetsPartitionFor('', 50)).toBe(0);
  });

  it('hands out a member id first, then completes a single-member join and sync', async () => {
    const { c } = setup();
    const first = await c.join(join());
    expect(first.errorCode).toBe(GroupError.MEMBER_ID_REQUIRED);
    const joined = await c.join(join(first.memberId));
    expect(joined.errorCode).toBe(0);
    expect(joined.generationId).toBe(1);
    expect(joined.leader).toBe(first.memberId);
    expect(joined.members).toHaveLength(1);
    const synced = await c.sync({ groupId: 'g', generationId: 1, memberId: first.memberId, assignments: [{ memberId: first.memberId, assignment: Buffer.from('A') }] });
    expect(synced.assignment.toString()).toBe('A');
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: first.memberId })).toBe(0);
    expect(c.heartbeat({ groupId: 'g', generationId: 0, memberId: first.memberId })).toBe(GroupError.ILLEGAL_GENERATION);
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'nobody' })).toBe(GroupError.UNKNOWN_MEMBER_ID);
  });

  it('rebalances when a second member joins and when one expires', async () => {
    const { c, advance } = setup();
    const a = (await c.join(join())).memberId;
    await c.join(join(a));
    await c.sync({ groupId: 'g', generationId: 1, memberId: a, assignments: [{ memberId: a, assignment: Buffer.from('all') }] });
    const b = (await c.join(join())).memberId;
    const bJoin = c.join(join(b));
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: a })).toBe(GroupError.REBALANCE_IN_PROGRESS);
    const aJoin = c.join(join(a));
    const [ra, rb] = await Promise.all([aJoin, bJoin]);
    expect(ra.generationId).toBe(2);
    expect(rb.generationId).toBe(2);
    expect(ra.leader).toBe(a);
    expect(ra.members.map((m) => m.memberId).sort()).toEqual([a, b].sort());
    expect(rb.members).toEqual([]);
    const sb = c.sync({ groupId: 'g', generationId: 2, memberId: b, assignments: [] });
    const sa = c.sync({ groupId: 'g', generationId: 2, memberId: a, assignments: [{ memberId: a, assignment: Buffer.from('x') }, { memberId: b, assignment: Buffer.from('y') }] });
    expect((await sb).assignment.toString()).toBe('y');
    expect((await sa).assignment.toString()).toBe('x');
    // b goes silent: after its session timeout it is removed and a must rejoin.
    advance(600);
    expect(c.heartbeat({ groupId: 'g', generationId: 2, memberId: a })).toBe(0);
    advance(600);
    c.tick();
    expect(c.heartbeat({ groupId: 'g', generationId: 2, memberId: b })).toBe(GroupError.UNKNOWN_MEMBER_ID);
    expect(c.heartbeat({ groupId: 'g', generationId: 2, memberId: a })).toBe(GroupError.REBALANCE_IN_PROGRESS);
    const again = await c.join(join(a));
    expect(again.generationId).toBe(3);
    expect(again.members).toHaveLength(1);
  });

  it('a join phase ends at the rebalance timeout without members that did not rejoin', async () => {
    const { c, advance } = setup();
    const a = (await c.join(join())).memberId;
    await c.join(join(a));
    await c.sync({ groupId: 'g', generationId: 1, memberId: a, assignments: [] });
    const b = (await c.join(join())).memberId;
    const pending = c.join(join(b));
    advance(2500);
    c.tick();
    const r = await pending;
    expect(r.errorCode).toBe(0);
    expect(r.members.map((m) => m.memberId)).toEqual([b]);
  });

  it('leave triggers a rebalance and an empty group accepts simple commits', async () => {
    const { c } = setup();
    const a = (await c.join(join())).memberId;
    await c.join(join(a));
    expect(c.leave('g', [a]).members[0]!.errorCode).toBe(0);
    expect(await c.commit({ groupId: 'g', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 5, leaderEpoch: -1, metadata: null }] })).toBe(0);
    expect(c.fetchOffsets('g', [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }]).offsets.map((o) => o.offset)).toEqual([5, -1]);
  });

  it('commits only after the offsets log accepts them and replays them on load', async () => {
    const { c, appended } = setup();
    const a = (await c.join(join())).memberId;
    await c.join(join(a));
    await c.sync({ groupId: 'g', generationId: 1, memberId: a, assignments: [] });
    expect(await c.commit({ groupId: 'g', generationId: 1, memberId: a, offsets: [{ topic: 't', partition: 2, offset: 42, leaderEpoch: 0, metadata: '' }] })).toBe(0);
    expect(appended).toEqual([{ partition: offsetsPartitionFor('g', 4), n: 1 }]);
    expect(await c.commit({ groupId: 'g', generationId: 7, memberId: a, offsets: [] })).toBe(GroupError.ILLEGAL_GENERATION);

    const failing = setup({ failAppend: true });
    expect(await failing.c.commit({ groupId: 'g', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: null }] })).toBe(GroupError.COORDINATOR_NOT_AVAILABLE);
    expect(failing.c.fetchOffsets('g', [{ topic: 't', partition: 0 }]).offsets[0]!.offset).toBe(-1);
  });

  it('answers NOT_COORDINATOR for unowned partitions and COORDINATOR_LOAD_IN_PROGRESS while loading', async () => {
    const { c } = setup();
    const p = c.partitionFor('g');
    c.unload(p);
    expect((await c.join(join())).errorCode).toBe(GroupError.NOT_COORDINATOR);
    c.beginLoad(p);
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'x' })).toBe(GroupError.COORDINATOR_LOAD_IN_PROGRESS);
    const key = Buffer.from(JSON.stringify({ g: 'g', t: 't', p: 0 }));
    c.finishLoad(p, [
      { key, value: Buffer.from(JSON.stringify({ offset: 3, leaderEpoch: 0, metadata: null, commitTimestampMs: 1 })) },
      { key, value: Buffer.from(JSON.stringify({ offset: 9, leaderEpoch: 0, metadata: null, commitTimestampMs: 2 })) },
      { key: Buffer.from('garbage'), value: null },
    ]);
    expect(c.fetchOffsets('g', [{ topic: 't', partition: 0 }]).offsets[0]!.offset).toBe(9);
  });
});
