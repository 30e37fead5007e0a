/**
 * `npm run screenshot:live`: a picture of the live view for the README (docs/img/live.png).
 *
 * Runs a short real `faultline run` (3 local nodes, kill and pause faults) in a tmux window of its own
 * socket, waits until a fault is in force and ops have completed, captures the pane with its colours
 * (`tmux capture-pane -e -p`), turns the ANSI into a small HTML page and renders that to a PNG with
 * Debian's chromium headless. Then it interrupts the run (Ctrl-C, as a person would) and waits for it
 * to end. Needs tmux and chromium (apt-get install tmux chromium). Every wait is bounded.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';

const root = resolve(import.meta.dirname, '..');
const png = join(root, 'docs', 'img', 'live.png');
const socket = `fl-screenshot-${process.pid}`;
const cols = 112;
const rows = 34;
const tmux = (...args: string[]) => execa('tmux', ['-L', socket, ...args], { reject: false });

/** The 16 basic colours (a dark terminal theme). */
const basic = ['#1d1f21', '#cc6666', '#8ec07c', '#f0c674', '#81a2be', '#b294bb', '#8abeb7', '#c5c8c6'];
const bright = ['#666666', '#ff7b7b', '#b5e890', '#ffe08a', '#a3c8ef', '#d7b4e0', '#a8e0d8', '#ffffff'];

function escapeHtml(s: string): string {
  return s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c);
}

/** SGR escape codes to HTML spans (colours, bold, dim); every other escape is dropped. */
export function ansiToHtml(text: string): string {
  let fg: string | null = null;
  let bold = false;
  let dim = false;
  let out = '';
  let open = false;
  const span = (): void => {
    if (open) out += '</span>';
    const style = [fg === null ? '' : `color:${fg}`, bold ? 'font-weight:bold' : '', dim ? 'opacity:0.6' : ''].filter((x) => x !== '').join(';');
    open = style !== '';
    if (open) out += `<span style="${style}">`;
  };
  // eslint-disable-next-line no-control-regex
  for (const part of text.split(/(\u001b\[[0-9;]*[A-Za-z])/)) {
    const m = /^\u001b\[([0-9;]*)m$/.exec(part);
    if (m !== null) {
      const codes = (m[1] === '' ? '0' : m[1]!).split(';').map(Number);
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i]!;
        if (c === 0) [fg, bold, dim] = [null, false, false];
        else if (c === 1) bold = true;
        else if (c === 2) dim = true;
        else if (c === 22) [bold, dim] = [false, false];
        else if (c === 39) fg = null;
        else if (c >= 30 && c <= 37) fg = basic[c - 30]!;
        else if (c >= 90 && c <= 97) fg = bright[c - 90]!;
        else if (c === 38 && codes[i + 1] === 5) {
          const n = codes[i + 2] ?? 7;
          fg = n < 8 ? basic[n]! : n < 16 ? bright[n - 8]! : '#c5c8c6';
          i += 2;
        }
      }
      span();
    } else if (!part.startsWith('\u001b')) out += escapeHtml(part);
  }
  if (open) out += '</span>';
  return out;
}

async function waitForPane(re: RegExp, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    last = (await tmux('capture-pane', '-p', '-t', 'shot')).stdout;
    if (re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the live view never showed ${re} within ${timeoutMs} ms; last pane:\n${last}`);
}

async function main(): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'fl-screenshot-'));
  const args = ['run', '--nodes', '3', '--concurrency', '2', '--consumers', '1', '--nemesis', 'kill-leader,pause-random', '--nemesis-interval', '2', '--time-limit', '60', '--seed', '11', '--out', out];
  const cmd = `cd ${root} && env -u CI -u CONTINUOUS_INTEGRATION -u NO_COLOR FORCE_COLOR=1 TERM=xterm-256color node bin/faultline.mjs ${args.join(' ')}; echo EXIT $?; sleep 120`;
  const started = await tmux('new-session', '-d', '-s', 'shot', '-x', String(cols), '-y', String(rows), cmd);
  if (started.exitCode !== 0) throw new Error(`tmux: ${started.stderr}`);
  try {
    // a fault in force, ops completing, and the roles known
    await waitForPane(/now\s+\S+ (kill|pause) n\d[\s\S]*[1-9]\d* ok[\s\S]*/, 240_000);
    await waitForPane(/controller/, 30_000);
    const pane = (await tmux('capture-pane', '-e', '-p', '-t', 'shot')).stdout;
    const lines = pane.split('\n');
    while (lines.length > 0 && lines[lines.length - 1]!.replace(/\u001b\[[0-9;]*m/g, '').trim() === '') lines.pop();
    const shown = lines.slice(-26);
    const html = `<!doctype html><meta charset="utf-8"><style>
body{margin:0;background:#1d1f21}
pre{margin:0;padding:12px 14px;color:#c5c8c6;font:13px/1.35 "DejaVu Sans Mono",monospace;white-space:pre}
</style><pre>${ansiToHtml(shown.join('\n'))}</pre>`;
    const page = join(out, 'live.html');
    writeFileSync(page, html);
    mkdirSync(dirname(png), { recursive: true });
    const width = Math.ceil(cols * 7.9 + 30);
    const height = Math.ceil(shown.length * 17.6 + 26);
    const shot = await execa('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${png}`, `--window-size=${width},${height}`, `file://${page}`], { reject: false, timeout: 120_000 });
    if (shot.exitCode !== 0) throw new Error(`chromium: ${shot.stderr}`);
    process.stdout.write(`${png} (${width}x${height})\n`);
  } finally {
    await tmux('send-keys', '-t', 'shot', 'C-c');
    await waitForPane(/EXIT \d/, 120_000).catch((e: unknown) => process.stderr.write(`${String(e)}\n`));
    await tmux('kill-server');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
