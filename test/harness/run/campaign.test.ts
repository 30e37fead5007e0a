import { describe, expect, it } from 'vitest';
import { campaignExitCode, cells, expectationOf, formatTable, isStrict, junitXml, planCampaign, rowOf } from '../../../harness/run/campaign.ts';
import type { RunResults } from '../../../harness/run/run.ts';
import type { RunRow } from '../../../harness/run/campaign.ts';

function row(over: Partial<RunRow>): RunRow {
  return {
    runDir: '/r/x', name: 'queue-acksall-kill', acks: 'all', nemesis: ['kill'], repeat: 1, seed: 1, valid: true, strict: true,
    expectation: 'met', acked: 100, lost: 0, unseen: 0, duplicates: 0, inconsistentOffsets: 0, availability: 0.9, p99Ms: 20, durationS: 15,
    ...over,
  };
}

const strictTest = { acks: 'all', minInsync: 2, replicationFactor: 3, uncleanElection: false } as const;

describe('campaign', () => {
  it("a row's duration is measured in ms and written as campaign.json's durationS, to the millisecond", () => {
    const results = { runDir: '/r/x', valid: true, test: { name: 'queue-acksall-kill', ...strictTest }, stats: { acked: 5 }, anomalies: {} } as unknown as RunResults;
    const r = rowOf({ acks: 'all', nemesis: ['kill'], repeat: 1, seed: 3 }, results, 15_234.4);
    expect(r.durationS).toBe(15.234);
    expect(junitXml([r], false)).toContain('time="15.234"');
  });

  it('plans acks x nemesis x repeat with one seed per run', () => {
    const p = planCampaign(['1', 'all'], [['kill'], ['partition']], 2, 4294967295);
    expect(p).toHaveLength(8);
    expect(p.map((e) => e.seed)).toEqual([4294967295, 0, 1, 2, 3, 4, 5, 6]);
    expect(p.slice(0, 3).map((e) => [e.acks, e.nemesis.join(), e.repeat])).toEqual([['1', 'kill', 1], ['1', 'kill', 2], ['1', 'partition', 1]]);
  });

  it('holds only acks=all with min.insync>=2, RF>=3 and clean election to validity', () => {
    expect(isStrict(strictTest)).toBe(true);
    expect(isStrict({ ...strictTest, acks: '1' })).toBe(false);
    expect(isStrict({ ...strictTest, minInsync: 1 })).toBe(false);
    expect(isStrict({ ...strictTest, replicationFactor: 2 })).toBe(false);
    expect(isStrict({ ...strictTest, uncleanElection: true })).toBe(false);
    expect(expectationOf({ valid: false, test: strictTest })).toBe('failed');
    expect(expectationOf({ valid: 'unknown', test: strictTest })).toBe('unknown');
    expect(expectationOf({ valid: true, test: strictTest })).toBe('met');
    // loss under acks=1 is reported, not failed
    expect(expectationOf({ valid: false, test: { ...strictTest, acks: '1' } })).toBe('met');
    expect(expectationOf({ valid: 'unknown', error: 'boom', test: { ...strictTest, acks: '1' } })).toBe('unknown');
  });

  it('a weak run fails its expectation only for an anomaly that weak acks do not excuse', () => {
    const weak = { ...strictTest, acks: '1' as const };
    const one = (t: string) => ({ [t]: { count: 1 } });
    expect(expectationOf({ valid: false, test: weak, anomalies: { ...one('lost-write'), ...one('inconsistent-offsets') } })).toBe('met');
    expect(expectationOf({ valid: false, test: weak, anomalies: one('aborted-read') })).toBe('failed');
    expect(expectationOf({ valid: false, test: weak, anomalies: one('unexpected-read') })).toBe('failed');
    expect(expectationOf({ valid: false, test: weak, anomalies: one('poll-skip'), breaking: ['poll-skip'] })).toBe('failed');
    // The checker's own account of what broke wins: a poll-skip explained away by discarded lines does not fail.
    expect(expectationOf({ valid: false, test: weak, anomalies: { ...one('poll-skip'), ...one('lost-write') }, breaking: ['lost-write'] })).toBe('met');
    expect(expectationOf({ valid: false, test: weak, anomalies: one('duplicate') })).toBe('met');
    expect(expectationOf({ valid: false, test: { ...weak, idempotence: true }, anomalies: one('duplicate') })).toBe('failed');
    expect(expectationOf({ valid: 'unknown', test: weak, anomalies: one('aborted-read') })).toBe('met');
  });

  it('gates on expectations and otherwise on verdicts', () => {
    const lossy = row({ acks: '1', valid: false, strict: false, expectation: 'met', lost: 3, name: 'queue-acks1-kill' });
    expect(campaignExitCode([row({}), lossy], true)).toBe(0);
    expect(campaignExitCode([row({}), lossy], false)).toBe(1);
    expect(campaignExitCode([row({ valid: false, expectation: 'failed' }), lossy], true)).toBe(1);
    expect(campaignExitCode([row({ valid: 'unknown', expectation: 'unknown' })], true)).toBe(2);
    expect(campaignExitCode([row({ valid: 'unknown', expectation: 'unknown' }), row({ valid: false, expectation: 'failed' })], true)).toBe(1);
    expect(campaignExitCode([], false)).toBe(2);
  });

  it('aggregates one table row per (acks, nemesis) cell', () => {
    const rows = [
      row({ acks: '1', lost: 2, unseen: 1, availability: 0.5, p99Ms: 40, valid: false, expectation: 'met' }),
      row({ acks: '1', repeat: 2, lost: 3, availability: 0.7, p99Ms: 90, duplicates: 1 }),
      row({ nemesis: ['partition'], availability: null, p99Ms: null, valid: 'unknown', expectation: 'unknown' }),
    ];
    const cs = cells(rows);
    expect(cs).toHaveLength(2);
    expect(cs[0]).toMatchObject({ acks: '1', nemesis: 'kill', runs: 2, valid: 1, invalid: 1, lost: 5, unseen: 1, duplicates: 1, acked: 200, p99Ms: 90, expectation: 'met' });
    expect(cs[0]!.availability).toBeCloseTo(0.6);
    expect(cs[1]).toMatchObject({ nemesis: 'partition', availability: null, p99Ms: null, unknown: 1, expectation: 'unknown' });
    const t = formatTable(cs, true).split('\n');
    expect(t[0]).toMatch(/^acks\s+nemesis\s+runs.*lost\s+unseen.*avail%\s+p99 ms\s+gate$/);
    expect(t[1]).toMatch(/^1\s+kill\s+2\s+1\s+1\s+0\s+200\s+5\s+1\s+1\s+0\s+60\s+90\s+met$/);
  });

  it('writes well-formed JUnit XML with one testcase per run and failures for unmet expectations', () => {
    const rows = [
      row({}),
      row({ valid: false, expectation: 'failed', lost: 4, runDir: '/r/<&"y>' }),
      row({ valid: 'unknown', expectation: 'unknown', error: 'node n2 \u0001 did not start' }),
      row({ acks: '1', valid: false, strict: false, expectation: 'met', lost: 9 }),
    ];
    const x = junitXml(rows, true);
    expect(x.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(x.match(/<testcase /g)).toHaveLength(4);
    expect(x).toContain('<testsuites tests="4" failures="1" errors="1"');
    expect(x).toContain('/r/&lt;&amp;&quot;y&gt;');
    expect(x).not.toContain('\u0001');
    // without the gate, the acks=1 loss is a failure too
    expect(junitXml(rows, false)).toContain('failures="2" errors="1"');
    assertWellFormed(x);
  });
});

/** A small XML well-formedness check: balanced tags, quoted attributes, only known entities. */
function assertWellFormed(x: string): void {
  const body = x.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = tag.exec(body)) !== null) {
    pos = tag.lastIndex;
    if (m[5] !== undefined) {
      expect(m[5].replace(/&(lt|gt|amp|quot|apos);/g, '')).not.toMatch(/[&<]/);
      continue;
    }
    if (m[1] === '/') expect(stack.pop()).toBe(m[2]);
    else if (m[4] !== '/') stack.push(m[2]!);
  }
  expect(pos).toBe(body.length);
  expect(stack).toEqual([]);
}
