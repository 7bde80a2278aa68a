import { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import type { Topics } from '../../shared/topics.js';
import type { DesiredPublisher } from '../desired-state/desired-publisher.js';
import type { StatusStore } from '../ingest/status-store.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';
import { DeploymentStore } from '../registry/deployment-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { ReleaseStore } from '../registry/release-store.js';
import { RolloutEffects } from './rollout-effects.js';
import { RolloutEngine } from './rollout-engine.js';
import { RolloutLock } from './rollout-lock.js';
import { RolloutScheduler } from './rollout-scheduler.js';
import { RolloutService } from './rollout-service.js';
import { RolloutStore } from './rollout-store.js';
import { RolloutTicker } from './rollout-tick.js';
import { rolloutStatusMessage } from './rollout-view.js';
import { RolloutWorker } from './rollout-worker.js';

export interface RolloutsDeps {
  redisUrl: string;
  keys: Keys;
  topics: Topics;
  devices: DeviceStore;
  releases: ReleaseStore;
  status: StatusStore;
  publisher: DesiredPublisher;
  mqtt: ServicePublisher;
  logger: Logger;
  now: () => number;
  pollSeconds: number;
  publishBatchSize?: number;
  /** Tests shorten these. */
  lockTtlMs?: number;
  housekeepingMs?: number;
}

export interface Rollouts {
  readonly service: RolloutService;
  readonly engine: RolloutEngine;
  readonly store: RolloutStore;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The rollout engine and service with their own Redis connections: one plain
 * connection (state, locks, markers, and the rollout deployment's
 * WATCH/MULTI, which must not share a connection with other transactions)
 * and BullMQ's (maxRetriesPerRequest null, as BullMQ requires).
 */
export function createRollouts(deps: RolloutsDeps): Rollouts {
  const { keys, logger, now } = deps;
  const redis = new Redis(deps.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'rollout redis error'));
  const bull = new Redis(deps.redisUrl, { maxRetriesPerRequest: null });
  bull.on('error', (err) => logger.debug({ err: err.message }, 'rollout queue redis error'));

  const store = new RolloutStore(redis, keys);
  const locks = new RolloutLock(redis, keys, { logger, ...(deps.lockTtlMs !== undefined ? { ttlMs: deps.lockTtlMs } : {}) });
  const effects = new RolloutEffects({
    redis,
    keys,
    deployments: new DeploymentStore(redis, keys, now),
    publisher: deps.publisher,
    logger,
    ...(deps.publishBatchSize !== undefined ? { batchSize: deps.publishBatchSize } : {}),
  });
  const ticker = new RolloutTicker({
    store,
    devices: deps.devices,
    status: deps.status,
    effects,
    publishStatus: (state) =>
      deps.mqtt.publish(deps.topics.rolloutStatus(state.id), JSON.stringify(rolloutStatusMessage(state, new Date(now()))), { retain: true, qos: 1 }),
    now,
    logger,
  });
  const scheduler = new RolloutScheduler({ connection: bull, redis, keys, logger, now });
  const engine: RolloutEngine = new RolloutEngine({
    store,
    locks,
    ticker,
    scheduler,
    worker: () =>
      new RolloutWorker({
        redisUrl: deps.redisUrl,
        prefix: keys.bullPrefix(),
        queue: scheduler.queue,
        process: (job) => engine.processJob(job),
        logger,
        // BullMQ's timestamps are wall-clock, whatever clock the planner is given.
        now: Date.now,
      }),
    logger,
    now,
    pollSeconds: deps.pollSeconds,
    ...(deps.housekeepingMs !== undefined ? { housekeepingMs: deps.housekeepingMs } : {}),
  });
  const service = new RolloutService({ store, locks, devices: deps.devices, releases: deps.releases, kick: (id) => engine.kick(id), now, logger });

  let closed = false;
  return {
    service,
    engine,
    store,
    start: () => engine.start(),
    async close() {
      if (closed) return;
      closed = true;
      await engine.close();
      redis.disconnect();
      bull.disconnect();
    },
  };
}
