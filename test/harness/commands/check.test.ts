import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recheck } from '../../../harness/commands/check.ts';
import { CliError } from '../../../harness/errors.ts';

function runDir(lines: object[], test: object | undefined, results?: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'fl-check-'));
  if (test !== undefined) writeFileSync(join(dir, 'test.json'), JSON.stringify(test));
  writeFileSync(join(dir, 'history.jsonl'), lines.map((l, i) => JSON.stringify({ index: i, timeNs: i * 1000, ...l }) + '\n').join(''));
  if (results !== undefined) writeFileSync(join(dir, 'results.json'), JSON.stringify(results));
  return dir;
}

const ok = [
  { process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 1 } },
  { process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 1, offset: 0 } },
  { process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 2 } },
  { process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 2, offset: 1 } },
  { process: 9, type: 'ok', f: 'assign', value: { keys: ['t-0'] } },
  { process: 9, type: 'invoke', f: 'poll', value: null },
  { process: 9, type: 'ok', f: 'poll', value: { 't-0': [[0, 1], [1, 2]] } },
];
const test = { workload: 'queue', acks: 'all', idempotence: false, nodes: 3, seed: 3, name: 'queue-acksall-kill' };
const done = { phases: { load: 'done', recover: 'done', drain: 'done' }, interrupted: false };

