/**
 * `npm run bench:lin`: checks every reference history of test/fixtures/porcupine with its
 * EXPECTED.tsv model and prints per-file and total times (parsing excluded from the check time,
 * as in Porcupine's Go benchmarks; wall time and process CPU time, the latter steadier on a shared
 * machine) and whether each verdict matched. Verdicts only, like Porcupine's benchmark (its
 * `CheckEvents`): no failure report and no search for the shortest failing window (`faultline lin`
 * does both; `--window` turns both on here). Exit 1 if any verdict differs.
 * Options: `--repeat N` (best of N per file, default 3), `--only SUBSTRING`, `--window` (search it too).
 */
import { readFileSync } from 'node:fs';
import { checkOperations } from '../checkers/linearizability/engine.ts';
import { linModels } from '../checkers/linearizability/models/index.ts';
import { toLinOps, type ModelSpec } from '../checkers/linearizability/models/common.ts';
import { historyFormats } from '../checkers/linearizability/check.ts';
import { pairEvents } from '../checkers/linearizability/parse/ops.ts';

const dir = new URL('../test/fixtures/porcupine/', import.meta.url);
const argv = process.argv.slice(2);
const repeatArg = argv.indexOf('--repeat');
const repeat = repeatArg >= 0 ? Math.max(1, Number(argv[repeatArg + 1]) || 1) : 3;
const onlyArg = argv.indexOf('--only');
const only = onlyArg >= 0 ? (argv[onlyArg + 1] ?? '') : '';
const findWindow = argv.includes('--window');

const rows = readFileSync(new URL('EXPECTED.tsv', dir), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split('\t') as [string, string, string])
  .filter(([f]) => f.includes(only));

const groups = new Map<string, number[]>();
const cpuGroups = new Map<string, number[]>();
let mismatches = 0;
// Every history is parsed before any is checked, as Porcupine's benchmark does: no parsing (nor the
// optimiser compiling the parser) between the timed checks.
const parsed = rows.map(([file, modelName, expected]) => {
  const text = readFileSync(new URL(file, dir), 'utf8');
  const etcd = modelName === 'etcd_cas_register';
  const spec = (etcd ? linModels['cas-register']({}) : linModels.kv({ partitioned: modelName === 'kv_partitioned' })) as unknown as ModelSpec<
    unknown,
    unknown,
    unknown
  >;
  const events = historyFormats[etcd ? 'jepsen-log' : 'edn'](text);
  return { file, modelName, expected, etcd, spec, ops: toLinOps(spec, pairEvents(events)) };
});
for (const { file, modelName, expected, etcd, spec, ops } of parsed) {
  let best = Infinity;
  let bestCpu = Infinity;
  let verdict: string = '';
  for (let r = 0; r < repeat; r++) {
    // The wall window lies inside the CPU one: the two cpuUsage calls (system calls) are not timed,
    // as Porcupine's harness times only the check.
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = checkOperations(spec.model, ops, { timeLimitMs: 120_000, findWindow, explain: findWindow });
    const t1 = performance.now();
    const cpu = process.cpuUsage(c0);
    best = Math.min(best, t1 - t0);
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1000);
    verdict = res.valid === true ? 'ok' : res.valid === false ? 'illegal' : 'unknown';
  }
  const match = verdict === expected;
  if (!match) mismatches++;
  const group = etcd ? 'etcd (cas-register)' : `kv ${modelName === 'kv_partitioned' ? 'partitioned' : 'unpartitioned'}`;
  const list = groups.get(group) ?? [];
  list.push(best);
  groups.set(group, list);
  const cpuList = cpuGroups.get(group) ?? [];
  cpuList.push(bestCpu);
  cpuGroups.set(group, cpuList);
  process.stdout.write(`${file.padEnd(22)} ${modelName.padEnd(18)} ${verdict.padEnd(8)} ${match ? '' : `MISMATCH (expected ${expected}) `}${best.toFixed(2).padStart(9)} ms wall ${bestCpu.toFixed(1).padStart(8)} ms cpu\n`);
}
process.stdout.write('\n');
let total = 0;
for (const [group, times] of groups) {
  const sorted = [...times].sort((a, b) => a - b);
  const sum = times.reduce((a, b) => a + b, 0);
  total += sum;
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const cpuSum = (cpuGroups.get(group) ?? []).reduce((a, b) => a + b, 0);
  process.stdout.write(`${group.padEnd(24)} ${String(times.length).padStart(4)} histories  total ${sum.toFixed(1).padStart(9)} ms wall (${cpuSum.toFixed(0)} ms cpu)  median ${median.toFixed(2)} ms  max ${(sorted.at(-1) ?? 0).toFixed(1)} ms\n`);
}
process.stdout.write(`all                      ${String(rows.length).padStart(4)} histories  total ${total.toFixed(1).padStart(9)} ms  (best of ${repeat}; Porcupine's figures: docs/linearizability.md)\n`);
process.stdout.write(mismatches === 0 ? 'all verdicts match EXPECTED.tsv\n' : `${mismatches} verdicts differ from EXPECTED.tsv\n`);
process.exitCode = mismatches === 0 ? 0 : 1;
