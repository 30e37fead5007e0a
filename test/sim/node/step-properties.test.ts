/**
 * The whole-node simulation's per-step checks (sim/step-properties.ts) on hand-made node states:
 * each property fires on the violation it names and stays quiet on a legal history (a test of the
 * test: a checker that never fires would make every seed look clean).
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../broker/controller/raft/messages.ts';
import type { RaftStateView } from '../../../broker/controller/raft/node.ts';
import { REPLICATION_OFFSET_CHECKPOINT_FILE, writeOffsetCheckpoint } from '../../../broker/log/offset-checkpoint.ts';
import { SimFileSystem } from '../../../sim/fs.ts';
import { RaftMonitor, ReplicationMonitor } from '../../../sim/step-properties.ts';
import type { SimWorld } from '../../../sim/world.ts';

class FakeRaft implements RaftStateView {
  role: RaftStateView['role'] = 'follower';
  term = 0;
  commitIndex = 0;
  logStartIndex = 1;
  log: Entry[] = [];
  get lastIndex(): number {
    return this.log.length;
  }
  entryAt(i: number): Entry | undefined {
    return this.log[i - 1];
  }
  append(term: number, payload: string): void {
    this.log.push({ index: this.log.length + 1, term, payload });
  }
}

interface FakeLeaderState {
  isr: number[];
  maximalIsr: number[];
  pendingAlter: { newIsr: number[] } | null;
  leaderEpochStartOffset: number;
  follower(id: number): { logEndOffset: number } | undefined;
}

interface FakeReplica {
  topic: string;
  topicId: string;
  partition: number;
  role: 'leader' | 'follower';
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  leader: FakeLeaderState | null;
  log: { logEndOffset: number; logStartOffset: number; epochCache: { entries: Array<{ epoch: number; startOffset: number }> } };
}

/** A leader's state with ISR `isr`, no pending AlterPartition and followers' log ends `leos`. */
function leading(isr: number[], leos: Record<number, number> = {}, pendingAlter: { newIsr: number[] } | null = null): FakeLeaderState {
  const maximalIsr = [...isr, ...(pendingAlter?.newIsr ?? []).filter((m) => !isr.includes(m))];
  return { isr, maximalIsr, pendingAlter, leaderEpochStartOffset: 0, follower: (id) => (leos[id] === undefined ? undefined : { logEndOffset: leos[id]! }) };
}

/** A log ending at `leo` whose records from `startOffset` on carry `epoch` (and epoch 0 before). */
function logOf(leo: number, epochs: Array<[epoch: number, startOffset: number]> = [[0, 0]]): FakeReplica['log'] {
  return { logEndOffset: leo, logStartOffset: 0, epochCache: { entries: epochs.map(([epoch, startOffset]) => ({ epoch, startOffset })) } };
}

/**
 * `registered`: node id -> the incarnation id every node's metadata image holds for it (none by
 * default); node i's running process has incarnation id `life-<i>`.
 */
function world(rafts: FakeRaft[], replicas: FakeReplica[][] = rafts.map(() => []), registered = new Map<number, string>()): { w: SimWorld; nodes: Array<{ host: { state: string; incarnation: number; disk: SimFileSystem } }> } {
  const image = { broker: (id: number) => (registered.has(id) ? { incarnationId: registered.get(id) } : undefined) };
  const nodes = rafts.map((r, i) => ({
    id: i + 1,
    host: { state: 'up', incarnation: 0, disk: new SimFileSystem() },
    broker: {
      metadata: { raftState: r, image, incarnationId: `life-${i + 1}` },
      replicas: { all: () => replicas[i]!, get: (t: string, p: number) => replicas[i]!.find((x) => x.topic === t && x.partition === p) },
    },
  }));
  return { w: { nodes, sched: { nowMs: 0 }, brokerOptions: () => ({ dataDir: '/data' }) } as unknown as SimWorld, nodes };
}

