/**
 * `npm run sim -- [--seeds N] [--seed S] [--first S] [--no-faults] [--no-torn-writes] [--no-groups] [--load-ms MS] [--set key=value ...] [--bug NAME] [--kinds K,K] [--log-lines N] [--verbose] [--json] [--help]`
 *
 * Runs whole-node simulation seeds (run.ts): `--seed S` one seed (replay), `--seeds N` N seeds from
 * `--first` (default 1). Prints one line per failing seed with its replay command, then the totals:
 * seeds clean, seeds per wall second, simulated seconds per wall second. Exit code 1 when a seed
 * failed. `--help` prints every flag (HELP below).
 */
import { parseArgs } from 'node:util';
import { buildConfig } from '../broker/config.ts';
import { FAULT_KINDS, type FaultKind } from './faults.ts';
import { SIM_BROKER_SETTINGS } from './world.ts';
import { describeStep, replayCommand, runSeed, type SimOptions } from './run.ts';

const USAGE = 'usage: npm run sim -- [--seeds N | --seed S] [--first S] [--no-faults] [--no-torn-writes] [--no-groups] [--load-ms MS] [--set key=value ...] [--bug NAME] [--kinds K,K] [--log-lines N] [--verbose] [--json] [--help]';

const HELP = `${USAGE}

  --seed S          run one seed (a replay): prints its verdict, schedule and violations
  --seeds N         run N seeds, from --first (default 1); default 10
  --first S         the first seed of --seeds
  --no-faults       no fault schedule (load only)
  --no-torn-writes  a power loss keeps or loses an unsynced write whole, never tears it
  --no-groups       no consumer group members (on by default: three member slots of one group
                    consume the strong topic and commit offsets, group-client.ts, and leader-churn
                    also aims at the offsets partition); the run seeds drew before groups existed
  --groups          groups on (the default; kept for old replay commands)
  --load-ms MS      virtual ms of load (faults run inside it); default 20000
  --set key=value   a broker setting over the simulation's (sim/world.ts SIM_BROKER_SETTINGS); repeatable
  --bug NAME        plant one defect of broker/bugs.ts for the run
  --kinds K,K       fault kinds to draw from (default: every kind but recreate); one of
                    ${FAULT_KINDS.join(', ')}
  --log-lines N     keep each node's last N log lines and print them for --seed, or for failing seeds
  --verbose         --log-lines 200, and print every failing seed in full
  --json            one JSON line per seed
  --help            this text
`;

function usage(msg: string): never {
  process.stderr.write(`sim: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function int(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) usage(`${flag} expects a non-negative integer, got '${v}'`);
  return n;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        seeds: { type: 'string' },
        seed: { type: 'string' },
        first: { type: 'string' },
        'no-faults': { type: 'boolean' },
        'no-torn-writes': { type: 'boolean' },
        groups: { type: 'boolean' },
        'no-groups': { type: 'boolean' },
        'load-ms': { type: 'string' },
        set: { type: 'string', multiple: true },
        verbose: { type: 'boolean' },
        json: { type: 'boolean' },
        bug: { type: 'string' },
        kinds: { type: 'string' },
        'log-lines': { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const settings: Record<string, string> = {};
  for (const s of values.set ?? []) {
    const i = s.indexOf('=');
    if (i <= 0) usage(`--set expects key=value, got '${s}'`);
    settings[s.slice(0, i)] = s.slice(i + 1);
  }
  try {
    buildConfig({ ...SIM_BROKER_SETTINGS, ...settings }); // a bad --set is a usage error, named before any seed runs
  } catch (err) {
    usage(`--set: ${(err as Error).message}`);
  }
  const logLines = int('--log-lines', values['log-lines'], values.verbose ? 200 : 0);
  const options: Partial<SimOptions> = { settings, logLines };
  if (values['no-faults']) options.faults = false;
  if (values['no-torn-writes']) options.tornWrites = false;
  if (values.groups && values['no-groups']) usage('--groups and --no-groups contradict each other');
  if (values['no-groups']) options.groups = false;
  if (values.bug !== undefined) options.bug = values.bug;
  if (values.kinds !== undefined) {
    const kinds = values.kinds.split(',').filter((k) => k.length > 0);
    const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
    if (kinds.length === 0 || unknown.length > 0) usage(`--kinds: unknown fault kind ${unknown.join(', ') || '(none given)'}; allowed: ${FAULT_KINDS.join(', ')}`);
    options.kinds = kinds as FaultKind[];
  }
  if (values['load-ms'] !== undefined) options.loadMs = int('--load-ms', values['load-ms'], 20_000);
  const seeds = values.seed !== undefined ? [int('--seed', values.seed, 1)] : Array.from({ length: int('--seeds', values.seeds, 10) }, (_, i) => int('--first', values.first, 1) + i);
  const started = Date.now();
  let simMs = 0;
  let failed = 0;
  for (const seed of seeds) {
    const r = await runSeed(seed, options);
    simMs += r.simMs;
    if (values.json) process.stdout.write(`${JSON.stringify({ seed, valid: r.valid, violations: r.violations, traceHash: r.traceHash, simMs: r.simMs, wallMs: r.wallMs, events: r.events, counts: r.counts, stats: r.stats })}\n`);
    if (!r.valid) {
      failed++;
      process.stdout.write(`FAIL seed ${seed}: ${r.violations[0]!.property}: ${r.violations[0]!.detail.split('\n')[0]}  replay: ${replayCommand(seed, options)}\n`);
    }
    if (values.seed !== undefined || ((values.verbose || logLines > 0) && !r.valid)) {
      process.stdout.write(`seed ${seed}: ${r.valid ? 'clean' : 'FAILED'}, trace ${r.traceHash}, ${(r.simMs / 1000).toFixed(1)} sim-s in ${(r.wallMs / 1000).toFixed(1)} s (${r.events} events), sends ${r.stats.sends}, acked ${r.stats.acked}, reads ${r.stats.reads}\n`);
      process.stdout.write(`faults: ${r.schedule.map(describeStep).join('; ') || 'none'}\n`);
      for (const v of r.violations) process.stdout.write(`  ${v.property}: ${v.detail}\n`);
      if (logLines > 0) r.nodeLogs.forEach((lines, i) => process.stdout.write(`--- n${i + 1} (last ${lines.length} lines)\n${lines.join('\n')}\n`));
    }
  }
  const wallS = (Date.now() - started) / 1000;
  process.stdout.write(`${seeds.length - failed}/${seeds.length} seeds clean; ${(seeds.length / wallS).toFixed(2)} seeds/s; ${(simMs / 1000 / wallS).toFixed(1)} simulated s per wall s (${(simMs / 1000).toFixed(0)} sim-s in ${wallS.toFixed(1)} s)\n`);
  return failed > 0 ? 1 : 0;
}

main().then((code) => process.exit(code));
