/**
 * Group commit of leader appends (broker/log/write-behind.ts), on the real PartitionLog over the
 * simulated disk:
 * - a turn's appends as leader are one write per segment, and only when the turn ends;
 * - every use of the file (read, fsync, truncation, close) writes the pending bytes first, so a log
 *   with write-behind answers every operation exactly as one without, and ends byte for byte equal
 *   (a fast-check property over random sequences of appends, reads, fsyncs, truncations, rolls,
 *   follower appends and drains);
 * - a process crash loses only what was appended since the last write;
 * - a write that fails fails the node: onFailure once, and every later drain, append and read throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../../../broker/log/partition-log.ts';
import { WriteBehind } from '../../../broker/log/write-behind.ts';
import { SimFileSystem } from '../../sim/sim-fs.ts';
import { simpleBatch } from './batch-builder.ts';

/** Timers whose setImmediate only queues: the test decides when the turn ends (`endTurn`). */
function manualTurns(): { timers: { setImmediate(fn: () => void): void }; endTurn(): void } {
  const queued: Array<() => void> = [];
  return {
    timers: { setImmediate: (fn) => queued.push(fn) },
    endTurn: () => {
      for (const fn of queued.splice(0)) fn();
    },
  };
}

const config = (segmentBytes: number): LogConfig => ({ ...defaultLogConfig, segmentBytes, indexIntervalBytes: 256 });

/** Every file of `dir` on `disk`, by name. */
function files(disk: SimFileSystem, dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of disk.list(dir).sort()) out[f] = disk.readFile(`${dir}/${f}`).toString('hex');
  return out;
}

/** Calls `before(path)` ahead of every write on `disk` (it may throw, failing that write). */
function beforeEachWrite(disk: SimFileSystem, before: (path: string) => void): void {
  const paths = new Map<number, string>();
  const open = disk.open.bind(disk);
  const write = disk.write.bind(disk);
  disk.open = (p, flags) => {
    const fd = open(p, flags);
    paths.set(fd, p);
    return fd;
  };
  disk.write = (fd, buf, offset, length, position) => {
    before(paths.get(fd) ?? '');
    return write(fd, buf, offset, length, position);
  };
}

/** Counts writes to `.log` files. */
function countingLogWrites(disk: SimFileSystem): { count: () => number } {
  let n = 0;
  beforeEachWrite(disk, (p) => {
    if (p.endsWith('.log')) n++;
  });
  return { count: () => n };
}

/** A leader log with group commit on the simulated disk, turns ended by the test, failures kept. */
function deferredLog(): { disk: SimFileSystem; turns: ReturnType<typeof manualTurns>; failures: Error[]; wb: WriteBehind; log: PartitionLog } {
  const disk = new SimFileSystem();
  const turns = manualTurns();
  const failures: Error[] = [];
  const wb = new WriteBehind(turns.timers, (e) => failures.push(e));
  const log = PartitionLog.open('/d/t-0', config(1 << 20), () => 0, disk, wb);
  return { disk, turns, failures, wb, log };
}

