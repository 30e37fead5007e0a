/** The HTML view shows the failing partition's ops, the partial linearization and the blocking op; it escapes input. */
import { describe, expect, it } from 'vitest';
import { checkHistoryText } from '../../../checkers/linearizability/check.ts';
import { renderLinHtml } from '../../../checkers/linearizability/html.ts';

describe('renderLinHtml', () => {
  const text = [
    '{:process 0 :type :invoke :f :write :value "<b>"}',
    '{:process 0 :type :ok :f :write :value "<b>"}',
    '{:process 1 :type :invoke :f :read :value nil}',
    '{:process 1 :type :ok :f :read :value "z"}',
  ].join('\n');
  it('renders a failure', () => {
    const report = checkHistoryText(text, 'edn', 'register');
    expect(report.result.valid).toBe(false);
    const html = renderLinHtml(report, 'a <test>');
    expect(html).toContain('NOT linearizable');
    expect(html).toContain('a &lt;test&gt;');
    expect(html).not.toContain('"<b>"');
    expect(html).toContain('write &quot;&lt;b&gt;&quot;');
    expect(html).toContain('class="block"');
    expect(html).toContain('class="lin"');
    expect(html.match(/<svg/g)?.length).toBe(1);
  });
  it('renders a valid history without a chart', () => {
    const html = renderLinHtml(checkHistoryText(text.replace('"z"', '"<b>"'), 'edn', 'register'), 't');
    expect(html).toContain('>linearizable<');
    expect(html).not.toContain('<svg');
  });
});
