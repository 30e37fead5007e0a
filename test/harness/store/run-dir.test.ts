import { existsSync, mkdtempSync, readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRunDir, isoStamp, readJson, updateLatest, writeJson } from '../../../harness/store/run-dir.ts';

describe('run store', () => {
  it('names run directories by test name and ISO basic timestamp, never reusing one', () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-store-'));
    const now = new Date('2026-11-24T21:11:17.123Z');
    expect(isoStamp(now)).toBe('20261124T211117.123Z');
    const a = createRunDir(out, 'queue-acks1-kill', now);
    const b = createRunDir(out, 'queue-acks1-kill', now);
    expect(a).toBe(join(out, 'queue-acks1-kill', '20261124T211117.123Z'));
    expect(b).not.toBe(a);
    expect(existsSync(join(a, 'nodes'))).toBe(true);
  });

  it('writes JSON whole and points latest at the newest run with a relative link', () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-store-'));
    const a = createRunDir(out, 't', new Date(0));
    writeJson(join(a, 'x.json'), { v: 1 });
    expect(readJson(join(a, 'x.json'))).toEqual({ v: 1 });
    expect(readdirSync(a).filter((n) => n.includes('.tmp'))).toEqual([]);
    updateLatest(out, a);
    expect(readFileSync(join(out, 'latest', 'x.json'), 'utf8')).toContain('"v": 1');
    const b = createRunDir(out, 't', new Date(1000));
    updateLatest(out, b);
    expect(readlinkSync(join(out, 'latest'))).toBe(join('t', isoStamp(new Date(1000))));
    expect(existsSync(join(out, 'latest', 'x.json'))).toBe(false);
  });
});
