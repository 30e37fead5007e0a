import { describe, expect, it } from 'vitest';
import type { History } from '../../../checkers/history.ts';
import { checkRun } from '../../../checkers/index.ts';
import { escapeHtml, exampleLines, faultWindowsOf, renderReport, scriptJson } from '../../../harness/report/html.ts';
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
  it('renders a self-contained page: verdict, anomaly counts, examples linked to excerpted history lines, all escaped', () => {
    const r = checkRun(history, { name: 'queue-acks1-kill<script>', nodes: 2, acks: '1', idempotence: false, seed: 5 });
    expect(r.valid).toBe(false);
    expect(faultWindowsOf(r.availability)).toHaveLength(1);
    const html = renderReport({ ...r, phases: { drain: 'done' } }, history);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('data-verdict="invalid"');
    expect(html).toContain('queue-acks1-kill&lt;script&gt;');
    // no network: nothing is loaded from anywhere
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/);
    expect(html).toContain('href="nodes/n2/broker.log"');
    expect(html).toMatch(/data-anomaly-count="lost-write">1<\/td>/);
    // the lost write's example names its acknowledgement (line 2), linked to the excerpt of that very line
    expect(exampleLines(r.anomalies)).toContain(2);
    expect(html).toContain('<a class="line" href="#L2">line 2</a>');
    expect(html).toMatch(/<div class="hl" id="L2"><a class="ln" href="#L2">2<\/a><code>\{&quot;index&quot;:1,/);
    // the plot data carries the fault window and every client op
    const data = JSON.parse(/<script type="application\/json" id="faultline-data">(.*?)<\/script>/s.exec(html)![1]!) as { faults: unknown[]; latency: Array<{ points: unknown[] }>; timeline: { bars: unknown[] } };
    expect(data.faults).toEqual([{ fault: 'kill', nodes: ['n1'], startMs: 1000, endMs: 3000 }]);
    expect(data.latency.reduce((n, s) => n + s.points.length, 0)).toBe(4);
    expect(data.timeline.bars).toHaveLength(5);
    expect(escapeHtml(`<a href="x">'&`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  });

  it('embeds JSON that no string from the run can break out of', () => {
    const s = scriptJson({ name: '</script><script>alert(1)</script>' });
    expect(s).not.toContain('<');
    expect(JSON.parse(s)).toEqual({ name: '</script><script>alert(1)</script>' });
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
