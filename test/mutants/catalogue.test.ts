/**
 * The mutant catalogue stays true to the code: every search text occurs exactly once in its file
 * (so `npm run mutants` plants what the entry says, and a refactor that moves the code fails here
 * instead of silently measuring nothing), the replacement changes the file, ids are unique, and
 * every property named is one the simulations check.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogue } from '../../mutants/catalogue.ts';
import { propertyNames } from '../../mutants/properties.ts';
import { mutateText, occurrences } from '../../mutants/scratch.ts';

describe('mutant catalogue', () => {
  it('has at least 25 mutants with unique ids, covering every defect of issue 10', () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(25);
    expect(new Set(catalogue.map((m) => m.id)).size).toBe(catalogue.length);
    expect(catalogue.filter((m) => m.issue).length).toBeGreaterThanOrEqual(17);
  });

  it.each(catalogue.map((m) => [m.id, m] as const))('%s: its search text occurs exactly once and the replacement changes the file', (_id, m) => {
    const source = readFileSync(m.file, 'utf8');
    expect(occurrences(source, m.search), `${m.id} in ${m.file}`).toBe(1);
    const mutated = mutateText(m, source);
    expect(mutated).not.toBe(source);
    expect(m.caughtBy.every((p) => (propertyNames as readonly string[]).includes(p))).toBe(true);
    expect(m.suites.length).toBeGreaterThan(0);
  });

  it('refuses a search text that is not there exactly once', () => {
    const m = catalogue[0]!;
    expect(() => mutateText(m, '')).toThrow(/occurs 0 times/);
    expect(() => mutateText(m, `${m.search}\n${m.search}`)).toThrow(/occurs 2 times/);
  });
});
