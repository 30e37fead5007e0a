/**
 * `faultline hunt [--bugs NAME,...|all] [--budget S] [--clean-budget S] [the run flags] [--json] [--junit FILE]`
 * (design.md "CLI"): for each planted bug, and for the clean broker, ordinary runs until the first
 * invalid one or the budget (rules: harness/run/hunt.ts). Each run writes its own run directory under
 * --out as `faultline run` does; the table goes to stderr, `hunt.json` to `<out>/hunts/<ISO timestamp>/`,
 * and with --json the summary is the one JSON object on stdout. Exit code 0 when every bug was
 * caught and the clean broker never invalid, 1 otherwise, 2 on a usage or harness error.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bugNames, BugUsageError, parseBugName } from '../../broker/bugs.ts';
import type { BugName } from '../../broker/bugs.ts';
import { UsageError } from '../errors.ts';
import { parseFlags, parseNemesis, randomSeed, runFlagSpec, runUsage, validateRunFlags } from '../run/options.ts';
import type { NemesisFault, RunOptions } from '../run/options.ts';
import { formatHuntTable, huntJunitXml, runHunt } from '../run/hunt.ts';
import type { HuntConfig, HuntRunner } from '../run/hunt.ts';
import { nemesisLabel } from '../run/campaign.ts';
import { startNemesis } from '../../nemesis/index.ts';
import { runTest } from '../run/run.ts';
import { onInterrupt } from '../run/signals.ts';
import { realDeps } from '../run/wiring.ts';
import { isoStamp, runFiles, writeFileAtomic, writeJson } from '../store/run-dir.ts';
import { renderHuntReport } from '../report/campaign.ts';
import type { HuntRunRow } from '../report/campaign.ts';
import { preflightBackend } from '../backends/registry.ts';
import { startOutput } from '../ui/index.ts';

const { bug: _bug, ...runFlagsButBug } = runFlagSpec;

export const huntFlagSpec = {
  ...runFlagsButBug,
  bugs: { type: 'string' },
  budget: { type: 'string' },
  'clean-budget': { type: 'string' },
  junit: { type: 'string' },
} as const;

/** Hunt defaults where they differ from `faultline run`'s: shorter runs, faults every 3 s. */
export const huntDefaults = { budgetS: 300, timeLimitS: 12, nemesisIntervalS: 3 } as const;

export const huntUsage = `usage: faultline hunt [--bugs NAME,...|all] [--budget S] [--clean-budget S] [run flags] [--json] [--junit FILE]
  --bugs LIST                comma list of planted bugs, or all (default all): ${bugNames.join(', ')}
  --budget S                 seconds of runs per bug, 1..86400 (default ${huntDefaults.budgetS}); a bug stops at its first invalid run
  --clean-budget S           seconds of runs of the clean broker, 0..86400 (default: --budget; 0 skips it)
  --nemesis LIST             fault-mix cells for every target instead of each bug's own (comma list, + joins)
  --junit FILE               write JUnit XML, one testcase per bug and one for the clean broker
  (defaults differ from run: --time-limit ${huntDefaults.timeLimitS}, --nemesis-interval ${huntDefaults.nemesisIntervalS})
${runUsage.split('\n').slice(1).filter((l) => !/--nemesis |--bug /.test(l)).join('\n')}`;

function seconds(raw: string | boolean | string[] | undefined, flag: string, def: number, min: number): number {
  if (raw === undefined) return def;
  const s = String(raw).trim();
  const n = Number(s);
  if (s === '' || !Number.isFinite(n) || n < min || n > 86400) throw new UsageError(`--${flag} must be a number of seconds from ${min} to 86400, got '${s}'`);
  return n;
}

