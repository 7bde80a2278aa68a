import { describe, expect, it } from 'vitest';
import { distribution, percentile } from '../../bench/lib/percentiles.js';

/** The nearest-rank percentiles every benchmark reports (bench/lib/percentiles.ts). */
describe('bench percentiles', () => {
  it.each([
    [[], 50, 0],
    [[7], 99, 7],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 99, 4],
    [Array.from({ length: 200 }, (_, i) => i + 1), 99, 198],
    [Array.from({ length: 200 }, (_, i) => i + 1), 50, 100],
  ])('percentile(%j, %d) = %d', (sorted, p, expected) => {
    expect(percentile(sorted, p)).toBe(expected);
  });

  it('sorts its input, rounds to 0.1 ms and counts the samples', () => {
    expect(distribution([3.04, 1, 2.26])).toEqual({ n: 3, p50Ms: 2.3, p99Ms: 3, maxMs: 3 });
    expect(distribution([])).toEqual({ n: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
  });
});
