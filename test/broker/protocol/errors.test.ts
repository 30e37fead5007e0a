/** The Kafka error table: unique codes and names, ErrorCode agrees with the table, known anchors. */
import { describe, expect, it } from 'vitest';
import { ErrorCode, errorInfo, errorName, isRetriable, kafkaErrors } from '../../../broker/protocol/errors.ts';

describe('kafka error table', () => {
  it('codes and names are unique and ErrorCode mirrors the table', () => {
    expect(new Set(kafkaErrors.map((e) => e.code)).size).toBe(kafkaErrors.length);
    expect(new Set(kafkaErrors.map((e) => e.name)).size).toBe(kafkaErrors.length);
    expect(Object.keys(ErrorCode)).toHaveLength(kafkaErrors.length);
    for (const e of kafkaErrors) expect(ErrorCode[e.name as keyof typeof ErrorCode]).toBe(e.code);
  });

  it('covers every code from -1 to the highest without gaps', () => {
    const codes = kafkaErrors.map((e) => e.code).sort((a, b) => a - b);
    expect(codes[0]).toBe(-1);
    expect(codes.at(-1)).toBeGreaterThanOrEqual(120);
    codes.forEach((c, i) => expect(c).toBe(i - 1));
  });

  it('matches Kafka on the codes the broker and checkers depend on', () => {
    expect(ErrorCode).toMatchObject({
      NONE: 0,
      OFFSET_OUT_OF_RANGE: 1,
      CORRUPT_MESSAGE: 2,
      UNKNOWN_TOPIC_OR_PARTITION: 3,
      LEADER_NOT_AVAILABLE: 5,
      NOT_LEADER_OR_FOLLOWER: 6,
      REQUEST_TIMED_OUT: 7,
      MESSAGE_TOO_LARGE: 10,
      NOT_COORDINATOR: 16,
      NOT_ENOUGH_REPLICAS: 19,
      NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
      REBALANCE_IN_PROGRESS: 27,
      UNSUPPORTED_VERSION: 35,
      TOPIC_ALREADY_EXISTS: 36,
      INVALID_REPLICATION_FACTOR: 38,
      NOT_CONTROLLER: 41,
      OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
      DUPLICATE_SEQUENCE_NUMBER: 46,
      INVALID_PRODUCER_EPOCH: 47,
      UNKNOWN_PRODUCER_ID: 59,
      FENCED_LEADER_EPOCH: 74,
      UNKNOWN_LEADER_EPOCH: 75,
      UNSUPPORTED_COMPRESSION_TYPE: 76,
      MEMBER_ID_REQUIRED: 79,
      INVALID_RECORD: 87,
    });
    for (const n of ['NOT_LEADER_OR_FOLLOWER', 'NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION', 'FENCED_LEADER_EPOCH'] as const) {
      expect(isRetriable(ErrorCode[n])).toBe(true);
    }
    for (const n of ['NONE', 'OFFSET_OUT_OF_RANGE', 'UNKNOWN_SERVER_ERROR', 'INVALID_RECORD', 'TOPIC_ALREADY_EXISTS', 'REBALANCE_IN_PROGRESS', 'OUT_OF_ORDER_SEQUENCE_NUMBER'] as const) {
      expect(isRetriable(ErrorCode[n])).toBe(false);
    }
  });

  it('errorName and errorInfo', () => {
    expect(errorName(6)).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(errorName(9999)).toBe('UNKNOWN_ERROR_CODE_9999');
    expect(errorInfo(19)).toEqual({ code: 19, name: 'NOT_ENOUGH_REPLICAS', retriable: true });
    expect(errorInfo(9999)).toBeUndefined();
    expect(isRetriable(9999)).toBe(false);
  });
});
