/**
 * A seeded simulation of a correct Kafka-like broker and its clients that writes a queue history in the
 * design.md "history.jsonl" format. Pure and deterministic (same options -> same history); used by the
 * checker's property tests (a correct broker must check valid with every anomaly count 0) and by
 * `npm run bench:checker`.
 *
 * The simulated broker keeps one append-only log per key. Producers (processes 0..producers-1) send
 * unique integer values; a send is appended at its completion when it ends `ok` (the ack carries the
 * offset, or none under acks=0), never when it ends `fail`, and with probability 1/2 when it ends `info`
 * (an indeterminate send that may be read later). Consumers (the next `consumers` processes) poll
 * contiguous runs of offsets from their positions, never past the log end, and now and then `assign` a
 * new key set with each position kept, reset to 0, or moved anywhere in [0, log end]. Ops interleave:
 * at each step one random process invokes or completes its single op. A nemesis opens and closes
 * `kill`/`restart` windows; for `failoverMs` after a kill every send fails or times out, as during a
 * leader failover. The final phase completes every op in flight, heals, and has every consumer assign
 * all keys from offset 0 and poll until it has read every log to its end.
 *
 * Consumer groups and repositions (both on by default): the last consumer is the group's committer. Now
 * and then it commits its positions (`commit` ops, `{key: offset}`: the next offset to consume), which
 * end `ok` (stored), `fail` (not stored) or `info` (stored with probability 1/2); every assign of the
 * committer resumes each key at the group's stored offset (0 when none), as a Kafka consumer does after
 * a rebalance. It reads only in the load phase, so the drain's assigns from 0 are not resumptions.
 * Other consumers now and then reposition themselves on a key (`reposition` info op, as after an
 * OFFSET_OUT_OF_RANGE answer) to any offset in [0, log end]. Harness `phase` lines mark the load, heal
 * and drain phases (`start` and `done`), so the history is self-describing.
 * Every loop is bounded by `ops` and the logs' total size.
 */
import type { Op, Process } from './history.ts';

export interface SimOptions {
  seed: number;
  /** history lines of the main phase (the final drain adds more) */
  ops: number;
  keys: number;
  producers: number;
  consumers: number;
  acks: '0' | '1' | 'all';
  /** share of sends ending fail / info outside faults */
  failP?: number;
  infoP?: number;
  /** largest run of offsets one poll reads per key */
  maxBatch?: number;
  /** probability that an idle consumer's next op is an assign */
  assignP?: number;
  /** nemesis kill every this many steps on average (0: no nemesis) */
  faultEverySteps?: number;
  faultDurationMs?: number;
  failoverMs?: number;
  /** probability that the committer's next idle op is a commit (default 1/8; 0: no commits) */
  commitP?: number;
  /** probability that another consumer's next idle op is a reposition (default 1/64; 0: none) */
  repositionP?: number;
}

export interface SimResult {
  history: Op[];
  /** the final log of each key: values by offset */
  logs: Map<string, number[]>;
}

