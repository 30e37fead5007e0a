/**
 * What each queue anomaly means for a verdict, as data (style.md item 14): the run's final verdict
 * (`finalVerdict` in harness/run/run.ts), the checker's own verdict and the campaign gate read this
 * table; nothing copies it by hand. Each rule itself lives in `rules.ts`; docs/results.md explains
 * every entry.
 *
 * - `breaksValidity`: `always`, `when-idempotent` (only when the producer is idempotent), or `never`
 *   (reported as a finding, the verdict does not depend on it).
 * - `explainableByIncompleteDrain`: the anomaly may be an artefact of a run that did not read every key
 *   back to its end (no drain, or a drain cut short), so such a run cannot be `false` on its strength.
 * - `explainableByDiscardedLines`: a line the checker could not read (malformed, or missing by `index`)
 *   could have been the op that explains it away, so a history with discarded lines cannot be `false`
 *   on its strength. Invariant (tested): every anomaly an incomplete drain can explain is also one that
 *   discarded lines can explain (a lost drain is lost lines), which `finalVerdict` relies on.
 * - `excusedUnderWeakAcks`: the campaign gate's expectation for a run that is not strict (acks 0 or 1,
 *   or min.insync < 2, replication factor < 3, unclean election): such a run is not failed for it.
 *   `aborted-read` and `unexpected-read` are never excused.
 */
export const ANOMALY_TYPES = [
  'lost-write',
  'unseen',
  'duplicate',
  'inconsistent-offsets',
  'aborted-read',
  'nonmonotonic-send',
  'poll-skip',
  'nonmonotonic-poll',
  'unexpected-read',
  'commit-regress',
  'resume-mismatch',
  'reposition',
  'underreplicated-ack',
] as const;
export type AnomalyType = (typeof ANOMALY_TYPES)[number];

export type Breaks = 'always' | 'when-idempotent' | 'never';

export interface AnomalyRule {
  /** what one count is */
  unit: 'values' | 'key-offsets' | 'sends' | 'jumps' | 'key-commits' | 'resumptions' | 'repositions';
  breaksValidity: Breaks;
  explainableByIncompleteDrain: boolean;
  explainableByDiscardedLines: boolean;
  excusedUnderWeakAcks: boolean;
  /** why it is or is not excused under weak acks */
  weakAcksReason: string;
}

