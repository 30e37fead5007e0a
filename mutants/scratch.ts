/**
 * Scratch copies of the repository for mutants: the checkout's files (tracked, plus untracked ones
 * git does not ignore, as they are in the working tree), node_modules as a symlink to the
 * checkout's, and at most one mutant applied. A mutant's search text must occur exactly once in its
 * file, or applying it is an error that names the mutant (the catalogue rotted).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Mutant } from './catalogue.ts';

export class MutantError extends Error {
  readonly code = 'MUTANT_STALE';
  constructor(message: string) {
    super(message);
    this.name = 'MutantError';
  }
}

/** How often `needle` occurs in `text` (non-overlapping). */
export function occurrences(text: string, needle: string): number {
  if (needle.length === 0) return 0;
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** The mutated text of `source`, or a MutantError when the search text is not there exactly once. */
export function mutateText(m: Mutant, source: string): string {
  const n = occurrences(source, m.search);
  if (n !== 1) throw new MutantError(`mutant ${m.id}: its search text occurs ${n} times in ${m.file} (must be exactly once)`);
  const at = source.indexOf(m.search);
  return source.slice(0, at) + m.replace + source.slice(at + m.search.length);
}

/**
 * The checkout's files, relative to `root`: git's list (tracked plus untracked-but-not-ignored) in a
 * git checkout; otherwise (a copy without .git, as `.ci/run` makes) every file under `root` except
 * what the project ignores at its top level (`notCopied`), found by walking the tree.
 */
export function repoFiles(root: string): string[] {
  if (existsSync(join(root, '.git'))) {
    const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return out.split('\0').filter((f) => f.length > 0 && f !== 'node_modules');
  }
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (rel === '' && notCopied.has(e.name)) continue;
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) out.push(path);
    }
  };
  walk('');
  return out.sort();
}

/** Top-level entries a copy without git leaves out: dependencies, run output, build and bench caches (.gitignore). */
const notCopied = new Set(['node_modules', '.git', 'results', '.build', '.bench', 'tmp']);

/** A fresh copy of `root` under `parent` (a new temp dir when absent), with `mutant` applied. */
export function makeScratch(root: string, mutant: Mutant | null, parent?: string): string {
  const base = parent ?? mkdtempSync(join(tmpdir(), 'faultline-mutants-'));
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, `${mutant?.id ?? 'baseline'}-`));
  for (const f of repoFiles(root)) {
    const to = join(dir, f);
    mkdirSync(dirname(to), { recursive: true });
    try {
      copyFileSync(join(root, f), to);
    } catch (err) {
      // A tracked file deleted in the working tree is deleted in the copy too.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  symlinkSync(realpathSync(join(root, 'node_modules')), join(dir, 'node_modules'));
  if (mutant !== null) {
    const file = join(dir, mutant.file);
    writeFileSync(file, mutateText(mutant, readFileSync(file, 'utf8')));
  }
  return dir;
}

export function removeScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
