/**
 * The coordinator lease (controller/broker-lifecycle.ts module doc; coordinator.ts `canCoordinate`):
 * a GroupCoordinator wired, as broker/node.ts wires it, to a BrokerLifecycle's lease on a fake
 * monotonic clock, with heartbeats answered by a fake controller. A coordinator whose lease lapsed
 * answers NOT_COORDINATOR to every group request; one with a live lease answers.
 */
import { describe, expect, it } from 'vitest';
import { BrokerLifecycle, LEASE_CLOCK_MARGIN, type HeartbeatAnswer } from '../../../broker/controller/broker-lifecycle.ts';
import { MetadataImage } from '../../../broker/controller/image.ts';
import { GroupCoordinator, GroupError, type JoinRequest } from '../../../broker/group/coordinator.ts';
import type { TimerHandle, Timers } from '../../../broker/runtime/runtime.ts';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };
const SESSION_MS = 1500;

/** Timers that fire only when `fire()` is called (one heartbeat at a time, by hand). */
function manualTimers(): Timers & { fire(): void } {
  let pending: Array<{ fn: () => void; h: TimerHandle }> = [];
  const timers: Timers & { fire(): void } = {
    setTimeout(fn: () => void): TimerHandle {
      const h = {} as TimerHandle;
      pending.push({ fn, h });
      return h;
    },
    clearTimeout(h: TimerHandle | null | undefined): void {
      pending = pending.filter((p) => p.h !== h);
    },
    setInterval(): TimerHandle {
      return {} as TimerHandle;
    },
    clearInterval(): void {},
    setImmediate(fn: () => void): void {
      setImmediate(fn);
    },
    fire(): void {
      const due = pending;
      pending = [];
      for (const p of due) p.fn();
    },
  };
  return timers;
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup() {
  let now = 10_000;
  let answer: HeartbeatAnswer = { errorCode: 'NONE', isFenced: false, shouldShutDown: false, leaseMs: 900, metadataOffset: 5 };
  let appliedOffset = 5;
  const timers = manualTimers();
  const lc = new BrokerLifecycle({
    brokerId: 1,
    incarnationId: 'inc',
    advertise: { host: 'h', port: 1 },
    heartbeatIntervalMs: 200,
    sessionTimeoutMs: SESSION_MS,
    call: async (method) => (method === 'registerBroker' ? { brokerEpoch: 3 } : answer),
    image: () => new MetadataImage(),
    logger: quiet,
    timers,
    monotonicMs: () => now,
  });
  const c = new GroupCoordinator({
    nowMs: () => now,
    offsetsPartitions: 1,
    initialRebalanceDelayMs: 0,
    minSessionTimeoutMs: 100,
    maxSessionTimeoutMs: 60_000,
    offsetLog: { append: async () => undefined },
    canCoordinate: () => lc.leaseHeld(appliedOffset),
  });
  c.finishLoad(0, []);
  /** Registers, then sends one heartbeat at the current time and lets its answer arrive. */
  const heartbeat = async (): Promise<void> => {
    timers.fire();
    await flush();
  };
  return {
    c,
    lc,
    heartbeat,
    start: async () => {
      lc.start();
      await flush(); // registered; the first heartbeat is scheduled
    },
    advance: (ms: number) => (now += ms),
    answer: (a: Partial<HeartbeatAnswer>) => (answer = { ...answer, ...a }),
    apply: (offset: number) => (appliedOffset = offset),
  };
}

const join = (memberId = ''): JoinRequest => ({
  groupId: 'g',
  sessionTimeoutMs: 1000,
  rebalanceTimeoutMs: 2000,
  memberId,
  groupInstanceId: null,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from('m') }],
  clientId: 'c',
  clientHost: 'h',
  requireKnownMemberId: false,
});

