/**
 * Wing–Gong–Lowe linearizability search with memoisation and P-compositional partitioning
 * (the approach of Porcupine's checker.go; this is our own implementation).
 *
 * Spec. A history is linearizable against a model iff there is a total order of its ops that
 * (1) respects real time: if a returned before b was called, a precedes b (intervals are closed, so
 *     equal times are concurrent);
 * (2) is legal for the model from `init()`, stepping each op with its observed output; and
 * (3) contains every op with a known output, and any subset of the ops with an unknown output
 *     (`output === undefined`: they may take effect at any point after their call, or never).
 *
 * Search. Calls and returns become entries of a doubly linked list sorted by time (calls before
 * returns at equal times; unknown-output ops return at +Infinity). Walking the list, at a call the
 * op is tried from the current state; if legal and the pair (linearized set, next state) is new to
 * the cache, the op's call and return are lifted out of the list and the search restarts at the
 * head. Reaching a return means that op should already be placed, so the search backtracks
 * (unlift, restore the state). It succeeds as soon as every known-output op is placed (the
 * remaining unknown-output ops never happened) and fails when it must backtrack from depth 0.
 * Read-only ops decide their level (a partial-order reduction; the model says which ops are
 * read-only, `Model.readOnly`). Claim: if a read-only op r can be placed now (legal in the current
 * state, and every op that returned before r was called is placed) and the rest can be linearized,
 * then the rest can be linearized with r first. Proof: r keeps every state in which it is legal, so
 * moving it from where that linearization had it to the front changes no state any other op sees;
 * and no unplaced op must precede r (it would have returned before r's call, so the walk would have
 * met its return before r's call). So a failure below r is the failure of r's level: the walk
 * backtracks past it at once, and an r whose placement is already in the cache (explored, so
 * failed) fails its level the same way. Measured: about a quarter less CPU on unpartitioned kv.
 * Invariants: the lifted entries are exactly the stacked ops, in stack order (LIFO lift/unlift);
 * `bits`/`bitsHash` equal the set of stacked ops; `stateId` is the interned state after them.
 *
 * Refutation: a model may offer `refute` (a cheap necessary condition; see kv-refute.ts). A
 * partition the search does not decide in its first turn (`sliceIterations` steps) is refuted if the
 * model can; a refutation is a verdict (not linearizable) and ends the check like a failed search.
 * It waits for the first turn so that small partitions, decided in it, pay nothing for it.
 *
 * Bounds: a wall-clock deadline (checked every 4096 steps) and a cap on cache entries and cache bytes
 * per partition (an entry holds a bitset of the partition's ops, so bytes grow with partition size)
 * turn a search that would run away into `valid: 'unknown'`. No per-step allocation except when a
 * new state or cache entry is recorded.
 */
import { ExploredCache } from './cache.ts';
import { StateIndex } from './tables.ts';
import type { CheckOptions, FailureWindow, LinOp, LinResult, Model, PartitionStat, Refutation } from './types.ts';

export const defaultTimeLimitMs = 60_000;
export const defaultMaxCacheEntries = 4_000_000;
export const defaultMaxCacheBytes = 1 << 30;
/** Steps of the list walk a partition gets per turn while several are searched in turn. */
const sliceIterations = 1024;
/** Partitions searched in turn at once; each holds its cache until it is decided. */
const maxLiveSearches = 16;
/** Cache bytes the partitions searched in turn may hold together (64 MiB). */
const maxInterleavedCacheBytes = 1 << 26;
/**
 * Time the shortest-failing-window search may take for a partition the model refuted (`Model.refute`):
 * the search may find that partition hard (that is when refutations are tried), and the refutation
 * already names the ops that break it; a window found within the budget is reported as well.
 */
const refutedWindowBudgetMs = 1000;
/** Step-memo slots: 32 per op, a power of two within [2^8, 2^16] (12 bytes each). */
function memoSlots(ops: number): number {
  let size = 1 << 8;
  while (size < ops * 32 && size < 1 << 16) size <<= 1;
  return size;
}

