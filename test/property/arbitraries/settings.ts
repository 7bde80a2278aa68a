import type fc from 'fast-check';

/**
 * One fixed seed for every property of the suite, so a CI failure replays
 * exactly (fast-check prints the seed and the counterexample's path).
 * OUTPOST_PROPERTY_SEED explores other inputs locally.
 */
export const PROPERTY_SEED = Number(process.env.OUTPOST_PROPERTY_SEED ?? 20261109);

/** fast-check parameters: the fixed seed, a bounded number of runs, no time-based shrinking surprises. */
export function runs(numRuns: number): fc.Parameters<unknown> {
  return { seed: PROPERTY_SEED, numRuns, endOnFailure: false };
}
