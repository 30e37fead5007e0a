/**
 * Reads each node's own log of the test topic after the nodes have stopped, for checkers/replicas.ts.
 *
 * A node's partition directory (`<dataDir>/partitions/<topic>-<p>`) is read without opening it as a
 * broker would: opening recovers and may truncate, index or checkpoint, which would change the evidence.
 * Each `.log` segment, in base-offset order, is split into record batches and decoded with the broker's
 * own record decoder (CRC checked); reading stops at the first torn or corrupt batch, where the broker's
 * recovery would cut the log. Read-only and bounded by the log sizes (each segment read once).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listSegmentBases, segmentFileName } from '../../broker/log/segment.ts';
import { decodeRecords, iterateBatches } from '../../broker/protocol/records.ts';
import type { NodeLogs, ReplicaPair } from '../../checkers/replicas.ts';
import { payloadOf } from '../../workloads/consumer.ts';

/** The partition of `topic` a directory name belongs to (`<topic>-<p>`, optionally with a suffix), or null. */
export function partitionOfDir(name: string, topic: string): number | null {
  if (!name.startsWith(`${topic}-`)) return null;
  const m = /^(\d+)(?:$|[^\d])/.exec(name.slice(topic.length + 1));
  return m === null ? null : Number(m[1]);
}

/** One partition directory's records as [offset, value] pairs; `error` when a batch could not be read. */
export function readPartitionDir(dir: string): { pairs: ReplicaPair[]; error?: string } {
  const pairs: ReplicaPair[] = [];
  for (const base of listSegmentBases(dir)) {
    const buf = readFileSync(join(dir, segmentFileName(base, '.log')));
    let consumed = 0;
    for (const batch of iterateBatches(buf)) {
      try {
        for (const r of decodeRecords(batch)) pairs.push([r.offset, payloadOf(r.value)]);
      } catch (err) {
        return { pairs, error: `${segmentFileName(base, '.log')} at byte ${consumed}: ${(err as Error).message}` };
      }
      consumed += batch.length;
    }
  }
  return { pairs };
}

/** Every node's log of `topic`, keyed `<topic>-<p>`; a node that cannot be read carries its error. */
export function readReplicaLogs(nodes: ReadonlyArray<{ name: string; dataDir: string }>, topic: string): NodeLogs[] {
  return nodes.map((n): NodeLogs => {
    const root = join(n.dataDir, 'partitions');
    const logs: Record<string, ReplicaPair[]> = {};
    const errors: string[] = [];
    let names: string[];
    try {
      names = readdirSync(root);
    } catch (err) {
      return { node: n.name, logs, error: `cannot list ${root}: ${(err as Error).message}` };
    }
    for (const name of names.sort()) {
      const p = partitionOfDir(name, topic);
      if (p === null) continue;
      const dir = join(root, name);
      try {
        if (!statSync(dir).isDirectory()) continue;
        const r = readPartitionDir(dir);
        logs[`${topic}-${p}`] = r.pairs;
        if (r.error !== undefined) errors.push(`${name}: ${r.error}`);
      } catch (err) {
        errors.push(`${name}: ${(err as Error).message}`);
      }
    }
    return { node: n.name, logs, ...(errors.length === 0 ? {} : { error: errors.join('; ') }) };
  });
}

/**
 * The nodes of a stored run, as `readReplicaLogs` takes them: `<runDir>/nodes/<node>/data` (for
 * `faultline check`, which can recompute the `replicas` section from a run directory).
 */
export function storedNodes(runDir: string): Array<{ name: string; dataDir: string }> {
  const root = join(runDir, 'nodes');
  const isDir = (p: string): boolean => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  let names: string[];
  try {
    names = readdirSync(root).sort();
  } catch {
    return [];
  }
  return names.filter((n) => isDir(join(root, n, 'data'))).map((n) => ({ name: n, dataDir: join(root, n, 'data') }));
}
