/**
 * Reference checker for tests: plain depth-first search over every order that respects real time,
 * no cache, no linked list, no partitioning. Exponential; only for histories of a few ops.
 * An op may come next iff no unplaced op with a known output returned before its call; ops with an
 * unknown output may be left out.
 */
import type { LinOp, Model } from '../../../checkers/linearizability/types.ts';

export function bruteForceLinearizable<S, I, O>(model: Model<S, I, O>, ops: readonly LinOp<I, O>[]): boolean {
  const placed = new Array<boolean>(ops.length).fill(false);
  const required = ops.filter((o) => o.output !== undefined).length;
  const search = (state: S, placedRequired: number): boolean => {
    if (placedRequired === required) return true;
    let minRet = Infinity;
    ops.forEach((o, i) => {
      if (!placed[i] && o.output !== undefined) minRet = Math.min(minRet, o.ret);
    });
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      if (placed[i] || o.call > minRet) continue;
      const next = model.step(state, o.input, o.output);
      if (next === undefined) continue;
      placed[i] = true;
      const ok = search(next, placedRequired + (o.output === undefined ? 0 : 1));
      placed[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return search(model.init(), 0);
}

/** A seeded xorshift stream of integers in [0, n): the property tests' own random histories. */
export type Rand = (n: number) => number;
export function prng(seed: number): Rand {
  let x = seed | 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}
