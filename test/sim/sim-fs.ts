/** Moved to sim/fs.ts (the whole-node simulation's disk); re-exported for the tests that import it here. */
export * from '../../sim/fs.ts';
