/**
 * The search cache of Wing–Gong–Lowe: a set of (linearized-set, state) pairs already explored.
 *
 * Invariant: `add(bits, bitsHash, stateId)` returns true exactly when no equal pair (same bit words,
 * same interned state id) was added before; the set never forgets an entry. Entries live in one
 * growable Uint32Array pool (`words` bitset words then the state id per entry) and an
 * open-addressing table whose slots hold (entry number + 1, entry hash) side by side, so a probe
 * reads one place (the slot) and touches the pool only when the full hash matches: the table is
 * far larger than the processor's caches on big partitions, and a second array read per probe was
 * a second cache miss. Adding costs no allocation except when growing. `bitsHash` must be a
 * function of the bit words alone (the engine keeps a Zobrist XOR of per-op random words, updated
 * in O(1) per set/clear).
 */

export class ExploredCache {
  readonly words: number;
  private readonly stride: number;
  private pool: Uint32Array;
  /** Slot k: [entry + 1 (0: empty), hash] at 2k. */
  private table: Int32Array;
  /** Slots - 1 (a power of two). */
  private mask: number;
  private n = 0;

  /**
   * `arena`: where the first pool and table go (zeroed, `ExploredCache.bytes(words, initialCapacity)`
   * bytes from `byteOffset`), so that a search's tables can share one allocation outside the JS heap,
   * where a typed array costs about a microsecond to make; each grows into an array of its own.
   */
  constructor(words: number, initialCapacity = 1024, arena?: ArrayBuffer, byteOffset = 0) {
    this.words = words;
    this.stride = words + 1;
    const { cap, size } = ExploredCache.shape(words, initialCapacity);
    const buffer = arena ?? new ArrayBuffer(ExploredCache.bytes(words, initialCapacity));
    const at = arena ? byteOffset : 0;
    this.pool = new Uint32Array(buffer, at, cap * this.stride);
    this.table = new Int32Array(buffer, at + 4 * cap * this.stride, 2 * size);
    this.mask = size - 1;
  }

  private static shape(words: number, initialCapacity: number): { cap: number; size: number } {
    const cap = Math.max(16, initialCapacity);
    let size = 32;
    while (size < cap * 2) size *= 2;
    return { cap, size };
  }

  /** Bytes of the first pool and table for `initialCapacity` entries of `words` bit words. */
  static bytes(words: number, initialCapacity: number): number {
    const { cap, size } = ExploredCache.shape(words, initialCapacity);
    return 4 * (cap * (words + 1) + 2 * size);
  }

  get size(): number {
    return this.n;
  }

  add(bits: Uint32Array, bitsHash: number, stateId: number): boolean {
    const h = (bitsHash ^ Math.imul(stateId + 1, 0x9e3779b1)) | 0;
    const { words, stride, pool, table, mask } = this;
    let slot = (h ^ (h >>> 15)) & mask;
    for (;;) {
      const e = table[2 * slot]!;
      if (e === 0) break;
      if (table[2 * slot + 1] === h) {
        const base = (e - 1) * stride;
        if (pool[base + words] === stateId) {
          let same = true;
          for (let w = 0; w < words; w++) {
            if (pool[base + w] !== bits[w]) {
              same = false;
              break;
            }
          }
          if (same) return false;
        }
      }
      slot = (slot + 1) & mask;
    }
    if ((this.n + 1) * stride > pool.length) this.growPool();
    const idx = this.n++;
    const base = idx * stride;
    const dst = this.pool;
    for (let w = 0; w < words; w++) dst[base + w] = bits[w]!;
    dst[base + words] = stateId;
    table[2 * slot] = idx + 1;
    table[2 * slot + 1] = h;
    if (this.n * 2 > this.mask + 1) this.growTable();
    return true;
  }

  private growPool(): void {
    const pool = new Uint32Array(this.pool.length * 2);
    pool.set(this.pool);
    this.pool = pool;
  }

  /**
   * Grows the table 4x (2x while it is small): each growth re-places every entry, a random write
   * into a table far larger than the caches, so on a large search fewer growths cost less (measured
   * on c50-ok: growing took about a twentieth of the check at 2x).
   */
  private growTable(): void {
    const old = this.table;
    const size = (this.mask + 1) * (this.mask < 1 << 14 ? 2 : 4);
    const table = new Int32Array(2 * size);
    const mask = size - 1;
    for (let k = 0; k < old.length; k += 2) {
      const e = old[k]!;
      if (e === 0) continue;
      const h = old[k + 1]!;
      let slot = (h ^ (h >>> 15)) & mask;
      while (table[2 * slot] !== 0) slot = (slot + 1) & mask;
      table[2 * slot] = e;
      table[2 * slot + 1] = h;
    }
    this.table = table;
    this.mask = mask;
  }
}
