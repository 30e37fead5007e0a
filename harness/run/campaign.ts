/**
 * A campaign (design.md "CLI"): the matrix acks x nemesis x repeat, each cell one full run with its own
 * run directory, then a comparison per (acks, nemesis) cell, `campaign.json`, optional JUnit XML, and
 * the exit code.
 *
 * Expectations (`--gate`): a run is strict when acks=all, min.insync >= 2, replication factor >= 3 and
 * unclean election off; a strict run must be valid (false fails the expectation, unknown leaves it
 * unknown). Under acks=0/1 (or weaker topic settings) loss is expected: it is reported, not failed.
 * Which anomaly types weak acks excuse, and why, is the checker's `ANOMALIES[t].excusedUnderWeakAcks`
 * (docs/gate.md lists them): a weak run whose verdict is false because of an anomaly that is not
 * excused (aborted-read, unexpected-read, poll-skip, nonmonotonic-poll, resume-mismatch, and duplicate
 * for an idempotent producer) fails its expectation; otherwise it is met, or unknown when the harness
 * itself failed (an `error` in its results).
 * Exit code: with `--gate`, 1 if any expectation failed, else 2 if any is unknown, else 0; without it,
 * the runs' verdicts ranked false over unknown over true (1, 2, 0).
 *
 * Seeds: run i of the campaign (in matrix order) uses (seed + i) mod 2^32, so one campaign seed
 * reproduces every run.
 */
import type { Validity } from '../../checkers/result.ts';
import { mergeValid } from '../../checkers/result.ts';
import { ANOMALIES, breakingAnomalies } from '../../checkers/queue/anomalies.ts';
import type { AnomalyType } from '../../checkers/queue/anomalies.ts';
import { exitCodeOf } from './run.ts';
import type { RunResults } from './run.ts';
import type { Acks, NemesisFault, RunOptions } from './options.ts';
import { formatFigure } from '../format.ts';
import { msPerS } from '../../broker/flags.ts';

export interface CampaignPlanEntry {
  acks: Acks;
  nemesis: NemesisFault[];
  repeat: number;
  seed: number;
}

export function planCampaign(acks: Acks[], nemeses: NemesisFault[][], repeat: number, seed: number): CampaignPlanEntry[] {
  const out: CampaignPlanEntry[] = [];
  for (const a of acks) {
    for (const n of nemeses) {
      for (let r = 1; r <= repeat; r++) out.push({ acks: a, nemesis: n, repeat: r, seed: (seed + out.length) >>> 0 });
    }
  }
  return out;
}

export type Expectation = 'met' | 'failed' | 'unknown';

export function isStrict(t: Pick<RunOptions, 'acks' | 'minInsync' | 'replicationFactor' | 'uncleanElection'>): boolean {
  return t.acks === 'all' && t.minInsync >= 2 && t.replicationFactor >= 3 && !t.uncleanElection;
}

type GateInput = Pick<RunResults, 'valid' | 'error'> & {
  test: Pick<RunOptions, 'acks' | 'minInsync' | 'replicationFactor' | 'uncleanElection'> & { idempotence?: boolean };
  anomalies?: Record<string, { count: number }>;
  /** the anomaly types that made the checker's verdict false */
  breaking?: readonly AnomalyType[];
};

/** The anomaly types behind a false verdict that weak acks do not excuse. */
export function unexcused(r: GateInput): AnomalyType[] {
  if (r.valid !== false) return [];
  const breaking = r.breaking ?? breakingAnomalies(r.anomalies ?? {}, { idempotent: r.test.idempotence === true, drainComplete: true, discardedLines: 0 });
  return breaking.filter((t) => !ANOMALIES[t].excusedUnderWeakAcks);
}

export function expectationOf(r: GateInput): Expectation {
  if (isStrict(r.test)) return r.valid === true ? 'met' : r.valid === false ? 'failed' : 'unknown';
  if (unexcused(r).length > 0) return 'failed';
  return r.error === undefined ? 'met' : 'unknown';
}