describe('RaftMonitor', () => {
  it('is quiet on a legal history: a leader change, a truncated uncommitted suffix, commits everywhere', () => {
    const [a, b, c] = [new FakeRaft(), new FakeRaft(), new FakeRaft()];
    const { w } = world([a, b, c]);
    const m = new RaftMonitor();
    a.role = 'leader';
    a.term = 1;
    for (const r of [a, b, c]) r.append(1, 'x');
    a.append(1, 'uncommitted');
    a.commitIndex = 1;
    m.step(w);
    a.role = 'follower';
    b.role = 'leader';
    b.term = c.term = a.term = 2;
    b.append(2, 'y');
    c.append(2, 'y');
    b.commitIndex = c.commitIndex = 2;
    m.step(w);
    a.log.pop();
    a.append(2, 'y');
    a.commitIndex = 2;
    m.step(w);
    expect(m.violations).toEqual([]);
  });

  it('election safety: two leaders of one term', () => {
    const [a, b] = [new FakeRaft(), new FakeRaft()];
    const m = new RaftMonitor();
    a.role = b.role = 'leader';
    a.term = b.term = 3;
    m.step(world([a, b]).w);
    expect(m.violations.map((v) => v.property)).toContain('raft-election-safety');
  });

  it('log matching: one (index, term) with two payloads', () => {
    const [a, b] = [new FakeRaft(), new FakeRaft()];
    a.append(1, 'x');
    b.append(1, 'other');
    const m = new RaftMonitor();
    m.step(world([a, b]).w);
    expect(m.violations.map((v) => v.property)).toContain('raft-log-matching');
  });

  it('leader completeness: a leader elected without a committed entry (figure 8)', () => {
    const [a, b, c] = [new FakeRaft(), new FakeRaft(), new FakeRaft()];
    const { w } = world([a, b, c]);
    const m = new RaftMonitor();
    a.append(2, 'old-term');
    b.append(2, 'old-term');
    c.append(3, 'other');
    a.role = 'leader';
    a.term = 4;
    a.commitIndex = 1;
    m.step(w);
    a.role = 'follower';
    c.role = 'leader';
    c.term = 5;
    m.step(w);
    expect(m.violations.map((v) => v.property)).toContain('raft-leader-completeness');
  });

  it('commit index never moves back in one process life', () => {
    const a = new FakeRaft();
    a.append(1, 'x');
    a.commitIndex = 1;
    const { w } = world([a]);
    const m = new RaftMonitor();
    m.step(w);
    a.commitIndex = 0;
    m.step(w);
    expect(m.violations.map((v) => v.property)).toContain('raft-commit-monotonic');
  });
});

