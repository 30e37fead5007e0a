/**
 * Runs the simulation suites in THIS checkout (a mutant's scratch copy, when started by
 * mutants/run.ts) and prints one line `RESULT <json>`: a SuiteResult per suite, plus a shrunk
 * fault schedule when the replication suite failed and `--shrink` was given.
 *
 *   node --import tsx mutants/worker.ts --suites replication,raft --seeds 200 [--node-seeds 60] [--shrink] [--mutant ID]
 *
 * The node suite (whole nodes, far slower per seed) has its own budget, `--node-seeds`.
 */
import { DEFAULT_NODE_SEEDS } from './node-suite.ts';
import { parseArgs } from 'node:util';
import { suiteNames } from './catalogue.ts';
import type { SuiteName } from './catalogue.ts';
import { runSuite } from './sims.ts';
import type { SuiteResult } from './sims.ts';
import { shrinkReplicationSeed } from './shrink.ts';
import type { ShrinkResult } from './shrink.ts';

export interface WorkerResult {
  suites: SuiteResult[];
  shrink: ShrinkResult | null;
}

const { values } = parseArgs({
  options: {
    suites: { type: 'string', default: suiteNames.join(',') },
    seeds: { type: 'string', default: '200' },
    'node-seeds': { type: 'string', default: String(DEFAULT_NODE_SEEDS) },
    shrink: { type: 'boolean', default: false },
    mutant: { type: 'string' },
  },
});
const suites = (values.suites ?? '').split(',').filter((s) => s.length > 0);
for (const s of suites) if (!(suiteNames as readonly string[]).includes(s)) throw new Error(`--suites: unknown suite '${s}'; allowed: ${suiteNames.join(', ')}`);
const seeds = Number(values.seeds);
if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds must be a positive integer, got '${values.seeds}'`);

const nodeSeeds = Number(values['node-seeds']);
if (!Number.isInteger(nodeSeeds) || nodeSeeds < 1) throw new Error(`--node-seeds must be a positive integer, got '${values['node-seeds']}'`);

const out: WorkerResult = { suites: [], shrink: null };
for (const s of suites as SuiteName[]) out.suites.push(await runSuite(s, s === 'node' ? nodeSeeds : seeds));
const repl = out.suites.find((s) => s.suite === 'replication');
if (values.shrink && repl?.failure) out.shrink = shrinkReplicationSeed(repl.failure.seed, values.mutant === undefined ? {} : { mutantId: values.mutant });
console.log(`RESULT ${JSON.stringify(out)}`);
