import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { checkRedisPolicy } from '../../controller/redis-check.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/** The controller warns clearly unless Redis runs with maxmemory-policy noeviction (BullMQ, registry). */
describe('Redis maxmemory-policy check', () => {
  let redis: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  function capture() {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
    return { logger, lines };
  }

  it('warns when keys may be evicted', async () => {
    const { logger, lines } = capture();
    expect(await checkRedisPolicy(client, logger)).toBe('allkeys-lru');
    expect(lines.join('')).toMatch(/maxmemory-policy is not noeviction.*Set `maxmemory-policy noeviction`/);
  });

  it('is quiet with noeviction', async () => {
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    const { logger, lines } = capture();
    expect(await checkRedisPolicy(client, logger)).toBe('noeviction');
    expect(lines).toEqual([]);
  });
});
