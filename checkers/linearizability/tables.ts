/**
 * An allocation-free index of interned states for the search's hot path (open addressing, linear
 * probing, growing at half load; no deletion). `intern(hash, states, probe, equal)` returns the id
 * of a state equal to `probe` (`equal(states[id], probe)`), or appends `probe` to the caller's
 * `states` and returns `~id` of its new id. Ids index `states`; hashes are int32 (a Map keyed by
 * int32 would box half of them). The caller's equality is passed as it is, not wrapped in a closure
 * per probe or per search. A slot holds (id, hash) side by side, so a probe is one memory access.
 * Invariant: every recorded id is found again under its hash.
 */

function spread(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return h ^ (h >>> 16);
}

export class StateIndex {
  /** Slot k: [id (-1: empty), hash] at 2k. */
  private slots: Int32Array;
  private count = 0;

  /**
   * `initial`: the first table (its length a power of two, at least 4; filled here), for instance a
   * view of a buffer the caller shares with its other tables; it grows into an array of its own.
   */
  constructor(initial: Int32Array = new Int32Array(128)) {
    this.slots = initial.fill(-1);
  }

  /** The length of a first table that holds `states` states before it grows. */
  static tableLength(states: number): number {
    let length = 8;
    while (length < 4 * states) length *= 2;
    return length;
  }

  /**
   * The id of the state equal to `probe`, or, if there is none, `probe` appended to `states` and
   * recorded under the next id, returned as `~id` (negative): one probe sequence for both.
   */
  intern<S>(hash: number, states: S[], probe: S, equal: (a: S, b: S) => boolean): number {
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    let slot = spread(hash) & mask;
    for (; ; slot = (slot + 1) & mask) {
      const id = slots[2 * slot]!;
      if (id === -1) break;
      if (slots[2 * slot + 1] === hash && equal(states[id]!, probe)) return id;
    }
    const id = states.length;
    states.push(probe);
    slots[2 * slot] = id;
    slots[2 * slot + 1] = hash;
    if (++this.count * 4 > slots.length) this.grow();
    return ~id;
  }

  private place(slots: Int32Array, hash: number, id: number): void {
    const mask = (slots.length >> 1) - 1;
    let slot = spread(hash) & mask;
    while (slots[2 * slot] !== -1) slot = (slot + 1) & mask;
    slots[2 * slot] = id;
    slots[2 * slot + 1] = hash;
  }

  /** Grows 4x once large (2x while small): each growth re-places every state (see ExploredCache.growTable). */
  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * (old.length < 1 << 15 ? 2 : 4)).fill(-1);
    for (let k = 0; k < old.length; k += 2) if (old[k] !== -1) this.place(slots, old[k + 1]!, old[k]!);
    this.slots = slots;
  }
}