/** mulberry32: a small public-domain 32-bit PRNG. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pending {
  f: 'send' | 'poll' | 'commit';
  key?: string;
  value?: number;
  offsets?: Record<string, number>;
}

export function simulateQueue(o: SimOptions): SimResult {
  const rnd = prng(o.seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const failP = o.failP ?? 0.05;
  const infoP = o.infoP ?? 0.05;
  const maxBatch = o.maxBatch ?? 8;
  const assignP = o.assignP ?? 1 / 32;
  const commitP = o.commitP ?? 1 / 8;
  const repositionP = o.repositionP ?? 1 / 64;
  const faultEvery = o.faultEverySteps ?? 0;
  const faultDurationNs = (o.faultDurationMs ?? 2000) * 1e6;
  const failoverNs = (o.failoverMs ?? 300) * 1e6;
  const keyNames = Array.from({ length: o.keys }, (_, i) => `t-${i}`);
  const logs = new Map<string, number[]>(keyNames.map((k) => [k, []]));
  const history: Op[] = [];
  let timeNs = 0;
  let nextValue = 0;
  const emit = (process: Process, type: Op['type'], f: string, value: unknown): void => {
    history.push({ index: history.length, timeNs, process, type, f, value });
  };

  const nProc = o.producers + o.consumers;
  // The group's committer (the last consumer, when commits are on and there is another consumer to drain).
  const committer = commitP > 0 && o.consumers >= 2 ? nProc - 1 : -1;
  const committed = new Map<string, number>();
  const phase = (name: string, status: string): void => emit('harness', 'info', 'phase', { name, status });
  const pending: Array<Pending | null> = new Array<Pending | null>(nProc).fill(null);
  const positions: Array<Map<string, number>> = Array.from({ length: nProc }, () => new Map());
  for (let c = o.producers; c < nProc; c++) {
    for (const k of keyNames) if (rnd() < 0.5 || o.keys === 1) positions[c]!.set(k, 0);
    if (positions[c]!.size === 0) positions[c]!.set(keyNames[int(o.keys)]!, 0);
  }
  let faultUntilNs = -1;
  let faultStartNs = -1;
  let faultNode = '';

  const completeSend = (p: number, op: Pending): void => {
    const key = op.key!;
    const value = op.value!;
    const log = logs.get(key)!;
    const inFailover = faultStartNs >= 0 && timeNs < faultStartNs + failoverNs;
    const r = rnd();
    if (inFailover || r < failP + infoP) {
      if (inFailover ? rnd() < 0.5 : r < failP) {
        emit(p, 'fail', 'send', { key, value, error: 'NOT_LEADER_OR_FOLLOWER' });
      } else {
        if (rnd() < 0.5) log.push(value);
        emit(p, 'info', 'send', { key, value, error: 'REQUEST_TIMED_OUT' });
      }
      return;
    }
    log.push(value);
    emit(p, 'ok', 'send', o.acks === '0' ? { key, value } : { key, value, offset: log.length - 1 });
  };

  const completePoll = (p: number): void => {
    if (rnd() < 0.02) {
      emit(p, 'info', 'poll', { error: 'REQUEST_TIMED_OUT' });
      return;
    }
    const out: Record<string, Array<[number, number]>> = {};
    for (const [key, pos] of positions[p]!) {
      const log = logs.get(key)!;
      const n = Math.min(log.length - pos, 1 + int(maxBatch));
      if (n <= 0) continue;
      const pairs: Array<[number, number]> = [];
      for (let i = 0; i < n; i++) pairs.push([pos + i, log[pos + i]!]);
      out[key] = pairs;
      positions[p]!.set(key, pos + n);
    }
    emit(p, 'ok', 'poll', out);
  };

  const assign = (p: number, all: boolean): void => {
    const old = positions[p]!;
    const next = new Map<string, number>();
    for (const k of keyNames) {
      if (!all && rnd() >= 0.5) continue;
      const end = logs.get(k)!.length;
      const choice = all ? 1 : int(3);
      if (p === committer) next.set(k, committed.get(k) ?? 0);
      else next.set(k, choice === 0 ? (old.get(k) ?? 0) : choice === 1 ? 0 : int(end + 1));
    }
    if (next.size === 0) {
      const k = keyNames[int(o.keys)]!;
      next.set(k, p === committer ? (committed.get(k) ?? 0) : 0);
    }
    positions[p] = next;
    emit(p, 'ok', 'assign', { keys: [...next.keys()] });
  };

  const completeCommit = (p: number, op: Pending): void => {
    const offsets = op.offsets!;
    const r = rnd();
    const store = (): void => {
      for (const [k, off] of Object.entries(offsets)) committed.set(k, off);
    };
    if (r < 0.1) emit(p, 'fail', 'commit', { ...offsets, error: 'COORDINATOR_NOT_AVAILABLE' });
    else if (r < 0.2) {
      if (rnd() < 0.5) store();
      emit(p, 'info', 'commit', { ...offsets, error: 'REQUEST_TIMED_OUT' });
    } else {
      store();
      emit(p, 'ok', 'commit', offsets);
    }
  };

  const reposition = (p: number): void => {
    const held = [...positions[p]!.keys()];
    const key = held[int(held.length)]!;
    const to = int(logs.get(key)!.length + 1);
    emit(p, 'info', 'reposition', { key, from: positions[p]!.get(key)!, to, reason: 'OFFSET_OUT_OF_RANGE' });
    positions[p]!.set(key, to);
  };

  const complete = (p: number): void => {
    const op = pending[p]!;
    pending[p] = null;
    if (op.f === 'send') completeSend(p, op);
    else if (op.f === 'commit') completeCommit(p, op);
    else completePoll(p);
  };

  phase('load', 'start');

  while (history.length < o.ops) {
    timeNs += 50_000 + int(1_000_000);
    if (faultUntilNs >= 0 && timeNs >= faultUntilNs) {
      emit('nemesis', 'info', 'restart', { nodes: [faultNode] });
      faultUntilNs = -1;
      faultStartNs = -1;
    } else if (faultEvery > 0 && faultUntilNs < 0 && int(faultEvery) === 0) {
      faultNode = `n${1 + int(3)}`;
      emit('nemesis', 'info', 'kill', { nodes: [faultNode], role: 'leader' });
      faultStartNs = timeNs;
      faultUntilNs = timeNs + faultDurationNs;
      continue;
    }
    const p = int(nProc);
    if (pending[p] !== null) {
      complete(p);
      continue;
    }
    if (p < o.producers) {
      const key = keyNames[int(o.keys)]!;
      const value = nextValue++;
      pending[p] = { f: 'send', key, value };
      emit(p, 'invoke', 'send', { key, value });
    } else if (rnd() < assignP) {
      assign(p, false);
    } else if (p === committer && rnd() < commitP) {
      const offsets = Object.fromEntries(positions[p]!);
      pending[p] = { f: 'commit', offsets };
      emit(p, 'invoke', 'commit', offsets);
    } else if (p !== committer && rnd() < repositionP) {
      reposition(p);
    } else {
      pending[p] = { f: 'poll' };
      emit(p, 'invoke', 'poll', null);
    }
  }

  // Final phase: finish what is in flight, heal, then drain every key from 0 with every consumer.
  for (let p = 0; p < nProc; p++) {
    if (pending[p] === null) continue;
    timeNs += 100_000;
    complete(p);
  }
  phase('load', 'done');
  phase('heal', 'start');
  if (faultUntilNs >= 0) {
    timeNs += 100_000;
    emit('nemesis', 'info', 'restart', { nodes: [faultNode] });
    faultStartNs = -1;
  }
  phase('heal', 'done');
  phase('drain', 'start');
  let total = 0;
  for (const log of logs.values()) total += log.length;
  for (let c = o.producers; c < nProc; c++) {
    if (c === committer) continue;
    timeNs += 100_000;
    assign(c, true);
    // Each poll reads at least one offset of some unfinished key, so `total + 1` polls suffice.
    for (let round = 0; round <= total; round++) {
      let done = true;
      for (const [k, pos] of positions[c]!) if (pos < logs.get(k)!.length) done = false;
      if (done) break;
      timeNs += 100_000;
      emit(c, 'invoke', 'poll', null);
      timeNs += 500_000;
      const out: Record<string, Array<[number, number]>> = {};
      for (const [key, pos] of positions[c]!) {
        const log = logs.get(key)!;
        const n = Math.min(log.length - pos, 1 + int(maxBatch * 4));
        if (n <= 0) continue;
        const pairs: Array<[number, number]> = [];
        for (let i = 0; i < n; i++) pairs.push([pos + i, log[pos + i]!]);
        out[key] = pairs;
        positions[c]!.set(key, pos + n);
      }
      emit(c, 'ok', 'poll', out);
    }
  }
  phase('drain', 'done');
  return { history, logs };
}
