/**
 * `npm run bench:checker`: how fast the queue + availability checkers (`checkRun`) are on a big history.
 *
 * Builds a history of about 1,000,000 ops from the simulated correct broker of checkers/simulate.ts
 * (several producers, consumers and partitions; sends that fail or time out; polls, rebalances with
 * assign, leader kills with failovers, a final drain), times `checkRun` on it and checks the verdict:
 * valid, every anomaly count 0 (but `reposition`, one per reposition op), every logged value read. Then it plants one lost write (an acknowledged
 * value at a middle offset dropped from every read) and checks that exactly one is found.
 * Prints ops/s (by wall and by CPU time), the time of each phase and memory: peak RSS from the kernel (getrusage maxRSS, which
 * covers the synchronous check itself) and rss/heapUsed sampled every 25 ms between phases.
 * Exits 1 when a verdict is wrong.
 *
 * Options (environment): BENCH_OPS (default 1000000), BENCH_SEED (default 1).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Op } from '../checkers/history.ts';
import { checkRun } from '../checkers/index.ts';
import { ANOMALY_TYPES } from '../checkers/queue.ts';
import { simulateQueue } from '../checkers/simulate.ts';

const targetOps = Number(process.env['BENCH_OPS'] ?? 1_000_000);
const seed = Number(process.env['BENCH_SEED'] ?? 1);

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
let peakRss = 0;
let peakHeap = 0;
const sample = (): void => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};
const sampler = setInterval(sample, 25);

const failures: string[] = [];

/** Runs fn; returns its result, wall ms and CPU ms (user + system, all threads: the machine is shared, so wall time overstates). */
function phase<T>(name: string, fn: () => T): [T, number, number] {
  sample();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  sample();
  console.error(`${name}: ${ms.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU, heapUsed ${mb(process.memoryUsage().heapUsed)}`);
  return [out, ms, cpuMs];
}

const test = { acks: 'all', idempotence: true, seed };
// The final drain adds about 1% to the main phase; aim the total at targetOps.
const [sim] = phase('simulate', () =>
  simulateQueue({ seed, ops: Math.round(targetOps / 1.012), keys: 12, producers: 6, consumers: 4, acks: 'all', faultEverySteps: 50_000, failoverMs: 300 }),
);
const history: Op[] = sim.history;
await sleep(50);

const heapBeforeCheck = process.memoryUsage().heapUsed;
const [clean, cleanMs, cleanCpuMs] = phase('checkRun (clean)', () => checkRun(history, test));
await sleep(50);
let logged = 0;
for (const l of sim.logs.values()) logged += l.length;
if (clean.valid !== true) failures.push(`clean history: valid ${String(clean.valid)}`);
// The simulator repositions consumers on purpose: `reposition` is a finding, one per reposition op.
for (const t of ANOMALY_TYPES) if (t !== 'reposition' && clean.anomalies[t].count !== 0) failures.push(`clean history: ${t} ${clean.anomalies[t].count}`);
const repositionOps = history.filter((op) => op.f === 'reposition').length;
if (clean.anomalies.reposition.count !== repositionOps) failures.push(`clean history: reposition ${clean.anomalies.reposition.count} of ${repositionOps}`);
if (clean.stats.valuesRead !== logged) failures.push(`clean history: read ${clean.stats.valuesRead} of ${logged} values`);

// Plant one lost write: the acknowledged value at the middle offset of t-0, dropped from every read.
const log0 = sim.logs.get('t-0') ?? [];
let planted: number | undefined;
for (let i = Math.floor(log0.length / 2); i < log0.length - 1 && planted === undefined; i++) {
  const v = log0[i]!;
  const acked = history.some((op) => op.f === 'send' && op.type === 'ok' && (op.value as { value: number }).value === v);
  if (acked) planted = v;
}
if (planted === undefined) failures.push('no acknowledged value to plant a lost write at');
else {
  for (const op of history) {
    if (op.f !== 'poll' || op.type !== 'ok') continue;
    const reads = op.value as Record<string, Array<[number, number]>>;
    const pairs = reads['t-0'];
    if (pairs !== undefined) reads['t-0'] = pairs.filter(([, v]) => v !== planted);
  }
  const [lossy] = phase('checkRun (one planted lost write)', () => checkRun(history, test));
  if (lossy.valid !== false || lossy.anomalies['lost-write'].count !== 1) {
    failures.push(`planted lost write: valid ${String(lossy.valid)}, lost-write ${lossy.anomalies['lost-write'].count}`);
  }
  for (const t of ['unseen', 'duplicate', 'inconsistent-offsets', 'aborted-read', 'nonmonotonic-send', 'nonmonotonic-poll'] as const) {
    if (lossy.anomalies[t].count !== 0) failures.push(`planted lost write: spurious ${t} ${lossy.anomalies[t].count}`);
  }
}
clearInterval(sampler);
sample();

const maxRssBytes = process.resourceUsage().maxRSS * 1024;
const a = clean.availability;
const summary = {
  ops: history.length,
  checkMs: Math.round(cleanMs),
  opsPerS: Math.round(history.length / (cleanMs / 1000)),
  checkCpuMs: Math.round(cleanCpuMs),
  opsPerCpuS: Math.round(history.length / (cleanCpuMs / 1000)),
  heapUsedBeforeCheckMB: Math.round(heapBeforeCheck / 2 ** 20),
  peakRssMB: Math.round(maxRssBytes / 2 ** 20),
  sampledPeakRssMB: Math.round(peakRss / 2 ** 20),
  sampledPeakHeapUsedMB: Math.round(peakHeap / 2 ** 20),
  stats: clean.stats,
  faults: a.faultWindows.length,
  maxUnavailableMs: Math.round(a.maxUnavailableMs),
  availability: a.overall.ratio,
  latencyMs: { sendP99: clean.latencyMs.send.p99, pollP99: clean.latencyMs.poll.p99 },
  verdicts: failures.length === 0 ? 'as expected' : failures,
};
console.error(
  `${history.length} ops checked in ${cleanMs.toFixed(0)} ms = ${summary.opsPerS} ops/s ` +
    `(${cleanCpuMs.toFixed(0)} ms CPU = ${summary.opsPerCpuS} ops/CPU-s); heapUsed with the history built ${mb(heapBeforeCheck)}, ` +
    `peak RSS ${mb(maxRssBytes)} (sampled ${mb(peakRss)}), sampled peak heapUsed ${mb(peakHeap)}`,
);
console.log(JSON.stringify(summary));
if (failures.length > 0) {
  console.error(`FAILED: ${failures.join('; ')}`);
  process.exitCode = 1;
}
