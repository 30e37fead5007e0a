/**
 * The search cache of Wing–Gong–Lowe: a set of (linearized-set, state) pairs already explored.
 *
 * Invariant: `add(bits, bitsHash, stateId)` returns true exactly when no equal pair (same bit words,
 * same interned state id) was added before; the set never forgets an entry. Entries live in one
 * growable Uint32Array pool (`words` bitset words then the state id per entry) and an
 * open-addressing table of entry numbers, so adding costs no allocation except when growing.
 * `bitsHash` must be a function of the bit words alone (the engine keeps a Zobrist XOR of per-op
 * random words, updated in O(1) per set/clear).
 */

export class ExploredCache {
  readonly words: number;
  private readonly stride: number;
  private pool: Uint32Array;
  private hashes: Int32Array;
  private table: Int32Array;
  private mask: number;
  private n = 0;

  constructor(words: number, initialCapacity = 1024) {
    this.words = words;
    this.stride = words + 1;
    const cap = Math.max(16, initialCapacity);
    this.pool = new Uint32Array(cap * this.stride);
    this.hashes = new Int32Array(cap);
    let size = 32;
    while (size < cap * 2) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.n;
  }

  add(bits: Uint32Array, bitsHash: number, stateId: number): boolean {
    const h = (bitsHash ^ Math.imul(stateId + 1, 0x9e3779b1)) | 0;
    const { words, stride, pool, table, mask } = this;
    let slot = (h ^ (h >>> 15)) & mask;
    for (;;) {
      const e = table[slot]!;
      if (e === 0) break;
      const idx = e - 1;
      if (this.hashes[idx] === h) {
        const base = idx * stride;
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
    this.pool[base + words] = stateId;
    this.hashes[idx] = h;
    this.table[slot] = idx + 1;
    if (this.n * 2 > this.table.length) this.growTable();
    return true;
  }

  private growPool(): void {
    const cap = (this.pool.length / this.stride) * 2;
    const pool = new Uint32Array(cap * this.stride);
    pool.set(this.pool);
    this.pool = pool;
    const hashes = new Int32Array(cap);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }

  private growTable(): void {
    const size = this.table.length * 2;
    const table = new Int32Array(size);
    const mask = size - 1;
    for (let idx = 0; idx < this.n; idx++) {
      const h = this.hashes[idx]!;
      let slot = (h ^ (h >>> 15)) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = idx + 1;
    }
    this.table = table;
    this.mask = mask;
  }
}
