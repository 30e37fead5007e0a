/**
 * Kafka's OffsetCheckpointFile: one offset per topic-partition, as text
 *
 *   0                      the format version
 *   <count>                the number of lines that follow
 *   <topic> <partition> <offset>
 *   ...
 *
 * The broker keeps its high watermarks in one such file per data dir, `replication-offset-checkpoint`
 * (Kafka's ReplicaManager.checkpointHighWatermarks). Topic names are [a-zA-Z0-9._-] (checked where
 * topics are created), so a space separates the fields unambiguously.
 *
 * Writes replace the file atomically and durably (fs-util.ts writeFileAtomic: tmp, fsync, rename,
 * fsync dir). A file that does not parse (bad version, count, line, a negative or non-integer
 * number, a duplicate partition) is reported as corrupt with the reason, never half-used: the
 * caller then starts as if it had none, which for high watermarks is the safe side (HW 0 hides
 * committed data until the ISR advances it again; it never exposes uncommitted data).
 */
import { nodeFileSystem, type FileSystem } from './fs.ts';
import { readFileIfExists, writeFileAtomic } from './fs-util.ts';

export const REPLICATION_OFFSET_CHECKPOINT_FILE = 'replication-offset-checkpoint';
const VERSION = '0';

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

export type CheckpointRead = { entries: PartitionOffset[]; corrupt: null } | { entries: []; corrupt: string };

export function formatOffsetCheckpoint(entries: readonly PartitionOffset[]): string {
  for (const e of entries) {
    if (!/^[a-zA-Z0-9._-]+$/.test(e.topic) || !Number.isSafeInteger(e.partition) || e.partition < 0 || !Number.isSafeInteger(e.offset) || e.offset < 0) {
      throw new RangeError(`cannot checkpoint ${e.topic}-${e.partition} at ${e.offset}`);
    }
  }
  return [VERSION, String(entries.length), ...entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`)].join('\n') + '\n';
}

/** The entries, or why the text is not a checkpoint. */
export function parseOffsetCheckpoint(text: string): CheckpointRead {
  const bad = (why: string): CheckpointRead => ({ entries: [], corrupt: why });
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== VERSION) return bad(`version line '${lines[0] ?? ''}', expected '${VERSION}'`);
  if (lines[1] === undefined || !/^\d+$/.test(lines[1])) return bad(`count line '${lines[1] ?? ''}' is not a number`);
  const count = Number(lines[1]);
  if (lines.length - 2 !== count) return bad(`count says ${count} entries, ${lines.length - 2} lines follow`);
  const entries: PartitionOffset[] = [];
  const seen = new Set<string>();
  for (const [i, line] of lines.slice(2).entries()) {
    const m = /^([a-zA-Z0-9._-]+) (\d+) (\d+)$/.exec(line);
    if (!m) return bad(`line ${i + 3} '${line}' is not '<topic> <partition> <offset>'`);
    const e = { topic: m[1]!, partition: Number(m[2]), offset: Number(m[3]) };
    if (!Number.isSafeInteger(e.partition) || !Number.isSafeInteger(e.offset)) return bad(`line ${i + 3}: number out of range`);
    const key = `${e.topic} ${e.partition}`;
    if (seen.has(key)) return bad(`line ${i + 3}: ${e.topic}-${e.partition} appears twice`);
    seen.add(key);
    entries.push(e);
  }
  return { entries, corrupt: null };
}

/** Reads the checkpoint at `file`: no file is an empty checkpoint, a bad one is reported corrupt. */
export function readOffsetCheckpoint(file: string, fsys: FileSystem = nodeFileSystem): CheckpointRead {
  const data = readFileIfExists(file, fsys);
  if (data === null) return { entries: [], corrupt: null };
  return parseOffsetCheckpoint(data.toString('utf8'));
}

export function writeOffsetCheckpoint(file: string, entries: readonly PartitionOffset[], fsys: FileSystem = nodeFileSystem): void {
  writeFileAtomic(file, Buffer.from(formatOffsetCheckpoint(entries)), fsys);
}
