import type { Aedes, Client } from 'aedes';
import type { Redis } from 'ioredis';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { clip } from './auth/log-fields.js';

/**
 * aedes-persistence-redis keeps each will at `will:<brokerId>:<encodeURIComponent(clientId)>`
 * and lists those keys in the Redis list `will` (asyncPersistence.js putWill).
 */
const WILL_LIST_KEY = 'will';
const WILL_KEY_PREFIX = 'will:';

export interface StaleWillDeps {
  aedes: Pick<Aedes, 'id' | 'on'>;
  /** The persistence's own connection, so any key prefix it uses applies here too. */
  redis: Pick<Redis, 'lrange'>;
  persistence: { delWill: (client: { id: string; brokerId: string }) => Promise<unknown> };
  logger: Logger;
}

/** The broker and client id a will key names, or undefined for a key this module does not understand. */
export function parseWillKey(key: string): { brokerId: string; clientId: string } | undefined {
  if (!key.startsWith(WILL_KEY_PREFIX)) return undefined;
  // The client id is URI-encoded, so it holds no ':'; the last one ends the broker id.
  const split = key.lastIndexOf(':');
  if (split <= WILL_KEY_PREFIX.length) return undefined;
  const brokerId = key.slice(WILL_KEY_PREFIX.length, split);
  try {
    return { brokerId, clientId: decodeURIComponent(key.slice(split + 1)) };
  } catch {
    return undefined;
  }
}

/**
 * DD-011. Wills left in Redis by a broker that died (kill -9) are published
 * by aedes's will sweeper, which first runs 4 heartbeats after the restart
 * (aedes.js listen, _clearWills). A device that reconnected within that
 * window has already published its new online presence, which the old
 * retained "offline" would then overwrite. So the wills of other brokers are
 * read once at startup, and a client's are deleted as soon as it connects
 * here again: it is alive, its old will is moot.
 *
 * Call after aedes is created (its id is this broker's) and before listen(),
 * so no client connects before the list was read. Never rejects: a Redis
 * failure costs only a stale presence, never the broker.
 */
export async function dropStaleWillsOnReconnect(deps: StaleWillDeps): Promise<void> {
  const { aedes, redis, persistence, logger } = deps;
  const ownId = aedes.id;
  let keys: string[];
  try {
    keys = await redis.lrange(WILL_LIST_KEY, 0, -1);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'reading stale wills failed');
    return;
  }

  const stale = new Map<string, string[]>();
  let count = 0;
  for (const key of keys) {
    const will = parseWillKey(key);
    if (!will || will.brokerId === ownId) continue;
    const brokers = stale.get(will.clientId);
    if (brokers?.includes(will.brokerId)) continue;
    if (brokers) brokers.push(will.brokerId);
    else stale.set(will.clientId, [will.brokerId]);
    count += 1;
  }
  logger.info({ staleWills: count, clients: stale.size }, 'stale wills of earlier brokers found');
  if (stale.size === 0) return;

  // 'clientReady' fires after connect.js's storeWill wrote the new
  // connection's will under this broker's id; only other ids are deleted.
  aedes.on('clientReady', (client: Client) => {
    const brokerIds = stale.get(client.id);
    if (!brokerIds) return;
    stale.delete(client.id);
    for (const brokerId of brokerIds) {
      if (brokerId === ownId) continue;
      // Through a promise, so even a synchronous throw cannot escape into aedes's connect path.
      Promise.resolve({ id: client.id, brokerId }).then((will) => persistence.delWill(will)).then(
        () => logger.debug({ clientId: clip(client.id), brokerId }, 'stale will dropped'),
        (err: unknown) => logger.warn({ clientId: clip(client.id), brokerId, err: errorMessage(err) }, 'dropping a stale will failed'),
      );
    }
  });
}
