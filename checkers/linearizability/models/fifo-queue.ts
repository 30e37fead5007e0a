/**
 * FIFO queue (Knossos `fifo-queue` plus an explicit empty result). State: the queued values. Ops:
 *   enqueue v -> ok        always legal; v joins the tail
 *   dequeue   -> v         legal iff the head is v; the head leaves
 *   dequeue   -> nil       legal iff the queue is empty (an explicit "empty" answer)
 * A dequeue has no argument, so the history cannot be partitioned; it is searched whole.
 * History mapping: f `enqueue`|`enq` and `dequeue`|`deq`. `fail` ops never happened; `info` ops
 * are unknown (an unknown dequeue, if placed, removes whatever is at the head).
 */
import type { CompletedOp } from '../parse/ops.ts';
import type { Model } from '../types.ts';
import { combine, hashValue } from '../hash.ts';
import { badOp, describeScalar, scalar, type ModelOp, type ModelSpec, type Scalar } from './common.ts';

export type QueueInput = { f: 'enqueue'; value: Scalar } | { f: 'dequeue' };
export type QueueOutput = Scalar | true;
export type QueueState = readonly Scalar[];

export const fifoQueueModel: Model<QueueState, QueueInput, QueueOutput> = {
  name: 'fifo-queue',
  init: () => [],
  step(q, input, output) {
    if (input.f === 'enqueue') return [...q, input.value];
    if (output === undefined) return q.length === 0 ? q : q.slice(1);
    if (output === null) return q.length === 0 ? q : undefined;
    return q.length > 0 && q[0] === output ? q.slice(1) : undefined;
  },
  readOnly: (input, output) => input.f === 'dequeue' && output === null,
  hash(q) {
    let h = q.length;
    for (const v of q) h = combine(h, hashValue(v));
    return h;
  },
  equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  },
  describeOp(input, output) {
    if (input.f === 'enqueue') return `enqueue ${describeScalar(input.value)}`;
    return `dequeue -> ${output === undefined ? '?' : output === null ? 'empty' : describeScalar(output as Scalar)}`;
  },
  describeState: (q) => `[${q.map((v) => describeScalar(v)).join(' ')}]`,
};

export function adaptFifoQueue(op: CompletedOp): Array<ModelOp<QueueInput, QueueOutput>> {
  if (op.type === 'fail') return [];
  const unknown = op.type === 'info';
  if (op.f === 'enqueue' || op.f === 'enq') {
    const v = scalar(op.invoke.value);
    if (v === undefined) badOp(op, 'enqueue takes a plain value');
    return [{ input: { f: 'enqueue', value: v }, output: unknown ? undefined : true }];
  }
  if (op.f === 'dequeue' || op.f === 'deq') {
    return [{ input: { f: 'dequeue' }, output: unknown ? undefined : scalar(op.completion?.value) }];
  }
  return badOp(op, 'allowed f: enqueue (enq), dequeue (deq)');
}

export function fifoQueueSpec(): ModelSpec<QueueState, QueueInput, QueueOutput> {
  return { model: fifoQueueModel, adapt: adaptFifoQueue };
}
