import { describe, expect, it } from 'vitest';
import { parseCampaignFlags } from '../../../harness/commands/campaign.ts';

describe('faultline campaign flags', () => {
  it('takes comma lists for acks and nemesis cells (faults combined with +) and a repeat count', () => {
    const p = parseCampaignFlags(['--acks', '1,all', '--nemesis', 'kill,partition,kill+pause,none', '--repeat', '2', '--gate', '--junit', '/tmp/j.xml', '--time-limit', '15'], () => 11);
    if (p === 'help') throw new Error('unexpected help');
    expect(p.acks).toEqual(['1', 'all']);
    expect(p.nemeses).toEqual([['kill'], ['partition'], ['kill', 'pause'], []]);
    expect(p).toMatchObject({ repeat: 2, gate: true, junit: '/tmp/j.xml' });
    expect(p.base).toMatchObject({ timeLimitMs: 15_000, seed: 11 });
  });

  it('refuses bad lists and repeat counts with messages naming what is allowed', () => {
    expect(() => parseCampaignFlags(['--acks', '1,2'])).toThrow("--acks '2' is not allowed; allowed: 0, 1, all");
    expect(() => parseCampaignFlags(['--acks', ','])).toThrow(/--acks is empty/);
    expect(() => parseCampaignFlags(['--repeat', '0'])).toThrow(/--repeat must be an integer from 1 to 100/);
    expect(() => parseCampaignFlags(['--acks', '1,all', '--idempotence'])).toThrow(/--idempotence needs --acks all/);
    expect(() => parseCampaignFlags(['--nemesis', 'kill+none'])).toThrow(/cannot be combined/);
    expect(parseCampaignFlags(['--help'])).toBe('help');
    const seq = parseCampaignFlags(['--nemesis', 'stop-leader+stop-leader,kill', '--nemesis-sequence']);
    expect(seq !== 'help' && seq.nemeses).toEqual([['stop-leader', 'stop-leader'], ['kill']]);
    expect(() => parseCampaignFlags(['--nemesis', 'kill,rolling-restart+kill-leader', '--nemesis-sequence'])).toThrow(/cell 'rolling-restart\+kill-leader': rolling-restart cannot be held in a sequence/);
  });
});
