/**
 * What a model registry entry is: a pure model plus an adapter that turns a completed history op
 * into model ops. Adapter rules shared by every model: `fail` ops never happened (dropped) unless a
 * model documents otherwise; `info` ops and unknown results (a keyword such as `:timed-out` where a
 * value was expected) become ops with `output: undefined`, which the search may place or omit.
 * Adapters throw `LinInputError` for ops they cannot interpret, naming the op and what is allowed.
 */
import { Keyword, Sym } from '../parse/edn.ts';
import type { CompletedOp } from '../parse/ops.ts';
import type { LinOp, Model } from '../types.ts';

export type Scalar = number | string | boolean | null;

export class LinInputError extends Error {
  readonly code = 'FAULTLINE_LIN_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'LinInputError';
  }
}

export interface ModelOp<I, O> {
  input: I;
  output: O | undefined;
}

export interface ModelSpec<S, I, O> {
  model: Model<S, I, O>;
  adapt(op: CompletedOp): Array<ModelOp<I, O>>;
  /** Optional whole-history rewrite after adapting that must not change the verdict (e.g. pruning). */
  refine?(ops: LinOp<I, O>[]): LinOp<I, O>[];
}

/** A plain value, or undefined for a value that is not one (a keyword like `:timed-out`, a map). */
export function scalar(v: unknown): Scalar | undefined {
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Sym) return v.name;
  return undefined;
}

export function isKeyword(v: unknown): v is Keyword {
  return v instanceof Keyword;
}

export function describeScalar(v: Scalar | undefined): string {
  if (v === undefined) return '?';
  if (v === null) return 'nil';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export function badOp(op: CompletedOp, allowed: string): never {
  throw new LinInputError(`op ${op.index} (process ${op.process}, f ${op.f}, value ${JSON.stringify(op.invoke.value)}): ${allowed}`);
}

/** Turn completed history ops into search ops, numbering them by position. */
export function toLinOps<S, I, O>(spec: ModelSpec<S, I, O>, completed: readonly CompletedOp[]): LinOp<I, O>[] {
  const out: LinOp<I, O>[] = [];
  for (const op of completed) {
    for (const m of spec.adapt(op)) {
      const unknown = m.output === undefined || op.type === 'info';
      out.push({
        id: out.length,
        process: op.process,
        call: op.call,
        ret: unknown ? Infinity : op.ret,
        input: m.input,
        output: unknown ? undefined : m.output,
      });
    }
  }
  if (!spec.refine) return out;
  return spec.refine(out).map((op, id) => ({ ...op, id }));
}