describe('faultline check', () => {
  it('re-checks a stored history with the same verdict and rewrites results.json and report.html', () => {
    const dir = runDir(ok, test, { valid: true, ...done });
    const r = recheck(dir);
    expect(r.results.valid).toBe(true);
    expect(r.exitCode).toBe(0);
    const stored = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Record<string, unknown>;
    expect(stored['valid']).toBe(true);
    expect(stored['test']).toEqual(test);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('valid');
  });

  it('finds loss (exit 1) and drops a torn last line', () => {
    const lossy = ok.map((l) => (l.f === 'poll' && l.type === 'ok' ? { ...l, value: { 't-0': [[1, 2]] } } : l));
    const dir = runDir(lossy, test, done);
    appendFileSync(join(dir, 'history.jsonl'), '{"index":7,"timeNs":');
    const r = recheck(dir);
    expect(r.results.valid).toBe(false);
    expect(r.results.anomalies['lost-write'].count).toBe(1);
    expect(r.exitCode).toBe(1);
  });

  it('keeps an interrupted run at unknown when only unseen values are missing (exit 2)', () => {
    const dir = runDir(ok.slice(0, 4), test, { phases: { load: 'interrupted', recover: 'not started', drain: 'not started' }, interrupted: true });
    const r = recheck(dir);
    expect(r.results.checkerValid).toBe(false);
    expect(r.results.valid).toBe('unknown');
    expect(r.exitCode).toBe(2);
  });

  it('judges completeness from the phase lines alone: valid with no results.json beside the history', () => {
    const phase = (name: string, status: string) => ({ process: 'harness', type: 'info', f: 'phase', value: { name, status } });
    const dir = runDir([phase('load', 'start'), ...ok.slice(0, 4), phase('load', 'done'), phase('drain', 'start'), ...ok.slice(4), phase('drain', 'done')], test);
    const r = recheck(dir);
    expect(r.results.valid).toBe(true);
    expect(r.results.phases).toEqual({ load: 'done', recover: 'absent', drain: 'done' });
    expect(r.notes).toEqual([]);
  });

  it('a drain that timed out, by its phase line, leaves unread values unknown, not false (exit 2)', () => {
    const phase = (name: string, status: string) => ({ process: 'harness', type: 'info', f: 'phase', value: { name, status } });
    const partial = ok.map((l) => (l.f === 'poll' && l.type === 'ok' ? { ...l, value: { 't-0': [[0, 1]] } } : l));
    const dir = runDir([...partial, phase('drain', 'start'), phase('drain', 'timeout')], test, { valid: true, ...done });
    const r = recheck(dir);
    expect(r.results.anomalies.unseen.count).toBe(1);
    expect(r.results.valid).toBe('unknown');
    expect(r.results.phases.drain).toBe('timeout'); // the history's word, not the earlier results.json's
    expect(r.notes).toEqual([]);
    expect(r.exitCode).toBe(2);
  });

  it('a foreign history with no test.json, no results.json and no phase lines is taken as complete', () => {
    const dir = runDir(ok, undefined);
    const r = recheck(dir);
    expect(r.results.valid).toBe(true);
    expect(r.notes.join('\n')).toMatch(/no test.json/);
    expect(r.notes.join('\n')).toMatch(/taken as complete/);
  });

  it('a malformed line keeps loss it could explain at unknown, but not an inconsistent offset', () => {
    const lossy = ok.map((l) => (l.f === 'poll' && l.type === 'ok' ? { ...l, value: { 't-0': [[1, 2]] } } : l));
    const dir = runDir(lossy, test);
    const text = readFileSync(join(dir, 'history.jsonl'), 'utf8').split('\n');
    text.splice(5, 0, '{"index":5,"timeNs":'); // a torn line in the middle: malformed, not torn
    writeFileSync(join(dir, 'history.jsonl'), text.map((l, i) => (i > 5 ? l.replace(/"index":(\d+)/, (_, n) => `"index":${Number(n) + 1}`) : l)).join('\n'));
    const r = recheck(dir);
    expect(r.results.anomalies['lost-write'].count).toBe(1);
    expect(r.results.stats.malformedOps).toBe(1);
    expect(r.results.stats.missingLines).toBe(0);
    expect(r.results.malformedLines?.[0]?.line).toBe(6);
    expect(r.results.valid).toBe('unknown');
    const diverged = runDir([...ok.slice(0, 6), { process: 9, type: 'ok', f: 'poll', value: { 't-0': [[0, 1], [1, 3]] } }, { process: 9, type: 'ok', f: 'poll', value: 7 }], test);
    const d = recheck(diverged);
    expect(d.results.anomalies['inconsistent-offsets'].count).toBe(1);
    expect(d.results.stats.malformedOps).toBe(1);
    expect(d.results.valid).toBe(false);
  });

  it('lines missing by index make a clean history unknown', () => {
    const dir = runDir(ok, test);
    const lines = readFileSync(join(dir, 'history.jsonl'), 'utf8').split('\n');
    writeFileSync(join(dir, 'history.jsonl'), [...lines.slice(0, 5), ...lines.slice(6)].join('\n')); // the poll's invoke
    const r = recheck(dir);
    expect(r.results.stats.missingLines).toBe(1);
    expect(r.results.stats.malformedOps).toBe(0);
    expect(r.results.anomalies['lost-write'].count + r.results.anomalies.unseen.count).toBe(0);
    expect(r.results.valid).toBe('unknown');
  });

  it('refuses a directory that is not a run, naming the missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-check-'));
    expect(() => recheck(dir)).toThrow(CliError);
    expect(() => recheck(dir)).toThrow(/history.jsonl is missing/);
  });

  it('refuses a test.json that is not JSON with a clear error', () => {
    const dir = runDir(ok, test);
    writeFileSync(join(dir, 'test.json'), '{');
    expect(() => recheck(dir)).toThrow(/test.json is not JSON/);
  });
});

describe('faultline check on a history with garbage lines', () => {
  it('never throws: names the first bad line and why, keeps judging the rest, and is never invalid on their account', async () => {
    const fc = (await import('fast-check')).default;
    const garbage = fc.oneof(
      fc.string({ maxLength: 30 }).filter((s) => !s.includes('\n')),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.record({ index: fc.anything(), type: fc.constantFrom('ok', 'invoke', 'fail', 'bogus'), f: fc.constantFrom('send', 'poll', 'x'), process: fc.anything(), value: fc.anything() }).map((o) => JSON.stringify(o) ?? '{}'),
    );
    fc.assert(
      fc.property(garbage, fc.nat({ max: ok.length }), (g, at) => {
        const dir = runDir(ok, test);
        const lines = readFileSync(join(dir, 'history.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
        lines.splice(at, 0, g);
        writeFileSync(join(dir, 'history.jsonl'), lines.join('\n') + '\n');
        const r = recheck(dir);
        if (r.results.valid === false) return false;
        const bad = r.notes.find((n) => /malformed line/.test(n));
        return bad === undefined || new RegExp(`the first: line ${at + 1}: `).test(bad);
      }),
      { numRuns: 60 },
    );
  });
});
