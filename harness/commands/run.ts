/**
 * `faultline run` (design.md "CLI"): one test. Flags are validated once (harness/run/options.ts); the
 * seed is printed first; progress goes to stderr; with `--json` exactly one JSON object (results.json's
 * contents) goes to stdout. Exit code: 0 valid, 1 invalid, 2 unknown or harness error.
 */
import { summarize } from '../report/summary.ts';
import { parseFlags, runTable, runUsage, storedAsFlags, validateRunFlags } from '../run/options.ts';
import { startNemesis } from '../../nemesis/index.ts';
import { readReplaySchedule, runTest } from '../run/run.ts';
import type { RawFlags, RunOptions } from '../run/options.ts';
import { runFiles } from '../store/run-dir.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onInterrupt } from '../run/signals.ts';
import { realDeps } from '../run/wiring.ts';
import { preflightBackend } from '../backends/registry.ts';
import { startOutput } from '../ui/index.ts';

/**
 * `--replay RUN_DIR`: the stored run's options and seed (its test.json), except the flags given on this
 * command line, which override; the recorded schedule itself is read again when the run starts. A
 * directory without a usable schedule is refused here, before anything starts.
 */
export function replayOptions(o: RunOptions, given: RawFlags): RunOptions {
  if (o.replay === null) return o;
  readReplaySchedule(o.replay);
  const stored = JSON.parse(readFileSync(join(o.replay, runFiles.test), 'utf8')) as Record<string, unknown>;
  // The stored options as flags (seconds stay seconds: test.json keeps the flags' units), under the
  // ones given here; then validated together as any run's flags are, so a mix that contradicts itself
  // (--nodes 1 over a stored replication factor 3) is refused.
  const merged: RawFlags = { ...storedAsFlags(stored), ...given };
  // (a stored boolean that is true, such as --idempotence, cannot be switched off from here)
  return validateRunFlags(merged);
}

export function stderrLog(msg: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${msg}\n`);
}

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parseFlags(argv, runTable);
  if (help) {
    process.stdout.write(runUsage + '\n');
    return 0;
  }
  const o = replayOptions(validateRunFlags(values), values);
  await preflightBackend(o.backend);
  // the live view on a terminal, plain lines otherwise (harness/ui/index.ts); closed on every path
  const out = startOutput({ json: o.json });
  const interrupt = onInterrupt(out.log);
  try {
    const outcome = await runTest(o, { ...realDeps(o, interrupt.signal, out.log, startNemesis), events: out.events });
    await out.close();
    process.stderr.write(summarize(outcome.results) + '\n');
    if (o.json) process.stdout.write(JSON.stringify(outcome.results) + '\n');
    return outcome.exitCode;
  } finally {
    interrupt.dispose();
    await out.close();
  }
}
