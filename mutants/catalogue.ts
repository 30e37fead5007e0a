/**
 * The mutant catalogue (issue 10, "Mutation score"): realistic one-place defects, each planted alone
 * in a scratch copy of the repository by `npm run mutants` (mutants/run.ts), which then runs the
 * simulations over a fixed seed budget and reports whether a property caught it.
 *
 * Each entry is data:
 * - `file` and `search`: the exact text of the one place the mistake would be made; `search` must
 *   occur exactly once in `file` (test/mutants/catalogue.test.ts checks every entry against the
 *   current code, so the catalogue cannot rot silently as the code changes);
 * - `replace`: what a real engineer could have written instead;
 * - `breaks`: the guarantee it violates; `caughtBy`: the properties that should catch it
 *   (names from mutants/properties.ts);
 * - `suites`: the simulations in which the mutated code runs. The replication sim
 *   (test/sim/replication-cluster.ts) drives LeaderReplicaState, the follower rules, the Controller
 *   and the MetadataImage over a simulated network; the Raft sim (test/broker/controller/raft)
 *   drives RaftCore. Code outside them (replica manager, fetcher, log, group coordinator, metadata
 *   loader) runs only in the whole-node sim (suite `node`), which the runner uses when the
 *   checkout has one.
 *
 * The `issue` flag marks the defects of issue 10's table; the rest were found by reading the code.
 * Entries that re-state a `--bug` plant (broker/bugs.ts) do it as a source change, not through
 * `bugActive`, so the measure does not depend on the plant staying where it is.
 */
import type { PropertyName } from './properties.ts';

export const suiteNames = ['replication', 'raft', 'node'] as const;
export type SuiteName = (typeof suiteNames)[number];

export interface Mutant {
  id: string;
  file: string;
  search: string;
  replace: string;
  breaks: string;
  caughtBy: readonly PropertyName[];
  suites: readonly SuiteName[];
  /** One of the planted defects of issue 10's table. */
  issue?: true;
}

const REPL = ['replication', 'node'] as const;
const RAFT = ['raft', 'node'] as const;
const NODE = ['node'] as const;

