/**
 * An allocation-free index of interned states for the search's hot path (open addressing, linear
 * probing, doubling at half load; no deletion). `find(hash, isEqual)` returns the id of an equal state
 * or -1, and `insert(hash, id)` records a new one; ids are the caller's, hashes are int32 (a Map keyed
 * by int32 would box half of them). Invariant: every inserted id is found again under its hash.
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
