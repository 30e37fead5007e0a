import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { activeBug, bugActive, bugNames, bugs, BugUsageError, parseBugName, plantBug } from '../../broker/bugs.ts';
import { parseBrokerArgs } from '../../broker/main.ts';

const base = ['--id', '1', '--listen', '127.0.0.1:9092', '--data-dir', '/tmp/x'];

describe('planted-bug catalogue', () => {
  afterEach(() => plantBug(undefined));

  it('has at least 12 bugs, each saying what it breaks and where', () => {
    expect(bugNames.length).toBeGreaterThanOrEqual(12);
    for (const n of bugNames) {
      expect(bugs[n].breaks.length).toBeGreaterThan(20);
      expect(bugs[n].where).toMatch(/^broker\//);
    }
  });

  it('every bug is planted exactly once in the broker, in the file its entry names', () => {
    const root = new URL('../../', import.meta.url);
    const files = readdirSync(new URL('broker/', root), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => `broker/${f}`);
    const sources = new Map(files.map((f) => [f, readFileSync(new URL(f, root), 'utf8')]));
    for (const n of bugNames) {
      const plants = [...sources].flatMap(([f, src]) => Array<string>(src.split(`bugActive('${n}')`).length - 1).fill(f));
      expect(plants, n).toEqual([bugs[n].where.split(' ')[0]]);
    }
  });

  it('no bug is active by default', () => {
    expect(activeBug()).toBeNull();
    for (const n of bugNames) expect(bugActive(n)).toBe(false);
  });

  it('plantBug activates exactly the named bug', () => {
    plantBug('truncate-to-hw');
    expect(activeBug()).toBe('truncate-to-hw');
    expect(bugNames.filter((n) => bugActive(n))).toEqual(['truncate-to-hw']);
    plantBug(undefined);
    expect(bugNames.filter((n) => bugActive(n))).toEqual([]);
  });

  it('an unknown name is a usage error listing the allowed names', () => {
    expect(() => parseBugName('nope')).toThrow(BugUsageError);
    expect(() => parseBugName('nope')).toThrow(/allowed: ack-before-replication, .*flush-skipped/);
    expect(() => plantBug('nope')).toThrow(BugUsageError);
    expect(activeBug()).toBeNull();
  });

  it('--bug on the broker command line is validated and defaults to none', () => {
    expect(parseBrokerArgs(base).bug).toBeNull();
    expect(parseBrokerArgs([...base, '--bug', 'epoch-not-bumped']).bug).toBe('epoch-not-bumped');
    expect(() => parseBrokerArgs([...base, '--bug', 'typo'])).toThrow(/--bug 'typo' is not allowed; allowed: /);
  });
});
