/**
 * Coordinator unload and reload against a real offsets partition log (issue 9, defect 5): after
 * losing leadership, a commit that the log no longer holds (its tail was truncated by the new leader)
 * must never be served when this node coordinates the partition again.
 */
import { describe, expect, it } from 'vitest';
import { GroupCoordinator, GroupError } from '../../../broker/group/coordinator.ts';
import { readOffsetsLog } from '../../../broker/group/offsets-load.ts';
import { PartitionLog, defaultLogConfig } from '../../../broker/log/partition-log.ts';
import { buildBatch } from '../../../broker/protocol/records.ts';
import { useTmpDirs } from '../log/log-test-util.ts';

const tmpDir = useTmpDirs();

function setup() {
  const log = PartitionLog.open(tmpDir(), { ...defaultLogConfig, segmentBytes: 4096 });
  const c = new GroupCoordinator({
    nowMs: () => 1000,
    offsetsPartitions: 1,
    initialRebalanceDelayMs: 0,
    minSessionTimeoutMs: 100,
    maxSessionTimeoutMs: 60_000,
    offsetLog: {
      append: async (_partition, records) => {
        log.appendAsLeader(buildBatch({ records }), 0);
      },
    },
  });
  const becomeLeader = (): void => {
    c.beginLoad(0);
    c.finishLoad(0, readOffsetsLog(log).records);
  };
  const commit = (groupId: string, partition: number, offset: number) =>
    c.commit({ groupId, generationId: -1, memberId: '', offsets: [{ topic: 't', partition, offset, leaderEpoch: -1, metadata: null }] });
  const committed = (groupId: string, partition: number): number => {
    const res = c.fetchOffsets(groupId, [{ topic: 't', partition }]);
    expect(res.errorCode).toBe(GroupError.NONE);
    return res.offsets[0]!.offset;
  };
  return { log, c, becomeLeader, commit, committed };
}

describe('group coordinator unload', () => {
  it('serves nothing from a truncated log tail after losing and regaining leadership', async () => {
    const { log, c, becomeLeader, commit, committed } = setup();
    becomeLeader();
    expect(await commit('g', 0, 5)).toBe(GroupError.NONE);
    const tailStart = log.logEndOffset;
    // The tail: a second partition of a known group, and a group that exists only here. Neither has members.
    expect(await commit('g', 1, 9)).toBe(GroupError.NONE);
    expect(await commit('only-in-tail', 0, 7)).toBe(GroupError.NONE);
    expect(committed('g', 1)).toBe(9);

    c.unload(0);
    expect(c.fetchOffsets('g', null).errorCode).toBe(GroupError.NOT_COORDINATOR);
    expect(c.loadedCounts()).toEqual({ groups: 0, groupsWithOffsets: 0 });
    // The new leader did not have the tail: this replica truncates to it as a follower.
    log.truncateTo(tailStart);

    becomeLeader();
    expect(committed('g', 0)).toBe(5);
    expect(committed('g', 1)).toBe(-1);
    expect(committed('only-in-tail', 0)).toBe(-1);
    expect(c.fetchOffsets('only-in-tail', null).offsets).toEqual([]);
  });

  it('drops groups with members too, and a commit outliving an unload does not touch the next load', async () => {
    const { log, c, becomeLeader, committed } = setup();
    becomeLeader();
    const first = await c.join({
      groupId: 'g', sessionTimeoutMs: 1000, rebalanceTimeoutMs: 1000, memberId: '', groupInstanceId: null, protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from('m') }], clientId: 'c', clientHost: 'h', requireKnownMemberId: false,
    });
    expect(first.errorCode).toBe(GroupError.NONE);
    // A commit whose append is still in flight when leadership moves away and comes back.
    let release!: () => void;
    const slow = new GroupCoordinator({
      nowMs: () => 1000, offsetsPartitions: 1, initialRebalanceDelayMs: 0, minSessionTimeoutMs: 100, maxSessionTimeoutMs: 60_000,
      offsetLog: { append: () => new Promise<void>((r) => (release = r)) },
    });
    slow.finishLoad(0, []);
    const pending = slow.commit({ groupId: 'x', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: 3, leaderEpoch: -1, metadata: null }] });
    slow.unload(0);
    slow.beginLoad(0);
    slow.finishLoad(0, []);
    release();
    expect(await pending).toBe(GroupError.NOT_COORDINATOR);
    expect(slow.fetchOffsets('x', [{ topic: 't', partition: 0 }]).offsets[0]!.offset).toBe(-1);

    // A reload at a new leader epoch on this same node keeps the members (no break in coordination).
    c.beginLoad(0);
    c.finishLoad(0, readOffsetsLog(log).records);
    expect(c.describe('g').members.map((m) => m.memberId)).toEqual([first.memberId]);

    c.unload(0);
    expect(c.loadedCounts().groups).toBe(0);
    becomeLeader();
    expect(c.describe('g').state).toBe('Dead');
    expect(committed('g', 0)).toBe(-1);
  });
});
