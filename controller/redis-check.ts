import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';

/**
 * BullMQ jobs and the registry must never be evicted (pitfalls.md): warn
 * loudly unless Redis runs with maxmemory-policy noeviction.
 */
export async function checkRedisPolicy(redis: Redis, logger: Logger): Promise<string | null> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1] ?? null;
    if (policy !== 'noeviction') {
      logger.warn(
        { maxmemoryPolicy: policy },
        'Redis maxmemory-policy is not noeviction: under memory pressure Redis may evict rollout jobs and registry keys. Set `maxmemory-policy noeviction`.',
      );
    }
    return policy;
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, 'cannot read Redis maxmemory-policy (CONFIG GET refused?); make sure it is noeviction');
    return null;
  }
}
