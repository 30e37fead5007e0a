/**
 * Reading an offsets partition (`__consumer_offsets-N`) for the group coordinator's load
 * (Kafka's GroupMetadataManager.doLoadGroupsAndOffsets): every record from the log start to the log
 * end, in log order, in reads of at most `readBytes` (each read returns at least one batch and moves
 * on, so the loop ends). The cost is the bytes between log start and log end, which compaction of
 * the offsets topic (log/cleaner.ts) bounds by the number of live keys plus the uncleaned tail.
 */
import { decodeRecords } from '../protocol/records.ts';

/** What the load needs of a partition log. */
export interface OffsetsLogView {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  read(fetchOffset: number, maxBytes: number, maxOffsetExclusive: number): { records: Buffer; nextOffset: number };
}

export interface OffsetsLoad {
  records: Array<{ key: Buffer | null; value: Buffer | null }>;
  /** Record-batch bytes read from the log. */
  bytesRead: number;
}

export const OFFSETS_LOAD_READ_BYTES = 1 << 20;

export function readOffsetsLog(log: OffsetsLogView, readBytes = OFFSETS_LOAD_READ_BYTES): OffsetsLoad {
  const records: OffsetsLoad['records'] = [];
  let bytesRead = 0;
  let offset = log.logStartOffset;
  const end = log.logEndOffset;
  while (offset < end) {
    const read = log.read(offset, readBytes, end);
    if (read.records.length === 0 || read.nextOffset <= offset) break;
    bytesRead += read.records.length;
    for (const rec of decodeRecords(read.records)) records.push({ key: rec.key, value: rec.value });
    offset = read.nextOffset;
  }
  return { records, bytesRead };
}
