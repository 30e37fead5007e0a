/** Kafka's offset checkpoint text: exact format, round trip, and every kind of damage reported, never half-read. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatOffsetCheckpoint, parseOffsetCheckpoint, readOffsetCheckpoint, writeOffsetCheckpoint } from '../../../broker/log/offset-checkpoint.ts';
import { useTmpDirs } from './log-test-util.ts';

const tmpDir = useTmpDirs();

describe('offset checkpoint file', () => {
  it("writes Kafka's text: version, count, then '<topic> <partition> <offset>' lines", () => {
    expect(formatOffsetCheckpoint([{ topic: 'a.b-c_d', partition: 3, offset: 42 }, { topic: 'x', partition: 0, offset: 0 }])).toBe('0\n2\na.b-c_d 3 42\nx 0 0\n');
    expect(formatOffsetCheckpoint([])).toBe('0\n0\n');
  });

  it('round-trips any entries through a file', () => {
    const entryArb = fc.record({ topic: fc.stringMatching(/^[a-zA-Z0-9._-]{1,20}$/), partition: fc.nat(1000), offset: fc.nat() });
    fc.assert(
      fc.property(fc.uniqueArray(entryArb, { selector: (e) => `${e.topic} ${e.partition}` }), (entries) => {
        const file = path.join(tmpDir(), 'replication-offset-checkpoint');
        writeOffsetCheckpoint(file, entries);
        expect(readOffsetCheckpoint(file)).toEqual({ entries, corrupt: null });
        expect(fs.existsSync(`${file}.tmp`)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('reads a missing file as empty', () => {
    expect(readOffsetCheckpoint(path.join(tmpDir(), 'none'))).toEqual({ entries: [], corrupt: null });
  });

  it.each([
    ['1\n0\n', /version/],
    ['', /version/],
    ['0\n', /count/],
    ['0\nx\n', /count/],
    ['0\n2\nt 0 1\n', /2 entries, 1 lines/],
    ['0\n1\nt 0 1\nt 1 1\n', /1 entries, 2 lines/],
    ['0\n1\nt 0\n', /line 3/],
    ['0\n1\nt 0 -1\n', /line 3/],
    ['0\n1\nt 0 1.5\n', /line 3/],
    ['0\n1\nt x 1\n', /line 3/],
    ['0\n1\nbad topic 0 1\n', /line 3/],
    ['0\n2\nt 0 1\nt 0 2\n', /twice/],
    ['0\n1\nt 0 99999999999999999999\n', /out of range/],
  ])('reports %j as corrupt', (text, why) => {
    const r = parseOffsetCheckpoint(text);
    expect(r.entries).toEqual([]);
    expect(r.corrupt).toMatch(why);
  });

  it('refuses to write what it could not read back', () => {
    expect(() => formatOffsetCheckpoint([{ topic: 'has space', partition: 0, offset: 1 }])).toThrow(RangeError);
    expect(() => formatOffsetCheckpoint([{ topic: 't', partition: 0, offset: -1 }])).toThrow(RangeError);
  });
});
