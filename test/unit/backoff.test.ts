import { describe, it, expect } from 'vitest';
import { backoffCeilingMs, backoffDelayMs, BackoffPolicy } from '../../shared/backoff.js';
import { seededRandom } from '../../shared/seeded-random.js';

const policy: BackoffPolicy = { baseMs: 100, capMs: 10_000, factor: 2 };
const fixed = (value: number) => (): number => value;


describe('backoffCeilingMs', () => {
  it('grows by the factor from the base', () => {
    expect([0, 1, 2, 3, 4].map((n) => backoffCeilingMs(n, policy))).toEqual([100, 200, 400, 800, 1600]);
    expect([0, 1, 2].map((n) => backoffCeilingMs(n, { ...policy, factor: 3 }))).toEqual([100, 300, 900]);
  });

  it('is capped, also for absurd attempts', () => {
    expect(backoffCeilingMs(7, policy)).toBe(10_000); // 12,800 uncapped
    expect(backoffCeilingMs(1_000_000, policy)).toBe(10_000);
  });

  it('treats a negative attempt as the first', () => {
    expect(backoffCeilingMs(-5, policy)).toBe(100);
  });
});

describe('backoffDelayMs (full jitter)', () => {
  it('random 0 gives 0', () => {
    for (const attempt of [0, 3, 50]) expect(backoffDelayMs(attempt, policy, fixed(0))).toBe(0);
  });

  it('random just below 1 gives just under the ceiling', () => {
    for (const attempt of [0, 3, 6, 50]) {
      const ceiling = backoffCeilingMs(attempt, policy);
      const delay = backoffDelayMs(attempt, policy, fixed(0.999));
      expect(delay).toBeLessThan(ceiling);
      expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling * 0.999));
    }
  });

  it('scales linearly with the random draw', () => {
    expect(backoffDelayMs(2, policy, fixed(0.5))).toBe(200);
    expect(backoffDelayMs(2, policy, fixed(0.25))).toBe(100);
  });

  it('never exceeds the cap, and spreads over the whole window', () => {
    const random = seededRandom(42);
    let max = 0;
    let min = Infinity;
    for (let i = 0; i < 5_000; i++) {
      const delay = backoffDelayMs(20, policy, random);
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(policy.capMs);
      max = Math.max(max, delay);
      min = Math.min(min, delay);
    }
    // Full jitter, not "cap ± a little": a fleet must not reconnect in lock-step.
    expect(min).toBeLessThan(policy.capMs * 0.05);
    expect(max).toBeGreaterThan(policy.capMs * 0.95);
  });

  it('uses Math.random when no random is injected', () => {
    const delay = backoffDelayMs(1, policy);
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThan(200);
  });
});

describe('BackoffPolicy', () => {
  it('defaults factor to 2', () => {
    expect(BackoffPolicy.parse({ baseMs: 500, capMs: 30_000 })).toEqual({ baseMs: 500, capMs: 30_000, factor: 2 });
  });

  it.each([
    { baseMs: 0, capMs: 1000 },
    { baseMs: 100, capMs: -1 },
    { baseMs: 1.5, capMs: 1000 },
    { baseMs: 100, capMs: 1000, factor: 0.5 },
  ])('rejects %j', (input) => {
    expect(BackoffPolicy.safeParse(input).success).toBe(false);
  });
});
