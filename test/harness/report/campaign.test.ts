import { describe, expect, it } from 'vitest';
import { renderCampaignReport, renderHuntReport, reportLink } from '../../../harness/report/campaign.ts';
import type { CampaignReportInput } from '../../../harness/report/campaign.ts';
import { cells } from '../../../harness/run/campaign.ts';
import type { RunRow } from '../../../harness/run/campaign.ts';

const row = (acks: '1' | 'all', lost: number, runDir: string): RunRow => ({
  runDir, name: `queue-acks${acks}-kill`, acks, nemesis: ['kill'], repeat: 1, seed: 3, valid: lost === 0, strict: acks === 'all', expectation: 'met',
  acked: 1000, lost, unseen: 2, duplicates: 0, inconsistentOffsets: 0, availability: 0.98765, p99Ms: 726.897, durationS: 15.2,
});

describe('campaign and hunt reports', () => {
  it('links each run report relative to the page, so the results folder can move', () => {
    expect(reportLink('/r/campaigns/20261201T1Z', '/r/queue-acks1-kill/20261201T2Z')).toBe('../../queue-acks1-kill/20261201T2Z/report.html');
  });

  it('compares cells side by side per acks setting and links every run, numbers for people', () => {
    const runs = [row('1', 1234, '/r/a/1'), row('all', 0, '/r/b/2')];
    const s: CampaignReportInput = { valid: false, exitCode: 1, gate: false, seed: 3, startedAt: '2026-12-01T11:00:00.000Z', planned: 2, interrupted: false, cells: cells(runs), runs };
    const html = renderCampaignReport(s, '/r/campaigns/x');
    expect(html).toContain('<th class="group" colspan="5">acks=1</th><th class="group" colspan="5">acks=all</th>');
    expect(html).toContain('href="../../a/1/report.html"');
    expect(html).toContain('href="../../b/2/report.html"');
    expect(html).toContain('1,234');
    expect(html).toContain('727 ms');
    expect(html).toContain('98.76%');
    // no float noise in what is shown (the chart data keeps full precision)
    expect(html.replace(/<script[\s\S]*?<\/script>/g, '')).not.toContain('726.897');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/);
  });

  it('shows each bug caught or not, with its detecting run linked', () => {
    const html = renderHuntReport(
      {
        budgetS: 60, cleanBudgetS: 60, seed: 1, startedAt: '2026-12-01T11:00:00.000Z', exitCode: 1,
        bugs: [
          { name: 'truncate-to-hw', caught: true, runs: 2, secondsToDetection: 41.5, anomalies: { 'lost-write': 3 }, nemesis: 'kill-random', runDir: '/r/t/1', elapsedS: 41.5, invalid: 1, unknown: 0 },
          { name: 'epoch-not-bumped', caught: false, runs: 3, secondsToDetection: null, anomalies: {}, nemesis: 'kill-leader', runDir: '/r/e/3', elapsedS: 62, invalid: 0, unknown: 0 },
        ],
        clean: { runs: 2, invalid: 0, unknown: 1, elapsedS: 60, invalidRunDirs: [] },
        runs: [{ bug: 'truncate-to-hw', nemesis: 'kill-random', seed: 1, valid: true, runDir: '/r/t/0' }],
      },
      '/r/hunts/x',
    );
    expect(html).toContain('data-caught="1"');
    expect(html).toContain('href="../../t/1/report.html">detecting run</a>');
    expect(html).toContain('href="../../t/0/report.html">report</a>');
    expect(html).toContain('lost-write 3');
    expect(html).toContain('41.5 s');
  });
});
