/**
 * `npm run mutants [-- --seeds N --node-seeds M --only ID[,ID] --jobs J --timeout-s S --out FILE --doc]`: the
 * mutation score (issue 10). For the unmutated code (the baseline) and then each mutant of
 * mutants/catalogue.ts, one at a time: copy the repository into a scratch dir (mutants/scratch.ts),
 * plant the mutant, run the suites its code runs in (mutants/sims.ts) over seeds 1..N in a child
 * process (mutants/worker.ts), and record caught / not caught, by which property, at which seed,
 * with the shrunk fault schedule and its replay command for replication failures.
 *
 * The baseline must be clean over the same budget, or the run fails (exit 1): a mutant "caught"
 * by a property the clean code also violates proves nothing. Output: a markdown table on stdout,
 * the JSON (`--out`, default results/mutants.json), and with `--doc` the table in
 * docs/simulation.md between the `mutants:begin`/`mutants:end` markers. At most `--jobs` children
 * run at once (default 1; never more than the cores). Exit 0 when the baseline is clean, whatever
 * the score: the score is a measure, reported, not a gate.
 */
import { DEFAULT_NODE_SEEDS } from './node-suite.ts';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { catalogue } from './catalogue.ts';
import type { Mutant, SuiteName } from './catalogue.ts';
import { makeScratch, removeScratch } from './scratch.ts';
import type { WorkerResult } from './worker.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface MutantOutcome {
  id: string;
  file: string;
  issue: boolean;
  expected: readonly string[];
  suites: SuiteName[];
  status: 'caught' | 'not caught' | 'not run' | 'timeout' | 'error';
  property: string | null;
  suite: SuiteName | null;
  seed: number | null;
  seedsRun: number;
  detail: string | null;
  shrunk: { from: number; to: number; runs: number; replay: string } | null;
  wallMs: number;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): { seeds: number; nodeSeeds: number; only: Mutant[]; jobs: number; timeoutMs: number; out: string; doc: boolean; keep: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: 'string', default: '200' },
      'node-seeds': { type: 'string', default: String(DEFAULT_NODE_SEEDS) },
      only: { type: 'string' },
      jobs: { type: 'string', default: '1' },
      'timeout-s': { type: 'string', default: '900' },
      out: { type: 'string', default: 'results/mutants.json' },
      doc: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  const jobs = int('jobs', values.jobs, 1);
  if (jobs > availableParallelism()) throw new UsageError(`--jobs ${jobs} is more than the ${availableParallelism()} cores: one job per core at most`);
  let only = [...catalogue];
  if (values.only !== undefined) {
    const ids = values.only.split(',').filter((s) => s.length > 0);
    const unknown = ids.filter((id) => !catalogue.some((m) => m.id === id));
    if (unknown.length > 0) throw new UsageError(`--only: unknown mutant ${unknown.join(', ')}; see mutants/catalogue.ts for the ids`);
    only = catalogue.filter((m) => ids.includes(m.id));
  }
  return { seeds: int('seeds', values.seeds, 1), nodeSeeds: int('node-seeds', values['node-seeds'], 1), only, jobs, timeoutMs: int('timeout-s', values['timeout-s'], 1) * 1000, out: values.out ?? 'results/mutants.json', doc: values.doc ?? false, keep: values.keep ?? false };
}

/** Runs mutants/worker.ts in `dir`; null result on timeout. */
function runWorker(dir: string, args: string[], timeoutMs: number): Promise<{ result: WorkerResult | null; timedOut: boolean; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'mutants/worker.ts', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      resolveRun({ result: line === undefined ? null : (JSON.parse(line.slice('RESULT '.length)) as WorkerResult), timedOut, stderr });
    });
  });
}

/** One mutant (null: the unmutated baseline) in a scratch copy under `scratchRoot` (a temp dir of its own when absent). */
export async function runOne(m: Mutant | null, seeds: number, timeoutMs: number, scratchRoot: string | undefined, keep: boolean, nodeSeeds = DEFAULT_NODE_SEEDS): Promise<MutantOutcome> {
  const t0 = performance.now();
  const suites: SuiteName[] = m === null ? ['replication', 'raft', 'node'] : [...m.suites];
  const base: MutantOutcome = {
    id: m?.id ?? 'baseline (unmutated)', file: m?.file ?? '-', issue: m?.issue === true, expected: m?.caughtBy ?? [], suites,
    status: 'not run', property: null, suite: null, seed: null, seedsRun: 0, detail: null, shrunk: null, wallMs: 0,
  };
  let dir: string | null = null;
  const ownRoot = scratchRoot === undefined ? mkdtempSync(join(tmpdir(), 'faultline-mutants-')) : null;
  try {
    dir = makeScratch(ROOT, m, scratchRoot ?? ownRoot ?? undefined);
    const args = ['--suites', suites.join(','), '--seeds', String(seeds), '--node-seeds', String(nodeSeeds), ...(m === null ? [] : ['--shrink', '--mutant', m.id])];
    const { result, timedOut, stderr } = await runWorker(dir, args, timeoutMs);
    const wallMs = Math.round(performance.now() - t0);
    if (timedOut) return { ...base, status: 'timeout', property: 'crash', detail: `no answer within ${timeoutMs / 1000} s`, wallMs };
    if (result === null) return { ...base, status: 'error', detail: stderr.trim().split('\n').slice(-3).join(' | '), wallMs };
    const ran = result.suites.filter((s) => s.available);
    const failed = ran.find((s) => s.failure !== null);
    const seedsRun = ran.reduce((a, s) => a + s.seedsRun, 0);
    const shrunk = result.shrink === null ? null : { from: result.shrink.original.length, to: result.shrink.shrunk.length, runs: result.shrink.runs, replay: result.shrink.replay };
    if (failed?.failure) {
      return { ...base, status: 'caught', property: failed.failure.property, suite: failed.suite, seed: failed.failure.seed, seedsRun, detail: failed.failure.detail.slice(0, 300), shrunk, wallMs };
    }
    return { ...base, status: ran.length === 0 ? 'not run' : 'not caught', seedsRun, detail: ran.length === 0 ? `no available suite (${suites.join(', ')})` : null, wallMs };
  } catch (err) {
    return { ...base, status: 'error', detail: (err as Error).message, wallMs: Math.round(performance.now() - t0) };
  } finally {
    if (dir !== null && !keep) removeScratch(dir);
    if (ownRoot !== null && !keep) rmSync(ownRoot, { recursive: true, force: true });
  }
}

