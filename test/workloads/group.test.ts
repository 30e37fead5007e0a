/**
 * The workload's group member (workloads/group.ts) over a fake consumer: a member that cannot learn
 * the group's committed offsets must not resume (at the log start, below what the group committed).
 */
import { describe, expect, it } from 'vitest';
import { ApiKeys } from '../../broker/protocol/codec.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { commitRefused, type Consumer } from '../../workloads/consumer.ts';
import { encodeAssignment, GroupMember } from '../../workloads/group.ts';

const TOPIC = 't';

/** A consumer whose OffsetFetch answers are `answers` in turn; records what the member assigned. */
function fakeConsumer(answers: object[]): { consumer: Consumer; assigned: Array<Map<number, number>>; joinedAs: string[] } {
  const assigned: Array<Map<number, number>> = [];
  const joinedAs: string[] = [];
  const fake = {
    coordinator: async () => 'n1',
    assign: async (_partitions: number[], committed: Map<number, number>) => {
      assigned.push(new Map(committed));
    },
    request: async (_node: string, apiKey: number, _version: number, body: { memberId?: string }) => {
      if (apiKey === ApiKeys.JoinGroup) {
        joinedAs.push(body.memberId ?? '');
        return { errorCode: 0, memberId: 'm1', leader: 'm1', generationId: 1, members: [{ memberId: 'm1' }] };
      }
      if (apiKey === ApiKeys.SyncGroup) return { errorCode: 0, assignment: encodeAssignment(new Map([[TOPIC, [0, 1]]])) };
      if (apiKey === ApiKeys.OffsetFetch) return answers.shift();
      throw new Error(`unexpected api ${apiKey}`);
    },
  };
  return { consumer: fake as unknown as Consumer, assigned, joinedAs };
}

const committed = (errorCode = 0) => ({
  errorCode: 0,
  topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 72, errorCode }, { partitionIndex: 1, committedOffset: errorCode === 0 ? -1 : 77, errorCode: 0 }] }],
});
const config = { groupId: 'g', topic: TOPIC, partitions: 2, sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000 };

describe('GroupMember', () => {
  it('resumes at the committed offsets, and at none where the group has none (-1)', async () => {
    const { consumer, assigned } = fakeConsumer([committed()]);
    expect(await new GroupMember(consumer, config).maintain()).toBe(true);
    expect(assigned).toEqual([new Map([[0, 72]])]);
  });

  it('an OffsetFetch answered with an error (the coordinator moving) does not resume; the next join does', async () => {
    const { consumer, assigned, joinedAs } = fakeConsumer([{ errorCode: ErrorCode.NOT_COORDINATOR, topics: [] }, committed()]);
    const m = new GroupMember(consumer, config);
    await expect(m.maintain()).rejects.toThrow(/NOT_COORDINATOR/);
    expect(assigned).toEqual([]);
    expect(await m.maintain()).toBe(true);
    expect(assigned).toEqual([new Map([[0, 72]])]);
    // It joins again as the member it was (no second member waiting out a session timeout).
    expect(joinedAs).toEqual(['', 'm1']);
  });

  it('a partition answered with an error does not resume', async () => {
    const { consumer, assigned } = fakeConsumer([committed(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)]);
    await expect(new GroupMember(consumer, config).maintain()).rejects.toThrow(/COORDINATOR_LOAD_IN_PROGRESS/);
    expect(assigned).toEqual([]);
  });
});

describe('commit verdicts', () => {
  it('a commit is a definite fail only when the coordinator refused it before writing (NOT_COORDINATOR may come after the write)', () => {
    expect(commitRefused([ErrorCode.ILLEGAL_GENERATION])).toBe(true);
    expect(commitRefused([ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.REBALANCE_IN_PROGRESS])).toBe(true);
    expect(commitRefused([ErrorCode.NOT_COORDINATOR])).toBe(false);
    expect(commitRefused([ErrorCode.COORDINATOR_NOT_AVAILABLE])).toBe(false);
    expect(commitRefused([ErrorCode.ILLEGAL_GENERATION, ErrorCode.NOT_COORDINATOR])).toBe(false);
    expect(commitRefused([])).toBe(false);
  });
});
