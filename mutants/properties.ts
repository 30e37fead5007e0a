/**
 * The properties the simulations check, by name (the mutant catalogue's `caughtBy` and the runner's
 * "caught by" column use these names), and the watchers that check some of them during a run of
 * the replication sim (test/sim/replication-cluster.ts, through its `afterStep` hook).
 *
 * Checked at the end of a replication run (replication-cluster.ts `#check`):
 * - lost-ack: an acknowledged acks=all write is missing at its offset on the leader or an ISR member;
 * - inconsistent-read: one offset was read (below a leader's HW) with two different values;
 * - divergence: a replica's log differs from the leader's below the HW after convergence;
 * - no-convergence: after healing, the cluster did not reach one leader, a full ISR and equal logs.
 * Checked after every step by `replicationWatchers`:
 * - hw-monotonic: a leader's HW never moves back within one leadership (one LeaderReplicaState);
 * - hw-within-isr: a leader's HW never exceeds the log end of itself or of any committed ISR member
 *   it knows (what the ISR holds);
 * - isr-within-maximal: while the metadata names a broker leader at its epoch, every member of the
 *   controller's ISR is in that leader's maximal ISR (its ISR plus a pending addition: KIP-497),
 *   the set its HW waits for. Any ISR member may be elected next, so one the HW does not wait for
 *   may lack what the HW counts as committed. Judged until the controller gets a broker's
 *   AlterPartition attempt after a later one (then a refused retry's first copy can still be applied);
 * - isr-holds-acked: a broker the committed ISR gains holds every write acknowledged so far (a
 *   follower joins only at or past max(HW, the leader's epoch start offset), and every acked write
 *   lies below one of them);
 * - leader-holds-acked: a broker the metadata names leader holds every write acknowledged so far
 *   (it was in the ISR, and the ISR holds them);
 * - ack-min-insync: when an acks=all write is acknowledged, at least min.insync.replicas (2)
 *   brokers hold it at its offset (under a flush policy that fsyncs every append, which this sim's
 *   durable logs model, an acknowledged write then survives any single crash).
 * Checked by the Raft simulator after every step (test/broker/controller/raft/simulator.ts):
 * raft-election-safety, raft-log-matching, raft-leader-completeness, raft-state-machine-safety,
 * raft-durability; raft-liveness after healing; raft-invariant for any other violation.
 * Whole-node properties (the node suite): read-below-hw (consumers never see data above the HW),
 * hw-start-known, isr-join-below-hw and isr-agrees-below-hw (sim/step-properties.ts),
 * group-offsets-monotonic (committed group offsets never regress), coordinator-not-deposed (a
 * broker answers as group coordinator only of an offsets partition it leads), duplicate (an idempotent send
 * appended twice); the re-created topic's incarnations-not-mixed counts as inconsistent-read and
 * recreated-acked-kept as lost-ack.
 * crash: the code under test threw (an assertion of the product itself, e.g. Raft refusing to
 * truncate a committed entry) or the run exceeded its time bound.
 */
import { TOPIC } from '../test/sim/replication-cluster.ts';
import type { ReplicationCluster } from '../test/sim/replication-cluster.ts';
import type { LeaderReplicaState } from '../broker/replication/leader.ts';

export const properties = {
  'lost-ack': 'an acknowledged acks=all write is lost',
  'inconsistent-read': 'an offset is read with two values',
  divergence: 'replica logs differ below the HW after convergence',
  'no-convergence': 'the cluster does not converge after healing',
  'hw-monotonic': 'a leader\'s HW moves back within its leadership',
  'hw-within-isr': 'the HW exceeds what the ISR holds',
  'isr-within-maximal': 'the controller\'s ISR holds a broker the leader\'s HW does not wait for',
  'isr-holds-acked': 'a broker joins the ISR lacking an acknowledged write',
  'leader-holds-acked': 'a broker is elected leader lacking an acknowledged write',
  'ack-min-insync': 'an acks=all write is acknowledged with fewer than min.insync.replicas copies',
  'read-below-hw': 'a consumer sees data above the HW',
  'hw-start-known': 'a new leader starts with an HW above any a leader held before',
  'isr-join-below-hw': 'a leader proposes a replica for the ISR below its HW',
  'isr-agrees-below-hw': 'the HW advances over an ISR member holding another record at that offset',
  'group-offsets-monotonic': 'a committed group offset regresses',
  'coordinator-not-deposed': 'a broker answers as group coordinator of an offsets partition another broker leads',
  duplicate: 'a write appears twice',
  'raft-election-safety': 'two Raft leaders in one term',
  'raft-log-matching': 'one (index, term) holds two entries',
  'raft-leader-completeness': 'a Raft leader lacks a committed entry',
  'raft-state-machine-safety': 'two nodes apply different entries at one index',
  'raft-durability': 'a committed Raft entry is on less than a majority of disks',
  'raft-liveness': 'no Raft progress within the bound after healing',
  'raft-invariant': 'another Raft simulator invariant is violated',
  crash: 'the code under test threw, or the run exceeded its time bound',
} as const;

