/**
 * Deterministic in-process simulator for the sans-I/O Raft core.
 *
 * One seeded PRNG (mulberry32) drives everything: network delay, loss, duplication (and so
 * reordering), partitions (symmetric groups and one-way link cuts), crashes, restarts, client proposals and each node's election jitter.
 * The same seed therefore replays exactly the same run.
 *
 * Disk model: each node's "disk" holds exactly what the Ready contract said to persist
 * (hard state, then the log truncate+append). A crash throws away the core (all volatile state:
 * commit index, role, progress, applied entries) and a restart rebuilds it from the disk. A crash
 * may also strike in the middle of handling a Ready: after the hard state and only a prefix of the
 * appended entries reached the disk, before any message was sent or entry applied.
 *
 * Invariants checked after every simulated step (violations throw SimViolation):
 * - election safety: at most one leader per term, ever;
 * - log matching: every (index, term) ever written to any disk always has the same payload and the
 *   same previous-entry term (by induction, equal (index, term) => equal prefixes);
 * - leader completeness: when a node is first seen as leader of a term, its log holds every entry
 *   committed so far;
 * - state-machine safety: no two nodes (or lives of a node) apply different entries at one index;
 *   each life applies a contiguous prefix from index 1; a payload is committed at one index only;
 * - durability: every committed entry is on a majority of disks (checked at crashes and at the end);
 * - persistence contract: a live core's log length equals its disk's log length after every Ready.
 * - snapshots: each node's state machine is a running digest of the entries it applied; a
 *   snapshot carries that digest, and a snapshot a node restores (at boot, or installed from a
 *   leader) must hold exactly the digest of the committed entries up to its index; after a restore
 *   the node applies from the snapshot's index on. A disk holds a committed entry when its log has
 *   it or its snapshot covers it.
 *
 * `compact(id)` snapshots a node's state machine at its applied index (the core drops the log up
 * to its previous snapshot), so lagging followers must catch up through InstallSnapshot.
 */
