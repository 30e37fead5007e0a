/**
 * Typed errors of the partition log. Each has a stable string `code`; where a Kafka error code
 * exists for the condition the code is that error's name, so the server maps them one to one.
 *   OFFSET_OUT_OF_RANGE     a read below logStartOffset or above logEndOffset
 *   NON_CONTIGUOUS_APPEND   a follower append that does not start at logEndOffset (or has gaps)
 *   CORRUPT_MESSAGE         bytes that are not a well-formed RecordBatch v2 sequence
 *   RECORD_BATCH_TOO_LARGE  a single batch larger than segmentBytes
 *   LOG_CLOSED              any use after close()
 */
export type LogErrorCode =
  | 'OFFSET_OUT_OF_RANGE'
  | 'NON_CONTIGUOUS_APPEND'
  | 'CORRUPT_MESSAGE'
  | 'RECORD_BATCH_TOO_LARGE'
  | 'LOG_CLOSED';

export class LogError extends Error {
  readonly code: LogErrorCode;
  constructor(code: LogErrorCode, message: string) {
    super(message);
    this.name = 'LogError';
    this.code = code;
  }
}

export class OffsetOutOfRangeError extends LogError {
  readonly offset: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  constructor(offset: number, logStartOffset: number, logEndOffset: number) {
    super('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside the log [${logStartOffset}, ${logEndOffset}]`);
    this.name = 'OffsetOutOfRangeError';
    this.offset = offset;
    this.logStartOffset = logStartOffset;
    this.logEndOffset = logEndOffset;
  }
}

export class NonContiguousAppendError extends LogError {
  readonly expectedOffset: number;
  readonly actualOffset: number;
  constructor(expectedOffset: number, actualOffset: number) {
    super('NON_CONTIGUOUS_APPEND', `append expected a batch at offset ${expectedOffset}, got ${actualOffset}`);
    this.name = 'NonContiguousAppendError';
    this.expectedOffset = expectedOffset;
    this.actualOffset = actualOffset;
  }
}

export class CorruptBatchError extends LogError {
  constructor(message: string) {
    super('CORRUPT_MESSAGE', message);
    this.name = 'CorruptBatchError';
  }
}

export class RecordBatchTooLargeError extends LogError {
  constructor(sizeBytes: number, segmentBytes: number) {
    super('RECORD_BATCH_TOO_LARGE', `batch of ${sizeBytes} bytes exceeds segmentBytes ${segmentBytes}`);
    this.name = 'RecordBatchTooLargeError';
  }
}
