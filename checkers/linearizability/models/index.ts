/**
 * The model registry of `faultline lin`: its keys are the allowed `--model` values.
 * Each entry builds a `ModelSpec` (pure model + history adapter) from options.
 */
import type { Scalar } from './common.ts';
import { casRegisterSpec, registerSpec } from './register.ts';
import { kvSpec } from './kv.ts';
import { fifoQueueSpec } from './fifo-queue.ts';
import { logSpec } from './log.ts';

export interface ModelBuildOptions {
  /** Register initial value (default nil). */
  initial?: Scalar;
  /** kv: check each key alone (default true). */
  partitioned?: boolean;
  /** cas-register: a failed cas is a compare mismatch (default true) rather than "never happened". */
  failedCasIsMismatch?: boolean;
}

export const linModels = {
  register: (o: ModelBuildOptions) => registerSpec(o),
  'cas-register': (o: ModelBuildOptions) => casRegisterSpec(o),
  kv: (o: ModelBuildOptions) => kvSpec(o),
  'fifo-queue': (_o: ModelBuildOptions) => fifoQueueSpec(),
  log: (_o: ModelBuildOptions) => logSpec(),
} as const;

export type LinModelName = keyof typeof linModels;

export function isLinModelName(s: string): s is LinModelName {
  return Object.hasOwn(linModels, s);
}
