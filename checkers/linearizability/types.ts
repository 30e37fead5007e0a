/**
 * Types shared by the linearizability checker (Wing–Gong–Lowe search, Porcupine-style models).
 *
 * A `LinOp` is one completed (or indeterminate) client operation: it was called at `call` and
 * returned at `ret`, both on one time axis (nanoseconds, or line numbers for Jepsen files).
 * Intervals are closed: an op that returns at t and an op called at t are concurrent.
 * `output === undefined` means the result is unknown (an `info` op, a timeout): such an op is
 * optional — it may take effect at any point after its call, or never — and its `ret` is +Infinity.
 * Ops whose type was `fail` never happened and never reach the checker (the adapters drop them),
 * except where a model documents that a failure is an observation (cas-register: compare mismatch).
 *
 * A `Model` is pure (style.md item 6): `init()`, `step(state, input, output)` returning the next
 * state or `undefined` when the step is illegal, `hash`/`equal` that agree (equal states hash
 * equal), and an optional `partition` into independent sub-histories (P-compositionality: the
 * history is linearizable iff every partition is).
 */

export interface LinOp<I, O> {
  /** Position in the checked history (stable id used in reports). */
  id: number;
  process: number;
  call: number;
  ret: number;
  input: I;
  output: O | undefined;
}

export interface Model<S, I, O> {
  readonly name: string;
  init(): S;
  /** The state after applying `input` with observed `output` (undefined output: unknown), or undefined if illegal. */
  step(state: S, input: I, output: O | undefined): S | undefined;
  /**
   * True only if every legal step of this op leaves the state equal to what it was (a pure
   * observation, such as a read). The search then places such an op as soon as it is legal and
   * tries nothing else at that point (any linearization can be reordered to place it there first).
   * Absent or false: the op is treated as one that may change the state.
   */
  readOnly?(input: I, output: O | undefined): boolean;
  hash(state: S): number;
  /** Called as a plain function (without `this`). */
  equal(a: S, b: S): boolean;
  /** Groups of indices into `ops`; every op in exactly one group. Absent: one group. */
  partition?(ops: readonly LinOp<I, O>[]): number[][];
  /**
   * A cheap early exit: a reason why `ops` (one partition) certainly have no linearization, found
   * without the search (a necessary condition that fails), or undefined when no such reason is
   * found. Never returns a reason for a linearizable history: a refutation is a verdict. Called
   * for a partition the search does not decide in its first turn. Absent: the search decides alone.
   */
  refute?(ops: readonly LinOp<I, O>[]): Refutation | undefined;
  /** A short label for a partition (e.g. its key), for reports. */
  partitionLabel?(ops: readonly LinOp<I, O>[]): string;
  describeOp(input: I, output: O | undefined): string;
  describeState(state: S): string;
}

/** Why a partition cannot be linearized, by a rule of the model (`Model.refute`). */
export interface Refutation {
  /** The rule that fails, in words. */
  rule: string;
  /** The ops (indices into the partition's ops) that together break it, earliest first. */
  ops: number[];
}

export interface CheckOptions {
  /** Wall-clock budget for the whole check; exceeded => 'unknown'. */
  timeLimitMs?: number;
  /** Cache entries per partition; exceeded => 'unknown' for that partition. */
  maxCacheEntries?: number;
  /** Approximate cache bytes per partition (bitset words + bookkeeping); exceeded => 'unknown'. Default 1 GiB. */
  maxCacheBytes?: number;
  /**
   * Build the failure report (default true). False: verdicts only, like Porcupine's `CheckEvents`
   * (its verbose variant keeps the partial linearizations): `failure` is then absent from the
   * result, and there is no window search.
   */
  explain?: boolean;
  /** Search for the shortest failing window of a failing partition (default true; costs about log2(n) more searches). */
  findWindow?: boolean;
}

export interface LinearizedStep {
  op: number;
  /** The model state after this op, as `describeState` renders it. */
  state: string;
}

/** Why a non-linearizable partition failed: the deepest partial linearization the search reached. */
export interface FailureWindow {
  partition: string;
  /** Ops (ids) of the partition, for the HTML view. */
  ops: number[];
  /**
   * Present when the model refuted the partition without a full search (`Model.refute`): the rule
   * and the ops (ids) that break it. Then `linearized` is empty, `blockingOp` is the last of those
   * ops and `unplaceable` names it alone (illegal once the others are placed).
   */
  refutation?: { rule: string; ops: number[] };
  /** Longest partial linearization found, in linearization order, with the state after each op. */
  linearized: LinearizedStep[];
  /** The op whose return was reached while it could not be placed after `linearized`. */
  blockingOp: number;
  /** Ops called before `blockingOp` returned and not in `linearized`: none of them could extend it. */
  unplaceable: Array<{ op: number; reason: 'illegal-step' | 'dead-end' }>;
  /**
   * The shortest failing window (when found within the bounds): the history up to `linearizableUntil`
   * (ops that returned by then; ops in flight with unknown effect) is linearizable and holds
   * `linearizableOps` completed ops; the cut at `failsAt`, where `returningAtFailure` return, is not.
   */
  prefix?: { linearizableUntil: number | null; failsAt: number; linearizableOps: number; returningAtFailure: number[] };
}

export interface PartitionStat {
  partition: string;
  ops: number;
  valid: true | false | 'unknown';
  cacheEntries: number;
  elapsedMs: number;
  reason?: 'time-limit' | 'cache-limit';
}

export interface LinResult {
  valid: true | false | 'unknown';
  model: string;
  ops: number;
  partitions: PartitionStat[];
  /** Present when valid === false (unless checked with `explain: false`). */
  failure?: FailureWindow;
  /** Present when valid === 'unknown'. */
  reason?: string;
  elapsedMs: number;
}
