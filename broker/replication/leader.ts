/**
 * The leader side of one partition (sans-I/O): follower progress, ISR proposals, the high
 * watermark, and acks=all bookkeeping.
 *
 *   const l = new LeaderReplicaState({ localId, replicas, isr, leaderEpoch, partitionEpoch, minInsync,
 *     replicaLagTimeMaxMs, logEndOffset, highWatermark, nowMs });
 *   l.onLocalAppend(leo); l.onFollowerFetch(id, fetchOffset, nowMs, leaderLeo) -> maybe an AlterPartition
 *   l.maybeShrinkIsr(nowMs, leo) -> maybe an AlterPartition; l.onIsrCommitted(state) when metadata lands
 *   l.checkEnoughReplicas(); l.addWaiter(w); l.poll(nowMs) -> completed waiters; l.onLeadershipLost()
 *
 * Invariants:
 * - Follower lastCaughtUpTimeMs follows Kafka's Replica.scala: a fetch at or past the leader's LEO
 *   sets it to the fetch time; one at or past the leader LEO of the previous fetch sets it to that
 *   fetch's time; it never decreases.
 * - HW = min(LEO) over the maximal ISR (committed ISR ∪ pending addition, KIP-497), leader included.
 *   It never decreases and never advances while the committed ISR is smaller than minInsync
 *   (strict min ISR, KAFKA-15583). A follower whose LEO is unknown (no fetch yet) holds it back.
 * - A follower is proposed for the ISR when LEO >= HW and LEO >= leaderEpochStartOffset; an ISR
 *   member is proposed for removal when its LEO != leader LEO and it has not caught up for more
 *   than replicaLagTimeMaxMs. At most one AlterPartition is in flight; the ISR used for decisions
 *   changes only when the controller's change arrives (onIsrCommitted at a newer partition epoch).
 * - A proposal whose outcome is unknown (timeout, lost reply, or a rejection such as
 *   INVALID_UPDATE_VERSION / FENCED_LEADER_EPOCH that may follow an earlier copy being applied)
 *   stays pending, and its additions stay in the maximal ISR: the controller may have committed
 *   them, and a HW computed without them could be passed by writes the new ISR members lack,
 *   which a later election among them would lose. maybeShrinkIsr hands the pending proposal out
 *   again every alterRetryMs for a resend. Only errors that say the change was not applied
 *   (INELIGIBLE_REPLICA, INVALID_REQUEST, OPERATION_NOT_ATTEMPTED) drop it at once: the
 *   controller checks the epochs before these, so no earlier copy can have been applied either.
 * - acks=all: checkEnoughReplicas rejects up front when the committed ISR < minInsync. A waiter
 *   completes NONE once HW >= requiredOffset; NOT_ENOUGH_REPLICAS_AFTER_APPEND if, before that, the
 *   committed ISR is below minInsync; REQUEST_TIMED_OUT at its deadline; NOT_LEADER_OR_FOLLOWER
 *   on leadership loss. The waiter queue is bounded (maxWaiters).
 * - KIP-903: each follower's progress belongs to one incarnation, named by the broker epoch its
 *   fetches carry. A fetch with a newer epoch than the one recorded starts the progress afresh (the
 *   new incarnation may have lost what the old one had: it must catch up again before it counts as
 *   caught up); a fetch with an older epoch (a delayed fetch of a previous incarnation) is ignored.
 *   Every proposal names, for each ISR member, the epoch recorded for it (`newIsrWithEpochs`; -1
 *   when unknown), and the controller refuses a member whose epoch is not its current
 *   registration's, so an expansion computed from incarnation 1's fetches cannot admit incarnation 2.
 */

import { bugActive } from '../bugs.ts';

export const UNKNOWN_OFFSET = -1;

export interface LeaderInit {
  localId: number;
  replicas: readonly number[];
  isr: readonly number[];
  leaderEpoch: number;
  partitionEpoch: number;
  minInsync: number;
  replicaLagTimeMaxMs: number;
  logEndOffset: number;
  highWatermark: number;
  /** When leadership started: ISR followers count as caught up at this time. */
  nowMs: number;
  maxWaiters?: number;
  /** How long an AlterPartition may stay unanswered before maybeShrinkIsr hands it out again. */
  alterRetryMs?: number;
}