type PartitionOutcome =
  | { valid: true; cacheEntries: number }
  | { valid: 'unknown'; cacheEntries: number; reason: 'time-limit' | 'cache-limit' }
  | { valid: false; cacheEntries: number; failure: Omit<FailureWindow, 'partition' | 'ops'> };

/**
 * Deterministic 32-bit words for Zobrist hashing of the linearized set (xorshift32, fixed seed),
 * shared by every search: word i is the same whatever the length asked for, so the table is made
 * once per process and grown when a larger partition needs more (a search reads words [0, n)).
 */
let zobrist = new Int32Array(0);
function zobristWords(n: number): Int32Array {
  if (zobrist.length >= n) return zobrist;
  const z = new Int32Array(Math.max(n, 2 * zobrist.length, 1024));
  let x = 0x2545f491;
  for (let i = 0; i < z.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    z[i] = x;
  }
  zobrist = z;
  return z;
}

/**
 * Scratch for the entry sort, shared by every search and grown when a larger partition needs more:
 * a typed array of a few hundred bytes or more lives outside the JS heap, and making one costs
 * about a microsecond (ten times a small one), a large part of a small partition's whole check.
 */
let scratchTimes = new Float64Array(0);
let scratchKeys = new Float64Array(0);
let scratchSorted = new Float64Array(0);
function sortScratch(m: number): void {
  if (scratchTimes.length >= m) return;
  const size = Math.max(m, 2 * scratchTimes.length, 256);
  scratchTimes = new Float64Array(size);
  scratchKeys = new Float64Array(size);
  scratchSorted = new Float64Array(size);
}

/**
 * Entries 0..m-1 in list order, as `next` links from `head` (and `prev` back, `position` the rank):
 * by time, calls (even entries) before returns at equal times, then by entry number. `time` is
 * entry e's time at e (a view of the scratch). Sorted by the engine's own numeric sort, without a
 * comparator called per comparison (that callback was most of the set-up of a small partition
 * before the optimiser reached it): each entry becomes one exact integer key, (rank of its time * 2
 * + call/return) * m + entry, where equal times share a rank, and 4 m^2 stays far below 2^53.
 */
