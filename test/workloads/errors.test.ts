import { describe, expect, it } from 'vitest';
import { classifySendError, errorClass, errorName, kafkaName } from '../../workloads/errors.ts';

/** Build errors shaped as kafkajs 2.2.4 builds them (protocol error wrapped by the retrier). */
function protocolError(type: string): Error & { type: string; retriable: boolean } {
  return Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable: true });
}
function retriesExceeded(cause: Error, retryCount: number): Error {
  return Object.assign(new Error(cause.message), { name: 'KafkaJSNumberOfRetriesExceeded', cause, retryCount });
}
function nonRetriable(cause: Error): Error {
  return Object.assign(new Error(cause.message), { name: 'KafkaJSNonRetriableError', cause });
}

describe('send error classification', () => {
  it('maps kafkajs legacy names to Kafka names', () => {
    expect(kafkaName('NOT_LEADER_FOR_PARTITION')).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(errorName(retriesExceeded(protocolError('NOT_LEADER_FOR_PARTITION'), 0))).toBe('NOT_LEADER_OR_FOLLOWER');
  });

  it('a pre-append rejection is a definite fail only when exactly one attempt was made', () => {
    const once = retriesExceeded(protocolError('NOT_ENOUGH_REPLICAS'), 0);
    expect(classifySendError(once, 3)).toEqual({ type: 'fail', error: 'NOT_ENOUGH_REPLICAS' });
    const afterRetries = retriesExceeded(protocolError('NOT_ENOUGH_REPLICAS'), 3);
    expect(classifySendError(afterRetries, 3)).toEqual({ type: 'info', error: 'NOT_ENOUGH_REPLICAS' });
    // with retries configured and no retry count we cannot tell how many attempts ran
    expect(classifySendError(nonRetriable(protocolError('NOT_ENOUGH_REPLICAS')), 2).type).toBe('info');
    expect(classifySendError(nonRetriable(protocolError('NOT_ENOUGH_REPLICAS')), 0).type).toBe('fail');
  });

  it('an error a Metadata answer carries is never a definite fail: kafkajs reports a refresh error after a sent attempt', () => {
    for (const name of ['LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION']) {
      expect(classifySendError(nonRetriable(protocolError(name)), 0)).toEqual({ type: 'info', error: name });
      expect(classifySendError(retriesExceeded(protocolError(name), 0), 3).type).toBe('info');
    }
  });

  it('NOT_LEADER_OR_FOLLOWER is never a definite fail: acks=all requests parked after the append get it too', () => {
    expect(classifySendError(nonRetriable(protocolError('NOT_LEADER_FOR_PARTITION')), 0)).toEqual({ type: 'info', error: 'NOT_LEADER_OR_FOLLOWER' });
    expect(classifySendError(retriesExceeded(protocolError('NOT_LEADER_FOR_PARTITION'), 0), 3).type).toBe('info');
  });

  it('request-intrinsic errors are definite whatever the retries', () => {
    expect(classifySendError(nonRetriable(protocolError('INVALID_REQUIRED_ACKS')), 5)).toEqual({ type: 'fail', error: 'INVALID_REQUIRED_ACKS' });
    expect(classifySendError(retriesExceeded(protocolError('CORRUPT_MESSAGE'), 5), 5).type).toBe('fail');
  });

  it('errors after a possible append, timeouts and dropped connections are info', () => {
    expect(classifySendError(retriesExceeded(protocolError('NOT_ENOUGH_REPLICAS_AFTER_APPEND'), 0), 0).type).toBe('info');
    expect(classifySendError(retriesExceeded(protocolError('REQUEST_TIMED_OUT'), 0), 0).type).toBe('info');
    const timeout = Object.assign(new Error('Request send timed out'), { name: 'KafkaJSRequestTimeoutError' });
    expect(classifySendError(timeout, 0)).toEqual({ type: 'info', error: 'KafkaJSRequestTimeoutError' });
    const closed = retriesExceeded(Object.assign(new Error('Connection closed'), { name: 'KafkaJSConnectionClosedError' }), 0);
    expect(classifySendError(closed, 0)).toEqual({ type: 'info', error: 'KafkaJSConnectionClosedError' });
    expect(classifySendError('weird', 0)).toEqual({ type: 'info', error: 'UNKNOWN' });
  });

  it('unknown broker error names are treated as maybe-written', () => {
    expect(errorClass('SOMETHING_NEW')).toBe('maybe');
    expect(classifySendError(retriesExceeded(protocolError('SOMETHING_NEW'), 0), 0).type).toBe('info');
  });

  it('a cyclic cause chain does not loop', () => {
    const a: Record<string, unknown> = { name: 'A' };
    a['cause'] = { name: 'B', cause: a };
    expect(classifySendError(a, 0).type).toBe('info');
  });
});