export type PropertyName = keyof typeof properties;

export const propertyNames = Object.keys(properties) as PropertyName[];

export interface Violation {
  property: PropertyName;
  detail: string;
}

const MIN_INSYNC = 2;

/**
 * Watchers of one replication run: call `afterStep` after every step; `violation` is the first
 * property that failed (the run may go on; its end result is judged too).
 */
export function replicationWatchers(): { afterStep: (c: ReplicationCluster) => void; violation: () => Violation | null } {
  let first: Violation | null = null;
  const hwSeen = new WeakMap<LeaderReplicaState<unknown>, number>();
  let ackedSeen = 0;
  let isrBefore: readonly number[] = [];
  let leaderBefore = -1;
  return {
    violation: () => first,
    afterStep: (c) => {
      if (first !== null) return;
      const fail = (property: PropertyName, detail: string): void => {
        first ??= { property, detail: `t=${c.nowMs}ms: ${detail}` };
      };
      for (const b of c.brokers.values()) {
        const l = b.leader;
        if (!b.up || l === null) continue;
        const hw = l.highWatermark;
        const before = hwSeen.get(l);
        if (before !== undefined && hw < before) fail('hw-monotonic', `leader ${b.id} (epoch ${l.leaderEpoch}) HW ${before} -> ${hw}`);
        hwSeen.set(l, hw);
        for (const id of [b.id, ...l.isr]) {
          const leo = c.brokers.get(id)?.log.length ?? 0;
          if (hw > leo) fail('hw-within-isr', `leader ${b.id} (epoch ${l.leaderEpoch}) HW ${hw} > log end ${leo} of ISR member ${id} (ISR [${l.isr.join(',')}])`);
        }
      }
      const p = c.image.partition(TOPIC, 0);
      const current = p === undefined ? undefined : c.brokers.get(p.leader);
      const cl = current?.up === true ? current.leader : null;
      // Judged while the controller got every broker's AlterPartition attempts in order: a slow
      // broker's copy that overtakes its retry can be applied after the retry was refused, which no
      // leader can know (Kafka's neither).
      if (p !== undefined && cl !== null && cl.leaderEpoch === p.leaderEpoch && !c.net.reordered) {
        const maximal = cl.maximalIsr;
        const outside = p.isr.filter((id) => id !== p.leader && !maximal.includes(id));
        if (outside.length > 0) fail('isr-within-maximal', `controller ISR [${p.isr.join(',')}] (partition epoch ${p.partitionEpoch}) holds [${outside.join(',')}], outside leader ${p.leader}'s maximal ISR [${maximal.join(',')}] (epoch ${cl.leaderEpoch}, partition epoch ${cl.partitionEpoch})`);
      }
      const lacking = (id: number): string | null => {
        const log = c.brokers.get(id)?.log ?? [];
        for (const [value, offset] of c.acked) if (log[offset]?.value !== value) return `value ${value} at offset ${offset} (it has ${log[offset]?.value ?? 'nothing'})`;
        return null;
      };
      if (p !== undefined) {
        for (const id of p.isr) {
          if (isrBefore.includes(id)) continue;
          const miss = lacking(id);
          if (miss !== null) fail('isr-holds-acked', `broker ${id} joined the ISR [${p.isr.join(',')}] (partition epoch ${p.partitionEpoch}) lacking ${miss}`);
        }
        if (p.leader !== leaderBefore && p.leader >= 0) {
          const miss = lacking(p.leader);
          if (miss !== null) fail('leader-holds-acked', `broker ${p.leader} elected (leader epoch ${p.leaderEpoch}) lacking ${miss}`);
        }
        isrBefore = p.isr;
        leaderBefore = p.leader;
      }
      if (c.acked.size > ackedSeen) {
        let i = 0;
        for (const [value, offset] of c.acked) {
          if (i++ < ackedSeen) continue;
          const holders = [...c.brokers.values()].filter((b) => b.log[offset]?.value === value).map((b) => b.id);
          if (holders.length < MIN_INSYNC) fail('ack-min-insync', `value ${value} acked at offset ${offset} held by [${holders.join(',')}] only`);
        }
        ackedSeen = c.acked.size;
      }
    },
  };
}

/** The property a Raft simulator violation (SimViolation's message) names; raft-invariant for the others. */
export function raftProperty(message: string): PropertyName {
  const m = message.toLowerCase();
  if (m.includes('election safety')) return 'raft-election-safety';
  if (m.includes('log matching')) return 'raft-log-matching';
  if (m.includes('leader completeness')) return 'raft-leader-completeness';
  if (m.includes('state-machine safety')) return 'raft-state-machine-safety';
  if (m.includes('durability')) return 'raft-durability';
  if (m.includes('liveness')) return 'raft-liveness';
  return 'raft-invariant';
}
