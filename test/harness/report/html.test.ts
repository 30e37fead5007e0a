import { describe, expect, it } from 'vitest';
import type { History } from '../../../checkers/history.ts';
import { checkRun } from '../../../checkers/index.ts';
import { sendBuckets } from '../../../harness/report/buckets.ts';
import { escapeHtml, faultWindowsOf, renderReport } from '../../../harness/report/html.ts';
import { summarize } from '../../../harness/report/summary.ts';

const s = 1e9;
const history: History = [
  { index: 0, timeNs: 0.1 * s, process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 1 } },
  { index: 1, timeNs: 0.2 * s, process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 1, offset: 0 } },
  { index: 2, timeNs: 1.0 * s, process: 'nemesis', type: 'info', f: 'kill', value: { nodes: ['n1'], role: 'leader' } },
  { index: 3, timeNs: 1.1 * s, process: 1, type: 'invoke', f: 'send', value: { key: 't-0', value: 2 } },
  { index: 4, timeNs: 2.5 * s, process: 1, type: 'info', f: 'send', value: { key: 't-0', value: 2, error: 'REQUEST_TIMED_OUT' } },
  { index: 5, timeNs: 2.6 * s, process: 0, type: 'invoke', f: 'send', value: { key: 't-0', value: 3 } },
  { index: 6, timeNs: 2.7 * s, process: 0, type: 'ok', f: 'send', value: { key: 't-0', value: 3, offset: 1 } },
  { index: 7, timeNs: 3.0 * s, process: 'nemesis', type: 'info', f: 'restart', value: { nodes: ['n1'] } },
  { index: 8, timeNs: 3.1 * s, process: 1, type: 'invoke', f: 'send', value: { key: 't-0', value: 4 } },
  { index: 9, timeNs: 3.5 * s, process: 5, type: 'invoke', f: 'poll', value: null },
  { index: 10, timeNs: 3.6 * s, process: 5, type: 'ok', f: 'poll', value: { 't-0': [[1, 3]] } },
];

describe('report', () => {
  it('buckets sends per second of invoke by outcome, pending when never completed', () => {
    expect(sendBuckets(history)).toEqual([
      { second: 0, sends: 1, ok: 1, fail: 0, info: 0, pending: 0 },
      { second: 1, sends: 1, ok: 0, fail: 0, info: 1, pending: 0 },
      { second: 2, sends: 1, ok: 1, fail: 0, info: 0, pending: 0 },
      { second: 3, sends: 1, ok: 0, fail: 0, info: 0, pending: 1 },
    ]);
  });

  it('renders a self-contained page with verdict, anomalies, fault windows and node links, all escaped', () => {
    const r = checkRun(history, { name: 'queue-acks1-kill<script>', nodes: 2, acks: '1', idempotence: false, seed: 5 });
    expect(r.valid).toBe(false);
    expect(faultWindowsOf(r.availability)).toHaveLength(1);
    const html = renderReport({ ...r, phases: { drain: 'done' } }, history);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('INVALID');
    expect(html).not.toContain('<script>');
    expect(html).toContain('queue-acks1-kill&lt;script&gt;');
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).toContain('href="nodes/n2/broker.log"');
    expect(html).toMatch(/<tr class="hit"><th>lost-write<\/th><td>1<\/td>/);
    expect(html).toMatch(/<rect [^>]*fill="#d9534f" opacity="0.8"><title>kill n1 1\.0s-3\.0s<\/title>/);
    expect(escapeHtml(`<a href="x">'&`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  });

  it('summarizes a run in a few lines naming non-zero anomalies', () => {
    const r = checkRun(history, { name: 'queue-acks1-kill', acks: '1', seed: 5 });
    const text = summarize({ ...r, runDir: '/r/1' });
    expect(text.split('\n')[0]).toBe('queue-acks1-kill (seed 5): INVALID');
    expect(text).toMatch(/anomalies: lost-write 1/);
    expect(text).toContain('/r/1/report.html');
    expect(text).toMatch(/consumer lag: worst \d+(\.\d)? ms from ack to first read; unread at the end 1/);
    expect(summarize({ ...r, malformed: 'line 3: not JSON' })).toMatch(/history: line 3: not JSON/);
  });
});
