import { Redis } from 'ioredis';

/**
 * Every Redis key whose value holds `needle` (as bytes), whatever the type:
 * SCAN over the whole keyspace, each value read by type as raw bytes
 * (GET, HGETALL, LRANGE, SMEMBERS, ZRANGE, XRANGE), plus its DUMP. For
 * "this secret is in no Redis value in clear" assertions.
 */
export async function keysHolding(redisUrl: string, needle: string): Promise<string[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const bytes = Buffer.from(needle, 'utf8');
  const found: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 500);
      cursor = next.toString();
      for (const keyBuf of keys) {
        const key = keyBuf.toString();
        if (keyBuf.includes(bytes)) {
          found.push(key);
          continue;
        }
        const parts = await valueBytes(redis, keyBuf);
        if (parts.some((p) => p.includes(bytes))) found.push(key);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return found.sort();
}

async function valueBytes(redis: Redis, key: Buffer): Promise<Buffer[]> {
  const type = await redis.type(key);
  const dump = (await redis.dumpBuffer(key)) ?? Buffer.alloc(0);
  switch (type) {
    case 'string':
      return [dump, (await redis.getBuffer(key)) ?? Buffer.alloc(0)];
    case 'hash':
      return [dump, ...(await redis.hgetallBuffer(key).then((h) => Object.entries(h).flatMap(([k, v]) => [Buffer.from(k), v])))];
    case 'list':
      return [dump, ...(await redis.lrangeBuffer(key, 0, -1))];
    case 'set':
      return [dump, ...(await redis.smembersBuffer(key))];
    case 'zset':
      return [dump, ...(await redis.zrangeBuffer(key, 0, -1))];
    case 'stream': {
      const entries = (await redis.xrangeBuffer(key, '-', '+')) as [Buffer, Buffer[]][];
      return [dump, ...entries.flatMap(([id, fields]) => [id, ...fields])];
    }
    default:
      return [dump];
  }
}
