/**
 * `faultline check RUN_DIR [--json]`: re-run the checker on a stored run. Reads test.json (which
 * workload, idempotence, acks) and history.jsonl (a torn last line from a crashed run is dropped),
 * rewrites results.json and report.html, prints the summary to stderr and with `--json` the results
 * as one JSON object on stdout. Exit codes as `run`: 0 valid, 1 invalid, 2 unknown or harness error.
 * A stored run's recorded harness error or interrupt keeps its verdict from rising above unknown,
 * exactly as `run` decided it (`finalVerdict`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHistory } from '../../checkers/history.ts';
import { workloadCheckers } from '../../workloads/index.ts';
import type { WorkloadName } from '../../workloads/index.ts';
import { CliError, UsageError } from '../errors.ts';
import { renderReport } from '../report/html.ts';
import { summarize } from '../report/summary.ts';
import { parseFlags } from '../run/options.ts';
import { exitCodeOf, writeResults } from '../run/run.ts';
import type { RunResults, TestJson } from '../run/run.ts';
import { readJson, runFiles } from '../store/run-dir.ts';

const checkFlagSpec = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

export const checkUsage = 'usage: faultline check RUN_DIR [--json]   re-run the checkers on a stored history';

export interface Rechecked {
  results: RunResults;
  exitCode: 0 | 1 | 2;
}

/** Re-check a run directory and rewrite its results.json and report.html. */
export function recheck(runDir: string): Rechecked {
  for (const f of [runFiles.test, runFiles.history]) {
    if (!existsSync(join(runDir, f))) throw new CliError('FAULTLINE_NOT_A_RUN', `${runDir} is not a run directory: ${f} is missing`);
  }
  const test = readJson(join(runDir, runFiles.test)) as TestJson;
  const workload = test.workload ?? 'queue';
  if (!Object.hasOwn(workloadCheckers, workload)) {
    throw new CliError('FAULTLINE_BAD_RUN', `test.json names workload '${String(workload)}'; known: ${Object.keys(workloadCheckers).join(', ')}`);
  }
  const history = parseHistory(readFileSync(join(runDir, runFiles.history), 'utf8'));
  const checked = workloadCheckers[workload as WorkloadName](history, test);
  const previous = existsSync(join(runDir, runFiles.results)) ? (readJson(join(runDir, runFiles.results)) as Partial<RunResults>) : {};
  const phases = previous.phases ?? { load: 'unknown', recover: 'unknown', drain: 'unknown' };
  const error = typeof previous.error === 'string' ? previous.error : undefined;
  const results = writeResults({ runDir, checked, test, phases, interrupted: previous.interrupted === true, error, history, renderReport });
  return { results, exitCode: exitCodeOf(results.valid) };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, checkFlagSpec, 1);
  if (values.help === true) {
    process.stdout.write(checkUsage + '\n');
    return 0;
  }
  const runDir = positionals[0];
  if (runDir === undefined) throw new UsageError(`missing RUN_DIR; ${checkUsage}`);
  const r = recheck(runDir);
  process.stderr.write(summarize(r.results) + '\n');
  if (values.json === true) process.stdout.write(JSON.stringify(r.results) + '\n');
  return r.exitCode;
}
