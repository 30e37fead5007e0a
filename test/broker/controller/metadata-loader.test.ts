/**
 * MetadataLoader: nothing is published before catch-up (to the leader's high watermark and to the
 * durable last-published offset), every change after; snapshots every N bytes of records; a voter
 * answers an observer below its log start with its snapshot.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetadataImage } from '../../../broker/controller/image.ts';
import { MetadataLoader, PUBLISHED_OFFSET_FILE, serveMetadata } from '../../../broker/controller/metadata-loader.ts';
import type { Entry } from '../../../broker/controller/raft/messages.ts';
import type { MetadataRecord } from '../../../broker/controller/records.ts';
import type { Logger } from '../../../broker/logger.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

function loader(dir = mkdtempSync(join(tmpdir(), 'fl-loader-')), maxBytes = 1 << 20) {
  const l = new MetadataLoader({ dir, maxRecordBytesBetweenSnapshots: maxBytes, maxSnapshotIntervalMs: 3_600_000, logger: quiet });
  const published: number[] = [];
  l.onPublish((image) => published.push(image.lastOffset));
  return { l, published, dir };
}

const entry = (index: number, records: MetadataRecord[] | null): Entry => ({ term: 1, index, payload: records === null ? null : JSON.stringify(records) });
const topic = (name: string, id: string): MetadataRecord => ({ type: 'Topic', name, topicId: id, numPartitions: 0, configs: {} });

describe('MetadataLoader', () => {
  it('publishes nothing before catch-up to the high watermark, then every change, and checkpoints the published offset', () => {
    const { l, published, dir } = loader();
    l.apply(entry(1, [topic('t', 'a')]));
    l.apply(entry(2, [{ type: 'RemoveTopic', name: 't', topicId: 'a' }]));
    expect(published).toEqual([]);
    l.setHighWatermark(4);
    l.apply(entry(3, [topic('t', 'b')]));
    expect(published).toEqual([]);
    l.apply(entry(4, null));
    expect(published).toEqual([3]);
    expect(l.caughtUp).toBe(true);
    expect(readFileSync(join(dir, PUBLISHED_OFFSET_FILE), 'utf8').trim()).toBe('4');
    l.apply(entry(5, [topic('u', 'c')]));
    l.apply(entry(6, null));
    expect(published).toEqual([3, 5]);
  });

  it('after a restart publishes nothing below the offset it published before, whatever the high watermark says', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-loader-'));
    writeFileSync(join(dir, PUBLISHED_OFFSET_FILE), '3\n');
    const { l, published } = loader(dir);
    l.setHighWatermark(1);
    l.apply(entry(1, [topic('t', 'a')]));
    l.apply(entry(2, [{ type: 'RemoveTopic', name: 't', topicId: 'a' }]));
    expect(published).toEqual([]);
    l.apply(entry(3, [topic('t', 'b')]));
    expect(published).toEqual([3]);
    expect(l.image.topic('t')?.topicId).toBe('b');
  });

  it('hands a snapshot to the sink every N bytes of records; restoring it gives the same image', () => {
    const { l } = loader(undefined, 200);
    const snaps: Array<{ index: number; data: string }> = [];
    l.setSnapshotSink((index, _term, data) => snaps.push({ index, data }));
    for (let i = 1; i <= 20; i++) l.apply(entry(i, [topic(`t${i}`, `id-${i}`)]));
    expect(snaps.length).toBeGreaterThanOrEqual(2);
    const last = snaps[snaps.length - 1]!;
    const copy = new MetadataImage();
    copy.restore(last.data);
    expect(copy.lastOffset).toBe(last.index);
    expect(copy.topic(`t${last.index}`)?.topicId).toBe(`id-${last.index}`);
    const { l: fresh } = loader();
    fresh.restore({ index: last.index, term: 1, data: last.data });
    expect(fresh.appliedIndex).toBe(last.index);
  });

  it('answers an observer below the voter\'s log start with the snapshot, above it with entries, and only the leader with its high watermark', async () => {
    const { l } = loader();
    for (let i = 1; i <= 3; i++) l.apply(entry(i, [topic(`t${i}`, `id-${i}`)]));
    const snapshot = { index: 2, term: 1, data: 'image@2' };
    const raft = {
      leaderId: 1,
      isLeader: true,
      highWatermark: 3,
      readCommitted: (from: number) => (from < 3 ? { snapshot, entries: [] } : { snapshot: null, entries: [entry(3, [topic('t3', 'id-3')])] }),
    };
    expect(await serveMetadata(l, raft, { fromIndex: 1, maxWaitMs: 0 })).toMatchObject({ snapshot, entries: [], highWatermark: 3 });
    expect(await serveMetadata(l, { ...raft, isLeader: false }, { fromIndex: 3, maxWaitMs: 0 })).toMatchObject({ snapshot: null, highWatermark: null });
    await expect(serveMetadata(l, raft, { fromIndex: 0, maxWaitMs: 0 })).rejects.toThrow(/fromIndex/);
  });
});
