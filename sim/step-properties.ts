/**
 * Properties checked after every simulated step (Scheduler.onStep: after each event and the
 * microtasks it started), on the production nodes' own state, read through narrow read-only
 * accessors (MetadataService.raftState, ReplicaManager.all(), LeaderReplicaState's getters). The
 * checks compare what the nodes hold; none re-implements the rule that produced it.
 *
 * Raft (the metadata quorum), over every live voter:
 * - `raft-election-safety`: at most one node is leader in a term, across the whole run.
 * - `raft-log-matching`: two logs holding an entry with the same index and term hold the same
 *   entry (same payload) after the same predecessor term; checked for every entry a log gains.
 * - `raft-state-machine-safety`: an index committed anywhere holds one entry everywhere it is
 *   committed.
 * - `raft-leader-completeness`: a leader of term T holds every entry committed (on any node) in a
 *   term before T.
 * - `raft-commit-monotonic`: a node's commit index never moves back within one process life.
 *
 * Replication, over every partition leader:
 * - `hw-monotonic`: a leader's HW never moves back within one leadership (node incarnation,
 *   partition, leader epoch).
 * - `hw-within-isr`: a leader's HW never exceeds the log end of an ISR member that joined the ISR
 *   during this leadership, while that member runs the same process life it joined in and follows
 *   this leadership (same topic incarnation and leader epoch: a member that already applied a
 *   delete and re-creation holds a replica of another topic id under the name). That is what a member of the ISR promises: it holds every
 *   record below the HW. (Members inherited from before the leadership, or restarted since they
 *   joined, are not judged: without an fsync on every append, a restart may lose what the old
 *   process had, which is the weakness Kafka accepts and KIP-903 guards the ISR against.)
 * - `hw-start-known`: a leadership starts with an HW no higher than the highest HW any leader of
 *   that partition (topic id and index) has held before. A new leader's HW is what it learnt as a
 *   follower (or checkpointed), so it cannot be news; records above it are not yet known to be on
 *   the ISR. Judged when the ISR holds another member (a lone ISR member at min.insync 1 commits
 *   its log end at once, rightly).
 * - `isr-join-below-hw`: a leader proposes a follower for the ISR only when the follower's log
 *   really holds the HW and the leader's epoch start offset (Kafka's `Partition.isFollowerInSync`):
 *   an ISR member must hold every committed record. Read from the leader's pending AlterPartition
 *   the step it appears, against the follower node's own log when it follows this leadership in
 *   the process life it ran when the leadership began (so wrong progress bookkeeping shows too, not
 *   only a wrong comparison); else against the log end the leader recorded from its fetches.
 * - `isr-agrees-below-hw`: when a leader's HW advances, every member of its maximal ISR (committed
 *   ISR and pending additions) that follows this leadership, runs the process life it ran when the
 *   leadership began and holds the new HW, holds the same leader epoch at offset HW - 1 as the
 *   leader: a record counts as committed only once the ISR holds *it*, not another record at its
 *   offset (a follower's fetch offset is progress only after the divergence check passed).
 * - `isr-holds-hw`: every ISR member of a leader (but itself) that runs the process life the
 *   leader's own metadata image has registered for it (same incarnation id) and follows this
 *   leadership holds the leader's HW. Registering a new life fences the old one and takes it out
 *   of every ISR, so a member of that life got in through its own fetches (KIP-903), and HW never
 *   passes what such a member fetched. Unlike `hw-within-isr` it also judges members inherited
 *   from an earlier leadership and restarted ones once the leader knows their new life.
 * - `hw-survives-restart`: a replica a process opens starts with at least the high watermark its
 *   node's HW checkpoint (`replication-offset-checkpoint`, as the disk held it when the process
 *   started) holds for it, clamped to its log's start and end: what a node checkpointed survives
 *   its restart (a kill, or a power loss after the checkpoint's fsync).
 *
 * Group coordination, for the run's group:
 * - `coordinator-not-deposed`: a node whose group coordinator would answer as the group's
 *   coordinator (`GroupCoordinator.ownership` is NONE) leads the group's offsets partition in the
 *   newest metadata image among live nodes (the committed log's longest prefix any of them applied).
 *   A broker cut off from the controller, or paused, must stop answering before the controller can
 *   move the partition away by fencing it (the coordinator lease, controller/broker-lifecycle.ts);
 *   Kafka's coordinator answers until its own metadata says otherwise. The simulation moves offsets
 *   partitions only by fencing (leader-churn and the node faults; no reassignment or election aims at
 *   them), the one kind of move the lease covers.
 */
