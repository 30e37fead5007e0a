/**
 * What a run directory keeps of a node (design.md "Run directory": `nodes/<node>/` with the broker's
 * logs and a data dir listing), made the same way for every backend: the backend brings the node's
 * files to a local directory, and these helpers write the listing and copy what is not there yet.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import type { Collected } from '../backend.ts';

/** `d|- size path` per entry under dir, sorted, depth- and count-bounded. */
export function dataListing(dir: string, maxEntries = 10_000): string {
  const lines: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 8 || lines.length >= maxEntries) return;
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (lines.length >= maxEntries) return;
      const p = join(d, n);
      try {
        const st = statSync(p);
        lines.push(`${st.isDirectory() ? 'd' : '-'} ${String(st.size).padStart(12)} ${relative(dir, p)}`);
        if (st.isDirectory()) walk(p, depth + 1);
      } catch {
        lines.push(`? ${relative(dir, p)}`);
      }
    }
  };
  walk(dir, 0);
  return lines.join('\n') + '\n';
}

/**
 * A local node's files into dest: the data dir (copied unless it already is `dest/data`), the log
 * file and the system's extra log files (copied unless already under dest), and `data-listing.txt`.
 */
export function collectLocalFiles(a: { dataDir: string; logFile: string; extraLogs: readonly string[] }, dest: string): Collected {
  mkdirSync(dest, { recursive: true });
  const files: string[] = [];
  const dataDest = join(dest, 'data');
  if (resolve(a.dataDir) !== resolve(dataDest) && existsSync(a.dataDir)) cpSync(a.dataDir, dataDest, { recursive: true, errorOnExist: false, force: true });
  for (const log of [a.logFile, ...a.extraLogs]) {
    if (!existsSync(log)) continue;
    const inside = !relative(resolve(dest), resolve(log)).startsWith('..');
    const target = inside ? log : join(dest, basename(log));
    if (!inside) copyFileSync(log, target);
    files.push(relative(dest, target));
  }
  writeFileSync(join(dest, 'data-listing.txt'), dataListing(dataDest));
  files.push('data-listing.txt');
  return { dataDir: dataDest, files };
}
