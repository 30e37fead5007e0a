/**
 * What every checker returns (style.md item 5): a verdict plus data. Checkers are pure and never throw;
 * `checkSafe` turns an exception into `valid: 'unknown'`. Composition ranks false over unknown over true.
 */
export type Validity = true | false | 'unknown';

export interface CheckResult {
  valid: Validity;
  [k: string]: unknown;
}

export function mergeValid(vs: Validity[]): Validity {
  if (vs.includes(false)) return false;
  if (vs.includes('unknown')) return 'unknown';
  return true;
}

export function checkSafe<I, R extends CheckResult>(check: (input: I) => R, input: I): R | { valid: 'unknown'; error: string } {
  try {
    return check(input);
  } catch (err) {
    return { valid: 'unknown', error: err instanceof Error ? err.message : String(err) };
  }
}
