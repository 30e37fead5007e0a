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
import { parseFlags, parseNemesisCell, randomSeed, runFlags, storedRunOptions, validateRunFlags } from '../run/options.ts';
import { boolOf, helpText, msOf, numberOf, stringOf } from '../../broker/flags.ts';
import type { CommandTable, Flag } from '../../broker/flags.ts';
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
import { fmtMs } from '../format.ts';
import { monotonicMs } from '../util/time.ts';

const { bug: _bug, replay: _replay, ...runFlagsButBug } = runFlags;

/** Hunt defaults where they differ from `faultline run`'s: shorter runs, faults every 3 s. */
export const huntDefaults = { budgetS: 300, timeLimitS: 12, nemesisIntervalS: 3 } as const;

/** The hunt table: the run flags (no --bug, no --replay) with hunt's own defaults, and the hunt's flags. */
export const huntFlags = {
  bugs: { kind: { type: 'list', values: ['all', ...bugNames], itemName: 'planted bugs' }, default: 'all', help: 'planted bugs to hunt (all: the whole catalogue, docs/bugs.md)' },
  budget: { kind: { type: 'number', min: 1, max: 86400, unit: 's' }, default: huntDefaults.budgetS, help: 'seconds of runs per bug; a bug stops at its first invalid run' },
  'clean-budget': { kind: { type: 'number', min: 0, max: 86400, unit: 's' }, default: null, defaultText: '--budget', help: 'seconds of runs of the clean broker; 0 skips it' },
  ...runFlagsButBug,
  nemesis: { ...runFlags.nemesis, default: null, defaultText: "each bug's own plan", help: "fault-mix cells for every target instead of each bug's own (comma list of cells, + joins faults)" },
  'time-limit': { ...runFlags['time-limit'], default: huntDefaults.timeLimitS },
  'nemesis-interval': { ...runFlags['nemesis-interval'], default: huntDefaults.nemesisIntervalS },
  junit: { kind: { type: 'string', allowed: 'a file' }, metavar: 'FILE', default: null, help: 'write JUnit XML, one testcase per bug and one for the clean broker' },
} as const satisfies Record<string, Flag>;

export const huntTable: CommandTable = {
  command: 'faultline hunt',
  summary: 'measure the harness: runs against each planted bug until the first invalid one or the budget, and the clean broker (exit 0 when every bug was caught and the clean broker never invalid)',
  flags: huntFlags,
};

export const huntUsage = helpText(huntTable);

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
  const t = huntTable;
  const { values, help } = parseFlags(argv, t);
  if (help) return 'help';
  const bugs = parseBugList(stringOf(t, values, 'bugs') ?? undefined);
  const budgetMs = msOf(t, values, 'budget');
  const cleanBudgetMs = msOf(t, values, 'clean-budget', budgetMs);
  const nemesisRaw = stringOf(t, values, 'nemesis');
  const cellsOverride: NemesisFault[][] | null =
    nemesisRaw !== null ? [...new Set(nemesisRaw.split(',').map((c) => c.trim()).filter((c) => c !== ''))].map((c) => parseNemesisCell(c, boolOf(values, 'nemesis-sequence'))) : null;
  if (cellsOverride !== null && cellsOverride.length === 0) throw new UsageError('--nemesis is empty; allowed: a comma list of none or faults joined by +');
  const { bugs: _b, budget: _u, 'clean-budget': _c, junit: _j, ...runValues } = values;
  // hunt's defaults of the run's seconds flags are handed on as flags, in seconds, for validateRunFlags to read
  const base: RunOptions = validateRunFlags(
    {
      ...runValues,
      'time-limit': String(numberOf(t, values, 'time-limit')),
      'nemesis-interval': String(numberOf(t, values, 'nemesis-interval')),
      nemesis: 'none',
    },
    seed,
  );
  return { base, bugs, budgetMs, cleanBudgetMs, cellsOverride, junit: stringOf(t, values, 'junit') };
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
  stderrLog(`faultline hunt: seed ${plan.base.seed}, ${plan.bugs.length} bugs x ${fmtMs(plan.budgetMs)}, clean broker ${fmtMs(plan.cleanBudgetMs)}`);
  const interrupt = onInterrupt(stderrLog);
  const runs: HuntRunRow[] = [];
  const runner: HuntRunner = async (o) => {
    const r = (await runTest(o, { ...realDeps(o, interrupt.signal, stderrLog, startNemesis), events: output.events })).results;
    runs.push({ bug: o.bug, nemesis: nemesisLabel(o.nemesis, o.nemesisSequence), seed: o.seed, valid: r.valid, runDir: r.runDir });
    return r;
  };
  const started = new Date();
  let summary;
  try {
    summary = await runHunt(plan, { runner, nowMs: monotonicMs, log: stderrLog, signal: interrupt.signal, events: output.events }, started);
  } finally {
    interrupt.dispose();
    await output.close();
  }
  const exitCode = interrupt.signal.aborted ? 2 : summary.exitCode;
  const out = { ...summary, exitCode, interrupted: interrupt.signal.aborted, options: { ...storedRunOptions(plan.base), bugs: plan.bugs, nemesis: plan.cellsOverride }, runs };
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
