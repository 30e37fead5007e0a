/**
 * `faultline check RUN_DIR [--json]`: re-run the checkers on a stored history. Exit codes as `run`:
 * 0 valid, 1 invalid, 2 unknown or a harness error. Rewrites results.json and report.html, prints the
 * summary to stderr and with `--json` the results as one JSON object on stdout.
 *
 * A history is self-describing (design.md "history.jsonl"): whether the run read everything back is
 * judged from its own harness `phase` lines (the drain's `done`), so a stored or foreign history checks
 * valid when it is, with no results.json beside it. Inputs:
 * - history.jsonl (required): malformed lines are reported and their loss keeps the verdict from `false`
 *   where they could explain it (`readHistory`, the checker's `explainableByDiscardedLines`); an
 *   unterminated last line (a crashed run's torn tail) is dropped.
 * - test.json (optional): which workload, idempotence and acks; without it the history is checked as a
 *   queue history of a non-idempotent producer, and a note says so.
 * - results.json (optional, read only for a history with no phase line at all, as written before phase
 *   lines existed): its recorded phases, interrupt and harness error keep the verdict from rising above
 *   unknown, exactly as `run` decided it (`finalVerdict`). A history with no phase line and no
 *   results.json is taken as complete.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readHistory } from '../../checkers/history.ts';
import type { HistoryPhases } from '../../checkers/queue.ts';
import { workloadCheckers } from '../../workloads/index.ts';
import type { WorkloadName } from '../../workloads/index.ts';
import { CliError, UsageError } from '../errors.ts';
import { renderReport } from '../report/html.ts';
import { summarize } from '../report/summary.ts';
import { parseFlags } from '../run/options.ts';
import { helpText, usageLine } from '../../broker/flags.ts';
import type { CommandTable } from '../../broker/flags.ts';
import { exitCodeOf, writeResults } from '../run/run.ts';
import type { RunResults, TestJson } from '../run/run.ts';
import { readJson, runFiles } from '../store/run-dir.ts';

export const checkTable: CommandTable = {
  command: 'faultline check',
  summary: 're-run the checkers on a stored history; rewrites results.json and report.html (exit 0 valid, 1 invalid, 2 unknown or usage error)',
  positionals: [{ name: 'RUN_DIR', help: 'a run directory (history.jsonl; test.json and results.json when present)', required: true }],
  flags: { json: { kind: { type: 'boolean' }, help: 'print the results as one JSON object on stdout' } },
};

export const checkUsage = helpText(checkTable);

export interface Rechecked {
  results: RunResults;
  exitCode: 0 | 1 | 2;
  /** what the user should know about how the history was read */
  notes: string[];
}

function readJsonFile(path: string): unknown {
  try {
    return readJson(path);
  } catch (err) {
    throw new CliError('FAULTLINE_BAD_RUN', `${path} is not JSON: ${(err as Error).message}`);
  }
}

/** The run's phases as results.json records them, from the history's own phase lines. */
function phasesFrom(h: HistoryPhases): RunResults['phases'] {
  return { load: h.load, recover: h.recover, drain: h.drain };
}

/** Re-check a run directory and rewrite its results.json and report.html. */
export function recheck(runDir: string): Rechecked {
  const historyPath = join(runDir, runFiles.history);
  if (!existsSync(historyPath)) throw new CliError('FAULTLINE_NOT_A_RUN', `${runDir} is not a run directory: ${runFiles.history} is missing`);
  const notes: string[] = [];
  const testPath = join(runDir, runFiles.test);
  let test: TestJson;
  if (existsSync(testPath)) {
    const t = readJsonFile(testPath);
    if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new CliError('FAULTLINE_BAD_RUN', `${testPath} is not a JSON object`);
    test = t as TestJson;
  } else {
    test = { name: basename(resolve(runDir)), workload: 'queue' } as TestJson;
    notes.push(`no ${runFiles.test}: checked as a queue history of a non-idempotent producer`);
  }
  const workload = test.workload ?? 'queue';
  if (!Object.hasOwn(workloadCheckers, workload)) {
    throw new CliError('FAULTLINE_BAD_RUN', `test.json names workload '${String(workload)}'; known: ${Object.keys(workloadCheckers).join(', ')}`);
  }
  const parsed = readHistory(readFileSync(historyPath, 'utf8'));
  if (parsed.malformed.length > 0) notes.push(`${parsed.malformed.length} malformed line(s) left out, the first: line ${parsed.malformed[0]!.line}: ${parsed.malformed[0]!.why}`);
  if (parsed.tornLastLine) notes.push('an unterminated last line (torn tail) was dropped');
  const checked = workloadCheckers[workload as WorkloadName](parsed.ops, test, { malformedLines: parsed.malformed });

  let phases: RunResults['phases'];
  let interrupted = false;
  let error: string | undefined;
  const resultsPath = join(runDir, runFiles.results);
  if (checked.historyPhases.recorded) {
    phases = phasesFrom(checked.historyPhases);
  } else if (existsSync(resultsPath)) {
    // A history written before phase lines existed: the run's own record of its phases.
    const previous = readJsonFile(resultsPath) as Partial<RunResults> | null;
    phases = previous?.phases ?? { load: 'unknown', recover: 'unknown', drain: 'unknown' };
    interrupted = previous?.interrupted === true;
    error = typeof previous?.error === 'string' ? previous.error : undefined;
    notes.push(`no phase lines in the history: completeness taken from the earlier ${runFiles.results}`);
  } else {
    // Another tool's history: taken as complete (design.md "history.jsonl").
    phases = { load: 'not recorded', recover: 'not recorded', drain: 'done' };
    notes.push('no phase lines in the history: taken as complete');
  }
  const results = writeResults({ runDir, checked, test, phases, interrupted, error, history: parsed.ops, renderReport });
  return { results, exitCode: exitCodeOf(results.valid), notes };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseFlags(argv, checkTable);
  if (help) {
    process.stdout.write(checkUsage + '\n');
    return 0;
  }
  const runDir = positionals[0];
  if (runDir === undefined) throw new UsageError(`missing RUN_DIR (usage: ${usageLine(checkTable)})`);
  const r = recheck(runDir);
  for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
  process.stderr.write(summarize(r.results) + '\n');
  if (values.json === true) process.stdout.write(JSON.stringify(r.results) + '\n');
  return r.exitCode;
}
