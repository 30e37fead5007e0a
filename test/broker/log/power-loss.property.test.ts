/**
 * Power loss at any point, on the real PartitionLog over the simulated disk (test/sim/sim-fs.ts).
 *
 * Property, with log.flush.interval.messages=1 (every append fsynced before it returns, i.e. before
 * a broker acknowledges it): after a power loss and recovery,
 *  - between operations, the log is exactly what the operations made it: every appended batch is
 *    there byte for byte, and nothing truncated is back;
 *  - during an operation, it is what the operation started from or what it ends at (an append), a
 *    prefix of the old log no shorter than the cut (a truncation), the old log or the new empty one
 *    (a full truncation), and unchanged (a close and reopen, recovery included);
 *  - the leader-epoch cache says of every batch the epoch the batch carries (no entry claims
 *    offsets for an epoch whose batches are not there);
 *  - the log start is the model's.
 * The crash is the strict one (only fsynced state stays) or the adversarial one (each unsynced
 * change independently stays or goes). The test counts where crashes hit, so a schedule that never
 * crashed inside a roll or a truncation fails it (a test that checks its own power).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PowerFailure, SimFileSystem } from '../../sim/sim-fs.ts';
import { Prng } from '../../sim/prng.ts';
import { defaultLogConfig, PartitionLog, type LogConfig } from '../../../broker/log/partition-log.ts';
import { leaderEpochOf, baseOffsetOf, lastOffsetOf } from '../../../broker/protocol/batch-header.ts';
import { simpleBatch } from './batch-builder.ts';

const DIR = '/data/partitions/t-0';
const config: LogConfig = { ...defaultLogConfig, segmentBytes: 400, indexIntervalBytes: 100, flushIntervalMessages: 1 };

interface ModelLog {
  start: number;
  batches: Buffer[];
}

type Op =
  | { kind: 'append'; records: number; valueBytes: number; epochStep: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'truncateFully'; ahead: number }
  | { kind: 'reopen' }
  /** Retention: deletes this fraction of the closed segments, oldest first (PartitionLog.deleteOldestSegments). */
  | { kind: 'retain'; fraction: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('append' as const), records: fc.integer({ min: 1, max: 4 }), valueBytes: fc.integer({ min: 20, max: 70 }), epochStep: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncateFully' as const), ahead: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retain' as const), fraction: fc.integer({ min: 1, max: 1000 }).map((n) => n / 1000) }) },
);

const endOf = (m: ModelLog): number => (m.batches.length === 0 ? m.start : lastOffsetOf(m.batches.at(-1)!, 0) + 1);

/** The model after `op`, and what a crash during it may leave (as predicates over the recovered log). */
function step(m: ModelLog, op: Op): { post: ModelLog; duringOk: (r: ModelLog) => boolean; batch?: Buffer } {
  const same = (a: ModelLog, b: ModelLog) => a.start === b.start && Buffer.concat(a.batches).equals(Buffer.concat(b.batches));
  switch (op.kind) {
    case 'append': {
      const batch = simpleBatch(op.records, op.valueBytes, endOf(m));
      return { post: m, duringOk: () => true, batch }; // completed by the caller once offsets are stamped
    }
    case 'truncate': {
      const end = endOf(m);
      const at = m.start + Math.floor(op.at * (end - m.start));
      const kept = m.batches.filter((b) => lastOffsetOf(b, 0) < at);
      const post = { start: m.start, batches: kept };
      const duringOk = (r: ModelLog) =>
        r.start === m.start && r.batches.length >= kept.length && r.batches.length <= m.batches.length && same(r, { start: m.start, batches: m.batches.slice(0, r.batches.length) });
      return { post, duringOk };
    }
    case 'truncateFully': {
      const post = { start: endOf(m) + op.ahead, batches: [] };
      const duringOk = (r: ModelLog) => same(r, post) || (r.start === m.start && r.batches.length <= m.batches.length && same(r, { start: m.start, batches: m.batches.slice(0, r.batches.length) }));
      return { post, duringOk };
    }
    case 'reopen':
      return { post: m, duringOk: (r) => same(r, m) };
    case 'retain':
      return { post: m, duringOk: () => true }; // needs the segment bases: completed by the caller
  }
}