describe('ReplicationMonitor', () => {
  const leaderOf = (hw: number, isr: number[]): FakeReplica => ({ topic: 't', topicId: 'id-t', partition: 0, role: 'leader', leaderId: 1, leaderEpoch: 5, highWatermark: hw, leader: leading(isr), log: logOf(10) });
  const followerAt = (leo: number): FakeReplica => ({ topic: 't', topicId: 'id-t', partition: 0, role: 'follower', leaderId: 1, leaderEpoch: 5, highWatermark: 0, leader: null, log: logOf(leo) });

  it('hw-within-isr: a member that joined during the leadership lacks records below the HW', () => {
    const lead = leaderOf(4, [1]);
    const follower = followerAt(3);
    const { w } = world([new FakeRaft(), new FakeRaft()], [[lead], [follower]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.leader = leading([1, 2]);
    m.step(w);
    expect(m.violations.map((v) => v.property)).toContain('hw-within-isr');
  });

  it('is quiet for a member that holds the HW, and for one restarted since it joined', () => {
    const lead = leaderOf(4, [1]);
    const follower = followerAt(4);
    const { w, nodes } = world([new FakeRaft(), new FakeRaft()], [[lead], [follower]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.leader = leading([1, 2]);
    m.step(w);
    nodes[1]!.host.incarnation = 1;
    follower.log.logEndOffset = 2;
    lead.highWatermark = 5;
    m.step(w);
    expect(m.violations).toEqual([]);
  });

  it('hw-within-isr is quiet for a member whose replica of the name is of another incarnation (deleted and re-created there first; seed 32)', () => {
    const lead = leaderOf(4, [1]);
    const follower = followerAt(4);
    const { w } = world([new FakeRaft(), new FakeRaft()], [[lead], [follower]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.leader = leading([1, 2]);
    m.step(w);
    // n2 applied the delete and the re-creation: a new, empty replica following n1 at the same epoch.
    Object.assign(follower, { topicId: 'id-t-new', log: logOf(0) });
    m.step(w);
    expect(m.violations).toEqual([]);
    // The same empty log in this incarnation is a violation (the check above is on the id, not the log).
    follower.topicId = 'id-t';
    m.step(w);
    expect(m.violations.map((v) => v.property)).toContain('hw-within-isr');
  });

  /** n1 leads with HW 4 (its ISR [1,2]), then hands over to n2 (log end 10), which starts at `startHw`. */
  function handOver(startHw: number): { a: FakeReplica; b: FakeReplica; w: SimWorld; m: ReplicationMonitor } {
    const a = leaderOf(0, [1, 2]);
    const b = followerAt(10);
    const { w } = world([new FakeRaft(), new FakeRaft()], [[a], [b]]);
    const m = new ReplicationMonitor();
    m.step(w);
    a.highWatermark = 4;
    m.step(w);
    a.role = 'follower';
    a.leader = null;
    Object.assign(b, { role: 'leader', leaderId: 2, leaderEpoch: 6, highWatermark: startHw, leader: leading([2, 1]) });
    m.step(w);
    return { a, b, w, m };
  }

  it('hw-start-known: a new leader starts above every HW a leader held before (its log end, say)', () => {
    expect(handOver(10).m.violations.map((v) => v.property)).toEqual(['hw-start-known']);
  });

  it('hw-start-known is quiet for a new leader at a known HW, for a lone ISR member, and for a new topic incarnation', () => {
    const { a, b, w, m } = handOver(4);
    // Only itself in the ISR (min.insync 1): its log end is committed at once.
    Object.assign(b, { leaderEpoch: 7, highWatermark: 10, leader: leading([2]) });
    m.step(w);
    // The topic deleted and created again: a new id, HWs start over.
    Object.assign(a, { topicId: 'id-t2', role: 'leader', leaderId: 1, leaderEpoch: 0, highWatermark: 0, leader: leading([1, 2]) });
    b.role = 'follower';
    b.leader = null;
    m.step(w);
    expect(m.violations).toEqual([]);
  });

  // The leader (HW 4) proposes n2 for the ISR: [case, n2's own log end, the log end the leader recorded, epoch start].
  it.each([
    ['before it reached the HW', 3, 3, 0],
    ['with progress the leader recorded wrongly (its own log is judged)', 3, 5, 0],
    ["past the HW but below the leader's epoch start offset", 5, 5, 6],
  ])('isr-join-below-hw: the leader proposes a follower %s', (_case, own, recorded, epochStart) => {
    const lead = leaderOf(4, [1]);
    const { w } = world([new FakeRaft(), new FakeRaft()], [[lead], [followerAt(own)]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.leader = { ...leading([1], { 2: recorded }, { newIsr: [1, 2] }), leaderEpochStartOffset: epochStart };
    m.step(w);
    expect(m.violations.map((v) => v.property)).toEqual(['isr-join-below-hw']);
  });

  it('isr-join-below-hw is quiet for a follower proposed at the HW, and for a shrink', () => {
    const lead = leaderOf(0, [1, 2]);
    const { w } = world([new FakeRaft(), new FakeRaft(), new FakeRaft()], [[lead], [followerAt(4)], [followerAt(1)]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.highWatermark = 4;
    lead.leader = leading([1, 2], { 2: 4, 3: 1 }, { newIsr: [1] });
    m.step(w);
    lead.leader = leading([1], { 2: 4, 3: 1 }, { newIsr: [1, 2] });
    m.step(w);
    expect(m.violations).toEqual([]);
  });

  it('isr-agrees-below-hw: the HW advances over a member holding another epoch\'s record at that offset', () => {
    const lead = leaderOf(0, [1, 2]);
    lead.log = logOf(10, [[0, 0], [5, 3]]);
    const follower = followerAt(8);
    follower.log = logOf(8, [[0, 0], [4, 3]]);
    const { w } = world([new FakeRaft(), new FakeRaft()], [[lead], [follower]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.highWatermark = 3;
    m.step(w);
    expect(m.violations).toEqual([]);
    lead.highWatermark = 6;
    m.step(w);
    expect(m.violations.map((v) => v.property)).toEqual(['isr-agrees-below-hw']);
  });

  it('isr-agrees-below-hw is quiet for a member that agrees, one below the HW, and one restarted since the leadership began', () => {
    const lead = leaderOf(0, [1, 2, 3]);
    lead.log = logOf(10, [[0, 0], [5, 3]]);
    const agrees = followerAt(8);
    agrees.log = logOf(8, [[0, 0], [5, 3]]);
    const behind = followerAt(4);
    behind.log = logOf(4, [[0, 0], [4, 3]]);
    const { w, nodes } = world([new FakeRaft(), new FakeRaft(), new FakeRaft()], [[lead], [agrees], [behind]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.highWatermark = 6;
    m.step(w);
    nodes[1]!.host.incarnation = 1;
    agrees.log = logOf(9, [[0, 0], [4, 3]]);
    lead.highWatermark = 7;
    m.step(w);
    expect(m.violations).toEqual([]);
  });

  it('isr-agrees-below-hw is quiet where retention deleted offset HW - 1 on the follower', () => {
    const lead = leaderOf(0, [1, 2]);
    lead.log = logOf(10, [[0, 0], [5, 3]]);
    const follower = followerAt(9);
    follower.log = { ...logOf(9, [[5, 8]]), logStartOffset: 8 };
    const { w } = world([new FakeRaft(), new FakeRaft()], [[lead], [follower]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.highWatermark = 6;
    m.step(w);
    expect(m.violations).toEqual([]);
  });

  it('hw-monotonic: the HW moves back within one leadership', () => {
    const lead = leaderOf(4, [1]);
    const { w } = world([new FakeRaft()], [[lead]]);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.highWatermark = 3;
    m.step(w);
    expect(m.violations.map((v) => v.property)).toContain('hw-monotonic');
  });

  /** n1's disk holds an HW checkpoint of `offset` for t-0 when its process starts. */
  function checkpointed(offset: number): { w: SimWorld; replicas: FakeReplica[]; m: ReplicationMonitor } {
    const replicas: FakeReplica[] = [];
    const { w, nodes } = world([new FakeRaft()], [replicas]);
    const disk = nodes[0]!.host.disk;
    disk.mkdir('/data');
    writeOffsetCheckpoint(`/data/${REPLICATION_OFFSET_CHECKPOINT_FILE}`, [{ topic: 't', partition: 0, offset }], disk);
    const m = new ReplicationMonitor();
    m.step(w);
    return { w, replicas, m };
  }

  it('hw-survives-restart: a restarted process opens a replica below the HW it checkpointed', () => {
    const { w, replicas, m } = checkpointed(6);
    replicas.push({ ...followerAt(10), highWatermark: 0 });
    m.step(w);
    expect(m.violations.map((v) => v.property)).toEqual(['hw-survives-restart']);
  });

  it('hw-survives-restart is quiet at the checkpointed HW, clamped to a log that lost its tail, and after the replica moved on', () => {
    const { w, replicas, m } = checkpointed(6);
    const r = { ...followerAt(10), highWatermark: 6 };
    replicas.push(r);
    m.step(w);
    // Later steps judge nothing: the HW a new leader answers may be lower (it learnt it lagging).
    r.highWatermark = 2;
    m.step(w);
    const lost = checkpointed(6);
    lost.replicas.push({ ...followerAt(4), highWatermark: 4 });
    lost.m.step(lost.w);
    expect([...m.violations, ...lost.m.violations]).toEqual([]);
  });

  it('isr-holds-hw: an inherited ISR member, in the life the leader has registered, lacks records below the HW', () => {
    const lead = leaderOf(0, [1, 2]);
    const { w } = world([new FakeRaft(), new FakeRaft()], [[lead], [followerAt(3)]], new Map([[2, 'life-2']]));
    const m = new ReplicationMonitor();
    m.step(w);
    lead.highWatermark = 4;
    m.step(w);
    expect(m.violations.map((v) => v.property)).toEqual(['isr-holds-hw']);
  });

  it('isr-holds-hw is quiet for a member that holds the HW, and for a restarted one the leader has not seen register', () => {
    const lead = leaderOf(0, [1, 2, 3]);
    const registered = new Map([[2, 'life-2'], [3, 'an earlier life']]);
    const { w } = world([new FakeRaft(), new FakeRaft(), new FakeRaft()], [[lead], [followerAt(4)], [followerAt(1)]], registered);
    const m = new ReplicationMonitor();
    m.step(w);
    lead.highWatermark = 4;
    m.step(w);
    expect(m.violations).toEqual([]);
  });
});