describe('coordinator lease', () => {
  it('a coordinator with a live lease answers; once it lapses, every group request gets NOT_COORDINATOR', async () => {
    const t = setup();
    await t.start();
    // Loaded, but no heartbeat answered yet: no lease.
    expect(t.c.fetchOffsets('g', [{ topic: 't', partition: 0 }]).errorCode).toBe(GroupError.NOT_COORDINATOR);
    await t.heartbeat();
    const joined = await t.c.join(join());
    expect(joined.errorCode).toBe(GroupError.NONE);
    const m = { groupId: 'g', generationId: joined.generationId, memberId: joined.memberId };
    expect((await t.c.sync({ ...m, assignments: [] })).errorCode).toBe(GroupError.NONE);
    expect(t.c.heartbeat(m)).toBe(GroupError.NONE);
    expect(await t.c.commit({ ...m, offsets: [{ topic: 't', partition: 0, offset: 7, leaderEpoch: -1, metadata: null }] })).toBe(GroupError.NONE);
    expect(t.c.fetchOffsets('g', [{ topic: 't', partition: 0 }])).toMatchObject({ errorCode: GroupError.NONE, offsets: [{ offset: 7 }] });
    // The lease runs from the heartbeat's send: 95 % of min(session, the controller's 900 ms).
    const leaseMs = (1 - LEASE_CLOCK_MARGIN) * 900;
    t.advance(leaseMs - 1);
    expect(t.c.heartbeat(m)).toBe(GroupError.NONE);
    t.advance(1);
    expect(t.c.heartbeat(m)).toBe(GroupError.NOT_COORDINATOR);
    expect(t.c.fetchOffsets('g', [{ topic: 't', partition: 0 }]).errorCode).toBe(GroupError.NOT_COORDINATOR);
    expect(await t.c.commit({ ...m, offsets: [{ topic: 't', partition: 0, offset: 9, leaderEpoch: -1, metadata: null }] })).toBe(GroupError.NOT_COORDINATOR);
    expect((await t.c.join(join(m.memberId))).errorCode).toBe(GroupError.NOT_COORDINATOR);
    expect((await t.c.sync({ ...m, assignments: [] })).errorCode).toBe(GroupError.NOT_COORDINATOR);
    expect(t.c.leave('g', [m.memberId]).errorCode).toBe(GroupError.NOT_COORDINATOR);
    expect(t.c.describe('g').errorCode).toBe(GroupError.NOT_COORDINATOR);
    expect(t.c.listGroups()).toEqual([]);
    // A new answered heartbeat gives it back.
    await t.heartbeat();
    expect(t.c.fetchOffsets('g', [{ topic: 't', partition: 0 }])).toMatchObject({ errorCode: GroupError.NONE, offsets: [{ offset: 7 }] });
  });

  it('the lease is at most the broker session (less the margin), counted from the send', async () => {
    const t = setup();
    t.answer({ leaseMs: 60_000 });
    await t.start();
    await t.heartbeat();
    t.advance((1 - LEASE_CLOCK_MARGIN) * SESSION_MS - 1);
    expect(t.lc.leaseHeld(5)).toBe(true);
    t.advance(1);
    expect(t.lc.leaseHeld(5)).toBe(false);
  });

  it('an answer counts only once the applied image reaches the controller offset it names', async () => {
    const t = setup();
    await t.start();
    t.answer({ metadataOffset: 9 });
    await t.heartbeat();
    expect(t.c.fetchOffsets('g', null).errorCode).toBe(GroupError.NOT_COORDINATOR);
    t.apply(9);
    expect(t.c.fetchOffsets('g', null).errorCode).toBe(GroupError.NONE);
  });

  it('an answer that says fenced, or a stale epoch, ends the lease at once; so does controlled shutdown', async () => {
    for (const end of [{ isFenced: true }, { errorCode: 'STALE_BROKER_EPOCH', isFenced: true }] as Array<Partial<HeartbeatAnswer>>) {
      const t = setup();
      await t.start();
      await t.heartbeat();
      expect(t.lc.leaseHeld(5)).toBe(true);
      t.answer(end);
      await t.heartbeat();
      expect(t.lc.leaseHeld(5), JSON.stringify(end)).toBe(false);
      t.lc.stop();
    }
    const t = setup();
    await t.start();
    await t.heartbeat();
    void t.lc.controlledShutdown(1000);
    expect(t.lc.leaseHeld(5)).toBe(false);
    t.lc.stop();
  });

  it('a join parked before the lease lapsed is answered NOT_COORDINATOR after; a commit appended meanwhile is kept but not acknowledged', async () => {
    let release: () => void = () => undefined;
    const t = setup();
    await t.start();
    await t.heartbeat();
    const a = await t.c.join(join());
    const m = { groupId: 'g', generationId: a.generationId, memberId: a.memberId };
    await t.c.sync({ ...m, assignments: [] });
    // A second member joins: the first must rejoin; the join is parked until it does.
    const parked = t.c.join(join());
    t.advance(2000);
    t.c.tick();
    expect((await parked).errorCode).toBe(GroupError.NOT_COORDINATOR);
    // A commit whose append outlives the lease: the map (this load's) has it, the answer is NOT_COORDINATOR.
    const t2 = setup();
    const slow = new GroupCoordinator({
      nowMs: () => 0,
      offsetsPartitions: 1,
      initialRebalanceDelayMs: 0,
      minSessionTimeoutMs: 100,
      maxSessionTimeoutMs: 60_000,
      offsetLog: { append: () => new Promise<void>((r) => (release = r)) },
      canCoordinate: () => t2.lc.leaseHeld(5),
    });
    slow.finishLoad(0, []);
    await t2.start();
    await t2.heartbeat();
    const commit = slow.commit({ groupId: 'h', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 4, leaderEpoch: -1, metadata: null }] });
    t2.advance(5000);
    release();
    expect(await commit).toBe(GroupError.NOT_COORDINATOR);
    await t2.heartbeat();
    expect(slow.fetchOffsets('h', [{ topic: 't', partition: 0 }])).toMatchObject({ errorCode: GroupError.NONE, offsets: [{ offset: 4 }] });
  });
});