/** Everything the recovered log holds, batch by batch. */
function contents(log: PartitionLog): ModelLog {
  const r = log.read(log.logStartOffset, 1 << 30, Number.MAX_SAFE_INTEGER);
  const batches: Buffer[] = [];
  for (let pos = 0; pos < r.records.length; pos += 12 + r.records.readInt32BE(pos + 8)) {
    batches.push(Buffer.from(r.records.subarray(pos, pos + 12 + r.records.readInt32BE(pos + 8))));
  }
  return { start: log.logStartOffset, batches };
}

/** The epoch cache's entries must be exactly the first offset of each epoch the batches carry. */
function epochEntriesOf(m: ModelLog): { epoch: number; startOffset: number }[] {
  const out: { epoch: number; startOffset: number }[] = [];
  for (const b of m.batches) {
    const e = leaderEpochOf(b, 0);
    if (out.at(-1)?.epoch !== e) out.push({ epoch: e, startOffset: baseOffsetOf(b, 0) });
  }
  return out;
}

interface Hits {
  append: number;
  roll: number;
  truncate: number;
  truncateFully: number;
  reopen: number;
  retain: number;
  between: number;
}

/**
 * Runs `ops` with a power failure armed `crashAt` mutations in (null: none), checking what
 * recovery gives; returns how many mutations the run made.
 */
function run(ops: Op[], crashAt: number | null, adversarial: boolean, seed: number, hits: Hits): number {
  const disk = new SimFileSystem();
  const prng = adversarial ? new Prng(seed) : undefined;
  let log = PartitionLog.open(DIR, config, () => 0, disk);
  let model: ModelLog = { start: 0, batches: [] };
  let epoch = 0;
  disk.powerFailAfter(crashAt);
  const recover = (): ModelLog => {
    disk.crash(prng);
    log = PartitionLog.open(DIR, config, () => 0, disk);
    const got = contents(log);
    // An entry at the log end claims no offsets: Kafka keeps the latest epoch there when retention
    // empties the log (and a new leader writes one there), so at most one such last entry is allowed.
    const entries = log.epochCache.entries;
    const claiming = entries.filter((e) => e.startOffset < log.logEndOffset);
    expect(claiming).toEqual(epochEntriesOf(got));
    expect(entries.slice(claiming.length).every((e) => e.startOffset === log.logEndOffset), 'only entries at the log end beyond the claiming ones').toBe(true);
    expect(entries.length - claiming.length).toBeLessThanOrEqual(1);
    return got;
  };
  for (const op of ops) {
    const planned = step(model, op);
    const activeBase = log.segmentBases.at(-1)!;
    const activeBytes = model.batches.filter((b) => baseOffsetOf(b, 0) >= activeBase).reduce((n, b) => n + b.length, 0);
    const rolls = planned.batch !== undefined && activeBytes > 0 && activeBytes + planned.batch.length > config.segmentBytes;
    let post = planned.post;
    let duringOk = planned.duringOk;
    if (op.kind === 'retain') {
      // Deletes whole oldest segments, never the active one: a crash leaves the log starting at one of
      // the bases passed on the way, holding exactly the model's batches from there.
      const bases = log.segmentBases;
      const count = Math.floor(op.fraction * (bases.length - 1));
      const from = (start: number): ModelLog => ({ start, batches: model.batches.filter((b) => baseOffsetOf(b, 0) >= start) });
      post = from(bases[count]!);
      const allowed = bases.slice(0, count + 1).map(from);
      duringOk = (r) => allowed.some((c) => c.start === r.start && Buffer.concat(c.batches).equals(Buffer.concat(r.batches)));
      (op as { count?: number }).count = count;
    }
    try {
      if (op.kind === 'append') {
        epoch += op.epochStep;
        const batch = planned.batch!;
        log.appendAsLeader(batch, epoch); // stamps offsets and epoch into `batch`
        post = { start: model.start, batches: [...model.batches, batch] };
      } else if (op.kind === 'truncate') {
        const end = endOf(model);
        log.truncateTo(model.start + Math.floor(op.at * (end - model.start)));
      } else if (op.kind === 'truncateFully') {
        log.truncateFullyAndStartAt(post.start);
      } else if (op.kind === 'retain') {
        log.deleteOldestSegments((op as { count?: number }).count!);
      } else {
        log.close();
        log = PartitionLog.open(DIR, config, () => 0, disk);
      }
    } catch (err) {
      if (!(err instanceof PowerFailure)) throw err;
      const got = recover();
      if (op.kind === 'append') {
        const batch = planned.batch!;
        // The batch may be stamped or not yet: compare against the stamped copy the log would hold.
        const withBatch = { start: model.start, batches: [...model.batches, batch] };
        const ok = [model, withBatch].some((c) => c.start === got.start && Buffer.concat(c.batches).equals(Buffer.concat(got.batches)));
        expect(ok, `crash during append: recovered ${got.batches.length} batches, model ${model.batches.length}`).toBe(true);
        if (rolls) hits.roll++;
        hits.append++;
      } else {
        expect(duringOk(got), `crash during ${op.kind}: recovered start ${got.start} with ${got.batches.length} batches; before: start ${model.start}, ${model.batches.length} batches`).toBe(true);
        hits[op.kind]++;
      }
      return disk.mutations;
    }
    model = post;
    expect(log.logEndOffset).toBe(endOf(model));
  }
  // The power failure did not come during an operation: it comes now, between two.
  const got = recover();
  hits.between++;
  expect(got.start).toBe(model.start);
  expect(got.batches.length, 'batches after recovery').toBe(model.batches.length);
  expect(Buffer.concat(got.batches).equals(Buffer.concat(model.batches)), 'recovered bytes equal the appended ones').toBe(true);
  return disk.mutations;
}