/** AlterPartition errors after which the controller certainly did not apply the change. */
export const ALTER_NOT_APPLIED_ERRORS: readonly string[] = ['INELIGIBLE_REPLICA', 'INVALID_REQUEST', 'OPERATION_NOT_ATTEMPTED'];

export interface AlterPartitionProposal {
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: number[];
  /** KIP-903: the broker epoch of each ISR member's fetches as the leader saw them (-1: unknown). */
  newIsrWithEpochs?: Array<{ brokerId: number; brokerEpoch: number }>;
}

export interface CommittedPartitionState {
  replicas: readonly number[];
  isr: readonly number[];
  leaderEpoch: number;
  partitionEpoch: number;
}

export interface FollowerProgress {
  logEndOffset: number;
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
  lastFetchLeaderLogEndOffset: number;
  /** The broker epoch (incarnation) the follower's fetches carry; -1 until one says. */
  brokerEpoch: number;
}

export type AckError = 'NONE' | 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' | 'REQUEST_TIMED_OUT' | 'NOT_LEADER_OR_FOLLOWER';

export interface AckWaiter<T = unknown> {
  /** The offset after the batch's last record (lastOffset + 1). */
  requiredOffset: number;
  deadlineMs: number;
  /** The caller's handle, returned untouched on completion. */
  token: T;
}

export interface CompletedAck<T = unknown> {
  token: T;
  requiredOffset: number;
  errorCode: AckError;
}

function copyProposal(p: AlterPartitionProposal): AlterPartitionProposal {
  const out: AlterPartitionProposal = { leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [...p.newIsr] };
  if (p.newIsrWithEpochs !== undefined) out.newIsrWithEpochs = p.newIsrWithEpochs.map((e) => ({ ...e }));
  return out;
}

export class LeaderReplicaState<T = unknown> {
  readonly localId: number;
  readonly leaderEpoch: number;
  readonly minInsync: number;
  readonly replicaLagTimeMaxMs: number;
  /** The leader's LEO when it became leader: followers must reach it to join the ISR. */
  readonly leaderEpochStartOffset: number;
  readonly maxWaiters: number;
  readonly alterRetryMs: number;
  #pendingSentAtMs = 0;
  #replicas: number[];
  #isr: number[];
  #partitionEpoch: number;
  #pending: AlterPartitionProposal | null = null;
  #logEndOffset: number;
  #highWatermark: number;
  #followers = new Map<number, FollowerProgress>();
  #waiters: AckWaiter<T>[] = [];

  constructor(init: LeaderInit) {
    this.localId = init.localId;
    this.leaderEpoch = init.leaderEpoch;
    this.minInsync = init.minInsync;
    this.replicaLagTimeMaxMs = init.replicaLagTimeMaxMs;
    this.leaderEpochStartOffset = init.logEndOffset;
    this.maxWaiters = init.maxWaiters ?? 10_000;
    this.alterRetryMs = init.alterRetryMs ?? 500;
    this.#replicas = [...init.replicas];
    this.#isr = [...init.isr];
    this.#partitionEpoch = init.partitionEpoch;
    this.#logEndOffset = init.logEndOffset;
    this.#highWatermark = init.highWatermark;
    for (const id of this.#replicas) {
      if (id !== this.localId) this.#followers.set(id, this.#freshFollower(id, init.nowMs));
    }
  }

