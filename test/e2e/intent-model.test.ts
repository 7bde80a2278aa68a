import { describe, expect, it } from 'vitest';
import { runIntentModel } from '../helpers/intent-model.js';

/**
 * Issue 8, test 2, on fixed seeds (more seeds: `npm run bench:intent-soak`).
 * See test/helpers/intent-model.ts for what one run does and checks.
 */
describe('randomized model: two controllers, operator mutations, kill -9, Redis and broker restarts', () => {
  it.each([1, 2])('seed %i: nothing lost, nothing duplicated, nothing unexpected', async (seed) => {
    const lines: string[] = [];
    const result = await runIntentModel({ seed, steps: 45, log: (l) => lines.push(l) });
    expect(result.problems, lines.join('\n')).toEqual([]);
    expect({ lost: result.lost, duplicated: result.duplicated, unexpected: result.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 });
    // The schedule really did what it is about.
    expect(result.acknowledged).toBeGreaterThan(20);
    expect(result.definiteRefusals).toBeLessThan(result.acknowledged / 4);
    expect(result.faults.controllerKills + result.faults.killsMidRequest).toBeGreaterThan(0);
  }, 300_000);
});
