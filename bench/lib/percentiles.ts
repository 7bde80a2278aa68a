export interface Distribution {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of an ascending array (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** p50, p99 and max of a set of durations in ms, rounded to 0.1 ms. */
export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50Ms: round1(percentile(sorted, 50)), p99Ms: round1(percentile(sorted, 99)), maxMs: round1(sorted.at(-1) ?? 0) };
}

/** Wall-clock now in epoch ms with sub-ms precision (comparable with other processes' Date.now on this machine). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
