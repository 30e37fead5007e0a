/**
 * How much of a partition log open() must read (Kafka's recovery point and LogLoader).
 *
 * The recovery point R is the offset below which every byte of the log is known to be durable and
 * valid, so open() need not check it:
 *  - after a clean shutdown, R is the log end: close() fsyncs everything, then writes a
 *    `clean-shutdown` marker naming the log end and the active segment's base and size. open()
 *    reads the marker and deletes it durably before anything else, so an append after the open can
 *    never be covered by a stale marker. A marker whose segment base or size differs from the files
 *    is ignored.
 *  - otherwise R is the active (last) segment's base: a segment is fsynced, with its index, before
 *    the next one is created (partition-log.ts rolls so), so only the active segment can hold a torn
 *    or unsynced tail.
 * The producer state comes from the newest valid snapshot S with logStart <= S <= R
 * (producer-snapshot.ts), or from the log start when there is none or the epoch cache must be
 * rebuilt from the batches. A segment is scanned (read batch by batch) when it holds offsets >= S,
 * or it is the active segment and the shutdown was not clean; every other segment is opened without reading it (Segment.openTrusted, which checks the
 * index and the few batch headers after its last entry, and falls back to a scan when they disagree).
 * So a restart reads one segment, or none after a clean shutdown, however long the log.
 */
import * as path from 'node:path';
import { fileSizeIfExists, nodeFileSystem, readFileIfExists, removeFileDurably, writeFileAtomic, type FileSystem } from './fs-util.ts';
import { loadNewestSnapshot, type LoadedSnapshot } from './producer-snapshot.ts';
import { segmentFileName } from './segment.ts';

export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';

export interface CleanShutdown {
  logEndOffset: number;
  activeBase: number;
  activeSizeBytes: number;
}

export function writeCleanShutdown(dir: string, m: CleanShutdown, fsys: FileSystem = nodeFileSystem): void {
  writeFileAtomic(path.join(dir, CLEAN_SHUTDOWN_FILE), Buffer.from(`${m.logEndOffset} ${m.activeBase} ${m.activeSizeBytes}\n`), fsys);
}

/** Reads and durably deletes the marker; null when absent or malformed. */
export function consumeCleanShutdown(dir: string, fsys: FileSystem = nodeFileSystem): CleanShutdown | null {
  const file = path.join(dir, CLEAN_SHUTDOWN_FILE);
  const buf = readFileIfExists(file, fsys);
  if (buf === null) return null;
  removeFileDurably(file, fsys);
  const m = /^(\d+) (\d+) (\d+)\n$/.exec(buf.toString('utf8'));
  if (!m) return null;
  return { logEndOffset: Number(m[1]), activeBase: Number(m[2]), activeSizeBytes: Number(m[3]) };
}

export interface OpenPlan {
  recoveryPoint: number;
  /** The log end recorded at a clean shutdown, when it matches the files; null otherwise. */
  cleanLogEnd: number | null;
  snapshot: LoadedSnapshot | null;
  /** Corrupt snapshot files found (and deleted) on the way to `snapshot`. */
  corruptSnapshots: number;
  /** Producer state is replayed from batches with baseOffset >= this. */
  replayFrom: number;
  /** Segments at index >= this are scanned; those below are opened without reading them. */
  firstScanned: number;
}

/**
 * Decides what open() reads. `bases` are the segment bases after the log-start fix-ups, ascending,
 * non-empty; `mustScanAll` when the batches themselves are needed (a corrupt epoch checkpoint).
 */
export function planOpen(dir: string, bases: readonly number[], mustScanAll: boolean, marker: CleanShutdown | null, fsys: FileSystem = nodeFileSystem): OpenPlan {
  const last = bases.length - 1;
  const lastBase = bases[last]!;
  const clean =
    marker !== null &&
    marker.activeBase === lastBase &&
    marker.logEndOffset >= lastBase &&
    fileSizeIfExists(path.join(dir, segmentFileName(lastBase, '.log')), fsys) === marker.activeSizeBytes;
  const cleanLogEnd = clean ? marker.logEndOffset : null;
  const recoveryPoint = cleanLogEnd ?? lastBase;
  const logStart = bases[0]!;
  const { snapshot, corrupt } = mustScanAll ? { snapshot: null, corrupt: 0 } : loadNewestSnapshot(dir, logStart, recoveryPoint, fsys);
  const replayFrom = snapshot?.offset ?? logStart;
  let firstScanned = bases.length;
  for (let i = 0; i <= last; i++) {
    const end = i < last ? bases[i + 1]! : cleanLogEnd;
    // The active segment of an unclean shutdown is always scanned; others only if they hold offsets to replay.
    if (mustScanAll || end === null || end > replayFrom) {
      firstScanned = i;
      break;
    }
  }
  return { recoveryPoint, cleanLogEnd, snapshot, corruptSnapshots: corrupt, replayFrom, firstScanned };
}
