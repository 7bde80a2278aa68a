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

/**
 * Optimistic read-modify-write under WATCH, retried on conflict, so two
 * controller processes editing the same record never lose an update.
 * `update` returns the new value, or null to leave the record as it is.
 */
export async function updateJson<S extends z.ZodType, R>(
  redis: Redis,
  key: string,
  schema: S,
  update: (current: z.infer<S> | null) => { value: z.infer<S>; result: R } | { value: null; result: R },
  attempts = 20,
): Promise<R> {
  for (let i = 0; i < attempts; i++) {
    await redis.watch(key);
    try {
      const raw = await redis.get(key);
      const current = raw === null ? null : (schema.parse(JSON.parse(raw)) as z.infer<S>);
      const next = update(current);
      if (next.value === null) {
        await redis.unwatch();
        return next.result;
      }
      const ok = await redis.multi().set(key, JSON.stringify(next.value)).exec();
      if (ok) return next.result;
    } catch (err) {
      await redis.unwatch();
      throw err;
    }
  }
  throw new Error(`too much contention updating ${key}`);
}