import type { Entry } from '../broker/controller/raft/messages.ts';
import type { RaftStateView } from '../broker/controller/raft/node.ts';
import { readOffsetCheckpoint, REPLICATION_OFFSET_CHECKPOINT_FILE } from '../broker/log/offset-checkpoint.ts';
import { OFFSETS_TOPIC } from '../broker/apis/context.ts';
import type { MetadataImage } from '../broker/controller/image.ts';
import { GroupError } from '../broker/group/coordinator.ts';
import type { Violation } from './properties.ts';
import type { SimWorld } from './world.ts';

/** At most this many violations kept per property (the first is the one that matters). */
const MAX_KEPT = 5;

function keep(out: Violation[], property: string, detail: string): void {
  if (out.filter((v) => v.property === property).length < MAX_KEPT) out.push({ property, detail });
}

interface RaftNodeState {
  view: RaftStateView;
  /** The entry object seen at each index (by identity: a changed object is a changed entry). */
  refs: Array<Entry | undefined>;
  /** Highest index registered from this log. */
  checked: number;
  commit: number;
}

export class RaftMonitor {
  readonly violations: Violation[] = [];
  readonly #leaderOfTerm = new Map<number, number>();
  /** `${index}:${term}` -> the entry's payload and its predecessor's term (-1 when unknown). */
  readonly #byKey = new Map<string, { payload: string | null; prevTerm: number; node: number }>();
  /** index -> the committed entry (1-based; holes where only snapshots held it). */
  /** `commitTerm`: the term of the node first seen committing it (the committing leader's term, or later). */
  readonly #committed: Array<{ term: number; payload: string | null; node: number; commitTerm: number } | undefined> = [];
  #maxCommitted = 0;
  readonly #nodes = new Map<number, RaftNodeState>();
  /** Per core (one process life) leading a term: the committed index it was checked up to. */
  readonly #leaderChecked = new WeakMap<RaftStateView, { term: number; upTo: number }>();

  step(world: SimWorld): void {
    const leaders: Array<{ id: number; v: RaftStateView }> = [];
    for (const n of world.nodes) {
      if (n.host.state !== 'up' || n.broker === null) continue;
      const v = n.broker.metadata.raftState;
      if (v === null) continue;
      let st = this.#nodes.get(n.id);
      if (st === undefined || st.view !== v) {
        st = { view: v, refs: [], checked: v.logStartIndex - 1, commit: v.logStartIndex - 1 };
        this.#nodes.set(n.id, st);
      }
      this.#registerLog(n.id, st);
      this.#registerCommits(n.id, st);
      if (v.role === 'leader') {
        const prior = this.#leaderOfTerm.get(v.term);
        if (prior !== undefined && prior !== n.id) keep(this.violations, 'raft-election-safety', `t=${world.sched.nowMs}ms: n${prior} and n${n.id} both leader of term ${v.term}`);
        else this.#leaderOfTerm.set(v.term, n.id);
        leaders.push({ id: n.id, v });
      }
    }
    for (const l of leaders) this.#checkCompleteness(world, l.id, l.v);
  }