export const catalogue: readonly Mutant[] = [
  // ------------------------------------------------------------- issue 10's table
  {
    id: 'epoch-not-bumped',
    file: 'broker/controller/image.ts',
    search: "leaderEpoch: leader !== p.leader && !bugActive('epoch-not-bumped') ? p.leaderEpoch + 1 : p.leaderEpoch,",
    replace: 'leaderEpoch: p.leaderEpoch,',
    breaks: 'a leader change keeps the leader epoch: old and new leader write in one epoch, divergence goes undetected',
    caughtBy: ['lost-ack', 'inconsistent-read', 'divergence'],
    suites: REPL,
    issue: true,
  },
  {
    id: 'divergence-epoch-only',
    file: 'broker/replication/follower.ts',
    search: "if (end.epoch < lastFetchedEpoch || (end.endOffset < fetchOffset && !bugActive('divergence-epoch-only'))) return end;",
    replace: 'if (end.epoch < lastFetchedEpoch) return end;',
    breaks: 'the leader compares epochs only: a follower keeps a divergent suffix written in the same epoch',
    caughtBy: ['divergence', 'inconsistent-read'],
    suites: REPL,
    issue: true,
  },
  {
    id: 'maximal-isr-ignores-pending',
    file: 'broker/replication/leader.ts',
    search: 'for (const id of this.maximalIsr) {',
    replace: 'for (const id of this.#isr) {',
    breaks: 'the HW is computed over the committed ISR only (not KIP-497\'s maximal ISR): a pending addition may be elected lacking records below the HW',
    caughtBy: ['lost-ack', 'hw-within-isr'],
    suites: REPL,
    issue: true,
  },
  {
    id: 'isr-join-below-epoch-start',
    file: 'broker/replication/leader.ts',
    search: "if ((f.logEndOffset < this.#highWatermark || f.logEndOffset < this.leaderEpochStartOffset) && !bugActive('isr-join-below-hw')) return null;",
    replace: 'if (f.logEndOffset < this.#highWatermark) return null;',
    breaks: 'a follower joins the ISR below the leader\'s epoch start offset: elected, it lacks records the old epoch acknowledged',
    caughtBy: ['lost-ack', 'hw-within-isr'],
    suites: REPL,
    issue: true,
  },
  {
    id: 'hw-ignores-min-insync',
    file: 'broker/replication/leader.ts',
    search: "if (this.#isr.length < this.minInsync && !bugActive('hw-ignores-min-insync')) return;",
    replace: '',
    breaks: 'the HW advances while the ISR is below min.insync.replicas (KAFKA-15583): acks=all is answered with one copy',
    caughtBy: ['ack-min-insync', 'lost-ack'],
    suites: REPL,
    issue: true,
  },
  {
    id: 'alter-pending-dropped-on-any-error',
    file: 'broker/replication/leader.ts',
    search: 'if (errorCode !== undefined && ALTER_NOT_APPLIED_ERRORS.includes(errorCode)) this.#pending = null;',
    replace: 'if (errorCode !== undefined) this.#pending = null;',
    breaks: 'a rejection that may follow an applied earlier copy (INVALID_UPDATE_VERSION) drops the pending ISR addition from the maximal ISR',
    caughtBy: ['isr-within-maximal', 'lost-ack', 'hw-within-isr'],
    suites: REPL,
    issue: true,
  },
  {
    id: 'no-partition-epoch-check',
    file: 'broker/controller/controller.ts',
    search: "if (req.partitionEpoch !== p.partitionEpoch) return fail('INVALID_UPDATE_VERSION');",
    replace: '',
    breaks: 'the controller applies an AlterPartition computed from an older ISR (a delayed duplicate re-adds a removed member)',
    caughtBy: ['isr-within-maximal', 'lost-ack', 'hw-within-isr'],
    suites: REPL,
    issue: true,
  },
  {
    id: 'no-kip279-ask-again',
    file: 'broker/replication/follower.ts',
    search: "return { kind: 'truncateAndAsk', offset: Math.min(own.endOffset, logEndOffset), epoch: own.epoch };",
    replace: "return { kind: 'truncate', offset: Math.min(leader.endOffset, logEndOffset) };",
    breaks: 'a follower that does not know the leader\'s epoch truncates to the leader\'s end for it (pre-KIP-279), keeping a suffix of an epoch the leader never had',
    caughtBy: ['divergence', 'inconsistent-read'],
    suites: REPL,
    issue: true,
  },
  {
    id: 'raft-figure8-commit',
    file: 'broker/controller/raft/core.ts',
    search: 'if (candidate > this.commit && this.termAt(candidate) === this.currentTerm) {',
    replace: 'if (candidate > this.commit) {',
    breaks: 'a leader commits an entry of an older term by counting replicas (Raft paper, figure 8)',
    caughtBy: ['raft-state-machine-safety', 'raft-leader-completeness', 'raft-durability'],
    suites: RAFT,
    issue: true,
  },
  {
    id: 'raft-vote-without-up-to-date',
    file: 'broker/controller/raft/core.ts',
    search: "const granted = (this.votedFor === null || this.votedFor === from) && upToDate && this.roleNow === 'follower';",
    replace: "const granted = (this.votedFor === null || this.votedFor === from) && this.roleNow === 'follower';",
    breaks: 'a vote is granted to a candidate whose log is behind (§5.4.1): it can be elected without committed entries',
    caughtBy: ['raft-leader-completeness', 'raft-state-machine-safety'],
    suites: RAFT,
    issue: true,
  },
  {
    id: 'follower-progress-before-divergence',
    file: 'broker/replica-manager.ts',
    search: 'if (p.lastFetchedEpoch >= 0) {\n      const div = divergingEpoch(',
    replace: 'if (isFollower && recordProgress && p.fetchOffset <= log.logEndOffset) leader.onFollowerFetch(replicaId, p.fetchOffset, this.now(), log.logEndOffset, replicaEpoch);\n    if (p.lastFetchedEpoch >= 0) {\n      const div = divergingEpoch(',
    breaks: 'the leader records a follower\'s fetch offset as its progress before checking it diverged: a divergent suffix counts toward the HW',
    caughtBy: ['isr-agrees-below-hw', 'lost-ack', 'hw-within-isr', 'divergence'],
    suites: NODE,
    issue: true,
  },
  {
    id: 'consumer-reads-past-hw',
    file: 'broker/replica-manager.ts',
    search: "const limit = isFollower || bugActive('consumer-reads-past-hw') ? log.logEndOffset : hw;",
    replace: 'const limit = log.logEndOffset;',
    breaks: 'consumer fetches read up to the log end, not the HW: they see records a failover truncates',
    caughtBy: ['read-below-hw', 'inconsistent-read'],
    suites: NODE,
    issue: true,
  },
  {
    id: 'new-leader-hw-at-leo',
    file: 'broker/replica-manager.ts',
    search: "const hw = bugActive('new-leader-hw-at-leo') ? r.log.logEndOffset : Math.min(wasLeader ? r.leader!.highWatermark : r.followerHw, r.log.logEndOffset);",
    replace: 'const hw = r.log.logEndOffset;',
    breaks: 'a new leader starts its HW at its own log end: its uncommitted suffix is exposed and counted as committed',
    caughtBy: ['hw-start-known', 'hw-within-isr', 'read-below-hw', 'inconsistent-read'],
    suites: NODE,
    issue: true,
  },
  {
    id: 'isr-join-below-hw',
    file: 'broker/replication/leader.ts',
    search: '(f.logEndOffset < this.#highWatermark || f.logEndOffset < this.leaderEpochStartOffset)',
    replace: '(f.logEndOffset < this.leaderEpochStartOffset)',
    breaks: 'a follower joins the ISR on reaching the epoch start offset, below the HW: elected before it catches up, it lacks committed records (the hunt\'s planted bug of that name, as a mutant)',
    caughtBy: ['isr-join-below-hw', 'hw-within-isr', 'lost-ack'],
    suites: NODE,
  },
  {
    id: 'restart-hw-checkpoint-ignored',
    file: 'broker/replica-manager.ts',
    search: 'const hw = this.checkpointedHw.get(key)?.offset ?? 0;',
    replace: 'const hw = 0;',
    breaks: 'a restarted replica forgets its checkpointed HW: re-elected as the last ISR member below min.insync, it serves nothing that was committed (consumers go back)',
    caughtBy: ['hw-monotonic', 'lost-ack'],
    suites: NODE,
    issue: true,
  },
  {
    id: 'restart-publish-before-caught-up',
    file: 'broker/controller/metadata-loader.ts',
    search: 'if (this.highWatermark === null || this.applied < this.highWatermark || this.applied < this.floor) return;',
    replace: 'if (this.highWatermark === null) return;',
    breaks: 'a restarted node publishes a metadata image older than the one it acted on before (stale roles: deletes or leads from old metadata)',
    caughtBy: ['lost-ack', 'divergence'],
    suites: NODE,
    issue: true,
  },
  {
    id: 'stale-decision-kept',
    file: 'broker/controller/controller-host.ts',
    search: 'if (settle() && index !== expected) this.renounce(`${what} committed at ${index}, staged at ${expected}`);',
    replace: 'settle();',
    breaks: 'a controller batch committed at another index than staged keeps the view: later decisions are made against a state the log does not hold',
    caughtBy: ['lost-ack', 'divergence'],
    suites: NODE,
    issue: true,
  },
  // Equivalent (docs/simulation.md, "Consumer groups"): every leadership change fails the pending
  // offsets appends before the coordinator reloads, so an append that succeeds never finds the load
  // generation changed; a probe in the branch stayed at 0 over 200 seeds. Kept to say so if that changes.
  {
    id: 'coordinator-unload-commit-applied',
    file: 'broker/group/coordinator.ts',
    search: 'if (!this.owned.has(partition) || this.loadGeneration.get(partition) !== generation) return GroupError.NOT_COORDINATOR;',
    replace: 'if (!this.owned.has(partition)) return GroupError.NOT_COORDINATOR;',
    breaks: 'a commit whose append outlived an unload and a reload writes into the new load\'s offsets map (acked but not in the log)',
    caughtBy: ['group-offsets-monotonic'],
    suites: NODE,
    issue: true,
  },
  // ------------------------------------------------------------- found by reading the code
  {
    id: 'elect-outside-isr',
    file: 'broker/controller/controller.ts',
    search: "const clean = replicas.find((r) => (isr.includes(r) || bugActive('elect-outside-isr')) && image.isUnfenced(r));",
    replace: 'const clean = replicas.find((r) => image.isUnfenced(r));',
    breaks: 'with unclean election off, the controller elects the first live replica, in the ISR or not',
    caughtBy: ['lost-ack', 'inconsistent-read'],
    suites: REPL,
  },
  {
    id: 'reassign-all-targets-in-isr',
    file: 'broker/controller/controller.ts',
    search: 'const isr = p.isr.filter((r) => replicas.includes(r));\n    if (isr.length === 0) return false;',
    replace: 'const isr = [...replicas];\n    if (isr.length === 0) return false;',
    breaks: 'a finished (or cancelled) reassignment declares every target replica in sync, caught up or not',
    caughtBy: ['isr-within-maximal', 'lost-ack', 'hw-within-isr'],
    suites: REPL,
  },
  {
    id: 'partition-epoch-not-bumped',
    file: 'broker/controller/image.ts',
    search: 'partitionEpoch: p.partitionEpoch + 1,',
    replace: 'partitionEpoch: p.partitionEpoch,',
    breaks: 'a PartitionChange keeps the partition epoch: a leader cannot tell a newer ISR from the one it has, and stale AlterPartitions pass',
    caughtBy: ['no-convergence', 'lost-ack'],
    suites: REPL,
  },
  {
    id: 'kip903-epoch-not-checked',
    file: 'broker/controller/controller.ts',
    search: 'return named === reg.epoch;',
    replace: 'return true;',
    breaks: 'KIP-903: an ISR expansion computed from a previous incarnation\'s fetches admits the restarted broker, which may have lost unflushed records',
    caughtBy: ['lost-ack'],
    suites: REPL,
  },
  {
    id: 'hw-skips-unknown-follower',
    file: 'broker/replication/leader.ts',
    search: 'const leo = this.#followers.get(id)?.logEndOffset ?? UNKNOWN_OFFSET;\n      candidate = Math.min(candidate, leo);',
    replace: 'const leo = this.#followers.get(id)?.logEndOffset ?? UNKNOWN_OFFSET;\n      if (leo !== UNKNOWN_OFFSET) candidate = Math.min(candidate, leo);',
    breaks: 'an ISR follower that has not fetched from a new leader yet does not hold the HW back',
    caughtBy: ['lost-ack', 'hw-within-isr'],
    suites: REPL,
  },
  {
    id: 'ack-off-by-one',
    file: 'broker/replication/leader.ts',
    search: "if (this.#highWatermark >= w.requiredOffset) errorCode = 'NONE';",
    replace: "if (this.#highWatermark >= w.requiredOffset - 1) errorCode = 'NONE';",
    breaks: 'an acks=all waiter completes when the HW reaches its last record instead of passing it',
    caughtBy: ['lost-ack', 'ack-min-insync'],
    suites: REPL,
  },
  {
    id: 'kip903-progress-kept',
    file: 'broker/replication/leader.ts',
    search: 'if (f.brokerEpoch !== -1) Object.assign(f, this.#freshFollower(followerId, 0));',
    replace: '',
    breaks: 'KIP-903: a follower\'s new incarnation inherits the old one\'s progress (it may have lost what the old one had)',
    caughtBy: ['lost-ack', 'hw-within-isr'],
    suites: REPL,
  },
  {
    id: 'isr-commit-keeps-pending',
    file: 'broker/replication/leader.ts',
    search: 'this.#partitionEpoch = state.partitionEpoch;\n    this.#pending = null;',
    replace: 'this.#partitionEpoch = state.partitionEpoch;',
    breaks: 'a committed ISR change does not clear the pending proposal: the leader resends a stale one forever and proposes nothing else',
    caughtBy: ['no-convergence'],
    suites: REPL,
  },
  {
    id: 'truncate-ignores-leader-end',
    file: 'broker/replication/follower.ts',
    search: "return { kind: 'truncate', offset: Math.min(leader.endOffset, own.endOffset, logEndOffset) };",
    replace: "return { kind: 'truncate', offset: Math.min(own.endOffset, logEndOffset) };",
    breaks: 'a follower that knows the leader\'s epoch truncates to its own end for it, keeping records past the leader\'s end',
    caughtBy: ['divergence', 'inconsistent-read'],
    suites: REPL,
  },
  {
    id: 'truncate-unknown-epoch-keeps-log',
    file: 'broker/replication/follower.ts',
    search: "if (own.epoch === UNDEFINED_EPOCH) {\n    return { kind: 'truncate', offset: Math.min(leader.endOffset, logEndOffset) };",
    replace: "if (own.epoch === UNDEFINED_EPOCH) {\n    return { kind: 'truncate', offset: logEndOffset };",
    breaks: 'a follower whose epochs all postdate the leader\'s answer keeps its whole log',
    caughtBy: ['divergence', 'inconsistent-read'],
    suites: REPL,
  },
  {
    id: 'divergence-off-by-one',
    file: 'broker/replication/follower.ts',
    search: "(end.endOffset < fetchOffset && !bugActive('divergence-epoch-only'))",
    replace: "(end.endOffset < fetchOffset - 1 && !bugActive('divergence-epoch-only'))",
    breaks: 'the divergence check lets a follower keep one record past the leader\'s end of the epoch',
    caughtBy: ['divergence', 'inconsistent-read'],
    suites: REPL,
  },
  {
    id: 'raft-append-truncates-on-duplicate',
    file: 'broker/controller/raft/core.ts',
    search: 'if (this.termAt(e.index) === e.term) continue;\n        this.truncateFrom(e.index);',
    replace: 'this.truncateFrom(e.index);',
    breaks: 'a follower truncates on any overlap, not only a term conflict: a delayed duplicate AppendEntries cuts entries that agree with it',
    caughtBy: ['raft-durability', 'raft-invariant'],
    suites: RAFT,
  },
  {
    id: 'raft-commit-beyond-match',
    file: 'broker/controller/raft/core.ts',
    search: 'const newCommit = Math.min(msg.leaderCommit, matchIndex);',
    replace: 'const newCommit = msg.leaderCommit;',
    breaks: 'a follower takes the leader\'s commit index beyond what this AppendEntries matched: it applies its own unverified entries',
    caughtBy: ['raft-state-machine-safety'],
    suites: RAFT,
  },
  {
    id: 'raft-vote-twice',
    file: 'broker/controller/raft/core.ts',
    search: 'const granted = (this.votedFor === null || this.votedFor === from) && upToDate',
    replace: 'const granted = upToDate',
    breaks: 'a node votes for every up-to-date candidate of a term, not once: two leaders in one term',
    caughtBy: ['raft-election-safety'],
    suites: RAFT,
  },
  {
    id: 'raft-quorum-off-by-one',
    file: 'broker/controller/raft/core.ts',
    search: 'const candidate = matches[this.quorum - 1]!;',
    replace: 'const candidate = matches[this.quorum - 2] ?? matches[0]!;',
    breaks: 'the leader commits an index a minority holds (counts one replica short of a majority)',
    caughtBy: ['raft-durability', 'raft-state-machine-safety'],
    suites: RAFT,
  },
  {
    id: 'raft-term-not-persisted-on-step-down',
    file: 'broker/controller/raft/core.ts',
    search: '      this.currentTerm = term;\n      this.votedFor = null;\n      this.hardStateDirty = true;',
    replace: '      this.currentTerm = term;\n      this.votedFor = null;',
    breaks: 'a node that learns a higher term does not persist it: after a crash it votes again in that term',
    caughtBy: ['raft-election-safety', 'raft-invariant'],
    suites: RAFT,
  },
  {
    id: 'epoch-cache-keeps-later-entries',
    file: 'broker/log/epoch-cache.ts',
    search: 'const keep = this.#entries.filter((e) => e.startOffset < endOffset);',
    replace: 'const keep = this.#entries.filter((e) => e.startOffset <= endOffset);',
    breaks: 'a truncation keeps the epoch that starts exactly at the cut: the follower keeps naming an epoch the leader lacks and truncates to the same offset forever',
    caughtBy: ['no-convergence', 'divergence', 'inconsistent-read'],
    suites: NODE,
  },
  {
    id: 'idempotent-replay-appended',
    file: 'broker/log/producer-state.ts',
    search: 'if (dup) return { kind: \'duplicate\', firstOffset: dup.firstOffset, lastOffset: dup.lastOffset };',
    // Not '' (deleting the line): a retry of the last batch then fails the sequence check
    // (OUT_OF_ORDER_SEQUENCE_NUMBER), which a client can only take as unknown, so no history shows it.
    replace: "if (dup) return { kind: 'append' };",
    breaks: 'a retried idempotent batch already in the log is appended again (duplicates)',
    caughtBy: ['duplicate'],
    suites: NODE,
  },
  // ------------------------------------------------------------- admin operations during load (reassign, recreate)
  {
    id: 'reassign-adding-in-isr',
    file: 'broker/controller/controller.ts',
    search: '      isr: p.isr.filter((r) => replicas.includes(r)),\n      addingReplicas: adding,',
    replace: '      isr: [...p.isr.filter((r) => replicas.includes(r)), ...adding],\n      addingReplicas: adding,',
    breaks: 'a reassignment counts the replicas it adds as in sync at once (and so completes at once): a replica re-added with an empty log joins the ISR',
    caughtBy: ['hw-within-isr', 'isr-within-maximal', 'lost-ack', 'no-convergence'],
    suites: REPL,
  },
  {
    id: 'reassign-removal-keeps-epoch',
    file: 'broker/controller/image.ts',
    search: 'if (removed && leader === p.leader) t.partitions[record.partition] = { ...t.partitions[record.partition]!, leaderEpoch: p.leaderEpoch + 1 };',
    replace: '',
    breaks: 'a replica set that loses a replica keeps the leader epoch: a removed replica\'s late fetch counts as progress of the same broker re-added in that leadership (node seed 29 of the admin faults)',
    caughtBy: ['hw-within-isr', 'lost-ack'],
    suites: REPL,
  },
  {
    id: 'recreate-replica-matched-by-name',
    file: 'broker/replica-manager.ts',
    search: 'if (r && r.topicId !== topic.topicId) {',
    replace: 'if (r && r.topic !== topicName) {',
    breaks: 'a local replica is matched to the image by name, not topic id: a node that learns a delete and a re-create in one image keeps the old incarnation\'s log for the new topic',
    caughtBy: ['inconsistent-read', 'divergence', 'lost-ack'],
    suites: NODE,
  },
];
