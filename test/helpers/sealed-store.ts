import { Redis } from 'ioredis';
import { packetCodec } from '../../broker/persistence/codec.js';
import { isSealed } from '../../broker/persistence/packet-seal.js';
import { readStoreKey } from '../../broker/persistence/store-key.js';

/**
 * The retained messages Outpost's broker keeps in Redis (DD-028 layout,
 * `<prefix>mqtt:retained`), opened with its store key file (DD-047): topic →
 * payload text. Throws when one is stored in clear: with a key, none may be.
 * Proves a "not in Redis in clear" scan is not blind: the secret is there, sealed.
 */
export async function openRetained(redisUrl: string, storeKeyFile: string, keyPrefix = 'outpost:'): Promise<Record<string, string>> {
  const codec = packetCodec(readStoreKey(storeKeyFile));
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    const stored = await redis.hgetallBuffer(`${keyPrefix}mqtt:retained`);
    return Object.fromEntries(
      Object.entries(stored).map(([topic, value]) => {
        if (!isSealed(value)) throw new Error(`the retained message of ${topic} is stored in clear`);
        const packet = codec.unpack<{ payload: Buffer }>({ kind: 'retained', topic }, value);
        return [topic, Buffer.from(packet.payload).toString('utf8')];
      }),
    );
  } finally {
    redis.disconnect();
  }
}

/** Writes `value` under a throw-away key, so a scan can show it does find what is in clear; returns the key's remover. */
export async function plantClearValue(redisUrl: string, key: string, value: string): Promise<() => Promise<void>> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  await redis.set(key, value);
  return async () => {
    await redis.del(key);
    redis.disconnect();
  };
}
