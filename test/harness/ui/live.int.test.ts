/**
 * The live view and the plain lines of a real `faultline run` (3 local nodes, kill faults, a few
 * seconds):
 * - under tmux (a real pseudo-terminal): the pane shows the live view (the node names, a fault line,
 *   the verdict); and Ctrl-C (tmux send-keys C-c) mid-load ends the run the way signals.ts says:
 *   history.jsonl and results.json on disk, no process of the run left;
 * - through a pipe with NO_COLOR (and FORCE_COLOR, which NO_COLOR overrides): plain timestamped lines
 *   with every fault's start and end and not one escape code; `--json` keeps stdout one JSON object.
 * The tmux runs unset CI: the live view is for a person's terminal (in CI the commands print plain
 * lines, harness/ui/index.ts).
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..', '..');
const bin = join(root, 'bin', 'faultline.mjs');
const socket = `fl-live-test-${process.pid}`;
const hasTmux = (await execa('tmux', ['-V'], { reject: false })).exitCode === 0;

const tmux = (...args: string[]) => execa('tmux', ['-L', socket, ...args], { reject: false });

async function pane(session: string): Promise<string> {
  return (await tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session)).stdout;
}

/** Polls the pane until `re` shows (bounded). */
async function waitForPane(session: string, re: RegExp, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    last = await pane(session);
    if (re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`pane never showed ${re} within ${timeoutMs} ms; last:\n${last}`);
}

async function processesMentioning(s: string): Promise<string[]> {
  const ps = await execa('ps', ['-eo', 'pid,args'], { reject: false });
  return ps.stdout.split('\n').filter((l) => l.includes(s) && !l.includes('ps -eo') && !l.includes('tmux'));
}

function runDirOf(out: string): string {
  const name = readdirSync(out).find((d) => d.startsWith('queue-'))!;
  const stamp = readdirSync(join(out, name))[0]!;
  return join(out, name, stamp);
}

/** A run in a tmux window of our own socket; the shell prints `EXIT <code>` when it ends. */
async function startInTmux(session: string, args: string[]): Promise<void> {
  const cmd = `cd ${root} && env -u CI -u CONTINUOUS_INTEGRATION -u NO_COLOR FORCE_COLOR=1 TERM=xterm-256color node ${bin} ${args.join(' ')}; echo EXIT $?; sleep 300`;
  const r = await tmux('new-session', '-d', '-s', session, '-x', '130', '-y', '50', cmd);
  expect(r.exitCode, r.stderr).toBe(0);
}

afterAll(async () => {
  if (hasTmux) await tmux('kill-server');
});

describe.skipIf(!hasTmux)('the live view in a real terminal (tmux)', () => {
  it('draws the cluster, the faults and the verdict', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-live-'));
    await startInTmux('run', ['run', '--nodes', '3', '--concurrency', '2', '--consumers', '1', '--nemesis', 'kill-leader', '--nemesis-interval', '1', '--time-limit', '6', '--seed', '3', '--out', out]);
    const during = await waitForPane('run', /load start/, 150_000);
    expect(during).toMatch(/cluster\s+n1 /);
    expect(during).toMatch(/n2 /);
    expect(during).toMatch(/n3 /);
    const end = await waitForPane('run', /EXIT \d/, 180_000);
    expect(end).toMatch(/(now|last)\s+kill-leader kill n\d \(leader\)/);
    expect(end).toMatch(/verdict (valid|INVALID|unknown)/);
    // the panel's box was drawn (ink), not plain lines
    expect(end).toMatch(/╭─/);
    expect(end).not.toMatch(/ fault start /);
    expect(await processesMentioning(out)).toEqual([]);
  });

  it('Ctrl-C mid-load ends the run, leaves history.jsonl and results.json and no process of the run', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-live-int-'));
    await startInTmux('sigint', ['run', '--nodes', '3', '--concurrency', '2', '--consumers', '1', '--nemesis', 'kill-leader', '--nemesis-interval', '2', '--time-limit', '120', '--seed', '4', '--out', out]);
    await waitForPane('sigint', /load start/, 150_000);
    await tmux('send-keys', '-t', 'sigint', 'C-c');
    const end = await waitForPane('sigint', /EXIT \d/, 120_000);
    expect(end).toMatch(/SIGINT: stopping the load/);
    expect(end).toMatch(/EXIT [12]/);
    const dir = runDirOf(out);
    expect(existsSync(join(dir, 'history.jsonl'))).toBe(true);
    expect(existsSync(join(dir, 'results.json'))).toBe(true);
    expect(await processesMentioning(out)).toEqual([]);
  });
});

describe('plain lines through a pipe', () => {
  it('every fault start and end, timestamped, no escape code under NO_COLOR; --json stdout is one JSON object', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fl-plain-'));
    const r = await execa('node', [bin, 'run', '--nodes', '3', '--concurrency', '2', '--consumers', '1', '--nemesis', 'kill-leader', '--nemesis-interval', '1', '--time-limit', '6', '--seed', '3', '--json', '--out', out], {
      reject: false,
      timeout: 200_000,
      env: { NO_COLOR: '1', FORCE_COLOR: '3' },
    });
    const lines = r.stderr.split('\n');
    const starts = lines.filter((l) => /^\d\d:\d\d:\d\d\.\d{3} fault start kill-leader: kill n\d \(leader\)$/.test(l));
    const ends = lines.filter((l) => /^\d\d:\d\d:\d\d\.\d{3} fault end (kill-leader|final): restart n\d/.test(l));
    expect(starts.length).toBeGreaterThan(0);
    // every fault that started ended (by its lane, or by the final generator)
    expect(ends.length).toBe(starts.length);
    expect(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} faultline run queue-/.test(l))).toBe(true);
    expect(r.stderr).not.toMatch(/\u001b/);
    const json = r.stdout.trim().split('\n');
    expect(json).toHaveLength(1);
    expect(JSON.parse(json[0]!)).toHaveProperty('valid');
  });
});