function linkEntries(time: Float64Array, head: number, next: Int32Array, prev: Int32Array, position: Int32Array): void {
  const m = time.length;
  const sorted = scratchSorted.subarray(0, m);
  sorted.set(time);
  sorted.sort();
  const keys = scratchKeys.subarray(0, m);
  for (let e = 0; e < m; e++) {
    const t = time[e]!;
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    keys[e] = (lo * 2 + (e & 1)) * m + e;
  }
  keys.sort();
  let last = head;
  for (let k = 0; k < m; k++) {
    const e = keys[k]! % m;
    position[e] = k;
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = -1;
}

/**
 * One partition's search, resumable: `run` advances it by at most `maxIterations` steps of the list
 * walk and returns the outcome once it is decided (then again on every later call), else undefined.
 * Pausing changes nothing but when the work is done: a search run in slices reaches the same
 * outcome, with the same cache, as one run at once (only the time limit depends on the clock).
 * A class, not closures: the walk's call sites (step memo, intern, lift) then have one target for
 * every partition, so the optimiser inlines them (closures made per partition defeated that).
 */
export class PartitionSearch<S, I, O> {
  private readonly n: number;
  private readonly required: number;
  private readonly head: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly position: Int32Array;
  private readonly isRequired: Uint8Array;
  /** 1 for ops the model calls read-only (`Model.readOnly`): placed greedily, see the module doc. */
  private readonly readOnly: Uint8Array;
  /** Interned states: equal states share one id, so the cache compares ids. */
  private readonly states: S[] = [];
  private readonly index: StateIndex;
  /**
   * Step memo: (state id, op) -> next state id (-1: illegal) in a direct-mapped table of fixed size
   * (a later pair evicts an earlier one in its slot), so it costs no allocation per state and its
   * memory does not grow with the states. A miss only costs a model step and an intern. Slot k
   * holds [state id + 1 (0: empty), op, next state id] at 3k. Ops whose steps have so far only been
   * illegal or returned the state unchanged (`readLike`, reads) skip it: such a step costs less than
   * a memo probe (a random access) and needs no intern.
   */
  private memo: Int32Array | undefined;
  /**
   * 1 for a state interned more than once (reached again by another path). Only such states use the
   * memo: a pair (state, op) is met again only when its state is, so a state seen once (most states
   * of an append-only model, where every order of appends is a new state) would only pay a probe
   * that misses, a random access into a large table, and a store.
   */
  private revisited = new Uint8Array(64);
  private readonly readLike: Uint8Array;
  private readonly memoMask: number;
  private readonly bits: Uint32Array;
  private readonly z: Int32Array;
  private readonly cache: ExploredCache;
  /** Each entry costs its bit words, the state id, a hash and about two table slots. */
  private readonly entryBytes: number;
  private readonly cacheCap: number;
  private readonly stackEntry: Int32Array;
  private readonly stackState: Int32Array;
  /** 1 where the stacked op kept the state (it decided its level: backtracking past it goes on up). */
  private readonly stackKeeps: Uint8Array;
  // The walk's position between slices (`run` works on local copies and stores them back).
  private depth = 0;
  /** The walk is backtracking: the current level is decided without completion. */
  private retreat = false;
  private placedRequired = 0;
  private stateId: number;
  private bitsHash = 0;
  private entry: number;
  private iterations = 0;
  private decided: PartitionOutcome | undefined;
  // The deepest partial linearization so far, for the failure report.
  private bestDepth = -1;
  /** Its entries and the state after each, in [0, bestDepth). */
  private readonly bestStack: Int32Array;
  private readonly bestStates: Int32Array;
  private bestBlocking = -1;

  private readonly model: Model<S, I, O>;
  private readonly ops: readonly LinOp<I, O>[];

  /** Build the failure report (else a failure is only a verdict, and the deepest partial linearization is not kept). */
  private readonly explain: boolean;

  constructor(model: Model<S, I, O>, ops: readonly LinOp<I, O>[], maxCacheEntries: number, maxCacheBytes: number = defaultMaxCacheBytes, explain = true) {
    this.explain = explain;
    this.model = model;
    this.ops = ops;
    const n = ops.length;
    this.n = n;
    let required = 0;
    for (let i = 0; i < n; i++) if (ops[i]!.output !== undefined) required++;
    this.required = required;
    // The fixed-size arrays and the first state index and cache are views of one buffer: one
    // allocation outside the JS heap.
    const words = (n + 31) >>> 5;
    const firstEntries = Math.min(1024, 4 * n);
    const indexLength = StateIndex.tableLength(firstEntries);
    const int32s = 3 * (2 * n + 1) + 4 * n + indexLength;
    const cacheAt = 4 * (int32s + words) + 4 * n;
    const arena = new ArrayBuffer(cacheAt + ExploredCache.bytes(words, firstEntries));
    let at = 0;
    const int32 = (len: number): Int32Array => {
      const a = new Int32Array(arena, at, len);
      at += 4 * len;
      return a;
    };
    const next = int32(2 * n + 1);
    const prev = int32(2 * n + 1);
    const position = int32(2 * n + 1);
    this.stackEntry = int32(n);
    this.index = new StateIndex(int32(indexLength));
    this.stackState = int32(n);
    this.bestStack = int32(n);
    this.bestStates = int32(n);
    this.bits = new Uint32Array(arena, at, words);
    at += 4 * words;
    this.isRequired = new Uint8Array(arena, at, n);
    this.readOnly = new Uint8Array(arena, at + n, n);
    this.readLike = new Uint8Array(arena, at + 2 * n, n).fill(1);
    this.stackKeeps = new Uint8Array(arena, at + 3 * n, n);
    // Entries: 2*op is op's call, 2*op+1 its return; linked by (time, call-before-return, op).
    sortScratch(2 * n);
    const time = scratchTimes.subarray(0, 2 * n);
    for (let i = 0; i < n; i++) {
      const op = ops[i]!;
      time[2 * i] = op.call;
      time[2 * i + 1] = op.output === undefined ? Infinity : Math.max(op.ret, op.call);
    }
    const head = 2 * n;
    linkEntries(time, head, next, prev, position);
    this.head = head;
    this.next = next;
    this.prev = prev;
    this.position = position;
    for (let i = 0; i < n; i++) this.isRequired[i] = ops[i]!.output !== undefined ? 1 : 0;
    if (model.readOnly) for (let i = 0; i < n; i++) this.readOnly[i] = model.readOnly(ops[i]!.input, ops[i]!.output) ? 1 : 0;
    this.memoMask = memoSlots(n) - 1;
    this.z = zobristWords(n);
    this.cache = new ExploredCache(words, firstEntries, arena, cacheAt);
    this.entryBytes = (words + 1) * 4 + 12;
    this.cacheCap = Math.min(maxCacheEntries, Math.floor(maxCacheBytes / this.entryBytes));
    this.stateId = this.intern(model.init());
    this.entry = next[head]!;
  }

  /** Steps of the list walk taken so far. */
  get steps(): number {
    return this.iterations;
  }

  /** Entries in the search cache so far. */
  get cacheEntries(): number {
    return this.cache.size;
  }

  /** Approximate bytes held by the search cache so far. */
  get cacheBytes(): number {
    return this.cache.size * this.entryBytes;
  }

  private intern(s: S): number {
    const found = this.index.intern(this.model.hash(s) | 0, this.states, s, this.model.equal);
    if (found >= 0) {
      this.revisited[found] = 1;
      return found;
    }
    const id = ~found;
    if (id === this.revisited.length) {
      const grown = new Uint8Array(2 * id);
      grown.set(this.revisited);
      this.revisited = grown;
    }
    return id;
  }

  private stepId(sid: number, op: number): number {
    const o = this.ops[op]!;
    if (this.readLike[op] === 1) {
      // Every step of this op so far was illegal or kept the state: stepping is cheaper than the memo.
      const s = this.states[sid]!;
      const s2 = this.model.step(s, o.input, o.output);
      if (s2 === undefined) return -1;
      if (s2 === s) return sid;
      this.readLike[op] = 0;
      return this.intern(s2);
    }
    if (this.revisited[sid] === 0) {
      const s2 = this.model.step(this.states[sid]!, o.input, o.output);
      return s2 === undefined ? -1 : this.intern(s2);
    }
    const memo = (this.memo ??= new Int32Array(3 * (this.memoMask + 1)));
    const at = 3 * ((Math.imul(sid, 0x9e3779b1) + op) & this.memoMask);
    if (memo[at] === sid + 1 && memo[at + 1] === op) return memo[at + 2]!;
    const s2 = this.model.step(this.states[sid]!, o.input, o.output);
    const id = s2 === undefined ? -1 : this.intern(s2);
    memo[at] = sid + 1;
    memo[at + 1] = op;
    memo[at + 2] = id;
    return id;
  }

  run(maxIterations: number, deadlineMs: number): PartitionOutcome | undefined {
    if (this.decided) return this.decided;
    const { next, prev, head, bits, z, cache, cacheCap, stackEntry, stackState, stackKeeps, isRequired, readOnly, required } = this;
    let retreat = this.retreat;
    let depth = this.depth;
    let placedRequired = this.placedRequired;
    let stateId = this.stateId;
    let bitsHash = this.bitsHash;
    let entry = this.entry;
    let iter = this.iterations;
    let deepest = this.bestDepth;
    const stopAt = iter + maxIterations;
    let outcome: PartitionOutcome | undefined;
    for (;;) {
      if (placedRequired === required) {
        outcome = { valid: true, cacheEntries: cache.size };
        break;
      }
      if (iter >= stopAt) break;
      if ((++iter & 4095) === 0 && performance.now() > deadlineMs) {
        outcome = { valid: 'unknown', cacheEntries: cache.size, reason: 'time-limit' };
        break;
      }
      if (!retreat && (entry & 1) === 0) {
        const op = entry >> 1;
        const nextState = this.stepId(stateId, op);
        if (nextState >= 0) {
          // An op that is legal here and leaves the state as it is (a read, a put of the value held)
          // decides this level: whatever completes from here also completes with it placed first.
          const keeps = readOnly[op] === 1;
          bits[op >>> 5]! |= 1 << (op & 31);
          bitsHash ^= z[op]!;
          if (cache.add(bits, bitsHash, nextState)) {
            if (cache.size > cacheCap) {
              outcome = { valid: 'unknown', cacheEntries: cache.size, reason: 'cache-limit' };
              break;
            }
            stackEntry[depth] = entry;
            stackState[depth] = stateId;
            stackKeeps[depth] = keeps ? 1 : 0;
            depth++;
            stateId = nextState;
            placedRequired += isRequired[op]!;
            // Lift the op's call and return out of the list.
            const r = entry + 1;
            next[prev[entry]!] = next[entry]!;
            if (next[entry]! !== -1) prev[next[entry]!] = prev[entry]!;
            next[prev[r]!] = next[r]!;
            if (next[r]! !== -1) prev[next[r]!] = prev[r]!;
            entry = next[head]!;
            continue;
          }
          bits[op >>> 5]! &= ~(1 << (op & 31));
          bitsHash ^= z[op]!;
          // Explored already without a completion, so this level has none either (see `keeps`).
          if (keeps) {
            retreat = true;
            continue;
          }
        }
        entry = next[entry]!;
      } else {
        retreat = false;
        if (depth > deepest && this.explain) {
          deepest = depth;
          this.recordDeepest(depth, stateId, entry >> 1);
        }
        if (depth === 0) {
          outcome = this.explain ? this.explainFailure(stateId) : { valid: false, cacheEntries: cache.size, failure: unexplained };
          break;
        }
        depth--;
        const c = stackEntry[depth]!;
        const op = c >> 1;
        stateId = stackState[depth]!;
        bits[op >>> 5]! &= ~(1 << (op & 31));
        bitsHash ^= z[op]!;
        placedRequired -= isRequired[op]!;
        // Put the op's return and call back, in the reverse order of the lift.
        const r = c + 1;
        if (next[r]! !== -1) prev[next[r]!] = r;
        next[prev[r]!] = r;
        if (next[c]! !== -1) prev[next[c]!] = c;
        next[prev[c]!] = c;
        entry = next[c]!;
        // The popped op decided its level: no other choice there can complete either.
        if (stackKeeps[depth] === 1) retreat = true;
      }
    }
    this.depth = depth;
    this.retreat = retreat;
    this.placedRequired = placedRequired;
    this.stateId = stateId;
    this.bitsHash = bitsHash;
    this.entry = entry;
    this.iterations = iter;
    this.decided = outcome;
    return outcome;
  }

  private recordDeepest(depth: number, stateId: number, blocking: number): void {
    this.bestDepth = depth;
    const { bestStack, bestStates, stackEntry, stackState } = this;
    for (let k = 0; k < depth; k++) {
      bestStack[k] = stackEntry[k]!;
      bestStates[k] = k + 1 < depth ? stackState[k + 1]! : stateId;
    }
    this.bestBlocking = blocking;
  }

  /** Not linearizable: explain the deepest partial linearization. */
  private explainFailure(stateId: number): PartitionOutcome {
    const { n, ops, model, states, position, bestStates, bestDepth, bestBlocking } = this;
    const bestStack = this.bestStack.subarray(0, Math.max(0, bestDepth));
    const placed = new Uint8Array(n);
    for (const e of bestStack) placed[e >> 1] = 1;
    const finalState = bestDepth > 0 ? bestStates[bestDepth - 1]! : stateId;
    const blockPos = position[2 * bestBlocking + 1]!;
    const unplaceable: FailureWindow['unplaceable'] = [];
    for (let op = 0; op < n; op++) {
      if (placed[op] || position[2 * op]! > blockPos) continue;
      const o = ops[op]!;
      const legal = model.step(states[finalState]!, o.input, o.output) !== undefined;
      unplaceable.push({ op: o.id, reason: legal ? 'dead-end' : 'illegal-step' });
    }
    return {
      valid: false,
      cacheEntries: this.cache.size,
      failure: {
        linearized: Array.from(bestStack, (e, k) => ({ op: ops[e >> 1]!.id, state: model.describeState(states[bestStates[k]!]!) })),
        blockingOp: ops[bestBlocking]!.id,
        unplaceable,
      },
    };
  }
}

/**
 * A partition whose ops all have known outputs, each returned before the next was called (one
 * client, say), has one order that respects real time: it is linearizable iff stepping the ops in
 * that order is legal. The search would find just that, and report the same failure: the legal
 * prefix as its deepest partial linearization, the first illegal op blocking, and no other op
 * callable before that one returned. Undefined when the ops are not so ordered (then search).
 */
export function sequentialOutcome<S, I, O>(model: Model<S, I, O>, ops: readonly LinOp<I, O>[], explain = true): PartitionOutcome | undefined {
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if (o.output === undefined) return undefined;
    if (i > 0 && !(Math.max(ops[i - 1]!.ret, ops[i - 1]!.call) < o.call)) return undefined;
  }
  let state = model.init();
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    const next = model.step(state, o.input, o.output);
    if (next === undefined) return { valid: false, cacheEntries: i, failure: explain ? sequentialFailure(model, ops, i) : unexplained };
    state = next;
  }
  return { valid: true, cacheEntries: ops.length };
}

