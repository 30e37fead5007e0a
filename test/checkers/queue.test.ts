/**
 * Unit tests of the queue checker's edge cases: boundaries of each decision (strict vs non-strict
 * comparisons), indeterminate and in-flight sends, malformed input, bounded examples, never throwing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../../checkers/history.ts';
import { ANOMALY_TYPES, checkQueue } from '../../checkers/queue.ts';

let t = 0;
function op(process: Op['process'], type: Op['type'], f: string, value: unknown): Op {
  t += 1_000_000;
  return { index: 0, timeNs: t, process, type, f, value };
}
function h(...groups: Op[][]): History {
  const ops = groups.flat();
  ops.forEach((o, i) => (o.index = i));
  return ops;
}
const send = (p: number, key: string, value: number, type: Op['type'] = 'ok', offset?: number): Op[] => [
  op(p, 'invoke', 'send', { key, value }),
  op(p, type, 'send', offset === undefined ? { key, value } : { key, value, offset }),
];
const poll = (p: number, reads: Record<string, Array<[number, number]>>): Op[] => [op(p, 'invoke', 'poll', null), op(p, 'ok', 'poll', reads)];
const assign = (p: number, keys: string[]): Op[] => [op(p, 'ok', 'assign', { keys })];
const commit = (p: number, offsets: Record<string, number>, type: Op['type'] = 'ok'): Op[] => [op(p, 'invoke', 'commit', offsets), op(p, type, 'commit', offsets)];
const reposition = (p: number, key: string, from: number, to: number): Op[] => [op(p, 'info', 'reposition', { key, from, to, reason: 'OFFSET_OUT_OF_RANGE' })];
const three = (): Op[][] => [send(0, 'k', 1, 'ok', 0), send(0, 'k', 2, 'ok', 1), send(0, 'k', 3, 'ok', 2)];

describe('checkQueue edge cases', () => {
  it('an empty history is unknown with every anomaly type present at 0', () => {
    const r = checkQueue([], { idempotent: false });
    expect(r.valid).toBe('unknown');
    expect(Object.keys(r.anomalies).sort()).toEqual([...ANOMALY_TYPES].sort());
    for (const t of ANOMALY_TYPES) expect(r.anomalies[t]).toEqual({ count: 0, examples: [] });
  });

  it('a never-read value whose own offset holds another read value is unseen, not lost (higher means strictly higher)', () => {
    const r = checkQueue(h(send(0, 'k', 1, 'ok', 0), send(0, 'k', 2, 'ok', 1), send(1, 'k', 3, 'info'), poll(5, { k: [[0, 1], [1, 3]] })), { idempotent: false });
    expect(r.anomalies['lost-write'].count).toBe(0);
    expect(r.anomalies.unseen.count).toBe(1);
    expect(r.anomalies['inconsistent-offsets'].count).toBe(1);
    expect(r.stats.recovered).toBe(1);
  });

  it('two acks of one process at the same offset are inconsistent-offsets, not nonmonotonic-send', () => {
    const r = checkQueue(h(send(0, 'k', 1, 'ok', 0), send(0, 'k', 2, 'ok', 0), poll(5, { k: [[0, 1]] })), { idempotent: true });
    expect(r.anomalies['nonmonotonic-send'].count).toBe(0);
    expect(r.anomalies['inconsistent-offsets'].count).toBe(1);
    expect(r.anomalies.unseen.count).toBe(1);
  });

  it('sends never completed are indeterminate; read ones are recovered and never lost', () => {
    const hist = h(send(0, 'k', 1, 'ok', 0), [op(1, 'invoke', 'send', { key: 'k', value: 2 })], [op(2, 'invoke', 'send', { key: 'k', value: 3 })], poll(5, { k: [[0, 1], [1, 2]] }));
    const r = checkQueue(hist, { idempotent: true });
    expect(r.stats).toMatchObject({ sends: 3, acked: 1, sendIndeterminate: 2, recovered: 1 });
    expect(r.valid).toBe(true);
  });

  it('an assign forgets only its own process\'s positions', () => {
    const base = [send(0, 'k', 1, 'ok', 0), send(0, 'k', 2, 'ok', 1), send(0, 'k', 3, 'ok', 2)];
    const r = checkQueue(h(...base, poll(5, { k: [[0, 1], [1, 2], [2, 3]] }), poll(6, { k: [[2, 3]] }), assign(6, ['k']), poll(5, { k: [[0, 1]] }), poll(6, { k: [[0, 1]] })), { idempotent: false });
    expect(r.anomalies['nonmonotonic-poll'].count).toBe(1);
    expect(r.anomalies['nonmonotonic-poll'].examples[0]).toMatchObject({ process: 5, fromOffset: 2, toOffset: 0 });
  });

  it('poll and send positions are per key: reads of another key do not interleave', () => {
    const r = checkQueue(h(send(0, 'a', 1, 'ok', 0), send(0, 'b', 2, 'ok', 5), send(0, 'a', 3, 'ok', 1), poll(5, { a: [[0, 1]], b: [[5, 2]] }), poll(5, { a: [[1, 3]] })), { idempotent: true });
    expect(r.valid).toBe(true);
  });

  it('failed and indeterminate polls do not move a consumer', () => {
    const r = checkQueue(h(send(0, 'k', 1, 'ok', 0), send(0, 'k', 2, 'ok', 1), poll(5, { k: [[0, 1]] }), [op(5, 'invoke', 'poll', null), op(5, 'info', 'poll', { error: 'REQUEST_TIMED_OUT' })], poll(5, { k: [[1, 2]] })), { idempotent: true });
    expect(r.valid).toBe(true);
    expect(r.stats).toMatchObject({ polls: 2, pollsFailed: 1, readsTotal: 2, valuesRead: 2 });
  });

  it('examples are bounded while counts are not', () => {
    const groups: Op[][] = [];
    for (let i = 0; i < 100; i++) groups.push(send(0, 'k', i, 'ok', i));
    groups.push(poll(5, { k: [[100, 1000]] }));
    groups.push(send(1, 'k', 1000, 'ok', 100));
    const r = checkQueue(h(...groups), { idempotent: false, maxExamples: 4 });
    expect(r.anomalies['lost-write'].count).toBe(100);
    expect(r.anomalies['lost-write'].examples).toHaveLength(4);
    expect(checkQueue(h(...groups), { idempotent: false }).anomalies['lost-write'].examples).toHaveLength(16);
  });

  it('malformed ops make an otherwise clean verdict unknown and are reported', () => {
    const r = checkQueue(h(send(0, 'k', 1, 'ok', 0), [op(1, 'invoke', 'send', { key: 7 })], poll(5, { k: [[0, 1], ['x', 2] as unknown as [number, number]] })), { idempotent: false });
    expect(r.valid).toBe('unknown');
    expect(r.stats.malformedOps).toBe(2);
    expect(r.malformed).toMatch(/^line 3: /);
    expect(r.malformedLines?.map((m) => m.line)).toEqual([3, 5]);
  });

  it('values read that no send carried are unexpected reads, and break validity', () => {
    const r = checkQueue(h(send(0, 'k', 1, 'ok', 0), poll(5, { k: [[0, 1], [1, 99]] })), { idempotent: false });
    expect(r.stats.readsOfUnknownValues).toBe(1);
    expect(r.anomalies['unexpected-read']).toEqual({ count: 1, examples: [{ key: 'k', offset: 1, value: 99, integer: true, line: 4 }] });
    expect(r.valid).toBe(false);
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.array(fc.anything()), (junk) => {
        const r = checkQueue(junk as unknown as History, { idempotent: true });
        expect([true, false, 'unknown']).toContain(r.valid);
        expect(Object.keys(r.anomalies)).toHaveLength(ANOMALY_TYPES.length);
      }),
      { numRuns: 200 },
    );
    const r = checkQueue(null as unknown as History, { idempotent: true });
    expect(r.valid).toBe('unknown');
    expect(r.error).toBeTypeOf('string');
  });
});

describe('resume-mismatch boundaries', () => {
  const mismatches = (hist: History) => checkQueue(hist, { idempotent: false }).anomalies['resume-mismatch'].count;

  it('a lower commit the client asked for is a commit-regress, and resuming at it is no mismatch', () => {
    const hist = h(...three(), assign(5, ['k']), poll(5, { k: [[0, 1], [1, 2], [2, 3]] }), commit(5, { k: 3 }), commit(5, { k: 1 }), assign(6, ['k']), poll(6, { k: [[1, 2]] }), commit(6, { k: 2 }));
    const r = checkQueue(hist, { idempotent: false });
    expect(r.anomalies['commit-regress'].count).toBe(1);
    expect(r.anomalies['resume-mismatch'].count).toBe(0);
    expect(r.valid).toBe(true);
  });

  it('commits in flight together may be stored in either order: a commit above the lower of them is no regress', () => {
    const overlap = [op(7, 'invoke', 'commit', { k: 0 }), op(5, 'invoke', 'commit', { k: 3 }), op(7, 'ok', 'commit', { k: 0 }), op(5, 'ok', 'commit', { k: 3 })];
    const regress = (hist: History) => checkQueue(hist, { idempotent: false }).anomalies['commit-regress'];
    expect(regress(h(...three(), overlap, commit(6, { k: 1 }))).count).toBe(0);
    expect(regress(h(...three(), commit(7, { k: 0 }), commit(5, { k: 3 }), commit(6, { k: 1 }))).count).toBe(1);
    expect(regress(h(...three(), commit(5, { k: 3 }), commit(6, { k: 1 }, 'info'), commit(6, { k: 2 }))).count).toBe(0);
  });

  it('a member that keeps its position for a key it keeps is no mismatch; starting anywhere else is', () => {
    const base = [...three(), assign(5, ['k']), poll(5, { k: [[0, 1]] }), commit(5, { k: 0 }), assign(5, ['k'])];
    expect(mismatches(h(...base, poll(5, { k: [[1, 2]] })))).toBe(0);
    expect(mismatches(h(...base, poll(5, { k: [[2, 3]] })))).toBe(1);
  });

  it('a reposition between the assign and the read, or no commit at all, leaves the read unjudged', () => {
    const base = [...three(), assign(5, ['k']), poll(5, { k: [[0, 1], [1, 2]] }), commit(5, { k: 2 }), assign(6, ['k'])];
    expect(mismatches(h(...base, poll(6, { k: [[0, 1]] }), commit(6, { k: 1 })))).toBe(1);
    expect(mismatches(h(...base, reposition(6, 'k', 2, 0), poll(6, { k: [[0, 1]] }), commit(6, { k: 1 })))).toBe(0);
    expect(mismatches(h(...three(), commit(7, { j: 0 }), assign(7, ['k']), poll(7, { k: [[2, 3]] })))).toBe(0);
  });

  it('a failed commit bounds nothing; an indeterminate one may have been stored', () => {
    const base = [...three(), assign(5, ['k']), poll(5, { k: [[0, 1]] }), commit(5, { k: 1 })];
    expect(mismatches(h(...base, commit(5, { k: 2 }, 'fail'), assign(6, ['k']), poll(6, { k: [[2, 3]] }), commit(6, { k: 3 })))).toBe(1);
    expect(mismatches(h(...base, commit(5, { k: 2 }, 'info'), assign(6, ['k']), poll(6, { k: [[2, 3]] }), commit(6, { k: 3 })))).toBe(0);
  });
});

describe('underreplicated-ack boundaries', () => {
  const repl = { nodes: 3, replicationFactor: 3, minInsync: 3 };
  const nem = (f: string, nodes: string[], extra: Record<string, unknown> = {}): Op[] => [op('nemesis', 'info', f, { nodes, ...extra })];
  const count = (hist: History, o: Partial<Parameters<typeof checkQueue>[1]> = {}) =>
    checkQueue(hist, { idempotent: false, acks: 'all', replication: repl, ...o }).anomalies['underreplicated-ack'].count;
  const read = (n: number) => poll(5, { k: Array.from({ length: n }, (_, i) => [i, i + 1] as [number, number]) });
  const ms = (): Op[] => [op(9, 'invoke', 'poll', null)]; // one more millisecond of history

  it('an acks=all write invoked after a kill and acknowledged before its restart began, with fewer than min.insync nodes up, is one', () => {
    const hist = h(send(0, 'k', 1, 'ok', 0), nem('kill', ['n2'], { tookMs: 1 }), send(0, 'k', 2, 'ok', 1), ms(), nem('restart', ['n2'], { tookMs: 0 }), read(2));
    expect(count(hist)).toBe(1);
    const r = checkQueue(hist, { idempotent: false, acks: 'all', replication: repl });
    expect(r.valid).toBe(false);
    expect(r.anomalies['underreplicated-ack'].examples[0]).toMatchObject({ key: 'k', value: 2, offset: 1, invokeLine: 4, down: [{ node: 'n2', line: 3 }] });
  });

  it('is judged only with acks=all, replication factor = nodes, and fewer than min.insync up', () => {
    const hist = h(nem('pause', ['n2']), send(0, 'k', 1, 'ok', 0), ms(), nem('resume', ['n2'], { tookMs: 0 }), read(1));
    expect(count(hist)).toBe(1);
    expect(count(hist, { replication: { ...repl, minInsync: 2 } })).toBe(0);
    expect(count(hist, { replication: { ...repl, nodes: 5 } })).toBe(0);
    expect(count(hist, { acks: '1' })).toBe(0);
    expect(checkQueue(hist, { idempotent: false, acks: 'all' }).anomalies['underreplicated-ack'].count).toBe(0);
  });

  it('a node is down only until its restart began (tookMs + 1 ms before the op), and not at all after a failed kill or without tookMs', () => {
    // the restart took 3 ms and was recorded 3 ms after the ack: it may have begun before the ack
    const early = h(nem('kill', ['n2']), send(0, 'k', 1, 'ok', 0), nem('restart', ['n2'], { tookMs: 3 }), read(1));
    expect(count(early)).toBe(0);
    const late = h(nem('kill', ['n2']), send(0, 'k', 1, 'ok', 0), ms(), ms(), ms(), ms(), nem('restart', ['n2'], { tookMs: 2 }), read(1));
    expect(count(late)).toBe(1);
    expect(count(h(nem('kill', ['n2'], { error: 'survived SIGKILL' }), send(0, 'k', 1, 'ok', 0), ms(), nem('restart', ['n2'], { tookMs: 0 }), read(1)))).toBe(0);
    expect(count(h(nem('kill', ['n2']), send(0, 'k', 1, 'ok', 0), nem('restart', ['n2']), read(1)))).toBe(0);
    // a node never brought back stays down to the end
    expect(count(h(nem('stop', ['n2']), send(0, 'k', 1, 'ok', 0), read(1)))).toBe(1);
    // a reassignment (or any op that may move replicas) leaves which nodes replicate a partition unknown
    expect(count(h(nem('reassign', ['n4']), nem('stop', ['n2']), send(0, 'k', 1, 'ok', 0), read(1)))).toBe(0);
  });

  it('a send invoked before the node went down, or whose invoke time was raised to the line before it, is not judged', () => {
    expect(count(h([op(0, 'invoke', 'send', { key: 'k', value: 1 })], nem('kill', ['n2']), [op(0, 'ok', 'send', { key: 'k', value: 1, offset: 0 })], read(1)))).toBe(0);
    // stamped before the kill by its client, it arrived after a later line and was raised to that line's time
    const kill = nem('kill', ['n2']);
    const later = ms();
    const raised = op(0, 'invoke', 'send', { key: 'k', value: 1 });
    raised.timeNs = later[0]!.timeNs;
    expect(count(h(kill, later, [raised, op(0, 'ok', 'send', { key: 'k', value: 1, offset: 0 })], read(1)))).toBe(0);
  });
});
