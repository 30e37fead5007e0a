/** Moved to sim/prng.ts; re-exported for the tests that import it here. */
export * from '../../sim/prng.ts';
