/**
 * `faultline campaign` (design.md "CLI"): the run flags, where --acks and --nemesis take comma lists
 * (a nemesis cell combining faults joins them with `+`, e.g. `--nemesis kill,partition,kill+pause`),
 * plus --repeat N, --gate, --junit FILE and --json. Each run writes its own run directory under --out;
 * the comparison table goes to stderr, `campaign.json` to `<out>/campaigns/<ISO timestamp>/`, and with
 * --json the campaign summary is the one JSON object on stdout. Exit codes: harness/run/campaign.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.ts';
import { preflightBackend } from '../backends/registry.ts';
import { acksValues, nemesisNames, parseFlags, parseNemesisCell, randomSeed, runFlags, storedRunOptions, validateRunFlags } from '../run/options.ts';
import { monotonicMs } from '../util/time.ts';
import { boolOf, helpText, intOf, listOf, stringOf } from '../../broker/flags.ts';
import type { CommandTable, Flag } from '../../broker/flags.ts';
import type { Acks, RunOptions } from '../run/options.ts';
import { campaignExitCode, cells, formatTable, junitXml, nemesisLabel, planCampaign, rowOf } from '../run/campaign.ts';
import type { RunRow } from '../run/campaign.ts';
import { startNemesis } from '../../nemesis/index.ts';
import { runTest } from '../run/run.ts';
import { onInterrupt } from '../run/signals.ts';
import { realDeps } from '../run/wiring.ts';
import { isoStamp, runFiles, writeFileAtomic, writeJson } from '../store/run-dir.ts';
import { renderCampaignReport } from '../report/campaign.ts';
import { startOutput } from '../ui/index.ts';
import { verdictText } from '../ui/format.ts';

const { replay: _replay, ...runFlagsButReplay } = runFlags;

/** The campaign table: the run flags (no --replay), with --acks and --nemesis taking lists of cells. */
export const campaignFlags = {
  ...runFlagsButReplay,
  acks: { kind: { type: 'list', values: acksValues }, default: 'all', help: 'producer acks, one cell each' },
  nemesis: {
    kind: { type: 'list', values: nemesisNames, separators: ',+', itemName: 'faults' },
    default: 'kill',
    help: 'cells, comma separated; a cell is none or faults joined by +, which run on independent seeded schedules',
  },
  repeat: { kind: { type: 'int', min: 1, max: 100 }, default: 1, help: 'runs per cell' },
  gate: { kind: { type: 'boolean' }, help: 'exit by expectations: acks=all with min.insync>=2, RF>=3, no unclean election must be valid; under weaker settings loss is reported, and only anomalies weak acks do not excuse fail (docs/gate.md)' },
  junit: { kind: { type: 'string', allowed: 'a file' }, metavar: 'FILE', default: null, help: 'write JUnit XML, one testcase per run' },
} as const satisfies Record<string, Flag>;

export const campaignTable: CommandTable = {
  command: 'faultline campaign',
  summary: 'a matrix of runs (acks x nemesis cells x repeats), each with its own run directory, then a comparison table',
  flags: campaignFlags,
  notes: ['Run i of the campaign uses seed (seed + i) mod 2^32.'],
};

export const campaignUsage = helpText(campaignTable);

export interface CampaignPlan {
  base: RunOptions;
  acks: Acks[];
  nemeses: RunOptions['nemesis'][];
  repeat: number;
  gate: boolean;
  junit: string | null;
}

export function parseCampaignFlags(argv: string[], seed: () => number = randomSeed): CampaignPlan | 'help' {
  const t = campaignTable;
  const { values, help } = parseFlags(argv, t);
  if (help) return 'help';
  const acks = listOf(t, values, 'acks') as Acks[];
  const cellsRaw = [...new Set((stringOf(t, values, 'nemesis') ?? 'kill').split(',').map((c) => c.trim()).filter((c) => c !== ''))];
  if (cellsRaw.length === 0) throw new UsageError('--nemesis is empty; allowed: a comma list of none or faults joined by +');
  const nemeses = cellsRaw.map((c) => parseNemesisCell(c, boolOf(values, 'nemesis-sequence')));
  const repeat = intOf(t, values, 'repeat');
  const { repeat: _r, gate: _g, junit: _j, ...runValues } = values;
  let base: RunOptions | null = null;
  const s = seed();
  for (const a of acks) {
    // validates every acks value against the other flags (e.g. --idempotence needs acks all)
    const o = validateRunFlags({ ...runValues, acks: a, nemesis: 'none' }, () => s);
    base ??= o;
  }
  if (base === null) throw new UsageError('--acks is empty');
  return { base, acks, nemeses, repeat, gate: boolOf(values, 'gate'), junit: stringOf(t, values, 'junit') };
}