export const ANOMALIES: Readonly<Record<AnomalyType, AnomalyRule>> = {
  'lost-write': {
    unit: 'values',
    breaksValidity: 'always',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: true,
    excusedUnderWeakAcks: true,
    weakAcksReason: 'an acks=0/1 write is acknowledged before it is replicated; a leader change truncates it while later writes at higher offsets are read',
  },
  unseen: {
    unit: 'values',
    breaksValidity: 'always',
    explainableByIncompleteDrain: true,
    explainableByDiscardedLines: true,
    excusedUnderWeakAcks: true,
    weakAcksReason: 'an unreplicated acks=0/1 write lost at the tail of its partition is never read, and nothing after it shows the hole',
  },
  duplicate: {
    unit: 'values',
    breaksValidity: 'when-idempotent',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: false,
    excusedUnderWeakAcks: false,
    weakAcksReason: 'duplicates come from retries, not from acks; an idempotent producer must never make them, whatever acks it uses',
  },
  'inconsistent-offsets': {
    unit: 'key-offsets',
    breaksValidity: 'always',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: false,
    excusedUnderWeakAcks: true,
    weakAcksReason: 'the ack of a truncated acks=0/1 write names an offset that the new leader gives to another value',
  },
  'aborted-read': {
    unit: 'values',
    breaksValidity: 'always',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: false,
    excusedUnderWeakAcks: false,
    weakAcksReason: 'never excused: a send that definitely failed must never be read, whatever the acks',
  },
  'nonmonotonic-send': {
    unit: 'sends',
    breaksValidity: 'when-idempotent',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: false,
    excusedUnderWeakAcks: true,
    weakAcksReason: 'after a truncated acks=0/1 write the new leader hands its offset, and those after it, out again',
  },
  'poll-skip': {
    unit: 'jumps',
    breaksValidity: 'always',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: true,
    excusedUnderWeakAcks: false,
    weakAcksReason: 'consumers read below the high watermark, which acks do not move: what a consumer can read is replicated to the ISR, so a correct broker does not skip it under any acks',
  },
  'nonmonotonic-poll': {
    unit: 'jumps',
    breaksValidity: 'always',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: true,
    excusedUnderWeakAcks: false,
    weakAcksReason: 'as poll-skip: acks do not change what a consumer may read, and a repositioning is recorded as its own op',
  },
  'unexpected-read': {
    unit: 'values',
    breaksValidity: 'always',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: true,
    excusedUnderWeakAcks: false,
    weakAcksReason: 'never excused: a value no send carried is corruption or a writer outside the test, whatever the acks',
  },
  'commit-regress': {
    unit: 'key-commits',
    breaksValidity: 'never',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: true,
    excusedUnderWeakAcks: true,
    weakAcksReason: 'does not break validity: the coordinator stores what a client asks it to, and a client may commit a lower offset (after a seek back, or a fenced member\'s late commit); what the coordinator then hands out is judged by resume-mismatch',
  },
  'resume-mismatch': {
    unit: 'resumptions',
    breaksValidity: 'always',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: true,
    excusedUnderWeakAcks: false,
    weakAcksReason: 'offset commits are written by the group coordinator to __consumer_offsets with its own acks=all, whatever acks the producers use',
  },
  reposition: {
    unit: 'repositions',
    breaksValidity: 'never',
    explainableByIncompleteDrain: false,
    explainableByDiscardedLines: false,
    excusedUnderWeakAcks: true,
    weakAcksReason: 'does not break validity: it is the client\'s correct answer to OFFSET_OUT_OF_RANGE; the truncation or retention that caused it is judged by the data anomalies',
  },
  'underreplicated-ack': {
    unit: 'values',
    breaksValidity: 'always',
    explainableByIncompleteDrain: false,
    // a missing line could be the restart or resume that brought a node back earlier
    explainableByDiscardedLines: true,
    excusedUnderWeakAcks: true,
    weakAcksReason: 'judged only under acks=all: an acks=0/1 write needs no replica but the leader',
  },
};

/** Does this anomaly break the guarantee for this producer? */
export function breaks(t: AnomalyType, idempotent: boolean): boolean {
  const b = ANOMALIES[t].breaksValidity;
  return b === 'always' || (b === 'when-idempotent' && idempotent);
}

/** Anomalies that break the guarantee whatever the producer settings. */
export const ALWAYS_BAD: readonly AnomalyType[] = ANOMALY_TYPES.filter((t) => ANOMALIES[t].breaksValidity === 'always');
/** Anomalies that break it only when the producer is idempotent. */
export const IDEMPOTENT_BAD: readonly AnomalyType[] = ANOMALY_TYPES.filter((t) => ANOMALIES[t].breaksValidity === 'when-idempotent');

export interface VerdictContext {
  idempotent: boolean;
  /** the run read every key back to its end (drain done, or a history with no phase lines) */
  drainComplete: boolean;
  /** lines the checker could not read or found missing */
  discardedLines: number;
}

/**
 * The anomaly types, found at least once, that make a verdict `false` in this context: they break
 * the guarantee for this producer and neither an incomplete drain nor discarded lines can explain them.
 */
export function breakingAnomalies(anomalies: Readonly<Record<string, { count: number } | undefined>>, ctx: VerdictContext): AnomalyType[] {
  return ANOMALY_TYPES.filter((t) => {
    if ((anomalies[t]?.count ?? 0) === 0 || !breaks(t, ctx.idempotent)) return false;
    if (!ctx.drainComplete && ANOMALIES[t].explainableByIncompleteDrain) return false;
    if (ctx.discardedLines > 0 && ANOMALIES[t].explainableByDiscardedLines) return false;
    return true;
  });
}
