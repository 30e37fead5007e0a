/**
 * The whole-node simulation as a mutation suite: N real broker nodes in one seeded, in-process
 * world (sim/, the `wholesim` work of issue 10). `nodeSuite()` looks for its entry point, a
 * `runSeed(seed)` exported by sim/run.ts (or sim/world.ts), and adapts its verdict, a list of
 * `{ property, detail }` violations (`violations`, at the top or under `verdict`), to this runner's
 * property names. Until the checkout has it, `nodeSuite()` answers null and the runner reports the
 * suite as unavailable: a mutant whose code runs only there stays "not run", never "caught".
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { propertyNames, type PropertyName } from './properties.ts';
import type { SeedOutcome } from './sims.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY_POINTS = ['sim/run.ts', 'sim/world.ts'];

/** The whole-node sim's property names (sim/properties.ts) in this runner's vocabulary. */
export function nodeProperty(name: string): PropertyName {
  const n = name.toLowerCase();
  if ((propertyNames as readonly string[]).includes(n)) return n as PropertyName;
  if (n.includes('state-machine')) return 'raft-state-machine-safety';
  if (n.startsWith('raft-')) return 'raft-invariant';
  if (n.includes('incarnation')) return 'inconsistent-read'; // a value of a deleted incarnation read or held by the new one
  if (n.includes('acked') || n.includes('lost')) return 'lost-ack';
  if (n.includes('agree') || n.includes('diverg')) return 'divergence';
  if (n.includes('hw') && (n.includes('read') || n.includes('below') || n.includes('above'))) return 'read-below-hw';
  if (n.includes('hw') || n.includes('watermark')) return 'hw-monotonic';
  if (n.includes('duplicate')) return 'duplicate';
  if (n.includes('group') || n.includes('committed-offset')) return 'group-offsets-monotonic';
  if (n.includes('election')) return 'raft-election-safety';
  if (n.includes('matching')) return 'raft-log-matching';
  if (n.includes('completeness')) return 'raft-leader-completeness';
  if (n.includes('read') || n.includes('queue')) return 'inconsistent-read';
  if (n.includes('converge')) return 'no-convergence';
  return 'crash';
}

type NodeRun = (seed: number, options: { loadMs: number }) => unknown;

/**
 * Virtual ms of load per node-suite seed: 8 s (a seed is then about 20 simulated s) rather than the
 * soak's 20 s, so that a CI-sized budget of wall time buys more seeds, hence more fault schedules.
 */
export const NODE_SUITE_LOAD_MS = 8_000;

/**
 * Node-suite seeds per mutant unless `--node-seeds` says otherwise: 60. A seed of 8 s load runs in
 * about half a wall second since the simulation's speed-ups (it was 20 when a seed took several), and
 * 20 seeds missed `maximal-isr-ignores-pending`, first caught at node seed 46.
 */
export const DEFAULT_NODE_SEEDS = 60;

function firstViolation(verdict: unknown): { property: string; detail: string } | null {
  const v = verdict as { violations?: unknown; verdict?: { violations?: unknown } } | null;
  const list = (Array.isArray(v?.violations) ? v.violations : Array.isArray(v?.verdict?.violations) ? v.verdict.violations : []) as Array<{ property?: unknown; detail?: unknown }>;
  const first = list[0];
  return first === undefined ? null : { property: String(first.property ?? 'unknown'), detail: String(first.detail ?? '') };
}

function simulatedMsOf(verdict: unknown): number {
  const v = verdict as Record<string, unknown> | null;
  for (const k of ['simulatedMs', 'simMs', 'virtualMs', 'endMs', 'nowMs']) if (typeof v?.[k] === 'number') return v[k] as number;
  return 0;
}

export async function nodeSuite(): Promise<((seed: number) => Promise<SeedOutcome>) | null> {
  for (const rel of ENTRY_POINTS) {
    const file = join(ROOT, rel);
    if (!existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as { runSeed?: unknown };
    if (typeof mod.runSeed !== 'function') continue;
    const run = mod.runSeed as NodeRun;
    return async (seed) => {
      try {
        const verdict = await run(seed, { loadMs: NODE_SUITE_LOAD_MS });
        const v = firstViolation(verdict);
        return { violation: v === null ? null : { property: nodeProperty(v.property), detail: `${v.property}: ${v.detail}` }, simulatedMs: simulatedMsOf(verdict) };
      } catch (err) {
        return { violation: { property: 'crash', detail: (err as Error).message }, simulatedMs: 0 };
      }
    };
  }
  return null;
}
