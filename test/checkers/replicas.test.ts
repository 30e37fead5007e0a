import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../../checkers/history.ts';
import { checkReplicas } from '../../checkers/replicas.ts';
import { partitionOfDir, readReplicaLogs, storedNodes } from '../../harness/run/replica-logs.ts';
import { buildBatch } from '../../broker/protocol/records.ts';
import { segmentFileName } from '../../broker/log/segment.ts';

let i = 0;
function op(process: number, type: Op['type'], f: string, value: unknown): Op {
  return { index: i, timeNs: i++ * 1000, process, type, f, value };
}

/** Three acked sends to k-0 at offsets 0..2, read back by one poll. */
function history(): History {
  i = 0;
  return [
    op(0, 'invoke', 'send', { key: 'k-0', value: 10 }), op(0, 'ok', 'send', { key: 'k-0', value: 10, offset: 0 }),
    op(0, 'invoke', 'send', { key: 'k-0', value: 11 }), op(0, 'ok', 'send', { key: 'k-0', value: 11, offset: 1 }),
    op(0, 'invoke', 'send', { key: 'k-0', value: 12 }), op(0, 'ok', 'send', { key: 'k-0', value: 12, offset: 2 }),
    op(1, 'invoke', 'poll', null), op(1, 'ok', 'poll', { 'k-0': [[0, 10], [1, 11], [2, 12]] }),
  ];
}

describe('checkReplicas', () => {
  it('is valid when every replica holds the agreed values', () => {
    const full: Array<[number, number]> = [[0, 10], [1, 11], [2, 12]];
    const r = checkReplicas(history(), [{ node: 'n1', logs: { 'k-0': full } }, { node: 'n2', logs: { 'k-0': full } }]);
    expect(r.valid).toBe(true);
    expect(r.divergent + r.lostOnNode).toBe(0);
  });

  it('counts exactly one divergent offset and one value lost on that node', () => {
    const r = checkReplicas(history(), [
      { node: 'n1', logs: { 'k-0': [[0, 10], [1, 11], [2, 12]] } },
      { node: 'n2', logs: { 'k-0': [[0, 10], [1, 99], [2, 12]] } },
    ]);
    expect(r.valid).toBe(false);
    expect(r.nodes[0]!.divergent.count + r.nodes[0]!.lostOnNode.count).toBe(0);
    expect(r.nodes[1]!.divergent).toEqual({ count: 1, examples: [{ key: 'k-0', offset: 1, agreed: 11, onNode: 99 }] });
    expect(r.nodes[1]!.lostOnNode).toEqual({ count: 1, examples: [{ key: 'k-0', value: 11, offset: 1 }] });
  });

  it('counts a value lost at the tail of one node only there; a node without the partition is no replica', () => {
    const r = checkReplicas(history(), [
      { node: 'n1', logs: { 'k-0': [[0, 10], [1, 11]] } },
      { node: 'n2', logs: {} },
    ]);
    expect(r.nodes[0]!.lostOnNode.count).toBe(1);
    expect(r.nodes[0]!.divergent.count).toBe(0);
    expect(r.nodes[1]!.lostOnNode.count).toBe(0);
    expect(r.lostOnNode).toBe(1);
  });

  it('is unknown, not true, when a node could not be read', () => {
    const full: Array<[number, number]> = [[0, 10], [1, 11], [2, 12]];
    expect(checkReplicas(history(), [{ node: 'n1', logs: { 'k-0': full } }, { node: 'n2', logs: {}, error: 'cannot list' }]).valid).toBe('unknown');
  });
});

describe('readReplicaLogs', () => {
  it('reads segment files in offset order, stops at a torn batch and names it, and keeps text payloads', () => {
    const data = mkdtempSync(join(tmpdir(), 'fl-replicas-'));
    const dir = join(data, 'partitions', 'k-0');
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(data, 'partitions', 'other-0'));
    const b0 = buildBatch({ baseOffset: 0, records: ['10', '11'].map((v) => ({ key: null, value: Buffer.from(v) })) });
    const b1 = buildBatch({ baseOffset: 2, records: ['x'].map((v) => ({ key: null, value: Buffer.from(v) })) });
    const b2 = buildBatch({ baseOffset: 3, records: ['13'].map((v) => ({ key: null, value: Buffer.from(v) })) });
    writeFileSync(join(dir, segmentFileName(0, '.log')), Buffer.concat([b0, b1]));
    const corrupt = Buffer.from(b2);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    writeFileSync(join(dir, segmentFileName(3, '.log')), corrupt);
    const [n] = readReplicaLogs([{ name: 'n1', dataDir: data }], 'k');
    expect(n!.logs).toEqual({ 'k-0': [[0, 10], [1, 11], [2, 'x']] });
    expect(n!.error).toMatch(/k-0: 00000000000000000003\.log at byte 0/);
    expect(readReplicaLogs([{ name: 'n9', dataDir: join(data, 'missing') }], 'k')[0]!.error).toMatch(/cannot list/);
  });

  it('finds the nodes of a stored run directory', () => {
    const run = mkdtempSync(join(tmpdir(), 'fl-run-nodes-'));
    mkdirSync(join(run, 'nodes', 'n2', 'data'), { recursive: true });
    mkdirSync(join(run, 'nodes', 'n1', 'data'), { recursive: true });
    mkdirSync(join(run, 'nodes', 'n3'), { recursive: true });
    expect(storedNodes(run)).toEqual([{ name: 'n1', dataDir: join(run, 'nodes', 'n1', 'data') }, { name: 'n2', dataDir: join(run, 'nodes', 'n2', 'data') }]);
    expect(storedNodes(join(run, 'missing'))).toEqual([]);
  });

  it('maps partition directory names of the topic only', () => {
    expect(partitionOfDir('faultline-2', 'faultline')).toBe(2);
    expect(partitionOfDir('faultline-12-abc', 'faultline')).toBe(12);
    expect(partitionOfDir('faultline-x', 'faultline')).toBe(null);
    expect(partitionOfDir('__consumer_offsets-3', 'faultline')).toBe(null);
  });
});
