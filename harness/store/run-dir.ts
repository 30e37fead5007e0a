/**
 * The run store (design.md "Run directory"): `<out>/<test-name>/<ISO timestamp>/` holding history.jsonl,
 * results.json, test.json, report.html and nodes/<node>/, plus an `<out>/latest` link to the newest run.
 *
 * Invariants: a run directory is created fresh (never reused; a clash gets a numeric suffix); JSON files
 * are written whole through a temp file and rename, so a reader never sees half a results.json; the
 * `latest` link is replaced atomically and is relative, so the results folder can be moved.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const runFiles = {
  history: 'history.jsonl',
  results: 'results.json',
  test: 'test.json',
  report: 'report.html',
  nodes: 'nodes',
} as const;

/** ISO 8601 basic format (no colons, so the name is valid on every filesystem): 20261124T211117.123Z */
export function isoStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

export function createRunDir(out: string, testName: string, now: Date): string {
  const base = join(out, testName, isoStamp(now));
  const maxAttempts = 1000;
  for (let i = 0; i < maxAttempts; i++) {
    const dir = i === 0 ? base : `${base}-${i}`;
    if (existsSync(dir)) continue;
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(dir, runFiles.nodes), { recursive: true });
    return dir;
  }
  throw new Error(`cannot create a fresh run directory under ${base} after ${maxAttempts} attempts`);
}

export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

/** Point `<out>/latest` at runDir (relative link, replaced by rename so it is never missing). */
export function updateLatest(out: string, runDir: string): void {
  const link = join(out, 'latest');
  const tmp = join(out, `.latest-${process.pid}`);
  if (existsSync(tmp)) unlinkSync(tmp);
  symlinkSync(relative(out, runDir), tmp);
  renameSync(tmp, link);
}
