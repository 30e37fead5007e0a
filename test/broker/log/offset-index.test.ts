/** OffsetIndex: floor lookup, strictly increasing entries, truncation by position, and rewrite-only-when-different. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetIndex } from '../../../broker/log/offset-index.ts';
import { useTmpDirs } from './log-test-util.ts';

const tmpDir = useTmpDirs();

describe('OffsetIndex', () => {
  it('looks up the position of the last entry at or below the target', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { maxLength: 30 }), fc.integer({ min: 0, max: 520 }), (rels, target) => {
        const sorted = [...rels].sort((a, b) => a - b);
        const file = path.join(tmpDir(), 'x.index');
        const { index } = OffsetIndex.openWith(file, [], []);
        for (const r of sorted) index.append(r, r * 10 + 1);
        const floor = sorted.filter((r) => r <= target).at(-1);
        expect(index.lookup(target)).toBe(floor === undefined ? 0 : floor * 10 + 1);
        expect(fs.statSync(file).size).toBe(sorted.length * 8);
        index.close();
      }),
      { numRuns: 50 },
    );
  });

  it('rejects entries that do not increase', () => {
    const { index } = OffsetIndex.openWith(path.join(tmpDir(), 'x.index'), [], []);
    index.append(5, 100);
    expect(() => index.append(5, 200)).toThrow(RangeError);
    expect(() => index.append(6, 100)).toThrow(RangeError);
    index.close();
  });

  it('drops entries at or beyond a truncation position, in memory and on disk', () => {
    const file = path.join(tmpDir(), 'x.index');
    const { index } = OffsetIndex.openWith(file, [], []);
    index.append(1, 100);
    index.append(2, 200);
    index.append(3, 300);
    index.truncateToPosition(200);
    expect(index.entryCount).toBe(1);
    expect(index.lookup(3)).toBe(100);
    expect(fs.statSync(file).size).toBe(8);
    index.close();
  });

  it('rewrites the file only when it differs from the expected entries', () => {
    const file = path.join(tmpDir(), 'x.index');
    const first = OffsetIndex.openWith(file, [1, 4], [50, 90]);
    expect(first.rewritten).toBe(true);
    first.index.close();
    const same = OffsetIndex.openWith(file, [1, 4], [50, 90]);
    expect(same.rewritten).toBe(false);
    same.index.close();
    const other = OffsetIndex.openWith(file, [1, 5], [50, 90]);
    expect(other.rewritten).toBe(true);
    expect(fs.readFileSync(file).readInt32BE(8)).toBe(5);
    other.index.close();
  });
});
