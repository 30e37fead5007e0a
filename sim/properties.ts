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
 * - `incarnationNotMixed` (the `churn` topic, deleted and re-created during load; KIP-516): no
 *   replica or read of an incarnation holds a value acknowledged before the delete that preceded
 *   that incarnation's creation was issued (such a value went to an earlier incarnation).
 * - `recreatedAckedKept`: every acks=all send to the re-created topic invoked after its current
 *   incarnation was created and acknowledged is at its offset in the final leader's log.
 * - `groupOffsetsMonotonic`: an OffsetFetch never returns less than an acknowledged commit of the
 *   key left, unless a commit that may have been applied since set it lower (its doc states the rule).
 * - the harness's queue checker (checkers/queue.ts) over the acks=all topic's history (run.ts).
 */
import { decodeRecords } from '../broker/protocol/records.ts';
import type { Replica } from '../broker/replica-manager.ts';
import type { Op } from '../checkers/history.ts';
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

/** `read-was-written`: every value read was sent by a producer of the run. */
export function readsWereWritten(reads: ReadonlyArray<{ key: string; offset: number; value: number }>, sent: ReadonlySet<number>): Violation[] {
  return reads.filter((rd) => !sent.has(rd.value)).map((rd) => ({ property: 'read-was-written', detail: `${rd.key}@${rd.offset}: read ${rd.value}, which no producer sent` }));
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

/**
 * One incarnation of a topic that is deleted and created again under the same name: its topic id,
 * when its creation was answered, and `staleBeforeMs`, the time the delete before its creation was
 * issued (-Infinity for the first incarnation). A value acknowledged before `staleBeforeMs` was
 * appended before its acknowledgement, so before that delete was asked for and before this
 * incarnation existed: it belongs to an earlier incarnation.
 */
export interface Incarnation {
  topicId: string;
  createdMs: number;
  staleBeforeMs: number;
}

/**
 * `incarnations-not-mixed` (KIP-516): no value acknowledged before `inc.staleBeforeMs` (an earlier
 * incarnation's value) is held by a replica of incarnation `inc` (every replica of `topic`, up to
 * its log end, on a live node whose metadata image maps `topic` to `inc.topicId`, whatever topic
 * id the replica itself carries: an old log kept for the new topic is what this catches) or was
 * returned by a read of `inc` (`reads`: reads the caller knows were answered by `inc`, such as a
 * drain after recovery). A stale replica, a follower's late fetch from an old-incarnation leader, or
 * a log left on disk by the delete would mix the two.
 */
export function incarnationNotMixed(world: SimWorld, topic: string, inc: Incarnation, ackedAtMs: ReadonlyMap<number, number>, reads: ReadonlyArray<{ key: string; offset: number; value: number }> = []): Violation[] {
  const out: Violation[] = [];
  const stale = (v: number): number | null => {
    const at = ackedAtMs.get(v);
    return at !== undefined && at < inc.staleBeforeMs ? at : null;
  };
  for (const n of world.nodes) {
    if (n.broker === null || n.host.state !== 'up' || n.broker.metadata.image.topic(topic)?.topicId !== inc.topicId) continue;
    for (const r of n.broker.replicas.all()) {
      if (r.topic !== topic) continue;
      for (const [offset, v] of replicaValues(r, r.log.logEndOffset)) {
        const at = stale(v);
        if (at === null) continue;
        out.push({ property: 'incarnations-not-mixed', detail: `n${n.id} ${topic}-${r.partition}@${offset} (replica of ${r.topicId}, image says ${inc.topicId}, created at ${inc.createdMs} ms): holds value ${v}, acknowledged at ${at} ms, before the delete at ${inc.staleBeforeMs} ms` });
        break;
      }
    }
  }
  for (const rd of reads) {
    const at = stale(rd.value);
    if (at !== null && out.length < 10) out.push({ property: 'incarnations-not-mixed', detail: `${rd.key}@${rd.offset}: a read of incarnation ${inc.topicId} (created at ${inc.createdMs} ms) returned value ${rd.value}, acknowledged at ${at} ms, before the delete at ${inc.staleBeforeMs} ms` });
  }
  return out;
}

/**
 * `recreated-acked-kept`: every acks=all send to `inc`'s topic invoked after `inc`'s creation was
 * answered and acknowledged (so acknowledged by `inc`, the topic's last incarnation) is at its
 * offset in the final leader's log, as `acked-write-kept` asks of every other topic. Sends to
 * earlier incarnations are not judged: a delete loses them by design.
 */
export function recreatedAckedKept(world: SimWorld, inc: Incarnation, acked: ReadonlyArray<AckedSend & { invokedMs: number }>): Violation[] {
  const current = acked.filter((a) => a.invokedMs > inc.createdMs);
  return ackedWritesKept(world, current).map((v) => ({ property: 'recreated-acked-kept', detail: `incarnation ${inc.topicId} (created at ${inc.createdMs} ms): ${v.detail}` }));
}
/** One OffsetCommit's effect on one key, as `groupOffsetsMonotonic` reasons about it. */
interface KeyCommit {
  offset: number;
  status: 'ok' | 'fail' | 'info';
  invokeIndex: number;
  /** The op index by which it took effect if it ever did: its answer, or never (Infinity) for a commit no answer came for. */
  appliedByIndex: number;
}

/** A commit completion that says no answer came (group-client.ts marks it `unanswered: true`). */
function unanswered(value: unknown): boolean {
  return (value as { unanswered?: unknown } | null)?.unanswered === true;
}

/**
 * `group-offsets-monotonic`: an OffsetFetch answered without error never returns, for a key (a
 * topic-partition of the run's one group), less than the committed offset could then be.
 *
 * Rule. Let hc be the commit of the key answered `ok` before the fetch was invoked with the highest
 * offset H. The committed offset the fetch reads is hc's, or that of a commit applied after hc: one
 * that is not `fail` (definitely not written), was invoked before the fetch was answered, and had
 * not taken effect before hc was invoked. A commit answered (`ok` or an error) took effect, if at
 * all, before its answer; one that got no answer (a timeout, a dropped connection: its bytes may
 * still be in the network) may take effect at any later time. The fetch must return at least the
 * lowest of those offsets (H when there is none): less, or -1 (nothing committed), is a commit the
 * coordinator lost or regressed. Commits lower than H are legitimate: a member that takes over a
 * partition resumes at the committed offset, which may be below what a fenced member had read, and
 * commits from there; so is the late commit of a member whose generation the coordinator had not
 * yet ended. No fetch after an `ok` commit: nothing to judge.
 * Cost: O(fetch keys x commits of the key).
 */
export function groupOffsetsMonotonic(ops: readonly Op[]): Violation[] {
  const byKey = new Map<string, KeyCommit[]>();
  const open = new Map<unknown, { index: number; offsets: Array<[string, number]> }>();
  const fetchInvokes = new Map<unknown, number>();
  const fetches: Array<{ invokeIndex: number; index: number; process: unknown; value: Record<string, unknown> }> = [];
  ops.forEach((op, index) => {
    if (op.f === 'commit') {
      if (op.type === 'invoke') {
        const offsets = Object.entries((op.value ?? {}) as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number');
        open.set(op.process, { index, offsets });
        return;
      }
      const inv = open.get(op.process);
      if (inv === undefined) return;
      open.delete(op.process);
      const status = op.type === 'ok' ? 'ok' : op.type === 'fail' ? 'fail' : 'info';
      const appliedByIndex = status === 'info' && unanswered(op.value) ? Infinity : index;
      for (const [key, offset] of inv.offsets) {
        let l = byKey.get(key);
        if (l === undefined) byKey.set(key, (l = []));
        l.push({ offset, status, invokeIndex: inv.index, appliedByIndex });
      }
    } else if (op.f === 'offset-fetch') {
      if (op.type === 'invoke') fetchInvokes.set(op.process, index);
      else {
        const inv = fetchInvokes.get(op.process);
        fetchInvokes.delete(op.process);
        if (op.type === 'ok' && inv !== undefined && op.value !== null && typeof op.value === 'object') fetches.push({ invokeIndex: inv, index, process: op.process, value: op.value as Record<string, unknown> });
      }
    }
  });
  // Commits whose invoke has no completion (the run ended first) may take effect any time.
  for (const inv of open.values()) {
    for (const [key, offset] of inv.offsets) {
      let l = byKey.get(key);
      if (l === undefined) byKey.set(key, (l = []));
      l.push({ offset, status: 'info', invokeIndex: inv.index, appliedByIndex: Infinity });
    }
  }
  const out: Violation[] = [];
  for (const f of fetches) {
    for (const [key, got] of Object.entries(f.value)) {
      if (typeof got !== 'number') continue;
      const commits = byKey.get(key) ?? [];
      let hc: KeyCommit | undefined;
      for (const c of commits) if (c.status === 'ok' && c.appliedByIndex < f.invokeIndex && (hc === undefined || c.offset >= hc.offset)) hc = c;
      if (hc === undefined) continue;
      let low = hc;
      for (const c of commits) {
        if (c === hc || c.status === 'fail' || c.invokeIndex >= f.index || c.appliedByIndex < hc.invokeIndex) continue;
        if (c.offset < low.offset) low = c;
      }
      if (got < low.offset) {
        out.push({
          property: 'group-offsets-monotonic',
          detail: `${key}: OffsetFetch by process ${String(f.process)} (history line ${f.index + 1}) returned ${got}; the commit of ${hc.offset} was acknowledged at line ${hc.appliedByIndex + 1}${low === hc ? '' : `, and the lowest commit that may have been applied since is ${low.offset} (invoked at line ${low.invokeIndex + 1})`}`,
        });
      }
    }
  }
  return out;
}
