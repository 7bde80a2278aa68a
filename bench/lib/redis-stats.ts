import type { Redis } from 'ioredis';

/** Calls per Redis command so far (INFO commandstats). */
export async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/cmdstat_([a-z|_-]+):calls=(\d+)/g)) out.set(m[1] as string, Number(m[2]));
  return out;
}

/** All Redis command calls so far. */
export async function commandCalls(redis: Redis): Promise<number> {
  let total = 0;
  for (const n of (await commandStats(redis)).values()) total += n;
  return total;
}

/** Redis commands per unit (device) between two snapshots, by command (the biggest first). */
export function perUnit(before: Map<string, number>, after: Map<string, number>, units: number): Record<string, number> {
  const rows = [...after].map(([cmd, n]) => [cmd, (n - (before.get(cmd) ?? 0)) / units] as const).filter(([, n]) => n >= 0.01);
  return Object.fromEntries(rows.sort((a, b) => b[1] - a[1]).map(([cmd, n]) => [cmd, Number(n.toFixed(2))]));
}
