/**
 * `faultline lin --model M --format F FILE [--json] [--html OUT] [--time-limit S] [--max-cache-entries N]
 *                [--initial JSON] [--unpartitioned] [--failed-cas mismatch|never-happened]`
 * Checks one history file for linearizability against a model (checkers/linearizability).
 * `--failed-cas`: what a `fail` cas means; default `mismatch` for edn and jepsen-log (Jepsen's etcd
 * semantics), `never-happened` for jsonl (our contract: fail ops never happened).
 * Exit: 0 linearizable, 1 not linearizable, 2 unknown (time or memory bound) or error.
 * `--json` prints exactly one JSON object on stdout: the checker's result (verdict, partitions,
 * and for a failure the longest partial linearization, blocking op and unplaceable ops, each op
 * described). Without it a readable summary goes to stdout. `--html OUT` writes the HTML view.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import { checkHistoryText, historyFormats, type LinReport } from '../../checkers/linearizability/check.ts';
import { linModels } from '../../checkers/linearizability/models/index.ts';
import { boolOf, choiceOf, helpText, intOf, msOf, parseCommandLine, stringOf } from '../../broker/flags.ts';
import type { CommandTable } from '../../broker/flags.ts';
import { formatMs } from '../format.ts';
import type { Scalar } from '../../checkers/linearizability/models/common.ts';
import { renderLinHtml } from '../../checkers/linearizability/html.ts';

export interface LinArgs {
  model: keyof typeof linModels;
  format: keyof typeof historyFormats;
  file: string;
  json: boolean;
  html: string | undefined;
  timeLimitMs: number;
  maxCacheEntries: number;
  initial: Scalar | undefined;
  partitioned: boolean;
  /** undefined: the format's default (mismatch for edn and jepsen-log, never-happened for jsonl). */
  failedCasIsMismatch: boolean | undefined;
}

function initialError(raw: string): string | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return `takes a JSON number, string or null; got '${raw}'`;
  }
  return v === null || ['number', 'string', 'boolean'].includes(typeof v) ? null : `takes a JSON number, string or null; got '${raw}'`;
}

export const linTable: CommandTable = {
  command: 'faultline lin',
  summary: 'check one history file for linearizability against a model (exit 0 linearizable, 1 not, 2 unknown or usage error)',
  positionals: [{ name: 'FILE', help: 'the history file', required: true }],
  flags: {
    model: { kind: { type: 'choice', values: Object.keys(linModels) }, required: true, help: 'the model the history must be linearizable against' },
    format: { kind: { type: 'choice', values: Object.keys(historyFormats) }, required: true, help: "the history file's format" },
    json: { kind: { type: 'boolean' }, help: "print the checker's result as one JSON object on stdout" },
    html: { kind: { type: 'string', allowed: 'a file' }, metavar: 'OUT', default: null, help: 'write the HTML view to OUT' },
    'time-limit': { kind: { type: 'number', min: 0.001, max: 86400, unit: 's' }, default: 60, help: 'seconds of search before the verdict is unknown' },
    'max-cache-entries': { kind: { type: 'int', min: 1, max: 1_000_000_000 }, default: 4_000_000, help: 'bound on the search cache before the verdict is unknown' },
    initial: { kind: { type: 'string', allowed: 'a JSON number, string or null', check: initialError }, metavar: 'JSON', default: null, help: "the model's initial value" },
    unpartitioned: { kind: { type: 'boolean' }, help: 'check the whole history at once instead of per key' },
    'failed-cas': { kind: { type: 'choice', values: ['mismatch', 'never-happened'] }, default: null, defaultText: 'mismatch for edn and jepsen-log, never-happened for jsonl', help: 'what a fail cas means' },
  },
};

const usage = helpText(linTable);