export async function run(argv: string[]): Promise<number> {
  const plan = parseCampaignFlags(argv);
  if (plan === 'help') {
    process.stdout.write(campaignUsage + '\n');
    return 0;
  }
  await preflightBackend(plan.base.backend);
  const entries = planCampaign(plan.acks, plan.nemeses, plan.repeat, plan.base.seed);
  // the live view on a terminal, plain lines otherwise (harness/ui/index.ts); closed on every path
  const out = startOutput({ json: plan.base.json });
  const stderrLog = out.log;
  out.events.emit({ type: 'plan', kind: 'campaign', cells: entries.map((e) => `acks=${e.acks} ${nemesisLabel(e.nemesis, plan.base.nemesisSequence)}${plan.repeat > 1 ? ` #${e.repeat}` : ''}`) });
  stderrLog(`faultline campaign: seed ${plan.base.seed}, ${entries.length} runs (${plan.acks.length} acks x ${plan.nemeses.length} nemesis x ${plan.repeat})`);
  const interrupt = onInterrupt(stderrLog);
  const rows: RunRow[] = [];
  const started = new Date();
  try {
    for (const e of entries) {
      if (interrupt.signal.aborted) break;
      const o: RunOptions = { ...plan.base, acks: e.acks, nemesis: e.nemesis, seed: e.seed, json: false };
      const t0Ms = monotonicMs();
      const cell = rows.length;
      out.events.emit({ type: 'cell-start', cell, run: 1, detail: `seed ${e.seed}` });
      const outcome = await runTest(o, { ...realDeps(o, interrupt.signal, stderrLog, startNemesis), events: out.events });
      const row = rowOf(e, outcome.results, monotonicMs() - t0Ms);
      rows.push(row);
      out.events.emit({ type: 'cell-end', cell, run: 1, valid: row.valid, runDir: row.runDir });
      out.events.emit({
        type: 'cell-done',
        cell,
        verdict: plan.gate ? `${verdictText(row.valid)}, expectation ${row.expectation}` : verdictText(row.valid),
        ok: plan.gate ? (row.expectation === 'met' ? true : row.expectation === 'failed' ? false : null) : row.valid === 'unknown' ? null : row.valid,
      });
      stderrLog(`run ${rows.length}/${entries.length} ${outcome.results.test.name} seed ${e.seed}: valid=${String(outcome.results.valid)} -> ${outcome.runDir}`);
    }
  } finally {
    interrupt.dispose();
    await out.close();
  }
  const table = cells(rows, plan.base.nemesisSequence);
  const exitCode = interrupt.signal.aborted && rows.length < entries.length ? 2 : campaignExitCode(rows, plan.gate);
  const summary = {
    valid: exitCode === 0 ? true : exitCode === 1 ? false : 'unknown',
    exitCode,
    gate: plan.gate,
    seed: plan.base.seed,
    startedAt: started.toISOString(),
    planned: entries.length,
    interrupted: interrupt.signal.aborted,
    options: { ...storedRunOptions(plan.base), acks: plan.acks, nemesis: plan.nemeses, repeat: plan.repeat },
    cells: table,
    runs: rows,
  };
  const dir = join(plan.base.out, 'campaigns', isoStamp(started));
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'campaign.json'), summary);
  writeFileAtomic(join(dir, runFiles.report), renderCampaignReport(summary, dir));
  if (plan.junit !== null) {
    mkdirSync(dirname(plan.junit), { recursive: true });
    writeFileSync(plan.junit, junitXml(rows, plan.gate));
  }
  process.stderr.write(`\n${formatTable(table, plan.gate)}\n\ncampaign: ${join(dir, 'campaign.json')}, ${join(dir, runFiles.report)}${plan.junit === null ? '' : `, junit: ${plan.junit}`}; exit ${exitCode}\n`);
  if (plan.base.json) process.stdout.write(JSON.stringify(summary) + '\n');
  return exitCode;
}