  #registerLog(id: number, st: RaftNodeState): void {
    const v = st.view;
    const start = v.logStartIndex;
    let j = Math.min(st.checked, v.lastIndex);
    while (j >= start && v.entryAt(j) !== st.refs[j]) j--;
    if (j < start - 1) j = start - 1;
    for (let i = j + 1; i <= v.lastIndex; i++) {
      const e = v.entryAt(i);
      if (e === undefined) break;
      const prev = i > start ? v.entryAt(i - 1) : undefined;
      const prevTerm = prev?.term ?? -1;
      const key = `${i}:${e.term}`;
      const known = this.#byKey.get(key);
      if (known === undefined) this.#byKey.set(key, { payload: e.payload, prevTerm, node: id });
      else if (known.payload !== e.payload || (prevTerm >= 0 && known.prevTerm >= 0 && known.prevTerm !== prevTerm)) {
        keep(this.violations, 'raft-log-matching', `n${id} holds entry ${i}@${e.term} after term ${prevTerm} with payload ${short(e.payload)}; n${known.node} held it after term ${known.prevTerm} with ${short(known.payload)}`);
      } else if (known.prevTerm < 0 && prevTerm >= 0) known.prevTerm = prevTerm;
      st.refs[i] = e;
    }
    st.refs.length = v.lastIndex + 1;
    st.checked = v.lastIndex;
  }

  #registerCommits(id: number, st: RaftNodeState): void {
    const v = st.view;
    if (v.commitIndex < st.commit) keep(this.violations, 'raft-commit-monotonic', `n${id}: commit index ${st.commit} -> ${v.commitIndex}`);
    for (let i = Math.max(st.commit + 1, v.logStartIndex); i <= v.commitIndex; i++) {
      const e = v.entryAt(i);
      if (e === undefined) continue;
      const c = this.#committed[i];
      if (c === undefined) this.#committed[i] = { term: e.term, payload: e.payload, node: id, commitTerm: v.term };
      else if (c.term !== e.term || c.payload !== e.payload) keep(this.violations, 'raft-state-machine-safety', `index ${i} committed as ${i}@${c.term} on n${c.node}, as ${i}@${e.term} on n${id}`);
    }
    if (v.commitIndex > this.#maxCommitted) this.#maxCommitted = v.commitIndex;
    st.commit = Math.max(st.commit, v.commitIndex);
  }

  #checkCompleteness(world: SimWorld, id: number, v: RaftStateView): void {
    const seen = this.#leaderChecked.get(v);
    const from = seen !== undefined && seen.term === v.term ? seen.upTo : 0;
    if (from >= this.#maxCommitted) return;
    for (let i = Math.max(from + 1, v.logStartIndex); i <= this.#maxCommitted; i++) {
      const c = this.#committed[i];
      // Raft promises a leader of term T the entries committed in earlier terms; a stale leader
      // (an old term's, cut off) need not hold what later terms committed.
      if (c === undefined || c.commitTerm >= v.term) continue;
      const e = v.entryAt(i);
      if (e === undefined || e.term !== c.term || e.payload !== c.payload) {
        keep(this.violations, 'raft-leader-completeness', `t=${world.sched.nowMs}ms: n${id}, leader of term ${v.term}, ${e === undefined ? `lacks committed entry ${i}@${c.term} (its log ends at ${v.lastIndex})` : `holds ${i}@${e.term} where ${i}@${c.term} was committed on n${c.node}`}`);
        break;
      }
    }
    this.#leaderChecked.set(v, { term: v.term, upTo: this.#maxCommitted });
  }
}

