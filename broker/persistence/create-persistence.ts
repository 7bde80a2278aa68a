import type { Aedes } from 'aedes';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { ForgivingRedis } from '../forgiving-redis.js';
import { createRedisPersistence } from '../persistence.js';
import { SessionSweeper } from '../session-sweep.js';
import { dropStaleWillsOnReconnect } from '../stale-wills.js';
import { OutpostPersistence } from './outpost-persistence.js';
import type { PacketSeal } from './packet-seal.js';
import { OutpostSessionSweeper } from './session-sweep.js';
import type { PersistenceKind } from './kinds.js';


/** Prefix of the persistence's keys below Outpost's key prefix (DD-028). */
export const PERSISTENCE_KEY_SUFFIX = 'mqtt:';

export interface PersistenceOptions {
  kind: PersistenceKind;
  redisUrl: string;
  /** Outpost's key prefix; the `outpost` persistence writes below `<keyPrefix>mqtt:`, `legacy` ignores it. */
  keyPrefix: string;
  maxSessionDelivery: number;
  maxQueuedMessages: number;
  logger: Logger;
  /** DD-047: seals stored packets (the outpost persistence only; config.ts refuses it with legacy). */
  seal?: PacketSeal;
  /** Counts a stored packet that could not be opened and was dropped. */
  onUnreadable?: (kind: string) => void;
  /** Counts messages queued for persistent sessions, and the oldest entries dropped for the queue cap (the outpost persistence). */
  onEnqueued?: (queued: number, dropped: number) => void;
}

export interface MaintenanceDeps {
  aedes: Aedes;
  credentialsRedis: Redis;
  keyPrefix: string;
  sessionSweepIntervalMs: number;
  isConnected(clientId: string): boolean;
}

/** A client as the refused-subscription purge names it. */
interface Client {
  readonly id: string;
}

/** The broker's persistence, whichever implementation, as create-broker.ts drives it. */
export interface BrokerPersistence {
  readonly kind: PersistenceKind;
  /** What aedes gets as `persistence`. */
  readonly aedes: object;
  /** Its own connection (disconnected by destroy()). */
  readonly redis: Redis;
  storeRetained(packet: unknown): Promise<void>;
  removeSubscriptions(client: Client, topics: string[]): Promise<unknown>;
  /** After aedes exists and before listen(): stale wills (DD-011), then the session sweep (DD-020). */
  startMaintenance(deps: MaintenanceDeps): Promise<void>;
  stopMaintenance(): Promise<void>;
  destroy(): Promise<void>;
}

export function createPersistence(options: PersistenceOptions): BrokerPersistence {
  return options.kind === 'outpost' ? outpost(options) : legacy(options);
}

/** DD-028: one round trip per operation, per-client keys, nothing to work around. */
function outpost(options: PersistenceOptions): BrokerPersistence {
  const { logger } = options;
  // Commands wait for as long as Redis is away instead of failing after 20
  // reconnect attempts: a stalled session restore completes when Redis is back.
  // Auto-pipelining sends the commands of all clients issued in one event
  // loop turn as one socket write: in a reconnect storm, one write per batch
  // of CONNECTs instead of one per command.
  const redis = new ForgivingRedis(options.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  const persistence = new OutpostPersistence({
    redis,
    keyPrefix: `${options.keyPrefix}${PERSISTENCE_KEY_SUFFIX}`,
    maxSessionDelivery: options.maxSessionDelivery,
    maxQueuedMessages: options.maxQueuedMessages,
    // The broker never sends QoS 2 (DD-020): a PUBREC is refused.
    outboundQos2: false,
    logger,
    ...(options.seal ? { seal: options.seal } : {}),
    ...(options.onUnreadable ? { onUnreadable: options.onUnreadable } : {}),
    ...(options.onEnqueued ? { onEnqueued: options.onEnqueued } : {}),
  });
  if (options.seal) logger.info({ keyId: options.seal.keyId }, 'stored messages sealed at rest (AES-256-GCM)');
  else logger.info('stored messages are not encrypted at rest (no --store-key-file)');
  let sweeper: OutpostSessionSweeper | undefined;
  return {
    kind: 'outpost',
    aedes: persistence,
    redis,
    storeRetained: (packet) => persistence.storeRetained(packet as Parameters<OutpostPersistence['storeRetained']>[0]),
    removeSubscriptions: (client, topics) => persistence.removeSubscriptions(client, topics),
    async startMaintenance(deps) {
      // Stale wills need nothing here: a will is keyed by its client, and
      // aedes's CONNECT deletes it before storing the new one (DD-011, DD-028).
      sweeper = new OutpostSessionSweeper({
        store: persistence,
        credentialsRedis: deps.credentialsRedis,
        keyPrefix: deps.keyPrefix,
        isConnected: deps.isConnected,
        logger,
        intervalMs: deps.sessionSweepIntervalMs,
      });
      sweeper.start();
    },
    stopMaintenance: async () => sweeper?.close(),
    destroy: () => persistence.destroy(),
  };
}

/** aedes-persistence-redis 11.2 with its work-arounds; kept for one release for comparison (DD-028). */
function legacy(options: PersistenceOptions): BrokerPersistence {
  const { logger } = options;
  if (options.seal) throw new Error('the legacy persistence cannot seal stored packets (DD-047)');
  logger.info('stored messages are not encrypted at rest (the legacy persistence cannot seal them)');
  const { persistence, redis, queues } = createRedisPersistence(options.redisUrl, {
    maxSessionDelivery: options.maxSessionDelivery,
    maxQueuedMessages: options.maxQueuedMessages,
    logger,
  });
  let sweeper: SessionSweeper | undefined;
  return {
    kind: 'legacy',
    aedes: persistence,
    redis,
    storeRetained: (packet) => persistence.storeRetained(packet),
    removeSubscriptions: (client, topics) => persistence.removeSubscriptions(client, topics),
    async startMaintenance(deps) {
      await dropStaleWillsOnReconnect({ aedes: deps.aedes, redis, persistence, logger });
      sweeper = new SessionSweeper({
        redis,
        credentialsRedis: deps.credentialsRedis,
        keyPrefix: deps.keyPrefix,
        persistence,
        queues,
        isConnected: deps.isConnected,
        logger,
        intervalMs: deps.sessionSweepIntervalMs,
      });
      sweeper.start();
    },
    stopMaintenance: async () => sweeper?.close(),
    destroy: () => persistence.destroy(),
  };
}
