/**
 * Read/write register and compare-and-set register (Knossos `register`/`cas-register`, Porcupine's
 * etcd model). State: the value, `initial` (default nil). Ops:
 *   read        -> value v     legal iff state == v (a nil read means the register is nil)
 *   write v     -> ok          always legal; state := v
 *   cas [a b]   -> {ok: true}  legal iff state == a; state := b
 *               -> {ok: false} legal iff state != a; state unchanged
 * History mapping: `fail` read/write never happened (dropped). With `failedCasIsMismatch` (the
 * default here, and what check.ts uses for Jepsen's edn and log formats) a `fail` cas is the
 * observation that the compare did not match (`{ok: false}`): how Jepsen's etcd clients report a cas
 * that did not apply, and what Porcupine's etcd model checks. With `failedCasIsMismatch: false` (our
 * own history.jsonl, where `fail` means "never happened") a failed cas is dropped like any failed op. An `info` op or a
 * read completing with a keyword (`:timed-out`) has an unknown result.
 */
import type { CompletedOp } from '../parse/ops.ts';
import type { Model } from '../types.ts';
import { hashValue } from '../hash.ts';
import { badOp, describeScalar, scalar, type ModelOp, type ModelSpec, type Scalar } from './common.ts';

export type RegisterInput = { f: 'read' } | { f: 'write'; value: Scalar } | { f: 'cas'; from: Scalar; to: Scalar };
/** read: the value read; write: true; cas: whether the compare matched. */
export type RegisterOutput = Scalar;

export interface RegisterOptions {
  initial?: Scalar;
  failedCasIsMismatch?: boolean;
}

export function registerModel(name: string, initial: Scalar): Model<Scalar, RegisterInput, RegisterOutput> {
  return {
    name,
    init: () => initial,
    step(state, input, output) {
      switch (input.f) {
        case 'read':
          return output === undefined || output === state ? state : undefined;
        case 'write':
          return input.value;
        case 'cas':
          if (output === undefined) return state === input.from ? input.to : state;
          if (output === true) return state === input.from ? input.to : undefined;
          return state !== input.from ? state : undefined;
      }
    },
    readOnly: (input, output) => input.f === 'read' || (input.f === 'cas' && output === false),
    hash: hashValue,
    equal: (a, b) => a === b,
    describeOp(input, output) {
      switch (input.f) {
        case 'read':
          return `read -> ${describeScalar(output)}`;
        case 'write':
          return `write ${describeScalar(input.value)}`;
        case 'cas':
          return `cas ${describeScalar(input.from)}->${describeScalar(input.to)}${output === undefined ? ' ?' : output ? '' : ' (mismatch)'}`;
      }
    },
    describeState: (s) => describeScalar(s),
  };
}

function adaptRegister(op: CompletedOp, allowCas: boolean, failedCasIsMismatch: boolean): Array<ModelOp<RegisterInput, RegisterOutput>> {
  const unknown = op.type === 'info';
  switch (op.f) {
    case 'read': {
      if (op.type === 'fail') return [];
      const v = unknown ? undefined : scalar(op.completion?.value);
      return [{ input: { f: 'read' }, output: v }];
    }
    case 'write': {
      if (op.type === 'fail') return [];
      const v = scalar(op.invoke.value);
      if (v === undefined) badOp(op, 'write takes a plain value');
      return [{ input: { f: 'write', value: v }, output: unknown ? undefined : true }];
    }
    case 'cas': {
      if (!allowCas) return badOp(op, 'the register model allows f read|write (use cas-register for cas)');
      const pair = op.invoke.value;
      const from = Array.isArray(pair) ? scalar(pair[0]) : undefined;
      const to = Array.isArray(pair) ? scalar(pair[1]) : undefined;
      if (!Array.isArray(pair) || pair.length !== 2 || from === undefined || to === undefined) badOp(op, 'cas takes [from to]');
      if (op.type === 'fail' && !failedCasIsMismatch) return [];
      return [{ input: { f: 'cas', from, to }, output: unknown ? undefined : op.type === 'ok' }];
    }
    default:
      return badOp(op, `allowed f: read, write${allowCas ? ', cas' : ''}`);
  }
}

export function registerSpec(options: RegisterOptions = {}): ModelSpec<Scalar, RegisterInput, RegisterOutput> {
  return { model: registerModel('register', options.initial ?? null), adapt: (op) => adaptRegister(op, false, false) };
}

export function casRegisterSpec(options: RegisterOptions = {}): ModelSpec<Scalar, RegisterInput, RegisterOutput> {
  const mismatch = options.failedCasIsMismatch ?? true;
  return { model: registerModel('cas-register', options.initial ?? null), adapt: (op) => adaptRegister(op, true, mismatch) };
}
