/**
 * The properties every seed is judged by, one function each (style.md item 14). Each returns the
 * violations it found (empty: the property held); a violation names its property and says what.
 *
 * - `ackedWritesKept`: every acknowledged acks=all send is, after recovery, at its offset in the
 *   partition leader's log (the cluster runs with log.flush.interval.messages=1, which promises it).
 * - `replicasAgree`: after convergence, no offset below two replicas' high watermarks holds two
 *   different values on them.
 * - per step (step-properties.ts): Raft's election safety, log matching, state-machine safety,
 *   leader completeness and commit monotonicity; a leader's HW never moves back within one
 *   leadership and never exceeds the log end of an ISR member that joined during it.
 * - `readsBelowHw`: a consumer never got a record at or above the high watermark its answer named.
 * - `readsCommitted`: every (offset, value) a consumer read is at that offset in the final log, and
 *   was sent by a producer (nothing read was made up or later rolled back).
 * - `idempotentNoDuplicates`: a value of an idempotent producer sits at one offset only.
 * - `replicasConverge`: after healing and recovery (every node up, every link healed, no producer
 *   left), each partition has a leader, every assigned replica follows it at its epoch with a log
 *   that reaches the leader's high watermark, and the leader's ISR holds every assigned replica.
 *   Whatever the faults did, a healed cluster with nothing to write catches up (a follower that
 *   loops on a truncation, or is never readmitted, fails it).
 * - the harness's queue checker (checkers/queue.ts) over the acks=all topic's history (run.ts).
 */
import { decodeRecords } from '../broker/protocol/records.ts';
import type { Replica } from '../broker/replica-manager.ts';
import type { AckedSend } from './clients.ts';
import type { SimWorld } from './world.ts';

export interface Violation {
  property: string;
  detail: string;
}

/** offset -> value of one replica's log below `upTo`. */
export function replicaValues(r: Replica, upTo: number): Map<number, number> {
  const out = new Map<number, number>();
  let offset = r.log.logStartOffset;
  // Each read returns at least one batch or ends the loop; bounded by the log's length.
  while (offset < upTo) {
    const res = r.log.read(offset, 1 << 20, upTo);
    if (res.batches === 0 || res.nextOffset <= offset) break;
    for (const rec of decodeRecords(res.records)) if (rec.offset >= offset && rec.offset < upTo) out.set(rec.offset, Number(rec.value?.toString() ?? 'NaN'));
    offset = res.nextOffset;
  }
  return out;
}

/** The live replicas of `topic`-`partition`, by node id, and the one leading it. */
export function replicasOf(world: SimWorld, topic: string, partition: number): { all: Map<number, Replica>; leader: Replica | null } {
  const all = new Map<number, Replica>();
  let leader: Replica | null = null;
  for (const n of world.nodes) {
    const r = n.broker?.replicas.get(topic, partition);
    if (!r) continue;
    all.set(n.id, r);
    if (r.role === 'leader') leader = r;
  }
  return { all, leader };
}

export function ackedWritesKept(world: SimWorld, acked: readonly AckedSend[]): Violation[] {
  const out: Violation[] = [];
  const logs = new Map<string, Map<number, number> | null>();
  for (const a of acked) {
    if (a.acks !== -1) continue;
    if (!logs.has(a.key)) {
      const { leader } = replicasOf(world, a.topic, a.partition);
      logs.set(a.key, leader ? replicaValues(leader, leader.highWatermark) : null);
    }
    const log = logs.get(a.key);
    if (log === null || log === undefined) {
      out.push({ property: 'acked-write-kept', detail: `${a.key}: no leader after recovery to check acked value ${a.value}@${a.offset}` });
      continue;
    }
    const got = log.get(a.offset);
    if (got !== a.value) out.push({ property: 'acked-write-kept', detail: `${a.key}@${a.offset}: acked value ${a.value}, leader has ${got ?? 'nothing'} (it holds ${log.size} offsets)` });
  }
  return out;
}

