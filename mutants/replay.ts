/**
 * Replays (and shrinks) one replication-sim seed, exactly:
 *
 *   npx tsx mutants/replay.ts --seed N                      # the seed's own fault schedule
 *   npx tsx mutants/replay.ts --seed N --schedule '<json>'  # an explicit schedule (e.g. a shrunk one)
 *   npx tsx mutants/replay.ts --seed N --shrink             # find a shorter schedule that fails the same way
 *   ... --mutant ID                                          # in a scratch copy with that mutant planted
 *
 * Prints the verdict (the property violated, or ok), the schedule that ran, and for --shrink the
 * shrunk schedule with its own replay command. Exit 1 when the run violated a property.
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { catalogue } from './catalogue.ts';
import { makeScratch, removeScratch } from './scratch.ts';
import { runReplicationSeed } from './sims.ts';
import { formatSchedule, shrinkReplicationSeed } from './shrink.ts';
import type { ScheduledFault } from '../test/sim/replication-cluster.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function usage(message: string): never {
  console.error(`mutants/replay.ts: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    schedule: { type: 'string' },
    shrink: { type: 'boolean', default: false },
    mutant: { type: 'string' },
    'max-runs': { type: 'string', default: '200' },
  },
});
const seed = Number(values.seed);
if (values.seed === undefined || !Number.isInteger(seed) || seed < 0) usage(`--seed must be a non-negative integer, got '${values.seed ?? ''}'`);
const maxRuns = Number(values['max-runs']);
if (!Number.isInteger(maxRuns) || maxRuns < 1) usage(`--max-runs must be a positive integer, got '${values['max-runs']}'`);

if (values.mutant !== undefined) {
  const m = catalogue.find((x) => x.id === values.mutant);
  if (m === undefined) usage(`--mutant: unknown mutant '${values.mutant}'; see mutants/catalogue.ts for the ids`);
  const dir = makeScratch(ROOT, m);
  try {
    const args: string[] = [];
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === '--mutant') i++;
      else if (!argv[i]!.startsWith('--mutant=')) args.push(argv[i]!);
    }
    // The child prints replay commands that plant the same mutant.
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'mutants/replay.ts', ...args], { cwd: dir, stdio: 'inherit', env: { ...process.env, FAULTLINE_REPLAY_MUTANT: m.id } });
    process.exitCode = r.status ?? 1;
  } finally {
    removeScratch(dir);
  }
} else {
  let schedule: ScheduledFault[] | undefined;
  if (values.schedule !== undefined) {
    try {
      schedule = JSON.parse(values.schedule) as ScheduledFault[];
    } catch (err) {
      usage(`--schedule is not JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(schedule)) usage('--schedule must be a JSON array of {step, fault}');
  }
  if (values.shrink) {
    const mutantId = process.env.FAULTLINE_REPLAY_MUTANT;
    const s = shrinkReplicationSeed(seed, mutantId === undefined ? { maxRuns } : { maxRuns, mutantId });
    if (s === null) {
      console.log(`seed ${seed}: ok (nothing to shrink)`);
    } else {
      console.log(`seed ${seed}: ${s.property}; schedule shrunk from ${s.original.length} to ${s.shrunk.length} faults in ${s.runs} runs${s.minimal ? ' (1-minimal)' : ' (run budget spent)'}:`);
      console.log(formatSchedule(s.shrunk));
      console.log(`replay: ${s.replay}`);
      process.exitCode = 1;
    }
  } else {
    const o = runReplicationSeed(seed, schedule);
    console.log(`seed ${seed}: ${o.violation === null ? 'ok' : `${o.violation.property}: ${o.violation.detail}`}`);
    console.log(formatSchedule(o.schedule ?? []));
    if (o.violation !== null) process.exitCode = 1;
  }
}