/** The failure of a partition checked with `explain: false`: a verdict, no report (never shown). */
const unexplained: Omit<FailureWindow, 'partition' | 'ops'> = { linearized: [], blockingOp: -1, unplaceable: [] };

/** The failure of a sequential partition whose op `blocking` is the first illegal one. */
function sequentialFailure<S, I, O>(model: Model<S, I, O>, ops: readonly LinOp<I, O>[], blocking: number): Omit<FailureWindow, 'partition' | 'ops'> {
  const linearized: FailureWindow['linearized'] = [];
  let state = model.init();
  for (let i = 0; i < blocking; i++) {
    const o = ops[i]!;
    state = model.step(state, o.input, o.output)!;
    linearized.push({ op: o.id, state: model.describeState(state) });
  }
  const blockingOp = ops[blocking]!.id;
  return { linearized, blockingOp, unplaceable: [{ op: blockingOp, reason: 'illegal-step' }] };
}

/** The outcome of a partition the model refuted: the refuting ops, the last of them blocking. */
function refutedOutcome<I, O>(ops: readonly LinOp<I, O>[], refutation: Refutation, cacheEntries: number): PartitionOutcome {
  const ids = refutation.ops.map((i) => ops[i]!.id);
  const blockingOp = ids.at(-1)!;
  return {
    valid: false,
    cacheEntries,
    failure: { refutation: { rule: refutation.rule, ops: ids }, linearized: [], blockingOp, unplaceable: [{ op: blockingOp, reason: 'illegal-step' }] },
  };
}

