/** Errors the CLI reports as a one-line message and exit code 2 (a harness error, not a verdict). */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
  }
}

/** A bad flag or flag value: the message names what was wrong and what is allowed. */
export class UsageError extends CliError {
  constructor(message: string) {
    super('FAULTLINE_USAGE', message);
    this.name = 'UsageError';
  }
}