  #freshFollower(id: number, nowMs: number): FollowerProgress {
    return {
      logEndOffset: UNKNOWN_OFFSET,
      lastCaughtUpTimeMs: this.#isr.includes(id) ? nowMs : 0,
      lastFetchTimeMs: 0,
      lastFetchLeaderLogEndOffset: UNKNOWN_OFFSET,
      brokerEpoch: -1,
    };
  }

  get highWatermark(): number {
    return this.#highWatermark;
  }
  get logEndOffset(): number {
    return this.#logEndOffset;
  }
  get isr(): readonly number[] {
    return this.#isr;
  }
  get replicas(): readonly number[] {
    return this.#replicas;
  }
  get partitionEpoch(): number {
    return this.#partitionEpoch;
  }
  get pendingAlter(): AlterPartitionProposal | null {
    return this.#pending;
  }
  /** Committed ISR ∪ pending additions. */
  get maximalIsr(): number[] {
    const out = [...this.#isr];
    for (const id of this.#pending?.newIsr ?? []) if (!out.includes(id)) out.push(id);
    return out;
  }
  follower(id: number): Readonly<FollowerProgress> | undefined {
    return this.#followers.get(id);
  }
  get waiterCount(): number {
    return this.#waiters.length;
  }

  onLocalAppend(logEndOffset: number): void {
    this.#logEndOffset = Math.max(this.#logEndOffset, logEndOffset);
    this.#maybeAdvanceHw();
  }

  /**
   * A follower fetched at `fetchOffset` (its LEO; its ack) while the leader's LEO was
   * `leaderLogEndOffset`, from the incarnation with broker epoch `followerBrokerEpoch` (-1: the
   * fetch did not say). Returns an ISR expansion to send, if one is due.
   */
  onFollowerFetch(followerId: number, fetchOffset: number, nowMs: number, leaderLogEndOffset: number, followerBrokerEpoch = -1): AlterPartitionProposal | null {
    const f = this.#followers.get(followerId);
    if (f === undefined) return null;
    if (followerBrokerEpoch !== -1 && followerBrokerEpoch !== f.brokerEpoch) {
      if (followerBrokerEpoch < f.brokerEpoch) return null;
      if (f.brokerEpoch !== -1) Object.assign(f, this.#freshFollower(followerId, 0));
      f.brokerEpoch = followerBrokerEpoch;
    }
    if (fetchOffset >= leaderLogEndOffset) {
      f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, nowMs);
    } else if (fetchOffset >= f.lastFetchLeaderLogEndOffset) {
      f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, f.lastFetchTimeMs);
    }
    f.lastFetchLeaderLogEndOffset = leaderLogEndOffset;
    f.lastFetchTimeMs = nowMs;
    f.logEndOffset = fetchOffset;
    this.#logEndOffset = Math.max(this.#logEndOffset, leaderLogEndOffset);
    const proposal = this.#maybeExpandIsr(followerId, f, nowMs);
    this.#maybeAdvanceHw();
    return proposal;
  }

  #maybeExpandIsr(followerId: number, f: FollowerProgress, nowMs: number): AlterPartitionProposal | null {
    if (this.#pending !== null || this.#isr.includes(followerId)) return null;
    if ((f.logEndOffset < this.#highWatermark || f.logEndOffset < this.leaderEpochStartOffset) && !bugActive('isr-join-below-hw')) return null;
    return this.#propose([...this.#isr, followerId], nowMs);
  }

  /** Followers of the committed ISR that fell behind for longer than replicaLagTimeMaxMs. */
  outOfSyncReplicas(nowMs: number): number[] {
    return this.#isr.filter((id) => {
      if (id === this.localId) return false;
      const f = this.#followers.get(id);
      if (f === undefined) return true;
      return f.logEndOffset !== this.#logEndOffset && nowMs - f.lastCaughtUpTimeMs > this.replicaLagTimeMaxMs;
    });
  }

  /**
   * Called periodically: a shrink proposal when some ISR follower is out of sync; or, while a
   * proposal is pending, that same proposal again once alterRetryMs has passed since it was last
   * handed out (resend it: its outcome is unknown); else null.
   */
  maybeShrinkIsr(nowMs: number, logEndOffset: number): AlterPartitionProposal | null {
    this.#logEndOffset = Math.max(this.#logEndOffset, logEndOffset);
    if (this.#pending !== null) {
      if (nowMs - this.#pendingSentAtMs < this.alterRetryMs) return null;
      this.#pendingSentAtMs = nowMs;
      return copyProposal(this.#pending);
    }
    const out = this.outOfSyncReplicas(nowMs);
    if (out.length === 0) return null;
    return this.#propose(this.#isr.filter((id) => !out.includes(id)), nowMs);
  }

  #propose(newIsr: number[], nowMs: number): AlterPartitionProposal {
    const newIsrWithEpochs = newIsr.map((brokerId) => ({ brokerId, brokerEpoch: this.#followers.get(brokerId)?.brokerEpoch ?? -1 }));
    this.#pending = { leaderEpoch: this.leaderEpoch, partitionEpoch: this.#partitionEpoch, newIsr, newIsrWithEpochs };
    this.#pendingSentAtMs = nowMs;
    return copyProposal(this.#pending);
  }

  /**
   * The in-flight AlterPartition failed with `errorCode` (undefined: no answer). Only errors in
   * ALTER_NOT_APPLIED_ERRORS drop the proposal; otherwise it stays pending (see the module doc)
   * until onIsrCommitted brings a newer partition epoch or maybeShrinkIsr hands it out again.
   */
  onAlterPartitionFailed(errorCode?: string): void {
    if (errorCode !== undefined && ALTER_NOT_APPLIED_ERRORS.includes(errorCode)) this.#pending = null;
  }

  /**
   * Committed metadata for this partition with this leader epoch arrived. A state whose leader
   * epoch differs is not for this leadership: the caller must call onLeadershipLost instead.
   */
  onIsrCommitted(state: CommittedPartitionState, nowMs: number): void {
    if (state.leaderEpoch !== this.leaderEpoch) throw new RangeError('onIsrCommitted: leader epoch changed; use onLeadershipLost');
    if (state.partitionEpoch <= this.#partitionEpoch) return;
    this.#isr = [...state.isr];
    this.#partitionEpoch = state.partitionEpoch;
    this.#pending = null;
    for (const id of state.replicas) {
      if (id !== this.localId && !this.#followers.has(id)) this.#followers.set(id, this.#freshFollower(id, nowMs));
    }
    for (const id of [...this.#followers.keys()]) if (!state.replicas.includes(id)) this.#followers.delete(id);
    this.#replicas = [...state.replicas];
    this.#maybeAdvanceHw();
  }

  #maybeAdvanceHw(): void {
    if (this.#isr.length < this.minInsync && !bugActive('hw-ignores-min-insync')) return;
    let candidate = this.#logEndOffset;
    for (const id of this.maximalIsr) {
      if (id === this.localId) continue;
      const leo = this.#followers.get(id)?.logEndOffset ?? UNKNOWN_OFFSET;
      candidate = Math.min(candidate, leo);
    }
    if (candidate > this.#highWatermark) this.#highWatermark = candidate;
  }

  /** acks=all precheck: NOT_ENOUGH_REPLICAS when the committed ISR is below minInsync. */
  checkEnoughReplicas(): 'NONE' | 'NOT_ENOUGH_REPLICAS' {
    return this.#isr.length >= this.minInsync ? 'NONE' : 'NOT_ENOUGH_REPLICAS';
  }

  /** Parks an acks=all produce; false when the queue is full (the caller answers it at once). */
  addWaiter(w: AckWaiter<T>): boolean {
    if (this.#waiters.length >= this.maxWaiters) return false;
    this.#waiters.push(w);
    return true;
  }

  poll(nowMs: number): CompletedAck<T>[] {
    const done: CompletedAck<T>[] = [];
    const keep: AckWaiter<T>[] = [];
    for (const w of this.#waiters) {
      let errorCode: AckError | null = null;
      if (this.#highWatermark >= w.requiredOffset) errorCode = 'NONE';
      else if (this.#isr.length < this.minInsync) errorCode = 'NOT_ENOUGH_REPLICAS_AFTER_APPEND';
      else if (nowMs >= w.deadlineMs) errorCode = 'REQUEST_TIMED_OUT';
      if (errorCode === null) keep.push(w);
      else done.push({ token: w.token, requiredOffset: w.requiredOffset, errorCode });
    }
    this.#waiters = keep;
    return done;
  }

  onLeadershipLost(): CompletedAck<T>[] {
    const done = this.#waiters.map((w) => ({ token: w.token, requiredOffset: w.requiredOffset, errorCode: 'NOT_LEADER_OR_FOLLOWER' as const }));
    this.#waiters = [];
    this.#pending = null;
    return done;
  }
}