import { RaftCore } from '../../../../broker/controller/raft/core.ts';
import type { LogBase, RaftConfig, Ready } from '../../../../broker/controller/raft/core.ts';
import type { Entry, Message, Snapshot } from '../../../../broker/controller/raft/messages.ts';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimViolation extends Error {
  readonly code = 'RAFT_SIM_VIOLATION';
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

export type SimNetwork = {
  lossRate: number;
  dupRate: number;
  minDelayMs: number;
  maxDelayMs: number;
};

export type SimOptions = {
  seed: number;
  nodes: number;
  tickMs: number;
  raft: Omit<RaftConfig, 'id' | 'voters'>;
  network: SimNetwork;
  /** Probability, per Ready handled, that the node crashes in the middle of handling it. */
  crashInReadyRate: number;
  maxInFlight: number;
  trace: boolean;
};

type Disk = { term: number; votedFor: number | null; base: LogBase; snapshot: Snapshot | null; entries: Entry[] };
type SimNode = { id: number; core: RaftCore | null; disk: Disk; appliedThisLife: number; lives: number; digest: string; bootRestorePending: boolean };

/** The state machine's digest after applying `e` (FNV-1a over the previous digest and the entry). */
export function digestStep(prev: string, e: Entry): string {
  let h = 0x811c9dc5;
  const text = `${prev}|${e.index}/${e.term}/${e.payload ?? '\u0000'}`;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}
type InFlight = { from: number; to: number; message: Message; deliverAtMs: number; seq: number };

export class Simulator {
  readonly rand: () => number;
  readonly opts: SimOptions;
  readonly nodes: SimNode[];
  nowMs = 0;
  network: SimNetwork;
  crashInReadyRate: number;
  private readonly ids: number[];
  private inFlight: InFlight[] = [];
  private seq = 0;
  /** Partition group per node: nodes talk iff their groups are equal. */
  private group = new Map<number, number>();
  /** Directed links `${from}>${to}` that drop everything (asymmetric faults). */
  private cut = new Set<string>();
  /** Directed links `${from}>${to}` whose messages wait in flight until released (as TCP holds bytes on a stalled path). */
  private held = new Set<string>();
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly ledger = new Map<string, string>();
  /** index -> committed entry, as first reported by any node. */
  readonly committed = new Map<number, Entry>();
  private readonly indexOfPayload = new Map<string, number>();
  readonly traceLines: string[] = [];
  proposalsAccepted = 0;
  elections = 0;
  /** Snapshots taken by compact(), and installed on followers from a leader. */
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
  /** Digest of the committed prefix up to each index, as first reported by any node. */
  private readonly digestAt = new Map<number, string>([[0, '']]);

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.rand = mulberry32(opts.seed);
    this.network = { ...opts.network };
    this.crashInReadyRate = opts.crashInReadyRate;
    this.ids = Array.from({ length: opts.nodes }, (_, i) => i + 1);
    this.nodes = this.ids.map((id) => ({ id, core: null, disk: { term: 0, votedFor: null, base: { index: 0, term: 0 }, snapshot: null, entries: [] }, appliedThisLife: 0, lives: 0, digest: '', bootRestorePending: false }));
    for (const n of this.nodes) this.boot(n);
  }

  node(id: number): SimNode {
    return this.nodes[id - 1]!;
  }

  trace(line: string): void {
    if (!this.opts.trace) return;
    this.traceLines.push(`${this.nowMs} ${line}`);
    if (this.traceLines.length > 400) this.traceLines.splice(0, 100);
  }

  // --- faults ----------------------------------------------------------------------------------

  crash(id: number): void {
    const n = this.node(id);
    if (n.core === null) return;
    this.trace(`crash ${id}`);
    n.core = null;
    this.checkDurability();
  }

  restart(id: number): void {
    const n = this.node(id);
    if (n.core !== null) return;
    this.trace(`restart ${id}`);
    this.boot(n);
  }

  partition(groups: ReadonlyMap<number, number>): void {
    this.group = new Map(groups);
    this.trace(`partition ${[...groups].map(([k, v]) => `${k}:${v}`).join(' ')}`);
  }

  /** Drops every message from `from` to `to` (but not the reverse direction) until healed. */
  cutOneWay(from: number, to: number): void {
    this.cut.add(`${from}>${to}`);
    this.trace(`cut ${from}>${to}`);
  }

  /** Undoes `cutOneWay(from, to)`. */
  uncut(from: number, to: number): void {
    this.cut.delete(`${from}>${to}`);
    this.trace(`uncut ${from}>${to}`);
  }

  /** Holds every message from `from` to `to`, due or not, until `release` (or heal). */
  hold(from: number, to: number): void {
    this.held.add(`${from}>${to}`);
    this.trace(`hold ${from}>${to}`);
  }

  release(from: number, to: number): void {
    this.held.delete(`${from}>${to}`);
    this.trace(`release ${from}>${to}`);
  }

  heal(): void {
    this.group = new Map();
    this.cut = new Set();
    this.held = new Set();
    this.trace('heal');
  }

  connected(from: number, to: number): boolean {
    return (this.group.get(from) ?? 0) === (this.group.get(to) ?? 0) && !this.cut.has(`${from}>${to}`);
  }

  alive(): SimNode[] {
    return this.nodes.filter((n) => n.core !== null);
  }

  leaders(): SimNode[] {
    return this.nodes.filter((n) => n.core?.role === 'leader');
  }

  // --- clients ---------------------------------------------------------------------------------

  /** Proposes one payload at node `id`; returns the index it was appended at, or null. */
  propose(id: number, payload: string): number | null {
    const n = this.node(id);
    if (n.core === null) return null;
    const r = n.core.propose([payload], this.nowMs);
    if (!r.ok) return null;
    this.proposalsAccepted++;
    this.trace(`propose ${id} ${payload} -> ${r.lastIndex}@${r.term}`);
    this.handleReady(n, r.ready);
    return r.lastIndex;
  }

  /** Snapshots node `id`'s state machine at its applied index and compacts its log; false if nothing to do. */
  compact(id: number): boolean {
    const n = this.node(id);
    if (n.core === null || n.appliedThisLife <= (n.core.latestSnapshot?.index ?? 0)) return false;
    const index = n.appliedThisLife;
    this.trace(`compact ${id} at ${index}`);
    this.snapshotsTaken++;
    this.handleReady(n, n.core.compact(index, JSON.stringify({ index, digest: n.digest }), this.nowMs));
    return true;
  }

  // --- time ------------------------------------------------------------------------------------

  /** Advances simulated time by one tick: delivers due messages, ticks every live node, checks. */
  step(): void {
    this.nowMs += this.opts.tickMs;
    const isDue = (m: InFlight): boolean => m.deliverAtMs <= this.nowMs && !this.held.has(`${m.from}>${m.to}`);
    const due = this.inFlight.filter(isDue);
    if (due.length > 0) {
      this.inFlight = this.inFlight.filter((m) => !isDue(m));
      due.sort((a, b) => a.deliverAtMs - b.deliverAtMs || a.seq - b.seq);
      for (const m of due) {
        const n = this.node(m.to);
        if (n.core === null || !this.connected(m.from, m.to)) continue;
        this.handleReady(n, n.core.step(m.from, m.message, m.deliverAtMs));
      }
    }
    for (const n of this.nodes) {
      if (n.core !== null) this.handleReady(n, n.core.tick(this.nowMs));
    }
    this.checkLeaders();
  }

  runFor(ms: number): void {
    const end = this.nowMs + ms;
    while (this.nowMs < end) this.step();
  }

  // --- internals -------------------------------------------------------------------------------

  private boot(n: SimNode): void {
    const cfg: RaftConfig = { ...this.opts.raft, id: n.id, voters: this.ids };
    const seed = Math.floor(this.rand() * 2 ** 32);
    const d = n.disk;
    n.core = new RaftCore(cfg, { term: d.term, votedFor: d.votedFor, base: { ...d.base }, snapshot: d.snapshot, entries: d.entries.map((e) => ({ ...e })) }, mulberry32(seed), this.nowMs);
    n.appliedThisLife = 0;
    n.digest = '';
    n.bootRestorePending = d.snapshot !== null;
    n.lives++;
  }

  private handleReady(n: SimNode, ready: Ready): void {
    const core = n.core!;
    const crashNow = this.crashInReadyRate > 0 && this.rand() < this.crashInReadyRate;
    if (ready.persist) {
      if (ready.persist.term < n.disk.term) throw new SimViolation(`node ${n.id} persisted term went back ${n.disk.term} -> ${ready.persist.term}`);
      n.disk.term = ready.persist.term;
      n.disk.votedFor = ready.persist.votedFor;
    }
    const disk = n.disk;
    const diskTermAt = (i: number): number => (i === disk.base.index ? disk.base.term : disk.entries[i - disk.base.index - 1]!.term);
    if (ready.snapshot) {
      if (disk.snapshot !== null && ready.snapshot.index < disk.snapshot.index) throw new SimViolation(`node ${n.id} snapshot went back ${disk.snapshot.index} -> ${ready.snapshot.index}`);
      disk.snapshot = { ...ready.snapshot };
    }
    if (ready.resetLog) {
      const { base, entries } = ready.resetLog;
      if (disk.snapshot === null || disk.snapshot.index < base.index) throw new SimViolation(`node ${n.id} log reset to base ${base.index} that no snapshot covers`);
      disk.base = { ...base };
      disk.entries = [];
      for (const e of entries) {
        this.recordLedger(n.id, e, e.index - 1 === base.index ? base.term : disk.entries[disk.entries.length - 1]!.term);
        disk.entries.push({ ...e });
      }
    }
    if (ready.compactLog) {
      const base = ready.compactLog;
      if (disk.snapshot === null || disk.snapshot.index < base.index) throw new SimViolation(`node ${n.id} log compacted to ${base.index} that no snapshot covers`);
      if (base.index > disk.base.index) {
        if (diskTermAt(base.index) !== base.term) throw new SimViolation(`node ${n.id} log compacted to ${base.index}@${base.term}, the disk says term ${diskTermAt(base.index)}`);
        disk.entries = disk.entries.slice(base.index - disk.base.index);
        disk.base = { ...base };
      }
    }
    if (ready.appendEntries) {
      const { fromIndex, entries } = ready.appendEntries;
      const diskLast = disk.base.index + disk.entries.length;
      if (fromIndex <= disk.base.index || fromIndex > diskLast + 1) {
        throw new SimViolation(`node ${n.id} appendEntries fromIndex ${fromIndex} leaves a gap or cuts below the base (disk has ${disk.base.index + 1}..${diskLast})`);
      }
      disk.entries.length = fromIndex - 1 - disk.base.index;
      const keep = crashNow ? Math.floor(this.rand() * (entries.length + 1)) : entries.length;
      for (let i = 0; i < keep; i++) {
        const e = entries[i]!;
        if (e.index !== fromIndex + i) throw new SimViolation(`node ${n.id} appendEntries not contiguous at ${e.index}`);
        this.recordLedger(n.id, e, diskTermAt(e.index - 1));
        disk.entries.push({ ...e });
      }
    }
    if (crashNow) {
      this.trace(`crash-in-ready ${n.id}`);
      n.core = null;
      this.checkDurability();
      return;
    }
    if (core.lastIndex !== disk.base.index + disk.entries.length) {
      throw new SimViolation(`node ${n.id} core log end ${core.lastIndex} != disk ${disk.base.index + disk.entries.length}: Ready lost a log change`);
    }
    for (const { to, message } of ready.messages) this.send(n.id, to, message);
    if (ready.restore) this.restore(n, ready.restore);
    for (const e of ready.committed) this.recordCommitted(n, e);
  }

  /** The state machine takes a snapshot's state: it must be exactly the committed prefix's. */
  private restore(n: SimNode, s: Snapshot): void {
    const { index, digest } = JSON.parse(s.data) as { index: number; digest: string };
    if (index !== s.index) throw new SimViolation(`node ${n.id} restored a snapshot labelled ${s.index} holding state at ${index}`);
    const expected = this.digestAt.get(index);
    if (expected === undefined) throw new SimViolation(`node ${n.id} restored a snapshot at ${index}, beyond anything committed`);
    if (expected !== digest) throw new SimViolation(`state-machine safety: node ${n.id} restored a snapshot at ${index} whose state differs from the committed prefix`);
    if (n.bootRestorePending) n.bootRestorePending = false;
    else this.snapshotsInstalled++;
    this.trace(`restore ${n.id} at ${index}`);
    n.appliedThisLife = index;
    n.digest = digest;
  }

  private send(from: number, to: number, message: Message): void {
    const net = this.network;
    if (this.rand() < net.lossRate) return;
    const copies = this.rand() < net.dupRate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.inFlight.length >= this.opts.maxInFlight) return;
      const delay = net.minDelayMs + Math.floor(this.rand() * (net.maxDelayMs - net.minDelayMs + 1));
      this.inFlight.push({ from, to, message, deliverAtMs: this.nowMs + delay, seq: this.seq++ });
    }
  }

  private recordLedger(id: number, e: Entry, prevTerm: number): void {
    const key = `${e.index}/${e.term}`;
    const value = `${prevTerm}/${e.payload === null ? '\u0000noop' : e.payload}`;
    const seen = this.ledger.get(key);
    if (seen === undefined) this.ledger.set(key, value);
    else if (seen !== value) {
      throw new SimViolation(`log matching: node ${id} wrote (index ${e.index}, term ${e.term}) as "${value}", elsewhere "${seen}"`);
    }
  }

  private recordCommitted(n: SimNode, e: Entry): void {
    if (e.index !== n.appliedThisLife + 1) {
      throw new SimViolation(`node ${n.id} applied index ${e.index} after ${n.appliedThisLife} (not contiguous)`);
    }
    n.appliedThisLife = e.index;
    n.digest = digestStep(n.digest, e);
    const known = this.digestAt.get(e.index);
    if (known === undefined) this.digestAt.set(e.index, n.digest);
    else if (known !== n.digest) throw new SimViolation(`state-machine safety: node ${n.id} state after ${e.index} differs from another node's`);
    const prior = this.committed.get(e.index);
    if (prior === undefined) {
      this.committed.set(e.index, { ...e });
      if (e.payload !== null) {
        const at = this.indexOfPayload.get(e.payload);
        if (at !== undefined) throw new SimViolation(`payload ${e.payload} committed at ${at} and again at ${e.index}`);
        this.indexOfPayload.set(e.payload, e.index);
      }
      this.trace(`commit ${e.index}@${e.term} ${e.payload ?? 'noop'} (first by ${n.id})`);
    } else if (prior.term !== e.term || prior.payload !== e.payload) {
      throw new SimViolation(
        `state-machine safety: node ${n.id} applied ${e.index}@${e.term} "${e.payload}" but ${e.index}@${prior.term} "${prior.payload}" was applied before`,
      );
    }
  }

  private checkLeaders(): void {
    for (const n of this.nodes) {
      const core = n.core;
      if (core === null || core.role !== 'leader') continue;
      const known = this.leaderOfTerm.get(core.term);
      if (known === n.id) continue;
      if (known !== undefined) throw new SimViolation(`election safety: nodes ${known} and ${n.id} both leader of term ${core.term}`);
      this.leaderOfTerm.set(core.term, n.id);
      this.elections++;
      this.trace(`leader ${n.id} term ${core.term}`);
      for (const [index, e] of this.committed) {
        if (index <= (core.latestSnapshot?.index ?? 0) && index < core.logStartIndex) continue;
        const mine = core.entryAt(index);
        if (mine === undefined || mine.term !== e.term || mine.payload !== e.payload) {
          throw new SimViolation(`leader completeness: leader ${n.id} of term ${core.term} lacks committed entry ${index}@${e.term}`);
        }
      }
    }
  }

  /** Every committed entry must be on a majority of disks. */
  checkDurability(): void {
    const majority = Math.floor(this.nodes.length / 2) + 1;
    for (const [index, e] of this.committed) {
      let copies = 0;
      for (const n of this.nodes) {
        const d = n.disk.entries[index - n.disk.base.index - 1];
        if ((d !== undefined && d.term === e.term) || (n.disk.snapshot !== null && n.disk.snapshot.index >= index)) copies++;
      }
      if (copies < majority) throw new SimViolation(`durability: committed entry ${index}@${e.term} is on ${copies} disks only`);
    }
  }
}
