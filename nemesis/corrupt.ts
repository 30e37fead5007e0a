/**
 * What a `corrupt` fault does to a stopped node's data, as pure functions of the node's files and the
 * numbers the schedule drew (so a seed, or a replayed schedule, corrupts the same bytes of the same file).
 *
 * - `fileClass(path)`: `segment` (`*.log`), `index` (`*.index`, `*.timeindex`) or `checkpoint` (a name
 *   containing `checkpoint`, and producer-state `*.snapshot` files); anything else is left alone.
 * - `chooseFile(files, classPick, filePick)`: among the non-empty files of the classes present, a class
 *   by `classPick`, then a file of it by `filePick` (files sorted by path first, so the listing order of
 *   the file system does not matter). Null when no file qualifies.
 * - `planCorruption(sizeBytes, mode, pick)`: `bitflip` flips 1 to 8 bits at offsets drawn from `pick`
 *   (a small LCG; distinct offsets, each bit flipped once so no flip undoes another); `truncate` cuts the
 *   file to a length in [0, size) drawn from `pick` (at least one byte goes).
 */
export const corruptModes = ['bitflip', 'truncate'] as const;
export type CorruptMode = (typeof corruptModes)[number];

export const fileClasses = ['segment', 'index', 'checkpoint'] as const;
export type FileClass = (typeof fileClasses)[number];

export interface DataFile {
  /** relative to the node's data dir */
  path: string;
  sizeBytes: number;
}

export type CorruptionPlan = { mode: 'bitflip'; flips: Array<{ offset: number; bit: number }> } | { mode: 'truncate'; toBytes: number };

export function fileClass(path: string): FileClass | null {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (name.endsWith('.log')) return 'segment';
  if (name.endsWith('.index') || name.endsWith('.timeindex')) return 'index';
  if (name.includes('checkpoint') || name.endsWith('.snapshot')) return 'checkpoint';
  return null;
}

export function chooseFile(files: readonly DataFile[], classPick: number, filePick: number): (DataFile & { class: FileClass }) | null {
  const byClass = new Map<FileClass, DataFile[]>();
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const c = fileClass(f.path);
    if (c === null || f.sizeBytes <= 0) continue;
    byClass.set(c, [...(byClass.get(c) ?? []), f]);
  }
  const present = fileClasses.filter((c) => byClass.has(c));
  if (present.length === 0) return null;
  const c = present[classPick % present.length]!;
  const list = byClass.get(c)!;
  return { ...list[filePick % list.length]!, class: c };
}

/** A 32-bit LCG step (Numerical Recipes constants), for offsets drawn from one recorded number. */
function lcg(x: number): number {
  return (Math.imul(x, 1664525) + 1013904223) >>> 0;
}

/** An integer in [0, n) from an LCG state's high bits (its low bits have short periods). */
function below(x: number, n: number): number {
  return Math.floor((x / 2 ** 32) * n);
}

export function planCorruption(sizeBytes: number, mode: CorruptMode, pick: number): CorruptionPlan {
  if (!(Number.isInteger(sizeBytes) && sizeBytes > 0)) throw new RangeError(`cannot corrupt a file of ${sizeBytes} bytes`);
  let x = pick >>> 0;
  if (mode === 'truncate') return { mode, toBytes: below((x = lcg(x)), sizeBytes) };
  const count = Math.min(1 + below((x = lcg(x)), 8), sizeBytes * 8);
  const seen = new Set<number>();
  const flips: Array<{ offset: number; bit: number }> = [];
  for (let guard = 0; flips.length < count && guard < 1000; guard++) {
    const offset = below((x = lcg(x)), sizeBytes);
    const bit = below((x = lcg(x)), 8);
    if (seen.has(offset * 8 + bit)) continue;
    seen.add(offset * 8 + bit);
    flips.push({ offset, bit });
  }
  return { mode, flips };
}