function short(s: string | null): string {
  return s === null ? 'null' : s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

interface Leadership {
  /** The leader epoch this entry tracks (a Replica object lives one process life: with it, one leadership). */
  epoch: number;
  lastHw: number;
  isr: number[];
  /** member id -> the host incarnation it joined the ISR in (during this leadership). */
  joined: Map<number, number>;
  /** The pending AlterPartition last judged (by identity: a new proposal is a new object). */
  judgedAlter: object | null;
  /** node id -> its host incarnation when the leadership was first seen. */
  lives: Map<number, number>;
}

/** The leader epoch of the record at `offset` by a log's epoch cache (-1: none covers it). */
function epochAt(entries: readonly { epoch: number; startOffset: number }[], offset: number): number {
  let epoch = -1;
  for (const e of entries) {
    if (e.startOffset > offset) break;
    epoch = e.epoch;
  }
  return epoch;
}

export class ReplicationMonitor {
  readonly violations: Violation[] = [];
  /** Per replica object (one node's process life), its current leadership. */
  readonly #leaderships = new WeakMap<object, Leadership>();
  /** Per partition incarnation (topic id and index), the highest HW any leader has held. */
  readonly #maxHw = new Map<string, number>();
  /** Per process life (BrokerNode object): its HW checkpoint as the disk held it when first seen, by `topic/partition`. */
  readonly #startCheckpoint = new WeakMap<object, Map<string, number>>();
  /** Replica objects already judged by `hw-survives-restart` (the step they were opened). */
  readonly #opened = new WeakSet<object>();

  step(world: SimWorld): void {
    for (const n of world.nodes) {
      if (n.broker === null || n.host.state !== 'up') continue;
      let checkpoint = this.#startCheckpoint.get(n.broker);
      if (checkpoint === undefined) {
        // The first step of a process life: nothing it ran has rewritten the checkpoint yet.
        checkpoint = new Map(readOffsetCheckpoint(`${world.brokerOptions(n).dataDir}/${REPLICATION_OFFSET_CHECKPOINT_FILE}`, n.host.disk).entries.map((e) => [`${e.topic}/${e.partition}`, e.offset]));
        this.#startCheckpoint.set(n.broker, checkpoint);
      }
      for (const r of n.broker.replicas.all()) {
        if (!this.#opened.has(r)) {
          this.#opened.add(r);
          const saved = checkpoint.get(`${r.topic}/${r.partition}`);
          const floor = saved === undefined ? 0 : Math.max(r.log.logStartOffset, Math.min(saved, r.log.logEndOffset));
          if (r.highWatermark < floor) keep(this.violations, 'hw-survives-restart', `t=${world.sched.nowMs}ms n${n.id}#${n.host.incarnation} ${r.topic}-${r.partition}: opened with high watermark ${r.highWatermark}, its checkpoint holds ${saved} (log ${r.log.logStartOffset}..${r.log.logEndOffset})`);
        }
        const lead = r.leader;
        if (r.role !== 'leader' || lead === null) {
          // A follower's HW is one a leader answered: fold it in too (sound, and it covers an HW a
          // leader held only between two samples).
          const fkey = `${r.topicId}/${r.partition}`;
          if (r.highWatermark > (this.#maxHw.get(fkey) ?? 0)) this.#maxHw.set(fkey, r.highWatermark);
          continue;
        }
        const hw = r.highWatermark;
        const isr = lead.isr;
        const key = `${r.topicId}/${r.partition}`;
        const known = this.#maxHw.get(key) ?? 0;
        let l = this.#leaderships.get(r);
        if (l === undefined || l.epoch !== r.leaderEpoch) {
          l = { epoch: r.leaderEpoch, lastHw: hw, isr: [...isr], joined: new Map(), judgedAlter: null, lives: new Map(world.nodes.map((m) => [m.id, m.host.incarnation])) };
          this.#leaderships.set(r, l);
          if (hw > known && isr.some((m) => m !== n.id)) keep(this.violations, 'hw-start-known', `t=${world.sched.nowMs}ms ${leadership(n, r)}: starts with high watermark ${hw} (log end ${r.log.logEndOffset}, ISR ${JSON.stringify(isr)}), above ${known}, the highest any leader held before`);
        }
        if (hw > known) this.#maxHw.set(key, hw);
        if (hw > l.lastHw) {
          const want = epochAt(r.log.epochCache.entries, hw - 1);
          for (const m of lead.maximalIsr) {
            if (m === n.id) continue;
            const fr = this.#followerOf(world, l, n.id, r, m);
            // Retention may have deleted offset HW - 1 on either side (a follower's is bounded by the
            // HW it learnt from the previous leader, which may be above this one's): nothing to compare.
            if (fr === null || fr.log.logEndOffset < hw || fr.log.logStartOffset > hw - 1 || r.log.logStartOffset > hw - 1) continue;
            const got = epochAt(fr.log.epochCache.entries, hw - 1);
            if (got !== want) keep(this.violations, 'isr-agrees-below-hw', `t=${world.sched.nowMs}ms ${leadership(n, r)}: high watermark ${l.lastHw} -> ${hw} counting n${m}, whose record at offset ${hw - 1} has leader epoch ${got}, the leader's ${want}`);
          }
        }
        const alter = lead.pendingAlter;
        if (alter !== null && alter !== l.judgedAlter) {
          l.judgedAlter = alter;
          for (const m of alter.newIsr) {
            if (m === n.id || isr.includes(m)) continue;
            const fr = this.#followerOf(world, l, n.id, r, m);
            const leo = fr !== null ? fr.log.logEndOffset : (lead.follower(m)?.logEndOffset ?? -1);
            if (leo < hw || leo < lead.leaderEpochStartOffset) keep(this.violations, 'isr-join-below-hw', `t=${world.sched.nowMs}ms ${leadership(n, r)}: proposes ISR ${JSON.stringify(alter.newIsr)} adding n${m}, whose log ends at ${leo} (${fr !== null ? 'its own log' : 'as the leader recorded'}), below high watermark ${hw} or epoch start ${lead.leaderEpochStartOffset}`);
          }
        }
        if (hw < l.lastHw) keep(this.violations, 'hw-monotonic', `t=${world.sched.nowMs}ms ${leadership(n, r)}: high watermark ${l.lastHw} -> ${hw}`);
        if (!sameIds(isr, l.isr)) {
          for (const m of isr) if (!l.isr.includes(m) && m !== n.id) l.joined.set(m, world.nodes[m - 1]?.host.incarnation ?? -1);
          for (const m of l.joined.keys()) if (!isr.includes(m)) l.joined.delete(m);
          l.isr = [...isr];
        }
        for (const [m, inc] of l.joined) {
          const mn = world.nodes[m - 1];
          if (mn === undefined || mn.broker === null || mn.host.state !== 'up' || mn.host.incarnation !== inc) continue;
          const fr = mn.broker.replicas.get(r.topic, r.partition);
          if (fr === undefined || fr.topicId !== r.topicId || fr.role !== 'follower' || fr.leaderEpoch !== r.leaderEpoch || fr.leaderId !== n.id) continue;
          if (hw > fr.log.logEndOffset) keep(this.violations, 'hw-within-isr', `t=${world.sched.nowMs}ms ${leadership(n, r)}: high watermark ${hw}, ISR ${JSON.stringify(isr)}, but n${m} (in the ISR since it joined in this leadership) ends at ${fr.log.logEndOffset}`);
        }
        const image = n.broker.metadata.image;
        for (const m of isr) {
          if (m === n.id) continue;
          const mn = world.nodes[m - 1];
          if (mn === undefined || mn.broker === null || mn.host.state !== 'up' || image.broker(m)?.incarnationId !== mn.broker.metadata.incarnationId) continue;
          const fr = mn.broker.replicas.get(r.topic, r.partition);
          if (fr === undefined || fr.topicId !== r.topicId || fr.role !== 'follower' || fr.leaderEpoch !== r.leaderEpoch || fr.leaderId !== n.id) continue;
          if (hw > fr.log.logEndOffset) keep(this.violations, 'isr-holds-hw', `t=${world.sched.nowMs}ms ${leadership(n, r)}: high watermark ${hw}, ISR ${JSON.stringify(isr)}, but n${m}#${mn.host.incarnation} (the life the leader's image registered) ends at ${fr.log.logEndOffset}`);
        }
        l.lastHw = hw;
      }
    }
  }

  /**
   * Member `m`'s replica of `r`'s partition when it follows this leadership (leader `leaderId`,
   * same topic incarnation and leader epoch) in the process life it ran when the leadership was
   * first seen; else null.
   */
  #followerOf(world: SimWorld, l: Leadership, leaderId: number, r: { topic: string; topicId: string; partition: number; leaderEpoch: number }, m: number): { log: { logEndOffset: number; logStartOffset: number; epochCache: { entries: readonly { epoch: number; startOffset: number }[] } } } | null {
    const mn = world.nodes[m - 1];
    if (mn === undefined || mn.broker === null || mn.host.state !== 'up' || mn.host.incarnation !== l.lives.get(m)) return null;
    const fr = mn.broker.replicas.get(r.topic, r.partition);
    if (fr === undefined || fr.topicId !== r.topicId || fr.role !== 'follower' || fr.leaderEpoch !== r.leaderEpoch || fr.leaderId !== leaderId) return null;
    return fr;
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function leadership(n: SimWorld['nodes'][number], r: { topic: string; partition: number; leaderEpoch: number }): string {
  return `n${n.id}#${n.host.incarnation} ${r.topic}-${r.partition} epoch ${r.leaderEpoch}`;
}

/** `coordinator-not-deposed` (module doc), for one group. */
export class CoordinatorMonitor {
  readonly violations: Violation[] = [];
  readonly #groupId: string;
  /** Steps at which some node answered as coordinator, and at which one was refused by its lease alone (the check's power). */
  readonly stats = { coordinatingSteps: 0, leaseRefusedSteps: 0 };

  constructor(groupId: string) {
    this.#groupId = groupId;
  }

  step(world: SimWorld): void {
    let newest: MetadataImage | null = null;
    for (const n of world.nodes) {
      if (n.host.state !== 'up' || n.broker === null) continue;
      const image = n.broker.metadata.image;
      if (newest === null || image.lastOffset > newest.lastOffset) newest = image;
    }
    if (newest === null) return;
    for (const n of world.nodes) {
      if (n.host.state !== 'up' || n.broker === null) continue;
      const groups = n.broker.groups;
      const p = groups.partitionFor(this.#groupId);
      if (groups.ownership(this.#groupId) !== GroupError.NONE) {
        if (groups.owns(p)) this.stats.leaseRefusedSteps++;
        continue;
      }
      this.stats.coordinatingSteps++;
      const leader = newest.partition(OFFSETS_TOPIC, p)?.leader ?? -1;
      if (leader !== n.id) keep(this.violations, 'coordinator-not-deposed', `t=${world.sched.nowMs}ms n${n.id}#${n.host.incarnation} answers as coordinator of ${this.#groupId} (${OFFSETS_TOPIC}-${p}), whose leader in the newest metadata (offset ${newest.lastOffset}) is ${leader < 0 ? 'none' : `n${leader}`}`);
    }
  }
}
