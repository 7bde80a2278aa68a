import type { Redis } from 'ioredis';
import type { z } from 'zod';

/** Read a JSON value and validate it; null when absent. Corrupt data throws (never silently trusted). */
export async function getJson<S extends z.ZodType>(redis: Redis, key: string, schema: S): Promise<z.infer<S> | null> {
  const raw = await redis.get(key);
  return raw === null ? null : schema.parse(JSON.parse(raw));
}

/** Values of many keys, in order, through one MGET per chunk; absent keys give null. */
export async function mgetJson<S extends z.ZodType>(
  redis: Redis,
  keys: readonly string[],
  schema: S,
  chunk = 1000,
): Promise<(z.infer<S> | null)[]> {
  const out: (z.infer<S> | null)[] = [];
  for (let i = 0; i < keys.length; i += chunk) {
    const slice = keys.slice(i, i + chunk);
    if (slice.length === 0) continue;
    const values = await redis.mget(...slice);
    for (const v of values) out.push(v === null ? null : schema.parse(JSON.parse(v)));
  }
  return out;
}
