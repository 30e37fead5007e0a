/**
 * `faultline run` (design.md "CLI"): one test. Flags are validated once (harness/run/options.ts); the
 * seed is printed first; progress goes to stderr; with `--json` exactly one JSON object (results.json's
 * contents) goes to stdout. Exit code: 0 valid, 1 invalid, 2 unknown or harness error.
 */
import { summarize } from '../report/summary.ts';
import { parseFlags, runFlagSpec, runUsage, validateRunFlags } from '../run/options.ts';
import { startNemesis } from '../../nemesis/index.ts';
import { runTest } from '../run/run.ts';
import { onInterrupt } from '../run/signals.ts';
import { realDeps } from '../run/wiring.ts';

export function stderrLog(msg: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${msg}\n`);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, runFlagSpec);
  if (values.help === true) {
    process.stdout.write(runUsage + '\n');
    return 0;
  }
  const o = validateRunFlags(values);
  const interrupt = onInterrupt(stderrLog);
  try {
    const outcome = await runTest(o, realDeps(o, interrupt.signal, stderrLog, startNemesis));
    process.stderr.write(summarize(outcome.results) + '\n');
    if (o.json) process.stdout.write(JSON.stringify(outcome.results) + '\n');
    return outcome.exitCode;
  } finally {
    interrupt.dispose();
  }
}