/** Runs `tasks` with at most `jobs` at once, results in task order. */
async function pool<T>(tasks: Array<() => Promise<T>>, jobs: number, onDone: (r: T) => void): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
      onDone(results[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, lane));
  return results;
}

export function markdownTable(rows: readonly MutantOutcome[]): string {
  const lines = [
    '| mutant | file | caught by | first failing seed | seeds run | shrunk faults | status |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const caught = r.property === null ? '-' : `${r.property} (${r.suite ?? '-'})`;
    const shrunk = r.shrunk === null ? '-' : `${r.shrunk.from} → ${r.shrunk.to}`;
    lines.push(`| ${r.id}${r.issue ? ' *' : ''} | ${r.file.replace(/^broker\//, '')} | ${caught} | ${r.seed ?? '-'} | ${r.seedsRun} | ${shrunk} | ${r.status} |`);
  }
  return lines.join('\n');
}

function updateDoc(table: string, summary: string): void {
  const file = join(ROOT, 'docs', 'simulation.md');
  const begin = '<!-- mutants:begin -->';
  const end = '<!-- mutants:end -->';
  const block = `${begin}\n${summary}\n\n${table}\n${end}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Simulation\n';
  const at = text.indexOf(begin);
  const to = text.indexOf(end);
  const next = at >= 0 && to > at ? text.slice(0, at) + block + text.slice(to + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

async function main(): Promise<number> {
  let o;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`npm run mutants: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
  const scratchRoot = mkdtempSync(join(tmpdir(), 'faultline-mutants-'));
  const started = new Date();
  console.log(`mutants: ${o.only.length} mutants + baseline, seeds 1..${o.seeds} per suite, ${o.jobs} job(s); scratch ${scratchRoot}`);
  const entries: Array<Mutant | null> = [null, ...o.only];
  const progress = (r: MutantOutcome): void => {
    console.log(`  ${r.id}: ${r.status}${r.property ? ` by ${r.property} (${r.suite}) at seed ${r.seed}` : ''}${r.shrunk ? `, schedule ${r.shrunk.from} -> ${r.shrunk.to} faults` : ''} [${(r.wallMs / 1000).toFixed(1)} s]${r.status === 'error' ? `: ${r.detail}` : ''}`);
  };
  const rows = await pool(entries.map((m) => () => runOne(m, o.seeds, o.timeoutMs, scratchRoot, o.keep, o.nodeSeeds)), o.jobs, progress);
  if (!o.keep) rmSync(scratchRoot, { recursive: true, force: true });
  const [baseline, ...mutants] = rows as [MutantOutcome, ...MutantOutcome[]];
  const caught = mutants.filter((r) => r.status === 'caught').length;
  const ran = mutants.filter((r) => r.status !== 'not run').length;
  const command = `npm run mutants -- --seeds ${o.seeds}${o.nodeSeeds !== DEFAULT_NODE_SEEDS ? ` --node-seeds ${o.nodeSeeds}` : ''}${o.jobs > 1 ? ` --jobs ${o.jobs}` : ''}${o.only.length < catalogue.length ? ` --only ${o.only.map((m) => m.id).join(',')}` : ''}`;
  const summary = [
    `Command: \`${command}\` (${started.toISOString().slice(0, 16).replace('T', ' ')} UTC).`,
    `Baseline (unmutated): ${baseline.status === 'not caught' ? `clean over ${baseline.seedsRun} seeds` : `${baseline.status}${baseline.property ? ` by ${baseline.property} at seed ${baseline.seed}` : ''}`}.`,
    `Score: ${caught} of ${ran} mutants that ran were caught (${mutants.length - ran} not run: their code runs in no available simulation). * marks issue 10's table.`,
  ].join('\n');
  const table = markdownTable(mutants);
  console.log(`\n${summary}\n\n${table}`);
  const outFile = resolve(ROOT, o.out);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify({ command, startedAt: started.toISOString(), seeds: o.seeds, baseline, mutants }, null, 2)}\n`);
  console.log(`\nJSON: ${outFile}`);
  if (o.doc) updateDoc(table, summary);
  if (baseline.status !== 'not caught') {
    console.error(`mutants: the unmutated code is not clean (${baseline.status}${baseline.detail ? `: ${baseline.detail}` : ''}); the score means nothing`);
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
