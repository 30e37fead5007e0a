/**
 * Small, deterministic 32-bit hashes for model states (FNV-1a for strings, a murmur-style finalizer
 * for numbers). Equal inputs always hash equal; collisions are allowed (models compare with `equal`).
 */

export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix32(h);
}

/** Hash a scalar model value: number, string, boolean or null. */
export function hashValue(v: number | string | boolean | null): number {
  if (v === null) return 0x6e756c6c;
  if (typeof v === 'string') return hashString(v) ^ 0x5f3759df;
  if (typeof v === 'boolean') return v ? 0x74727565 : 0x66616c73;
  if (Number.isInteger(v) && Math.abs(v) < 2 ** 31) return mix32(v | 0);
  return hashString(String(v));
}

/** Combine a running hash with the next element (order-sensitive). */
export function combine(h: number, x: number): number {
  return mix32((Math.imul(h, 31) + x) | 0);
}