/** Search one partition to the end (or to a bound). */
export function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly LinOp<I, O>[],
  deadlineMs: number,
  maxCacheEntries: number,
  maxCacheBytes: number = defaultMaxCacheBytes,
): PartitionOutcome {
  return new PartitionSearch(model, ops, maxCacheEntries, maxCacheBytes).run(Infinity, deadlineMs)!;
}

/**
 * The history cut at time T: ops that returned by T as they are, ops in flight at T with an unknown
 * result (their effect may or may not have happened by T), ops called after T dropped. Whether the
 * cut is linearizable is monotone in T (a linearization of the whole restricts to every cut), so a
 * binary search over the return times finds the first cut that fails: everything that returned
 * before it is linearizable, and an op returning at it cannot be placed. Bounded by the deadline;
 * undefined if a cut check does not finish.
 */
export function shortestFailingPrefix<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly LinOp<I, O>[],
  deadlineMs: number,
  maxCacheEntries: number,
  maxCacheBytes: number,
): NonNullable<FailureWindow['prefix']> | undefined {
  const returns = [...new Set(ops.filter((o) => o.output !== undefined).map((o) => Math.max(o.ret, o.call)))].sort((a, b) => a - b);
  const cut = (t: number): LinOp<I, O>[] =>
    ops
      .filter((o) => o.call <= t)
      .map((o) => (o.output !== undefined && Math.max(o.ret, o.call) <= t ? o : { ...o, ret: Infinity, output: undefined }));
  let lo = 0;
  let hi = returns.length - 1;
  let failingAt = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const ops = cut(returns[mid]!);
    // A cut is a history of its own: a refutation of it is its verdict, without the search.
    const outcome = model.refute?.(ops) !== undefined ? { valid: false as const } : checkPartition(model, ops, deadlineMs, maxCacheEntries, maxCacheBytes);
    if (outcome.valid === 'unknown') return undefined;
    if (outcome.valid === false) {
      failingAt = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  if (failingAt < 0) return undefined;
  const cutTime = returns[failingAt]!;
  const before = failingAt > 0 ? returns[failingAt - 1]! : -Infinity;
  return {
    linearizableUntil: before === -Infinity ? null : before,
    failsAt: cutTime,
    linearizableOps: ops.filter((o) => o.output !== undefined && Math.max(o.ret, o.call) <= before).length,
    returningAtFailure: ops.filter((o) => o.output !== undefined && Math.max(o.ret, o.call) === cutTime).map((o) => o.id),
  };
}

/**
 * Check a whole history: partition it, search each partition, rank false over unknown over true.
 *
 * Partitions are searched in turn, `sliceIterations` steps each, up to `maxLiveSearches` at once (the
 * next waiting one starts when one is decided), so one hard partition cannot starve an easy failing
 * one: like Porcupine's partitions in parallel goroutines where the first illegal one wins, and no
 * work is thrown away (a paused search resumes where it stopped). The first partition found
 * illegal (by the search, or by the model's refutation after its first turn) ends the check. Memory: the searches in turn hold at most `maxInterleavedCacheBytes` of
 * cache together (or maxCacheBytes if lower); past it the largest is dropped and searched again
 * alone once the others are decided, so the peak is about what one partition may hold.
 */
export function checkOperations<S, I, O>(model: Model<S, I, O>, ops: readonly LinOp<I, O>[], options: CheckOptions = {}): LinResult {
  const start = performance.now();
  const deadlineMs = start + (options.timeLimitMs ?? defaultTimeLimitMs);
  const maxCacheEntries = options.maxCacheEntries ?? defaultMaxCacheEntries;
  const maxCacheBytes = options.maxCacheBytes ?? defaultMaxCacheBytes;
  const interleavedBytes = Math.min(maxCacheBytes, maxInterleavedCacheBytes);
  const explain = options.explain !== false;
  const groups = model.partition ? model.partition(ops) : [ops.map((_, i) => i)];
  type Pending = { index: number; label: string; ops: LinOp<I, O>[]; elapsedMs: number; search: PartitionSearch<S, I, O> | undefined; refuteTried: boolean };
  // Plain loops, not map callbacks: in a cold process each callback is an interpreted call per op.
  const waiting: Pending[] = [];
  for (let index = 0; index < groups.length; index++) {
    const group = groups[index]!;
    const sub = new Array<LinOp<I, O>>(group.length);
    for (let k = 0; k < group.length; k++) sub[k] = ops[group[k]!]!;
    waiting.push({ index, label: model.partitionLabel ? model.partitionLabel(sub) : 'all', ops: sub, elapsedMs: 0, search: undefined, refuteTried: model.refute === undefined });
  }
  const stats: Array<PartitionStat | undefined> = new Array(groups.length);
  let failure: FailureWindow | undefined;
  let unknownReason: string | undefined;

  /** Advance p's search by `iterations` steps (starting it if need be); true once p is decided. */
  const advance = (p: Pending, iterations: number): boolean => {
    const t0 = performance.now();
    let outcome: PartitionOutcome | undefined;
    if (t0 > deadlineMs) outcome = { valid: 'unknown', cacheEntries: 0, reason: 'time-limit' };
    else if (p.search === undefined && (outcome = sequentialOutcome(model, p.ops, explain)) !== undefined) {
      // One order to try: no search (and no tables to set up, most of a small partition's cost).
    } else {
      const search = (p.search ??= new PartitionSearch(model, p.ops, maxCacheEntries, maxCacheBytes, explain));
      // The model's refutation waits for the first turn: most small partitions are decided in it.
      const untilRefute = sliceIterations - search.steps;
      outcome = search.run(p.refuteTried ? iterations : Math.min(iterations, untilRefute), deadlineMs);
      if (outcome === undefined && !p.refuteTried && search.steps >= sliceIterations) {
        p.refuteTried = true;
        const refutation = model.refute!(p.ops);
        if (refutation !== undefined) outcome = refutedOutcome(p.ops, refutation, search.cacheEntries);
        else if (iterations > untilRefute) outcome = search.run(iterations - untilRefute, deadlineMs);
      }
    }
    p.elapsedMs += performance.now() - t0;
    if (outcome === undefined) return false;
    p.search = undefined;
    const stat: PartitionStat = { partition: p.label, ops: p.ops.length, valid: outcome.valid, cacheEntries: outcome.cacheEntries, elapsedMs: p.elapsedMs };
    if (outcome.valid === 'unknown') {
      stat.reason = outcome.reason;
      unknownReason ??= `${outcome.reason} reached in partition ${p.label}`;
    }
    stats[p.index] = stat;
    if (outcome.valid === false) {
      // A refuted partition may be one the search finds hard (its cuts before the refuting read too):
      // its window search gets a budget of its own, and the refutation explains the failure anyway.
      const refuted = outcome.failure.refutation !== undefined;
      const windowDeadlineMs = refuted ? Math.min(deadlineMs, performance.now() + refutedWindowBudgetMs) : deadlineMs;
      const window = options.findWindow === false || !explain ? undefined : shortestFailingPrefix(model, p.ops, windowDeadlineMs, maxCacheEntries, maxCacheBytes);
      failure = { partition: p.label, ops: p.ops.map((o) => o.id), ...outcome.failure };
      if (window) failure.prefix = window;
    }
    return true;
  };

  let live: Pending[] = [];
  const alone: Pending[] = [];
  let nextWaiting = 0;
  while (failure === undefined) {
    while (live.length < maxLiveSearches && nextWaiting < waiting.length) live.push(waiting[nextWaiting++]!);
    if (live.length === 0) break;
    // The last undecided partition runs to its end: there is nothing left to take turns with.
    const iterations = live.length === 1 && nextWaiting === waiting.length ? Infinity : sliceIterations;
    const undecided: Pending[] = [];
    let liveBytes = 0;
    for (const p of live) {
      if (advance(p, iterations)) {
        if (failure !== undefined) break;
      } else undecided.push(p);
    }
    for (const p of undecided) liveBytes += p.search!.cacheBytes;
    live = undecided;
    while (live.length > 1 && liveBytes > interleavedBytes) {
      let largest = 0;
      for (let k = 1; k < live.length; k++) if (live[k]!.search!.cacheBytes > live[largest]!.search!.cacheBytes) largest = k;
      const [p] = live.splice(largest, 1);
      liveBytes -= p!.search!.cacheBytes;
      p!.search = undefined;
      alone.push(p!);
    }
  }
  for (const p of alone) {
    if (failure !== undefined) break;
    advance(p, Infinity);
  }
  const partitions = stats.filter((s): s is PartitionStat => s !== undefined);
  const result: LinResult = {
    valid: failure ? false : unknownReason !== undefined ? 'unknown' : true,
    model: model.name,
    ops: ops.length,
    partitions,
    elapsedMs: performance.now() - start,
  };
  if (failure && explain) result.failure = failure;
  else if (unknownReason !== undefined) result.reason = unknownReason;
  return result;
}
