/**
 * The checker's front door: history text in a given format + a model name -> verdict. Pure (no I/O):
 * the CLI reads the file. Parse errors and uninterpretable ops give `valid: 'unknown'` with the
 * message, per the rule that checkers never throw (style.md item 5).
 */
import { checkOperations } from './engine.ts';
import { linModels, type LinModelName, type ModelBuildOptions } from './models/index.ts';
import { toLinOps, type ModelSpec } from './models/common.ts';
import { parseEdnHistory } from './parse/edn-history.ts';
import { parseJepsenLog } from './parse/jepsen-log.ts';
import { parseJsonlHistory } from './parse/jsonl.ts';
import { pairEvents, type Event } from './parse/ops.ts';
import type { CheckOptions, LinOp, LinResult } from './types.ts';

export const historyFormats = {
  edn: parseEdnHistory,
  'jepsen-log': parseJepsenLog,
  jsonl: parseJsonlHistory,
} as const satisfies Record<string, (text: string) => Event[]>;

export type HistoryFormat = keyof typeof historyFormats;

export function isHistoryFormat(s: string): s is HistoryFormat {
  return Object.hasOwn(historyFormats, s);
}

/** A checked history: the verdict plus the ops as checked and how to describe them (for reports). */
export interface LinReport {
  result: LinResult;
  ops: Array<LinOp<unknown, unknown> & { label: string }>;
}

export function checkHistoryText(
  text: string,
  format: HistoryFormat,
  modelName: LinModelName,
  options: CheckOptions & ModelBuildOptions = {},
): LinReport {
  // A failed cas: in Jepsen/Knossos histories (edn, jepsen-log) it reports a compare mismatch; in our
  // own history.jsonl every `fail` op never happened. An explicit option overrides either default.
  // The registry's specs differ in their state/input/output types; past this point they are opaque.
  const spec = linModels[modelName]({
    ...options,
    failedCasIsMismatch: options.failedCasIsMismatch ?? format !== 'jsonl',
  }) as unknown as ModelSpec<unknown, unknown, unknown>;
  let ops: LinOp<unknown, unknown>[];
  try {
    const completed = pairEvents(historyFormats[format](text));
    ops = toLinOps(spec, completed);
  } catch (err) {
    return {
      result: { valid: 'unknown', model: spec.model.name, ops: 0, partitions: [], elapsedMs: 0, reason: err instanceof Error ? err.message : String(err) },
      ops: [],
    };
  }
  const model = spec.model;
  const result = checkOperations(model, ops, options);
  return { result, ops: ops.map((op) => ({ ...op, label: model.describeOp(op.input, op.output) })) };
}
