/**
 * Allocation-free integer hash tables for the search's hot paths (open addressing, linear probing,
 * doubling at half load; no deletion).
 * - `StateIndex`: interned states; `find(hash, isEqual)` returns the id of an equal state or -1, and
 *   `insert(hash, id)` records a new one. Ids are the caller's, hashes are int32.
 * - `PairMemo`: (a, b) -> int32 value for non-negative int32 a, b; `get` returns `missing` when absent.
 * Invariant: every inserted key is found again until the table is dropped.
 */

function spread(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return h ^ (h >>> 16);
}

export class StateIndex {
  private ids: Int32Array = new Int32Array(64).fill(-1);
  private hashes: Int32Array = new Int32Array(64);
  private count = 0;

  find(hash: number, isEqual: (id: number) => boolean): number {
    const mask = this.ids.length - 1;
    for (let slot = spread(hash) & mask; ; slot = (slot + 1) & mask) {
      const id = this.ids[slot]!;
      if (id === -1) return -1;
      if (this.hashes[slot] === hash && isEqual(id)) return id;
    }
  }

  insert(hash: number, id: number): void {
    if ((this.count + 1) * 2 > this.ids.length) this.grow();
    this.place(hash, id);
    this.count++;
  }

  private place(hash: number, id: number): void {
    const mask = this.ids.length - 1;
    let slot = spread(hash) & mask;
    while (this.ids[slot] !== -1) slot = (slot + 1) & mask;
    this.ids[slot] = id;
    this.hashes[slot] = hash;
  }

  private grow(): void {
    const { ids, hashes } = this;
    this.ids = new Int32Array(ids.length * 2).fill(-1);
    this.hashes = new Int32Array(ids.length * 2);
    for (let i = 0; i < ids.length; i++) if (ids[i] !== -1) this.place(hashes[i]!, ids[i]!);
  }
}

export class PairMemo {
  static readonly missing = -0x7fffffff;
  private as: Int32Array = new Int32Array(1024).fill(-1);
  private bs: Int32Array = new Int32Array(1024);
  private vals: Int32Array = new Int32Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(a: number, b: number): number {
    const mask = this.as.length - 1;
    for (let slot = spread(Math.imul(a, 0x9e3779b1) ^ b) & mask; ; slot = (slot + 1) & mask) {
      const k = this.as[slot]!;
      if (k === -1) return PairMemo.missing;
      if (k === a && this.bs[slot] === b) return this.vals[slot]!;
    }
  }

  set(a: number, b: number, value: number): void {
    if ((this.count + 1) * 2 > this.as.length) this.grow();
    this.place(a, b, value);
    this.count++;
  }

  private place(a: number, b: number, value: number): void {
    const mask = this.as.length - 1;
    let slot = spread(Math.imul(a, 0x9e3779b1) ^ b) & mask;
    while (this.as[slot] !== -1) slot = (slot + 1) & mask;
    this.as[slot] = a;
    this.bs[slot] = b;
    this.vals[slot] = value;
  }

  private grow(): void {
    const { as, bs, vals } = this;
    this.as = new Int32Array(as.length * 2).fill(-1);
    this.bs = new Int32Array(as.length * 2);
    this.vals = new Int32Array(as.length * 2);
    for (let i = 0; i < as.length; i++) if (as[i] !== -1) this.place(as[i]!, bs[i]!, vals[i]!);
  }
}
