import { describe, expect, it } from 'vitest';
import { waitForRedis } from '../../controller/redis-wait.js';
import { silentLogger } from '../../shared/logger.js';

/** A clock that moves only when the waiter sleeps, and a Redis that answers from the n-th ping on. */
function rig(answersFrom: number) {
  let t = 0;
  const pings: number[] = [];
  const sleeps: number[] = [];
  const deps = {
    logger: silentLogger(),
    redisUrl: 'redis://:s3cret@redis.example:6379',
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    random: () => 1,
    ping: async () => {
      pings.push(t);
      if (pings.length < answersFrom) throw new Error('connect ECONNREFUSED 10.0.0.7:6379');
      return 'PONG';
    },
  };
  return { deps, pings, sleeps };
}

describe('waitForRedis', () => {
  it('returns at the first answer without sleeping', async () => {
    const { deps, pings, sleeps } = rig(1);
    await waitForRedis(60_000, deps);
    expect(pings).toEqual([0]);
    expect(sleeps).toEqual([]);
  });

  it('pings again with growing, capped delays until Redis answers', async () => {
    const { deps, pings, sleeps } = rig(6);
    await waitForRedis(60_000, deps);
    expect(pings).toHaveLength(6);
    expect(sleeps).toEqual([250, 500, 1_000, 2_000, 2_000]);
  });

  it('gives up once the wait is over, with the masked URL, the last error and what to do', async () => {
    const { deps, pings } = rig(Number.POSITIVE_INFINITY);
    const err = await waitForRedis(5_000, deps).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toBe(
      'Redis at redis://:***@redis.example:6379 not reachable after 5 s (connect ECONNREFUSED 10.0.0.7:6379): start it, or check --redis / REDIS_URL; --redis-wait sets how long start waits for it',
    );
    // Never sleeps past the deadline: the last ping is at it.
    expect(pings.at(-1)).toBe(5_000);
  });

  it('with a wait of 0 tries once', async () => {
    const { deps, pings } = rig(2);
    await expect(waitForRedis(0, deps)).rejects.toThrow(/not reachable \(connect ECONNREFUSED/);
    expect(pings).toEqual([0]);
  });
});
