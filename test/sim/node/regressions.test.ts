/**
 * Seeds the whole-node simulation found real defects with, kept as regression tests (issue 10: every
 * bug the simulation finds in the real code is fixed with its seed kept). Each test replays its seed
 * with the options it failed under, checks the seed still runs the faults that exposed the defect
 * (so a change in how seeds draw their schedule cannot turn the test into a no-op silently), and
 * asserts every property holds. Each pins `groups: false`: the consumer group workload (and the
 * offsets partition among `leader-churn`'s targets) came later and would change their runs.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN_FAULT_KINDS, NODE_FAULT_KINDS, PRE_ADMIN_FAULT_KINDS } from '../../../sim/faults.ts';
import { replayCommand, runSeed, type SimOptions, type SimResult } from '../../../sim/run.ts';

function explain(r: SimResult, o: Partial<SimOptions>): string {
  return `${replayCommand(r.seed, o)}: ${r.violations.slice(0, 5).map((v) => `${v.property}: ${v.detail}`).join('\n')}`;
}

describe('whole-node simulation regressions', () => {
  // Power loss of all three nodes at once. The broker created its data directory (`/data`) with a
  // plain mkdir and never fsynced its parent, so although every partition log, checkpoint and Raft
  // file inside was fsynced, the power loss dropped `/data` itself on two of the three nodes: they
  // rebooted empty (Raft at term 0 with no entries, partitions led with empty logs). Seed 12 lost
  // acked acks=all writes (acked-write-kept, replicas-agree); seeds 9 and 10 never recovered
  // (cluster-available: the drain could not reach the high watermark).
  it.each([9, 10, 12])('seed %i: a data directory the broker created survives a power loss of every node', async (seed) => {
    // The fault kinds these seeds drew their schedule from when they failed (before the role-aimed kinds).
    const o: Partial<SimOptions> = { loadMs: 8_000, kinds: NODE_FAULT_KINDS, tornWrites: false, groups: false };
    const r = await runSeed(seed, o);
    expect(r.schedule.some((s) => s.kind === 'power' && s.nodes.length === 3), JSON.stringify(r.schedule)).toBe(true);
    expect(r.counts.powerLosses).toBeGreaterThanOrEqual(3);
    expect(r.stats.acked).toBeGreaterThan(100);
    expect(r.valid, explain(r, o)).toBe(true);
  });

  // Kafka's default flush (no fsync on append) and a quick power cycle (`bounce`): the node came back
  // within its broker session with its unflushed tail gone, caught up, and took its partition roles
  // from the image before its new registration was in it. The image still held the previous
  // incarnation, unfenced and leading at epoch 0, so it led `weak-0` at epoch 0 with an empty log
  // and appended acks=0/1 records at offsets 0-4; once its registration fenced the old incarnation
  // and n2 led at epoch 1 (log end 302), those records sat below epoch 0's end, where the leader-epoch
  // check sees no divergence, and the replicas disagreed for good (replicas-agree). Now no role is
  // taken before the image holds this incarnation's registration.
  it.each([6, 18, 30])('seed %i: a node power-cycled within its session takes no role from its previous incarnation (default flush)', async (seed) => {
    const o: Partial<SimOptions> = {
      groups: false,
      settings: { 'log.flush.interval.messages': String(Number.MAX_SAFE_INTEGER) },
      kinds: ['kill', 'partition', 'one-way', 'pause', 'clock', 'isolate-controller', 'leader-churn', 'bounce', 'lossy'],
      tornWrites: false,
    };
    const r = await runSeed(seed, o);
    expect(r.schedule.some((s) => s.kind === 'bounce'), JSON.stringify(r.schedule)).toBe(true);
    expect(r.stats.acked).toBeGreaterThan(100);
    expect(r.valid, explain(r, o)).toBe(true);
  });

  // A wall-clock step back on the node holding every ISR. n1 lost power; n2's controller RPC client
  // had just dialled it, and the SYN vanished. A call that timed out dropped its connection only when
  // the wall-clock time of the connection's last data was older than the call's send time: the first
  // timeout fell in the millisecond the connection was made (equal, kept), and then n2's clock jumped
  // -49 s, so every later send looked older than that data and the dead connection was never dropped.
  // n2's heartbeat, whose deadline was wall-clock too, waited 49 s on it, the controller on n1 fenced
  // n2 (the last ISR member of every partition), and its AlterPartition calls never reached it:
  // every partition stayed leaderless (cluster-available). Now a silent connection is dropped after
  // one call timeout (counted, not timed) and controller calls keep monotonic deadlines.
  it('seed 784: a clock stepped back does not keep a controller connection that never answered', async () => {
    // The default kinds when it failed (before the disk and admin kinds), and no torn writes.
    const o: Partial<SimOptions> = { kinds: PRE_ADMIN_FAULT_KINDS, tornWrites: false, groups: false };
    const r = await runSeed(784, o);
    expect(r.schedule.some((s) => s.kind === 'power' && s.nodes.includes(0)), JSON.stringify(r.schedule)).toBe(true);
    expect(r.schedule.some((s) => s.kind === 'clock' && (s.jumpMs ?? 0) < 0 && s.nodes.includes(1)), JSON.stringify(r.schedule)).toBe(true);
    expect(r.stats.acked).toBeGreaterThan(100);
    expect(r.valid, explain(r, o)).toBe(true);
  });
  // A reassignment that removes a replica and adds it back within one leadership. strong-1 (leader
  // n1, epoch 0) moved to [1,2] and 330 ms later to [3,1,2], while n3's links were lossy, so n3
  // applied its removal late. n1 had already taken n3 back as a fresh follower when a fetch of n3's
  // old replica (at offset 261, leader epoch 0: not fenced, the epoch had not changed) arrived, so n1
  // counted it as the re-added replica's progress and put n3 in the ISR. n3 then deleted its log and
  // reopened it empty: an ISR member at log end 0 under a high watermark of 261 (hw-within-isr,
  // isr-holds-hw). Now a PartitionChange whose replica set loses a replica bumps the leader epoch
  // (as Kafka's PartitionChangeBuilder does), so the removed replica's fetches are fenced.
  it('seed 29: a replica removed and re-added in one leadership cannot join the ISR on its old fetches', async () => {
    // The kinds the seed drew its schedule from when it failed (admin kinds, `recreate` included, and
    // no disk kinds or torn writes yet).
    const o: Partial<SimOptions> = { kinds: [...PRE_ADMIN_FAULT_KINDS, ...ADMIN_FAULT_KINDS], tornWrites: false, groups: false };
    const r = await runSeed(29, o);
    // The shrink that removed n3 (the replica that came back on its old fetches).
    expect(r.schedule.some((s) => s.kind === 'reassign' && s.partition === 'strong-1' && s.replicas?.length === 2 && !s.replicas.includes(3)), JSON.stringify(r.schedule)).toBe(true);
    expect(r.stats.admin.reassigned).toBeGreaterThan(0);
    expect(r.valid, explain(r, o)).toBe(true);
  });
});