export function parseLinArgs(argv: readonly string[]): LinArgs {
  const t = linTable;
  const { values, positionals } = parseCommandLine(t, argv);
  const failedCas = stringOf(t, values, 'failed-cas');
  const initial = stringOf(t, values, 'initial');
  return {
    model: choiceOf<LinArgs['model']>(t, values, 'model', 'register'),
    format: choiceOf<LinArgs['format']>(t, values, 'format', 'jsonl'),
    file: positionals[0]!,
    json: boolOf(values, 'json'),
    html: stringOf(t, values, 'html') ?? undefined,
    timeLimitMs: msOf(t, values, 'time-limit'),
    maxCacheEntries: intOf(t, values, 'max-cache-entries'),
    initial: initial === null ? undefined : (JSON.parse(initial) as Scalar),
    partitioned: !boolOf(values, 'unpartitioned'),
    failedCasIsMismatch: failedCas === null ? undefined : failedCas === 'mismatch',
  };
}

/** A readable summary of a check, as printed without --json. */
export function formatLinReport(report: LinReport, file: string, maxLines = 40): string {
  const { result, ops } = report;
  const byId = new Map(ops.map((o) => [o.id, o]));
  const describe = (id: number): string => {
    const o = byId.get(id);
    return o ? `#${id} p${o.process} ${o.label}` : `#${id}`;
  };
  const verdict = result.valid === true ? 'linearizable' : result.valid === false ? 'NOT linearizable' : 'unknown';
  const lines = [`${file}: ${verdict} (model ${result.model}, ${result.ops} ops, ${result.partitions.length} partitions checked, ${formatMs(result.elapsedMs)})`];
  if (result.reason) lines.push(`reason: ${result.reason}`);
  const f = result.failure;
  if (f) {
    lines.push(`failing partition: ${f.partition} (${f.ops.length} ops)`);
    if (f.prefix) {
      const until = f.prefix.linearizableUntil === null ? 'nothing' : `time ${f.prefix.linearizableUntil} (${f.prefix.linearizableOps} completed ops)`;
      lines.push(`shortest failing window: linearizable up to ${until}; fails when ${f.prefix.returningAtFailure.map(describe).join(', ')} returns at time ${f.prefix.failsAt}`);
    }
    if (f.refutation) lines.push(`refuted without a search: ${f.refutation.rule}: ${f.refutation.ops.map(describe).join(', ')}`);
    lines.push(`longest linearizable prefix: ${f.linearized.length} ops`);
    const start = Math.max(0, f.linearized.length - maxLines);
    if (start > 0) lines.push(`  ... ${start} earlier ops`);
    f.linearized.slice(start).forEach((s, k) => lines.push(`  ${start + k + 1}. ${describe(s.op)}   => ${s.state}`));
    lines.push(`cannot be placed next (${describe(f.blockingOp)} returned first):`);
    for (const u of f.unplaceable.slice(0, maxLines)) lines.push(`  ${describe(u.op)}: ${u.reason === 'illegal-step' ? 'illegal from that state' : 'legal, but no continuation'}`);
    if (f.unplaceable.length > maxLines) lines.push(`  ... ${f.unplaceable.length - maxLines} more`);
  }
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  if (parseCommandLine(linTable, argv).help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const args = parseLinArgs(argv);
  let text: string;
  try {
    text = readFileSync(args.file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read history FILE '${args.file}': ${(err as Error).message}`);
  }
  const report = checkHistoryText(text, args.format, args.model, {
    timeLimitMs: args.timeLimitMs,
    maxCacheEntries: args.maxCacheEntries,
    partitioned: args.partitioned,
    ...(args.failedCasIsMismatch !== undefined ? { failedCasIsMismatch: args.failedCasIsMismatch } : {}),
    ...(args.initial !== undefined ? { initial: args.initial } : {}),
  });
  if (args.html !== undefined) writeFileSync(args.html, renderLinHtml(report, `faultline lin: ${args.file}`));
  if (args.json) {
    const opsById = Object.fromEntries(
      (report.result.failure?.ops ?? []).map((id) => {
        const o = report.ops[id]!;
        return [id, { process: o.process, call: o.call, ret: o.ret === Infinity ? null : o.ret, op: o.label }];
      }),
    );
    process.stdout.write(JSON.stringify({ file: args.file, ...report.result, ...(report.result.failure ? { failureOps: opsById } : {}) }) + '\n');
  } else {
    process.stdout.write(formatLinReport(report, args.file) + '\n');
  }
  return report.result.valid === true ? 0 : report.result.valid === false ? 1 : 2;
}
