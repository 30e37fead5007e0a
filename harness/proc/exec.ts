/**
 * Bounded subprocess calls for the harness (style.md item 9: a limit on everything).
 *
 * Spec: `runCommand` never waits longer than `timeoutMs` (default 10 s): on timeout the child is
 * SIGKILLed and the result says `timedOut`. It never throws for a non-zero exit; callers decide.
 * `runChecked` throws a `CommandError` (stable code) that quotes the command and its stderr.
 * `runCommandSync` is the synchronous twin for `process.on('exit')` handlers, equally bounded.
 */
import { execa, execaSync } from 'execa';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export class CommandError extends Error {
  readonly code = 'FAULTLINE_COMMAND_FAILED';
  readonly result: CommandResult;
  constructor(command: string, result: CommandResult) {
    const why = result.timedOut ? 'timed out' : `exited ${result.exitCode}`;
    super(`\`${command}\` ${why}${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}`);
    this.name = 'CommandError';
    this.result = result;
  }
}

export const defaultCommandTimeoutMs = 10_000;

export async function runCommand(file: string, args: readonly string[], timeoutMs = defaultCommandTimeoutMs): Promise<CommandResult> {
  const r = await execa(file, args, { reject: false, timeout: timeoutMs, killSignal: 'SIGKILL', stdin: 'ignore', encoding: 'utf8' });
  return {
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : -1,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' && r.stderr !== '' ? r.stderr : r.failed && r.exitCode === undefined ? (r.message ?? '') : '',
    timedOut: r.timedOut === true,
  };
}

export async function runChecked(file: string, args: readonly string[], timeoutMs = defaultCommandTimeoutMs): Promise<string> {
  const r = await runCommand(file, args, timeoutMs);
  if (r.exitCode !== 0 || r.timedOut) throw new CommandError([file, ...args].join(' '), r);
  return r.stdout;
}

export function runCommandSync(file: string, args: readonly string[], timeoutMs = 5_000): CommandResult {
  const r = execaSync(file, args, { reject: false, timeout: timeoutMs, killSignal: 'SIGKILL', stdin: 'ignore', encoding: 'utf8' });
  return {
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : -1,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
    timedOut: r.timedOut === true,
  };
}

/** Is `file` an executable on PATH (or an absolute path that exists)? Bounded like everything else. */
export async function hasExecutable(file: string): Promise<boolean> {
  const r = await runCommand('sh', ['-c', 'command -v "$0"', file], 3_000);
  return r.exitCode === 0 && r.stdout.trim() !== '';
}
