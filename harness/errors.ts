import { FlagError } from '../broker/flags.ts';

/** Errors the CLI reports as a one-line message and exit code 2 (a harness error, not a verdict). */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
  }
}

/**
 * A bad flag or flag value: the message (one line) names what was wrong and what is allowed. It is the
 * class the command tables throw (broker/flags.ts, code `FAULTLINE_USAGE`), so a usage error is one
 * class wherever it is detected.
 */
export const UsageError = FlagError;
export type UsageError = FlagError;
