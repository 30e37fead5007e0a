/**
 * Seeds the whole-node simulation found real defects with, kept as regression tests (issue 10: every
 * bug the simulation finds in the real code is fixed with its seed kept). Each test replays its seed
 * with the options it failed under, checks the seed still runs the faults that exposed the defect
 * (so a change in how seeds draw their schedule cannot turn the test into a no-op silently), and
 * asserts every property holds. Each pins `groups`: the seeds found before the consumer group
 * workload pin it off (it, and the offsets partition among `leader-churn`'s targets, came later and
 * would change their runs); the group seeds pin it on.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN_FAULT_KINDS, NODE_FAULT_KINDS, PRE_ADMIN_FAULT_KINDS, type FaultStep } from '../../../sim/faults.ts';
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

  // KIP-516, both sides. The `churn` topic is deleted and created again; the new incarnation's
  // partition starts at leader epoch 0, as the old one's did. Followers fetched by name (Fetch v12),
  // so epochs alone had to tell the incarnations apart, and could not.
  // Seed 35: n1 and n2 (powered off at 9.8 s for 3.7 s) applied the delete (15.0 s) and the
  // re-creation and followed n3, the new incarnation's leader; n3 still led the old incarnation and
  // answered their fetches from it, so they appended the old records; once n3 re-created its log,
  // the epoch-only divergence check kept them (incarnations-not-mixed, replicas-agree,
  // recreated-acked-kept). Seed 45: n1, partitioned through a delete and re-creation, fetched with
  // its old incarnation's replica from n3, the new incarnation's leader, which counted the fetch as
  // n1's progress and raised its HW past n1's new replica (isr-holds-hw). Now followers fetch with
  // Fetch v13 by their replica's topic id; a leader that does not know the id answers
  // UNKNOWN_TOPIC_ID (one whose replica is of another incarnation INCONSISTENT_TOPIC_ID), reading
  // nothing and recording no progress, and the follower keeps its log and asks again.
  // `refused`: the run must show a leader refusing a churn-0 fetch by topic id. Seed 35 no longer
  // reaches that moment since the Raft leader lease (e3e4ecc) moved its controller's timing; it stays
  // as a regression of its schedule, and seed 45 and test/broker/apis/data.test.ts cover the refusal.
  const kip516 = (seed: number, shape: (schedule: SimResult['schedule']) => boolean, refused = true) => async () => {
    // The kinds of their day (admin kinds, `recreate` included; no disk kinds) and no torn writes.
    const o: Partial<SimOptions> = { kinds: [...PRE_ADMIN_FAULT_KINDS, ...ADMIN_FAULT_KINDS], tornWrites: false, groups: false };
    // Log lines change nothing in the run (same trace); they show the leader's answers took effect.
    const r = await runSeed(seed, { ...o, logLines: 100_000 });
    expect(shape(r.schedule), JSON.stringify(r.schedule)).toBe(true);
    expect(r.stats.admin.recreated).toBeGreaterThan(0);
    expect(r.valid, explain(r, o)).toBe(true);
    if (refused) expect(r.nodeLogs.flat().some((l) => l.includes('UNKNOWN_TOPIC_ID') && l.includes(' churn-0 ')), 'no follower of churn-0 was refused a fetch by topic id').toBe(true);
  };
  const during = (outer: FaultStep, inner: FaultStep) => outer.atMs <= inner.atMs && inner.atMs + inner.durationMs <= outer.atMs + outer.durationMs;
  it(
    'seed 35: a follower of a re-created topic takes no records from a leader of the old incarnation (KIP-516)',
    // n1 and n2 powered off together, then (after they are back) the delete and re-creation.
    kip516(35, (sc) => sc.some((p) => p.kind === 'power' && p.nodes.includes(0) && p.nodes.includes(1) && sc.some((d) => d.kind === 'recreate' && d.atMs > p.atMs + p.durationMs)), false),
  );
  it(
    'seed 45: a leader of a re-created topic counts no fetch of an old-incarnation replica as progress (KIP-516)',
    // n1 partitioned through a whole delete and re-creation.
    kip516(45, (sc) => sc.some((p) => p.kind === 'partition' && p.nodes.length === 1 && p.nodes[0] === 0 && sc.some((d) => d.kind === 'recreate' && during(p, d)))),
  );
  // A coordinator deposed while it could not hear the controller kept answering as coordinator.
  // n3 was the active controller and led __consumer_offsets-0; partitioned from 10.1 to 14.0 s, it
  // stepped down as controller, and n2, elected, counted n3's broker session from when it last heard
  // n3 and fenced it at once, taking __consumer_offsets-0 over at 12.5 s. n3 learned of it only at
  // about 14.1 s; meanwhile a member that found n3 as coordinator joined there, and n3 answered its
  // OffsetFetch from the offsets it had loaded before: 166 after 168 had been acknowledged by n2
  // (group-offsets-monotonic). Seed 6 is the same window opened by a pause: n3, controller and
  // coordinator, paused from 11.8 to 15.6 s, answered process 21's OffsetFetch at 15.6 s with 181
  // after n2 had acknowledged 190, and the member resumed there (the queue checker's resume-mismatch).
  // Now a broker answers as coordinator only under a lease from its answered heartbeats, bounded by
  // the broker session and by the answering controller's Raft leader lease
  // (controller/broker-lifecycle.ts), and `coordinator-not-deposed` (step-properties.ts) checks
  // every step that no node answers as coordinator of a partition the newest metadata gives to
  // another. Its runs changed since (the Raft leader lease moved every election), so the checks are
  // that the schedule still cuts n3 off, that the lease refused n3 at some step, and that no
  // property fails.
  /** Each seed's fault that cut n3 off (virtual ms, to the schedule's printed precision for the start). */
  const GROUP_SEEDS: ReadonlyArray<{ seed: number; kind: 'partition' | 'pause'; atMs: number; durationMs: number }> = [
    { seed: 20, kind: 'partition', atMs: 10_100, durationMs: 3920 },
    { seed: 6, kind: 'pause', atMs: 11_800, durationMs: 3756 },
  ];
  it.each(GROUP_SEEDS)('seed $seed: a coordinator cut off from the controller ($kind of n3) stops answering before it is deposed', async ({ seed, kind, atMs, durationMs }) => {
    const o: Partial<SimOptions> = { kinds: PRE_ADMIN_FAULT_KINDS, tornWrites: false, groups: true };
    const r = await runSeed(seed, o);
    // The step that cut off n3 (node index 2), the coordinator when it started.
    const cut = r.schedule.find((s) => s.kind === kind && s.nodes.length === 1 && s.nodes[0] === 2 && Math.abs(s.durationMs - durationMs) < 1);
    expect(cut, JSON.stringify(r.schedule)).toBeDefined();
    expect(Math.abs(cut!.atMs - atMs), `${kind} of n3 at ${cut!.atMs} ms`).toBeLessThan(100);
    const answeredBy3Before = r.history.some((op) => op.f === 'offset-fetch' && op.type === 'invoke' && (op.value as { coordinator?: number }).coordinator === 3 && op.timeNs / 1e6 < cut!.atMs);
    expect(answeredBy3Before, 'n3 coordinated the group before it was cut off').toBe(true);
    expect(r.stats.groups.leaseRefusedSteps).toBeGreaterThan(0);
    expect(r.stats.groups.commitsOk).toBeGreaterThan(50);
    expect(r.valid, explain(r, o)).toBe(true);
  });
});