export function parseBugList(raw: string | undefined): BugName[] {
  if (raw === undefined || raw.trim() === 'all') return [...bugNames];
  const names = [...new Set(raw.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  if (names.length === 0) throw new UsageError(`--bugs is empty; allowed: all or a comma list of ${bugNames.join(', ')}`);
  try {
    return names.map((n) => parseBugName(n));
  } catch (err) {
    if (err instanceof BugUsageError) throw new UsageError(err.message.replace(/^--bug /, '--bugs: '));
    throw err;
  }
}

export interface HuntCommandPlan extends HuntConfig {
  junit: string | null;
}

export function parseHuntFlags(argv: string[], seed: () => number = randomSeed): HuntCommandPlan | 'help' {
  const { values } = parseFlags(argv, huntFlagSpec);
  if (values.help === true) return 'help';
  if (values.replay !== undefined) throw new UsageError('--replay replays one run: use it with faultline run, not hunt');
  const bugs = parseBugList(typeof values.bugs === 'string' ? values.bugs : undefined);
  const budgetS = seconds(values.budget, 'budget', huntDefaults.budgetS, 1);
  const cleanBudgetS = seconds(values['clean-budget'], 'clean-budget', budgetS, 0);
  const cellsOverride: NemesisFault[][] | null =
    typeof values.nemesis === 'string' ? [...new Set(values.nemesis.split(',').map((c) => c.trim()).filter((c) => c !== ''))].map((c) => parseNemesis(c)) : null;
  if (cellsOverride !== null && cellsOverride.length === 0) throw new UsageError('--nemesis is empty; allowed: a comma list of none or faults joined by +');
  if (values.junit === '') throw new UsageError('--junit must name a file');
  const { bugs: _b, budget: _u, 'clean-budget': _c, junit: _j, ...runValues } = values;
  const base: RunOptions = validateRunFlags(
    {
      ...runValues,
      'time-limit': runValues['time-limit'] ?? String(huntDefaults.timeLimitS),
      'nemesis-interval': runValues['nemesis-interval'] ?? String(huntDefaults.nemesisIntervalS),
      nemesis: 'none',
    },
    seed,
  );
  return { base, bugs, budgetS, cleanBudgetS, cellsOverride, junit: typeof values.junit === 'string' ? values.junit : null };
}

export async function run(argv: string[]): Promise<number> {
  const plan = parseHuntFlags(argv);
  if (plan === 'help') {
    process.stdout.write(huntUsage + '\n');
    return 0;
  }
  await preflightBackend(plan.base.backend);
  // the live view on a terminal, plain lines otherwise (harness/ui/index.ts); closed on every path
  const output = startOutput({ json: plan.base.json });
  const stderrLog = output.log;
  stderrLog(`faultline hunt: seed ${plan.base.seed}, ${plan.bugs.length} bugs x ${plan.budgetS} s, clean broker ${plan.cleanBudgetS} s`);
  const interrupt = onInterrupt(stderrLog);
  const runs: HuntRunRow[] = [];
  const runner: HuntRunner = async (o) => {
    const r = (await runTest(o, { ...realDeps(o, interrupt.signal, stderrLog, startNemesis), events: output.events })).results;
    runs.push({ bug: o.bug, nemesis: nemesisLabel(o.nemesis), seed: o.seed, valid: r.valid, runDir: r.runDir });
    return r;
  };
  const started = new Date();
  let summary;
  try {
    summary = await runHunt(plan, { runner, nowS: () => performance.now() / 1000, log: stderrLog, signal: interrupt.signal, events: output.events }, started);
  } finally {
    interrupt.dispose();
    await output.close();
  }
  const exitCode = interrupt.signal.aborted ? 2 : summary.exitCode;
  const out = { ...summary, exitCode, interrupted: interrupt.signal.aborted, options: { ...plan.base, bugs: plan.bugs, nemesis: plan.cellsOverride }, runs };
  const dir = join(plan.base.out, 'hunts', isoStamp(started));
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'hunt.json'), out);
  writeFileAtomic(join(dir, runFiles.report), renderHuntReport(out, dir));
  if (plan.junit !== null) {
    mkdirSync(dirname(plan.junit), { recursive: true });
    writeFileSync(plan.junit, huntJunitXml(summary));
  }
  process.stderr.write(`\n${formatHuntTable(summary)}\n\nhunt: ${join(dir, 'hunt.json')}, ${join(dir, runFiles.report)}${plan.junit === null ? '' : `, junit: ${plan.junit}`}; exit ${exitCode}\n`);
  if (plan.base.json) process.stdout.write(JSON.stringify(out) + '\n');
  return exitCode;
}
