import aedesPersistenceRedis from 'aedes-persistence-redis';
import type { Redis, RedisOptions } from 'ioredis';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { ForgivingRedis } from './forgiving-redis.js';
import { boundOutgoingQueues, type OutgoingQueues } from './outgoing-queue.js';

/**
 * How long a client's next subscription change waits for the previous one.
 * Normally milliseconds; the bound only matters when a broadcast was lost
 * (Redis restarted mid-way), so one stuck SUBSCRIBE cannot block that
 * client's later ones forever.
 */
const SUBSCRIPTION_CHANGE_WAIT_MS = 10_000;

export type Persistence = ReturnType<typeof aedesPersistenceRedis>;

export interface RedisPersistence {
  readonly persistence: Persistence;
  /** The connection it uses; persistence.destroy() disconnects it. */
  readonly redis: Redis;
  readonly queues: OutgoingQueues;
}

/**
 * aedes-persistence-redis on its own connection, with the known ways it and
 * aedes 1.2.0 hang or crash on it worked around (see each function below).
 */
export function createRedisPersistence(
  redisUrl: string,
  options: { maxSessionDelivery: number; maxQueuedMessages: number; logger: Logger },
): RedisPersistence {
  const { logger } = options;
  const redisOptions: RedisOptions = {
    // Commands wait in the offline queue for as long as Redis is away instead
    // of failing after 20 reconnect attempts: a stalled publish or session
    // restore completes when Redis is back, rather than half-failing in aedes
    // code paths that do not all handle errors.
    maxRetriesPerRequest: null,
  };
  const redis = new ForgivingRedis(redisUrl, redisOptions);
  const persistence = aedesPersistenceRedis({ conn: redis, maxSessionDelivery: options.maxSessionDelivery });
  persistence.on('error', (err: unknown) => logger.error({ err: errorMessage(err) }, 'persistence error'));
  // Before serializeSubscriptionChanges, so a queue's release runs in the client's turn too.
  const queues = boundOutgoingQueues(persistence, redis, { maxQueuedMessages: options.maxQueuedMessages, logger });
  serializeSubscriptionChanges(persistence);
  cleanThroughRemove(persistence);
  softenWillDeletion(persistence, logger);
  guardRetainedStreams(persistence, logger);
  return { persistence, redis, queues };
}

/**
 * aedes calls `addSubscriptions(client, packet.subscriptions)` once per
 * granted filter of a SUBSCRIBE, concurrently, each time with the whole
 * list (lib/handlers/subscribe.js storeSubscriptions). aedes-persistence's
 * BroadcastPersistence then waits for its own broadcast under a key made of
 * the client id and the FIRST topic only, so the concurrent calls overwrite
 * each other's waiter and all but one never resolve: a clean=false client
 * subscribing to two topics in one packet never gets its SUBACK. Calls for
 * the same packet are merged into one, and a client's subscription changes
 * run one at a time.
 */
function serializeSubscriptionChanges(persistence: Persistence): void {
  const add = persistence.addSubscriptions.bind(persistence);
  const remove = persistence.removeSubscriptions.bind(persistence);
  const tails = new Map<string, Promise<void>>();
  const samePacket = new WeakMap<object, Promise<unknown>>();

  function inTurn<T>(clientId: string, run: () => Promise<T>): Promise<T> {
    const previous = tails.get(clientId) ?? Promise.resolve();
    const result = previous.then(run);
    const tail = boundedWait(result, SUBSCRIPTION_CHANGE_WAIT_MS).then(() => {
      if (tails.get(clientId) === tail) tails.delete(clientId);
    });
    tails.set(clientId, tail);
    return result;
  }

  persistence.addSubscriptions = (client, subs) => {
    const pending = samePacket.get(subs);
    if (pending) return pending;
    const result = inTurn(client.id, () => add(client, subs));
    samePacket.set(subs, result);
    return result;
  };
  persistence.removeSubscriptions = (client, topics) => inTurn(client.id, () => remove(client, topics));
}

/**
 * The module exports a callback wrapper whose `cleanSubscriptions` calls the
 * inner instance's, which calls the INNER `removeSubscriptions`, past every
 * replacement made on the wrapper here (serialization, queue release). Used by
 * aedes for each clean=true CONNECT, e.g. the controller's purge of a
 * decommissioned device, so it is routed through the wrapper's methods.
 */
function cleanThroughRemove(persistence: Persistence): void {
  persistence.cleanSubscriptions = async (client) => {
    const subs = await persistence.subscriptionsByClient(client);
    if (subs.length > 0) await persistence.removeSubscriptions(client, subs.map((s) => s.topic));
  };
}

/** Settles (never rejects) when `promise` settles or after `ms`, whichever is first. */
function boundedWait(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

/**
 * aedes's connect handler chains `.finally()` onto `delWill` without a
 * rejection handler (lib/handlers/connect.js storeWill), so a Redis error
 * there is an unhandled rejection. Every caller ignores the result, so
 * failing soft (logged) is safe: a will left behind is published later by
 * aedes's will sweeper, and stale wills are recognisable by their epoch.
 */
function softenWillDeletion(persistence: Persistence, logger: Logger): void {
  const delWill = persistence.delWill.bind(persistence);
  persistence.delWill = (client) =>
    delWill(client).catch((err: unknown) => {
      logger.warn({ err: errorMessage(err) }, 'deleting a will failed');
      return null;
    });
}

/**
 * aedes `.pipe()`s the retained-message stream (lib/handlers/subscribe.js),
 * and pipe does not forward errors, so a failing retained lookup would be an
 * 'error' event without a listener: an uncaught exception. Now it is logged;
 * the subscription stays, without its retained message.
 */
function guardRetainedStreams(persistence: Persistence, logger: Logger): void {
  const retained = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) => {
    const stream = retained(patterns);
    stream.on('error', (err: unknown) => {
      logger.warn({ err: errorMessage(err), topics: patterns.length }, 'retained message lookup failed');
    });
    return stream;
  };
}
