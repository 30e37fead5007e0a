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
import { checkHistoryText, historyFormats, isHistoryFormat, type LinReport } from '../../checkers/linearizability/check.ts';
import { isLinModelName, linModels } from '../../checkers/linearizability/models/index.ts';
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

const usage =
  'usage: faultline lin --model register|cas-register|kv|fifo-queue|log --format edn|jepsen-log|jsonl FILE [--json] [--html OUT] ' +
  '[--time-limit S] [--max-cache-entries N] [--initial JSON] [--unpartitioned] [--failed-cas mismatch|never-happened]';

export function parseLinArgs(argv: readonly string[]): LinArgs {
  let model: string | undefined;
  let format: string | undefined;
  let file: string | undefined;
  const out: Omit<LinArgs, 'model' | 'format' | 'file'> = {
    json: false,
    html: undefined,
    timeLimitMs: 60_000,
    maxCacheEntries: 4_000_000,
    initial: undefined,
    partitioned: true,
    failedCasIsMismatch: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value; ${usage}`);
      return v;
    };
    switch (a) {
      case '--model':
        model = value();
        break;
      case '--format':
        format = value();
        break;
      case '--json':
        out.json = true;
        break;
      case '--html':
        out.html = value();
        break;
      case '--time-limit': {
        const s = Number(value());
        if (!(s > 0)) throw new UsageError('--time-limit takes a positive number of seconds');
        out.timeLimitMs = s * 1000;
        break;
      }
      case '--max-cache-entries': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new UsageError('--max-cache-entries takes a positive integer');
        out.maxCacheEntries = n;
        break;
      }
      case '--initial': {
        const raw = value();
        let v: unknown;
        try {
          v = JSON.parse(raw);
        } catch {
          throw new UsageError(`--initial takes a JSON number, string or null, got '${raw}'`);
        }
        if (v !== null && typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') {
          throw new UsageError(`--initial takes a JSON number, string or null, got '${raw}'`);
        }
        out.initial = v;
        break;
      }
      case '--unpartitioned':
        out.partitioned = false;
        break;
      case '--failed-cas': {
        const v = value();
        if (v !== 'mismatch' && v !== 'never-happened') throw new UsageError(`--failed-cas: allowed mismatch, never-happened; got '${v}'`);
        out.failedCasIsMismatch = v === 'mismatch';
        break;
      }
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown flag '${a}'; ${usage}`);
        if (file !== undefined) throw new UsageError(`one history FILE only (got '${file}' and '${a}')`);
        file = a;
    }
  }
  const models = Object.keys(linModels).join(', ');
  const formats = Object.keys(historyFormats).join(', ');
  if (model === undefined || !isLinModelName(model)) throw new UsageError(`--model: allowed ${models}${model === undefined ? '' : `; got '${model}'`}`);
  if (format === undefined || !isHistoryFormat(format)) throw new UsageError(`--format: allowed ${formats}${format === undefined ? '' : `; got '${format}'`}`);
  if (file === undefined) throw new UsageError(`a history FILE is required; ${usage}`);
  return { model, format, file, ...out };
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
  const lines = [`${file}: ${verdict} (model ${result.model}, ${result.ops} ops, ${result.partitions.length} partitions checked, ${result.elapsedMs.toFixed(1)} ms)`];
  if (result.reason) lines.push(`reason: ${result.reason}`);
  const f = result.failure;
  if (f) {
    lines.push(`failing partition: ${f.partition} (${f.ops.length} ops)`);
    if (f.prefix) {
      const until = f.prefix.linearizableUntil === null ? 'nothing' : `time ${f.prefix.linearizableUntil} (${f.prefix.linearizableOps} completed ops)`;
      lines.push(`shortest failing window: linearizable up to ${until}; fails when ${f.prefix.returningAtFailure.map(describe).join(', ')} returns at time ${f.prefix.failsAt}`);
    }
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
  if (argv.includes('--help') || argv.includes('-h')) {
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
