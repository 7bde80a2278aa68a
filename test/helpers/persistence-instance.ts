import { Redis } from 'ioredis';
import mqemitterRedis from 'mqemitter-redis';
import { onTestFinished } from 'vitest';
import { OutpostPersistence, type OutpostPersistenceOptions } from '../../broker/persistence/outpost-persistence.js';
import type { IndexBroker } from '../../broker/persistence/subscription-index.js';
import { silentLogger } from '../../shared/logger.js';

export interface PersistenceInstance {
  persistence: OutpostPersistence;
  broker: IndexBroker & { counter: number };
}

/**
 * One broker's view of Outpost's persistence on a real Redis, without aedes:
 * the persistence, set up with a broker id and an mqemitter-redis emitter, as
 * a broker process would. Closed when the test finishes (or by the test's
 * own destroy(), e.g. to restart it).
 */
export async function persistenceInstance(
  redisUrl: string,
  brokerId: string,
  options: Partial<Omit<OutpostPersistenceOptions, 'redis' | 'keyPrefix' | 'logger'>> = {},
): Promise<PersistenceInstance> {
  const mq = mqemitterRedis({ connectionString: redisUrl });
  const broker = {
    id: brokerId,
    counter: 0,
    publish: mq.emit.bind(mq),
    subscribe: mq.on.bind(mq),
    unsubscribe: mq.removeListener.bind(mq),
  } as unknown as IndexBroker & { counter: number };
  const persistence = new OutpostPersistence({ redis: new Redis(redisUrl, { maxRetriesPerRequest: null }), keyPrefix: 't:', logger: silentLogger(), ...options });
  await persistence.setup(broker);
  let destroyed = false;
  onTestFinished(async () => {
    if (!destroyed) await persistence.destroy();
    await new Promise<void>((resolve) => mq.close(() => resolve()));
  });
  const destroy = persistence.destroy.bind(persistence);
  persistence.destroy = async () => {
    destroyed = true;
    await destroy();
  };
  return { persistence, broker };
}