export function replicasAgree(world: SimWorld, topic: string, partitions: number): Violation[] {
  const out: Violation[] = [];
  for (let p = 0; p < partitions; p++) {
    const { all } = replicasOf(world, topic, p);
    const views = [...all].map(([id, r]) => ({ id, values: replicaValues(r, r.highWatermark) }));
    for (let i = 0; i < views.length; i++) {
      for (let j = i + 1; j < views.length; j++) {
        const a = views[i]!;
        const b = views[j]!;
        for (const [offset, v] of a.values) {
          const w = b.values.get(offset);
          if (w !== undefined && w !== v) {
            out.push({ property: 'replicas-agree', detail: `${topic}-${p}@${offset}: n${a.id} has ${v}, n${b.id} has ${w}` });
            break;
          }
        }
      }
    }
  }
  return out;
}

export function readsBelowHw(aboveHw: readonly string[]): Violation[] {
  return aboveHw.slice(0, 10).map((detail) => ({ property: 'reads-below-hw', detail }));
}

export function readsCommitted(world: SimWorld, reads: ReadonlyArray<{ key: string; offset: number; value: number }>, sent: ReadonlySet<number>): Violation[] {
  const out: Violation[] = [];
  const logs = new Map<string, Map<number, number> | null>();
  for (const rd of reads) {
    if (!sent.has(rd.value)) {
      out.push({ property: 'read-was-written', detail: `${rd.key}@${rd.offset}: read ${rd.value}, which no producer sent` });
      continue;
    }
    if (!logs.has(rd.key)) {
      const dash = rd.key.lastIndexOf('-');
      const { leader } = replicasOf(world, rd.key.slice(0, dash), Number(rd.key.slice(dash + 1)));
      logs.set(rd.key, leader ? replicaValues(leader, leader.highWatermark) : null);
    }
    const log = logs.get(rd.key);
    if (!log) continue;
    const got = log.get(rd.offset);
    if (got !== rd.value && out.length < 10) out.push({ property: 'read-committed', detail: `${rd.key}@${rd.offset}: a consumer read ${rd.value}, the final log has ${got ?? 'nothing'}` });
  }
  return out;
}

export function idempotentNoDuplicates(world: SimWorld, topic: string, partitions: number, idempotentValues: ReadonlySet<number>): Violation[] {
  const out: Violation[] = [];
  for (let p = 0; p < partitions; p++) {
    const { leader } = replicasOf(world, topic, p);
    if (!leader) continue;
    const seen = new Map<number, number>();
    for (const [offset, v] of replicaValues(leader, leader.highWatermark)) {
      if (!idempotentValues.has(v)) continue;
      const first = seen.get(v);
      if (first !== undefined) out.push({ property: 'idempotent-no-duplicates', detail: `${topic}-${p}: value ${v} at offsets ${first} and ${offset}` });
      else seen.set(v, offset);
    }
  }
  return out;
}

/**
 * After recovery: a leader per partition, every assigned replica following it at its leader epoch
 * and holding its high watermark, and the ISR back to every assigned replica.
 */
export function replicasConverge(world: SimWorld, topic: string, partitions: number): Violation[] {
  const out: Violation[] = [];
  for (let p = 0; p < partitions; p++) {
    const { all, leader } = replicasOf(world, topic, p);
    const lead = leader?.leader;
    if (!leader || !lead) {
      out.push({ property: 'replicas-converge', detail: `${topic}-${p}: no leader after recovery` });
      continue;
    }
    const leaderId = [...all].find(([, r]) => r === leader)![0];
    const hw = leader.highWatermark;
    const behind: string[] = [];
    for (const id of lead.replicas) {
      if (id === leaderId) continue;
      const r = all.get(id);
      if (r === undefined) behind.push(`n${id} holds no replica`);
      else if (r.role !== 'follower' || r.leaderId !== leaderId || r.leaderEpoch !== leader.leaderEpoch) behind.push(`n${id} is ${r.role} of n${r.leaderId} at epoch ${r.leaderEpoch}`);
      else if (r.log.logEndOffset < hw) behind.push(`n${id} ends at ${r.log.logEndOffset}`);
    }
    const missing = lead.replicas.filter((id) => !lead.isr.includes(id));
    if (missing.length > 0) behind.push(`ISR ${JSON.stringify(lead.isr)} lacks ${missing.map((id) => `n${id}`).join(', ')}`);
    if (behind.length > 0) out.push({ property: 'replicas-converge', detail: `${topic}-${p}: leader n${leaderId} at epoch ${leader.leaderEpoch}, high watermark ${hw}, log end ${leader.log.logEndOffset}: ${behind.join('; ')}` });
  }
  return out;
}