function crashProperty(adversarial: boolean, hits: Hits) {
  return fc.property(fc.array(opArb, { minLength: 4, maxLength: 40, size: "large" }), fc.integer({ min: 0, max: 1_000_000 }).map((n) => n / 1_000_000), fc.nat(), (ops, at, seed) => {
    // A dry run counts the mutations, so the crash point falls anywhere in them (or after all).
    const total = run(ops, null, false, 0, { ...hits });
    run(ops, Math.floor(at * (total + 1)), adversarial, seed, hits);
  });
}

describe('PartitionLog under power loss (flush.messages=1)', () => {
  // Seed 907011252 (2026-12-02): retention empties the log (start == end) and recovery keeps the
  // latest epoch as an entry at the log end, as the live deletion does and as Kafka's cache does; the
  // property once counted that entry as a claim (an oracle defect, not the log's).
  it('recovers an emptied log keeping its latest epoch at the log end (fast-check seed 907011252)', () => {
    const hits: Hits = { append: 0, roll: 0, truncate: 0, truncateFully: 0, reopen: 0, retain: 0, between: 0 };
    fc.assert(crashProperty(false, hits), { numRuns: 500, seed: 907011252 });
  });
  for (const adversarial of [false, true]) {
    it(`keeps every appended batch and loses nothing else, crash ${adversarial ? 'adversarial' : 'strict'}`, () => {
      const hits: Hits = { append: 0, roll: 0, truncate: 0, truncateFully: 0, reopen: 0, retain: 0, between: 0 };
      fc.assert(crashProperty(adversarial, hits), { numRuns: 500, seed: Number(process.env.SIM_SEED ?? Date.now() % 2 ** 31) });
      // The schedule must have crashed inside each kind of operation, and between operations.
      for (const k of ['append', 'roll', 'truncate', 'truncateFully', 'reopen', 'retain', 'between'] as const) expect(hits[k], k).toBeGreaterThan(0);
    });
  }
});
