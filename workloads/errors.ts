/**
 * One table of broker error names (style.md item 4): for each, whether a produce that ended with it is
 * known NOT to have been written. Sends are the only ops whose failure the checkers trust (`fail` makes a
 * later read of that value an `aborted-read`), so a `fail` verdict must be a proof, not a guess.
 *
 * Reasoning, per error class:
 * - `intrinsic`: the broker rejects the request itself (bad acks, corrupt/oversized/invalid records, a
 *   topic name that cannot exist, no authorisation). Every attempt of the same send carries the same
 *   bytes and gets the same answer, so no attempt wrote anything: `fail`, whatever the retry count.
 * - `rejected`: this attempt was refused before the leader appended (NOT_ENOUGH_REPLICAS checked up
 *   front, fenced/unknown leader epoch, a stale producer epoch): errors only a Produce answer carries.
 *   That proves nothing about
 *   earlier attempts: with retries, attempt 1 may have timed out after the leader appended. So `fail`
 *   only when the send made exactly one attempt; otherwise `info`.
 * - Errors a Metadata answer carries (LEADER_NOT_AVAILABLE: no Produce answer has it;
 *   UNKNOWN_TOPIC_OR_PARTITION: both do) are `maybe`: kafkajs refreshes metadata after a failed Produce
 *   attempt and reports the refresh's error instead of the attempt's, so the send may have been
 *   written. Seen in a clean run (seed 2041, disk-full-follower+kill-leader): a send parked 2 s for
 *   acks=all ended LEADER_NOT_AVAILABLE, was recorded `fail`, and its value was read back (a false
 *   aborted-read).
 * - `maybe`: the leader may have appended (NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT,
 *   NOT_LEADER_OR_FOLLOWER: Kafka, and our broker, also answer it to acks=all requests parked after
 *   the append when leadership moves, and a new leader may commit what they wrote,
 *   NETWORK_EXCEPTION, KAFKA_STORAGE_ERROR, UNKNOWN_SERVER_ERROR, idempotence sequence errors), and every
 *   client-side timeout, dropped connection or unknown error: `info`.
 * Names are Kafka's current names; kafkajs 2.2.4 reports a few under older names, mapped by `kafkaName`.
 */

export type ErrorClass = 'intrinsic' | 'rejected' | 'maybe';

export const brokerErrors = {
  CORRUPT_MESSAGE: 'intrinsic',
  INVALID_RECORD: 'intrinsic',
  INVALID_REQUIRED_ACKS: 'intrinsic',
  INVALID_TIMESTAMP: 'intrinsic',
  INVALID_TOPIC_EXCEPTION: 'intrinsic',
  MESSAGE_TOO_LARGE: 'intrinsic',
  RECORD_LIST_TOO_LARGE: 'intrinsic',
  TOPIC_AUTHORIZATION_FAILED: 'intrinsic',
  POLICY_VIOLATION: 'intrinsic',
  UNSUPPORTED_VERSION: 'intrinsic',
  UNKNOWN_TOPIC_OR_PARTITION: 'maybe',
  NOT_LEADER_OR_FOLLOWER: 'maybe',
  LEADER_NOT_AVAILABLE: 'maybe',
  NOT_ENOUGH_REPLICAS: 'rejected',
  FENCED_LEADER_EPOCH: 'rejected',
  UNKNOWN_LEADER_EPOCH: 'rejected',
  INVALID_PRODUCER_EPOCH: 'rejected',
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'maybe',
  REQUEST_TIMED_OUT: 'maybe',
  NETWORK_EXCEPTION: 'maybe',
  KAFKA_STORAGE_ERROR: 'maybe',
  UNKNOWN_SERVER_ERROR: 'maybe',
  OUT_OF_ORDER_SEQUENCE_NUMBER: 'maybe',
  DUPLICATE_SEQUENCE_NUMBER: 'maybe',
  UNKNOWN_PRODUCER_ID: 'maybe',
} as const satisfies Record<string, ErrorClass>;

export type BrokerErrorName = keyof typeof brokerErrors;

/** kafkajs 2.2.4 names that differ from Kafka's current ones. */
const kafkajsAliases: Record<string, string> = {
  NOT_LEADER_FOR_PARTITION: 'NOT_LEADER_OR_FOLLOWER',
};

export function kafkaName(type: string): string {
  return kafkajsAliases[type] ?? type;
}

export function errorClass(name: string): ErrorClass {
  return Object.hasOwn(brokerErrors, name) ? brokerErrors[name as BrokerErrorName] : 'maybe';
}

/** What a failed send becomes in the history: the verdict and the error name recorded with it. */
export interface SendFailure {
  type: 'fail' | 'info';
  error: string;
}

interface ErrorLike {
  name?: unknown;
  type?: unknown;
  message?: unknown;
  cause?: unknown;
  originalError?: unknown;
  retryCount?: unknown;
}

function asErrorLike(e: unknown): ErrorLike | null {
  return typeof e === 'object' && e !== null ? (e as ErrorLike) : null;
}

/** The innermost error of a kafkajs wrapper chain (bounded: kafkajs nests a few levels at most). */
function innermost(err: unknown): { root: ErrorLike | null; retryCount: number | null } {
  let cur = asErrorLike(err);
  let retryCount: number | null = null;
  for (let depth = 0; cur !== null && depth < 16; depth++) {
    if (typeof cur.retryCount === 'number') retryCount = Math.max(retryCount ?? 0, cur.retryCount);
    if (typeof cur.type === 'string') return { root: cur, retryCount };
    const next = asErrorLike(cur.cause ?? cur.originalError);
    if (next === null || next === cur) break;
    cur = next;
  }
  return { root: cur, retryCount };
}

/** The error name to record: the broker's Kafka name when it sent one, else the client error's name. */
export function errorName(err: unknown): string {
  const { root } = innermost(err);
  if (root === null) return 'UNKNOWN';
  if (typeof root.type === 'string') return kafkaName(root.type);
  if (typeof root.name === 'string' && root.name !== 'Error') return root.name;
  return 'UNKNOWN';
}

/**
 * Classify a send's error. `retries` is the producer's configured retry count: when it is 0 the send
 * made one attempt whatever the wrapper says; otherwise the wrapper's retryCount (kafkajs's
 * KafkaJSNumberOfRetriesExceeded) tells how many attempts were made, and when it is absent we cannot
 * tell, so only `intrinsic` errors are a definite `fail`.
 */
export function classifySendError(err: unknown, retries: number): SendFailure {
  const { root, retryCount } = innermost(err);
  const name = errorName(err);
  const isBrokerError = root !== null && typeof root.type === 'string';
  if (!isBrokerError) return { type: 'info', error: name };
  const cls = errorClass(name);
  if (cls === 'intrinsic') return { type: 'fail', error: name };
  if (cls === 'rejected') {
    const singleAttempt = retries === 0 || retryCount === 0;
    return { type: singleAttempt ? 'fail' : 'info', error: name };
  }
  return { type: 'info', error: name };
}
