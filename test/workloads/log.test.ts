/**
 * The log workload: built from the queue workload's parts under the name `log`; its checker adds the
 * linearizability verdict (log model) to the queue checker's, false over unknown over true.
 */
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../../checkers/history.ts';
import { createRng } from '../../harness/rng.ts';
import type { HistoryRecorder } from '../../harness/store/history-writer.ts';
import { log, logChecker } from '../../workloads/log.ts';

const ops = (lines: Array<Omit<Op, 'index' | 'timeNs'>>): History => lines.map((o, i) => ({ ...o, index: i, timeNs: i * 1000 }));

const clean = ops([
  { process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 1 } },
  { process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 1, offset: 0 } },
  { process: 1, type: 'invoke', f: 'send', value: { key: 't-0', value: 2 } },
  { process: 1, type: 'ok', f: 'send', value: { key: 't-0', value: 2, offset: 1 } },
  { process: 5, type: 'invoke', f: 'poll', value: null },
  { process: 5, type: 'ok', f: 'poll', value: { 't-0': [[0, 1], [1, 2]] } },
]);

describe('log workload', () => {
  it('a clean history is valid with a linearizability section', () => {
    const r = logChecker(clean, { acks: 'all' });
    expect(r.linearizability.valid).toBe(true);
    expect(r.linearizability.model).toBe('log');
    expect(r.valid).toBe(true);
  });

  it('a read that contradicts acknowledged offsets is invalid and explained', () => {
    const bad = clean.map((o) => (o.f === 'poll' && o.type === 'ok' ? { ...o, value: { 't-0': [[0, 2], [1, 1]] } } : o));
    const r = logChecker(bad, { acks: 'all' });
    expect(r.linearizability.valid).toBe(false);
    expect(r.linearizability.failure?.partition).toBe('key t-0');
    expect(r.valid).toBe(false);
  });

  it('builds from the queue workload under the name log', () => {
    const recorder: HistoryRecorder = { append: (op) => ({ ...op, index: 0, timeNs: 0 }) };
    const w = log(
      {
        brokers: ['127.0.0.1:1'],
        topic: 't',
        partitions: 2,
        replicationFactor: 1,
        minInsync: 1,
        uncleanElection: false,
        acks: 'all',
        idempotence: false,
        retries: 0,
        consumerMode: 'assign',
        consumerCrashIntervalMs: 0,
        commitIntervalMs: 0,
        concurrency: 1,
        consumers: 1,
        runId: 'x',
        requestTimeoutMs: 100,
        connectionTimeoutMs: 100,
        ackTimeoutMs: 100,
        log: () => {},
      },
      recorder,
      createRng(1),
    );
    expect(w.name).toBe('log');
    expect(w.keys).toEqual(['t-0', 't-1']);
    expect(w.checker).toBe(logChecker);
    expect(w.generator.next(0).f).toBe('send');
  });
});