/** What a campaign keeps of each run. */
export interface RunRow {
  runDir: string;
  name: string;
  acks: Acks;
  nemesis: NemesisFault[];
  repeat: number;
  seed: number;
  valid: Validity;
  strict: boolean;
  expectation: Expectation;
  acked: number;
  lost: number;
  unseen: number;
  duplicates: number;
  inconsistentOffsets: number;
  availability: number | null;
  p99Ms: number | null;
  /** the run's wall time in seconds, to the millisecond (campaign.json's unit) */
  durationS: number;
  error?: string;
}

function count(r: RunResults, t: string): number {
  return (r.anomalies as Record<string, { count: number } | undefined>)[t]?.count ?? 0;
}

/** One run's row of campaign.json; `durationMs` becomes the row's `durationS` (campaign.json's unit). */
export function rowOf(entry: CampaignPlanEntry, r: RunResults, durationMs: number): RunRow {
  const stats = r.stats as unknown as Record<string, unknown>;
  const avail = (r.availability as unknown as { overall?: { ratio?: unknown } } | undefined)?.overall?.ratio;
  const p99 = (r.latencyMs as unknown as { send?: { p99?: unknown } } | undefined)?.send?.p99;
  return {
    runDir: r.runDir,
    name: r.test.name,
    acks: entry.acks,
    nemesis: entry.nemesis,
    repeat: entry.repeat,
    seed: entry.seed,
    valid: r.valid,
    strict: isStrict(r.test),
    expectation: expectationOf(r),
    acked: typeof stats['acked'] === 'number' ? stats['acked'] : 0,
    lost: count(r, 'lost-write'),
    unseen: count(r, 'unseen'),
    duplicates: count(r, 'duplicate'),
    inconsistentOffsets: count(r, 'inconsistent-offsets'),
    availability: typeof avail === 'number' ? avail : null,
    p99Ms: typeof p99 === 'number' ? p99 : null,
    durationS: Math.round(durationMs) / msPerS,
    ...(r.error === undefined ? {} : { error: r.error }),
  };
}

export interface CellRow {
  acks: Acks;
  nemesis: string;
  runs: number;
  valid: number;
  invalid: number;
  unknown: number;
  acked: number;
  lost: number;
  unseen: number;
  duplicates: number;
  inconsistentOffsets: number;
  /** mean of the runs' overall availability */
  availability: number | null;
  /** worst p99 send latency over the runs */
  p99Ms: number | null;
  expectation: Expectation;
}

/** A fault mix as a label: `kill+partition` (independent lanes), or `pause-follower>stop-leader` (a sequence, `--nemesis-sequence`). */
export function nemesisLabel(n: readonly string[], sequence = false): string {
  return n.length === 0 ? 'none' : n.join(sequence ? '>' : '+');
}

export function mergeExpectations(es: Expectation[]): Expectation {
  return es.includes('failed') ? 'failed' : es.includes('unknown') ? 'unknown' : 'met';
}

/** Rows grouped by cell (acks and fault mix); `sequence`: the campaign ran its cells as sequences (labels join with `>`). */
export function cells(rows: RunRow[], sequence = false): CellRow[] {
  const byCell = new Map<string, RunRow[]>();
  for (const r of rows) {
    const k = `${r.acks}\u0000${nemesisLabel(r.nemesis, sequence)}`;
    byCell.set(k, [...(byCell.get(k) ?? []), r]);
  }
  return [...byCell.values()].map((rs) => {
    const avail = rs.map((r) => r.availability).filter((a): a is number => a !== null);
    const p99 = rs.map((r) => r.p99Ms).filter((a): a is number => a !== null);
    const sum = (f: (r: RunRow) => number): number => rs.reduce((s, r) => s + f(r), 0);
    return {
      acks: rs[0]!.acks,
      nemesis: nemesisLabel(rs[0]!.nemesis, sequence),
      runs: rs.length,
      valid: rs.filter((r) => r.valid === true).length,
      invalid: rs.filter((r) => r.valid === false).length,
      unknown: rs.filter((r) => r.valid === 'unknown').length,
      acked: sum((r) => r.acked),
      lost: sum((r) => r.lost),
      unseen: sum((r) => r.unseen),
      duplicates: sum((r) => r.duplicates),
      inconsistentOffsets: sum((r) => r.inconsistentOffsets),
      availability: avail.length === 0 ? null : avail.reduce((a, b) => a + b, 0) / avail.length,
      p99Ms: p99.length === 0 ? null : Math.max(...p99),
      expectation: mergeExpectations(rs.map((r) => r.expectation)),
    };
  });
}