describe('write-behind (group commit of leader appends)', () => {
  it("writes a turn's leader appends in one write, at the end of the turn; a read first writes them", () => {
    const disk = new SimFileSystem();
    const writes = countingLogWrites(disk);
    const turns = manualTurns();
    const failures: Error[] = [];
    const wb = new WriteBehind(turns.timers, (e) => failures.push(e));
    const log = PartitionLog.open('/d/t-0', config(1 << 20), () => 0, disk, wb);
    for (let i = 0; i < 50; i++) log.appendAsLeader(simpleBatch(1, 20, i), 0);
    expect(writes.count()).toBe(0);
    expect(wb.pendingCount).toBe(1);
    expect(log.logEndOffset).toBe(50);
    turns.endTurn();
    expect(writes.count()).toBe(1);
    expect(wb.pendingCount).toBe(0);

    for (let i = 0; i < 10; i++) log.appendAsLeader(simpleBatch(1, 20, 100 + i), 0);
    const read = log.read(55, 1 << 20, Number.MAX_SAFE_INTEGER);
    expect(writes.count()).toBe(2);
    expect(read.batches).toBe(5);
    expect(wb.pendingCount).toBe(0);
    turns.endTurn(); // nothing left to write
    expect(writes.count()).toBe(2);

    // follower appends are written at once
    const follower = PartitionLog.open('/d/t-1', config(1 << 20), () => 0, disk, wb);
    follower.appendAsFollower(log.read(0, 1 << 20, Number.MAX_SAFE_INTEGER).records);
    expect(writes.count()).toBe(3);
    expect(wb.pendingCount).toBe(0);
    expect(failures).toEqual([]);
  });

  it('a process crash loses only the appends since the last write; an fsync covers every append before it', () => {
    const disk = new SimFileSystem();
    const turns = manualTurns();
    const wb = new WriteBehind(turns.timers, () => undefined);
    const log = PartitionLog.open('/d/t-0', config(1 << 20), () => 0, disk, wb);
    for (let i = 0; i < 5; i++) log.appendAsLeader(simpleBatch(2, 20, i), 0);
    turns.endTurn();
    for (let i = 0; i < 3; i++) log.appendAsLeader(simpleBatch(2, 20, 10 + i), 0);
    // the process dies: the log object is dropped unclosed, the page cache (the disk's current bytes) stays
    const reopened = PartitionLog.open('/d/t-0', config(1 << 20), () => 0, disk);
    expect(reopened.logEndOffset).toBe(10);
    reopened.close();

    const disk2 = new SimFileSystem();
    const log2 = PartitionLog.open('/d/t-0', config(1 << 20), () => 0, disk2, new WriteBehind(manualTurns().timers, () => undefined));
    for (let i = 0; i < 4; i++) log2.appendAsLeader(simpleBatch(1, 20, i), 0);
    log2.flush(); // fsync: the pending bytes are written first, then made durable
    disk2.crash(); // power loss
    const after = PartitionLog.open('/d/t-0', config(1 << 20), () => 0, disk2);
    expect(after.logEndOffset).toBe(4);
  });

  it('a failed write fails the node: onFailure once, and every later drain, append and read throws', () => {
    const { disk, turns, failures, wb, log } = deferredLog();
    log.appendAsLeader(simpleBatch(1, 20, 0), 0);
    turns.endTurn();
    log.appendAsLeader(simpleBatch(1, 20, 1), 0);
    disk.powerFailAfter(0); // the next mutation throws
    turns.endTurn();
    expect(failures).toHaveLength(1);
    expect(wb.failed).toBe(failures[0]);
    expect(() => wb.drain()).toThrow(failures[0]!.message);
    expect(() => log.appendAsLeader(simpleBatch(1, 20, 2), 0)).toThrow();
    expect(() => log.read(0, 1 << 20, Number.MAX_SAFE_INTEGER)).toThrow();
    expect(failures).toHaveLength(1);
  });

  it('a read that writes the pending bytes and fails them fails the node too; nothing is left to drain', () => {
    const { disk, failures, wb, log } = deferredLog();
    log.appendAsLeader(simpleBatch(1, 20, 0), 0);
    disk.powerFailAfter(0);
    expect(() => log.read(0, 1 << 20, Number.MAX_SAFE_INTEGER)).toThrow();
    expect(failures).toHaveLength(1);
    expect(() => wb.drain()).toThrow(failures[0]!.message);
  });

  it('an index write that fails leaves nothing queued: the next append takes its place and reads back as itself', () => {
    const disk = new SimFileSystem();
    let failIndexWrite = false;
    beforeEachWrite(disk, (p) => {
      if (failIndexWrite && p.endsWith('.index')) {
        failIndexWrite = false;
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      }
    });
    const turns = manualTurns();
    const wb = new WriteBehind(turns.timers, () => undefined);
    // an index entry is due at every append after the first (interval 1 byte)
    const log = PartitionLog.open('/d/t-0', { ...defaultLogConfig, segmentBytes: 1 << 20, indexIntervalBytes: 1 }, () => 0, disk, wb);
    log.appendAsLeader(simpleBatch(1, 20, 1), 0);
    failIndexWrite = true;
    expect(() => log.appendAsLeader(simpleBatch(1, 20, 2), 0)).toThrow('EIO');
    const acked = log.appendAsLeader(simpleBatch(1, 20, 3), 0);
    expect(acked.baseOffset).toBe(1);
    turns.endTurn();
    const tagAt = (l: PartitionLog, offset: number): number => {
      const r = l.read(offset, 1 << 20, offset + 1);
      // the first record's value starts with the tag simpleBatch wrote (after the 61-byte header and the record's varints)
      return r.records.readUInt32BE(r.records.indexOf(Buffer.alloc(16, 0x61).subarray(0, 4)) - 4);
    };
    expect(tagAt(log, 1)).toBe(3);
    const reopened = PartitionLog.open('/d/t-0', { ...defaultLogConfig, segmentBytes: 1 << 20, indexIntervalBytes: 1 }, () => 0, disk);
    expect(reopened.logEndOffset).toBe(2);
    expect(tagAt(reopened, 1)).toBe(3);
  });

  it('a read below the in-memory tail walks the file: more pending batches in one turn than the tail keeps', () => {
    const disk = new SimFileSystem();
    const turns = manualTurns();
    const wb = new WriteBehind(turns.timers, () => undefined);
    const log = PartitionLog.open('/d/t-0', config(1 << 24), () => 0, disk, wb);
    for (let i = 0; i < 5000; i++) log.appendAsLeader(simpleBatch(1, 8, i), 0);
    const r = log.read(10, 1 << 20, 11);
    expect(r.batches).toBe(1);
    expect(r.nextOffset).toBe(11);
  });

  type Op =
    | { kind: 'append'; records: number; size: number }
    | { kind: 'read'; at: number }
    | { kind: 'flush' }
    | { kind: 'truncate'; at: number }
    | { kind: 'follow'; batches: number }
    | { kind: 'turn' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), records: fc.integer({ min: 1, max: 4 }), size: fc.integer({ min: 1, max: 120 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('follow' as const), batches: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('turn' as const) }) },
  );

  it('answers every operation as a log without write-behind, and ends byte for byte equal (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), fc.integer({ min: 700, max: 4000 }), (ops, segmentBytes) => {
        const plainDisk = new SimFileSystem();
        const wbDisk = new SimFileSystem();
        const turns = manualTurns();
        const wb = new WriteBehind(turns.timers, (e) => {
          throw e;
        });
        const plain = PartitionLog.open('/d/t-0', config(segmentBytes), () => 0, plainDisk);
        const deferred = PartitionLog.open('/d/t-0', config(segmentBytes), () => 0, wbDisk, wb);
        let tag = 0;
        let epoch = 0;
        for (const o of ops) {
          if (o.kind === 'append') {
            tag++;
            const a = plain.appendAsLeader(simpleBatch(o.records, o.size, tag), epoch);
            const b = deferred.appendAsLeader(simpleBatch(o.records, o.size, tag), epoch);
            expect(b).toEqual(a);
          } else if (o.kind === 'read') {
            const at = Math.floor(o.at * plain.logEndOffset);
            const a = plain.read(at, 1 << 16, Number.MAX_SAFE_INTEGER);
            const b = deferred.read(at, 1 << 16, Number.MAX_SAFE_INTEGER);
            expect(b.records.equals(a.records)).toBe(true);
            expect(b.nextOffset).toBe(a.nextOffset);
          } else if (o.kind === 'flush') {
            plain.flush();
            deferred.flush();
          } else if (o.kind === 'truncate') {
            const at = Math.floor(o.at * plain.logEndOffset);
            plain.truncateTo(at);
            deferred.truncateTo(at);
            epoch++; // a leader that truncates has become a follower; its next leadership is a new epoch
          } else if (o.kind === 'follow') {
            // as a follower: batches another leader wrote, at the log end, written at once
            for (let k = 0; k < o.batches; k++) {
              tag++;
              const batch = simpleBatch(1, 30, tag, { baseOffset: plain.logEndOffset, leaderEpoch: epoch });
              plain.appendAsFollower(Buffer.from(batch));
              deferred.appendAsFollower(Buffer.from(batch));
            }
          } else {
            turns.endTurn();
          }
          expect(deferred.logEndOffset).toBe(plain.logEndOffset);
        }
        turns.endTurn();
        expect(wb.pendingCount).toBe(0);
        expect(files(wbDisk, '/d/t-0')).toEqual(files(plainDisk, '/d/t-0'));
        plain.close();
        deferred.close();
        expect(files(wbDisk, '/d/t-0')).toEqual(files(plainDisk, '/d/t-0'));
      }),
      { numRuns: 150, seed: 20261202 },
    );
  });
});
