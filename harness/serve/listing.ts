/**
 * What `faultline serve` lists under its results directory (design.md "Run directory"):
 * - a run: `<test-name>/<ISO timestamp>/` holding `results.json` or `history.jsonl`;
 * - a campaign: `campaigns/<ISO timestamp>/campaign.json`;
 * - a hunt: `hunts/<ISO timestamp>/hunt.json`.
 * Each entry carries its verdict (`valid` of its JSON: true, false or "unknown"; a run without
 * results.json yet is "unknown"), its start time (the directory's timestamp name, else its mtime) and
 * whether a report.html sits beside it. Newest first. Bounded: at most `maxEntries` entries are read.
 * Symbolic links are never followed here (`results/latest` and anything else a link points at).
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type EntryKind = 'run' | 'campaign' | 'hunt';
export type Verdict = true | false | 'unknown';

export interface Entry {
  kind: EntryKind;
  /** test name for a run, `campaign` or `hunt` otherwise */
  name: string;
  /** the directory, relative to the served root, with `/` separators */
  path: string;
  startedAt: string;
  verdict: Verdict;
  hasReport: boolean;
  /** a few words for the list: anomalies of a run, runs of a campaign, bugs caught in a hunt */
  detail: string;
}

export const maxEntries = 5000;

function dirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

function readObject(path: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function verdictOf(o: Record<string, unknown> | null): Verdict {
  const v = o?.['valid'];
  return v === true || v === false ? v : 'unknown';
}

/** `20261201T110231.123Z` (a run directory's name, isoStamp; maybe `-1` after it) -> ISO, else the directory's mtime. */
function startedAtOf(dirName: string, path: string): string {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.(\d{1,3}))?Z(?:-\d+)?$/.exec(dirName);
  if (m !== null) {
    const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${(m[7] ?? '0').padEnd(3, '0')}Z`);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  try {
    return lstatSync(path).mtime.toISOString();
  } catch {
    return new Date(0).toISOString();
  }
}

function runDetail(r: Record<string, unknown> | null): string {
  if (r === null) return 'no results.json yet';
  const anomalies = r['anomalies'];
  const hits =
    anomalies !== null && typeof anomalies === 'object'
      ? Object.entries(anomalies as Record<string, { count?: unknown }>).filter(([, a]) => typeof a?.count === 'number' && a.count > 0).map(([t, a]) => `${t} ${String(a.count)}`)
      : [];
  return hits.length === 0 ? 'no anomalies' : hits.join(', ');
}

/** Every run, campaign and hunt under root, newest first. */
export function listEntries(root: string): Entry[] {
  const out: Entry[] = [];
  const push = (e: Entry): boolean => {
    out.push(e);
    return out.length < maxEntries;
  };
  for (const top of dirs(root)) {
    const topPath = join(root, top);
    if (lstatSync(topPath).isSymbolicLink()) continue;
    if (top === 'campaigns' || top === 'hunts') {
      const kind: EntryKind = top === 'campaigns' ? 'campaign' : 'hunt';
      for (const ts of dirs(topPath)) {
        const p = join(topPath, ts);
        const j = readObject(join(p, `${kind}.json`));
        if (j === null && !existsSync(join(p, `${kind}.json`))) continue;
        const detail =
          kind === 'campaign'
            ? `${Array.isArray(j?.['runs']) ? (j['runs'] as unknown[]).length : '?'} runs`
            : `${Array.isArray(j?.['bugs']) ? (j['bugs'] as Array<{ caught?: unknown }>).filter((b) => b.caught === true).length : '?'} of ${Array.isArray(j?.['bugs']) ? (j['bugs'] as unknown[]).length : '?'} bugs caught`;
        if (!push({ kind, name: kind, path: `${top}/${ts}`, startedAt: startedAtOf(ts, p), verdict: verdictOf(j), hasReport: existsSync(join(p, 'report.html')), detail })) return sortEntries(out);
      }
      continue;
    }
    for (const ts of dirs(topPath)) {
      const p = join(topPath, ts);
      if (lstatSync(p).isSymbolicLink()) continue;
      const hasResults = existsSync(join(p, 'results.json'));
      if (!hasResults && !existsSync(join(p, 'history.jsonl'))) continue;
      const r = hasResults ? readObject(join(p, 'results.json')) : null;
      if (!push({ kind: 'run', name: top, path: `${top}/${ts}`, startedAt: startedAtOf(ts, p), verdict: verdictOf(r), hasReport: existsSync(join(p, 'report.html')), detail: runDetail(r) })) return sortEntries(out);
    }
  }
  return sortEntries(out);
}

function sortEntries(es: Entry[]): Entry[] {
  return es.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.path < b.path ? -1 : 1));
}

/** Entries whose kind, name, path, verdict or detail contain every word of the query (case-insensitive). */
export function filterEntries(es: readonly Entry[], query: string): Entry[] {
  const words = query.toLowerCase().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return [...es];
  return es.filter((e) => {
    const hay = `${e.kind} ${e.name} ${e.path} ${verdictWord(e.verdict)} ${e.detail}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

export function verdictWord(v: Verdict): string {
  return v === true ? 'valid' : v === false ? 'invalid' : 'unknown';
}