export function campaignExitCode(rows: RunRow[], gate: boolean): 0 | 1 | 2 {
  if (gate) {
    const e = mergeExpectations(rows.map((r) => r.expectation));
    return e === 'failed' ? 1 : e === 'unknown' ? 2 : 0;
  }
  return exitCodeOf(rows.length === 0 ? 'unknown' : mergeValid(rows.map((r) => r.valid)));
}

function cellText(v: number | null): string {
  return formatFigure(v);
}

/** The comparison table printed to stderr. */
export function formatTable(cs: CellRow[], gate: boolean): string {
  const header = ['acks', 'nemesis', 'runs', 'valid', 'invalid', 'unknown', 'acked', 'lost', 'unseen', 'dup', 'inconsistent', 'avail%', 'p99 ms', ...(gate ? ['gate'] : [])];
  const body = cs.map((c) => [
    c.acks, c.nemesis, String(c.runs), String(c.valid), String(c.invalid), String(c.unknown), String(c.acked), String(c.lost),
    String(c.unseen), String(c.duplicates), String(c.inconsistentOffsets), cellText(c.availability === null ? null : c.availability * 100),
    cellText(c.p99Ms), ...(gate ? [c.expectation] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...body.map(line)].join('\n');
}

export function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

/**
 * JUnit XML: one testcase per run. With `--gate` a failed expectation is a <failure> and an unknown
 * one an <error>; without it a false verdict is a <failure> and an unknown one an <error>.
 */
export function junitXml(rows: RunRow[], gate: boolean, suiteName = 'faultline campaign'): string {
  const outcome = (r: RunRow): 'ok' | 'failure' | 'error' => {
    const v = gate ? r.expectation : r.valid === true ? 'met' : r.valid === false ? 'failed' : 'unknown';
    return v === 'met' ? 'ok' : v === 'failed' ? 'failure' : 'error';
  };
  const failures = rows.filter((r) => outcome(r) === 'failure').length;
  const errors = rows.filter((r) => outcome(r) === 'error').length;
  const time = rows.reduce((s, r) => s + r.durationS, 0);
  const cases = rows.map((r) => {
    const o = outcome(r);
    const summary = `valid=${String(r.valid)} acked=${r.acked} lost=${r.lost} unseen=${r.unseen} duplicates=${r.duplicates} inconsistent-offsets=${r.inconsistentOffsets}${r.strict ? ' (acks=all, min.insync>=2, RF>=3: must be valid)' : ' (loss expected: reported)'}${r.error === undefined ? '' : ` error=${r.error}`}`;
    const body = o === 'ok' ? '' : o === 'failure' ? `<failure message="${xml(summary)}">${xml(r.runDir)}</failure>` : `<error message="${xml(summary)}">${xml(r.runDir)}</error>`;
    return `    <testcase classname="faultline.${xml(r.name)}" name="${xml(`repeat ${r.repeat} seed ${r.seed}`)}" time="${r.durationS.toFixed(3)}">${body}<system-out>${xml(`${summary}\n${r.runDir}`)}</system-out></testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="${rows.length}" failures="${failures}" errors="${errors}" time="${time.toFixed(3)}">
  <testsuite name="${xml(suiteName)}" tests="${rows.length}" failures="${failures}" errors="${errors}" time="${time.toFixed(3)}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
