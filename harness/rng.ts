/**
 * A small seeded PRNG (design.md "one seed drives everything"; style.md item 7).
 *
 * Spec:
 * - `createRng(seed)` is deterministic: the same seed yields the same sequence of draws.
 * - `next()` is uniform in [0, 1); `int(n)` uniform in {0, ..., n-1} for integer n >= 1;
 *   `pick(arr)` a uniform element of a non-empty array.
 * - `fork(label)` returns an independent stream derived from this stream's SEED and the label only,
 *   never from how many draws were made so far: so adding draws in one component (say the workload)
 *   never changes another component's (say the nemesis's) choices. Same seed + same label -> same stream.
 *
 * The generator is sfc32 seeded through splitmix32; both are public-domain constructions, small and
 * fast, with 128 bits of state, good enough for test scheduling (not for cryptography).
 */

export interface Rng {
  /** the 32-bit seed this stream was created from */
  readonly seed: number;
  next(): number;
  int(n: number): number;
  pick<T>(arr: readonly T[]): T;
  fork(label: string): Rng;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the label's UTF-16 code units, mixed with the parent seed. */
function mixLabel(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  const seed32 = Math.trunc(seed) >>> 0;
  const init = splitmix32(seed32);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const nextU32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) nextU32(); // discard the first outputs, as sfc32's author recommends
  const rng: Rng = {
    seed: seed32,
    next: () => nextU32() / 4294967296,
    int(n: number): number {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`rng.int(n) needs an integer n >= 1, got ${n}`);
      return Math.floor(rng.next() * n);
    },
    pick<T>(arr: readonly T[]): T {
      if (arr.length === 0) throw new RangeError('rng.pick needs a non-empty array');
      return arr[rng.int(arr.length)] as T;
    },
    fork: (label: string) => createRng(mixLabel(seed32, label)),
  };
  return rng;
}
