import mqtt from 'mqtt';
import { Redis } from 'ioredis';
import { DeviceCredentials } from '../broker/auth/device-credentials.js';
import type { Logger } from '../shared/logger.js';
import { Topics } from '../shared/topics.js';
import { errorMessage } from '../shared/errors.js';
import type { ControllerConfig } from './config.js';
import { CommandService } from './commands/command-service.js';
import { ControlPlane } from './control-plane.js';
import { AntiEntropy } from './desired-state/anti-entropy.js';
import { DesiredPublisher } from './desired-state/desired-publisher.js';
import { Ingest } from './ingest/ingest.js';
import { StatusStore } from './ingest/status-store.js';
import { purgeDeviceSession } from './mqtt/purge-session.js';
import { ServiceClient } from './mqtt/service-client.js';
import { checkRedisPolicy } from './redis-check.js';
import { DeploymentStore } from './registry/deployment-store.js';
import { DeviceStore } from './registry/device-store.js';
import { Keys } from './registry/keys.js';
import { ReleaseStore } from './registry/release-store.js';
import { SerialQueue } from './registry/serial.js';
import { createRollouts } from './rollout/create-rollouts.js';
import type { RolloutEngine } from './rollout/rollout-engine.js';
import type { RolloutService } from './rollout/rollout-service.js';

export interface Controller {
  readonly controlPlane: ControlPlane;
  readonly publisher: DesiredPublisher;
  readonly antiEntropy: AntiEntropy;
  readonly status: StatusStore;
  readonly redis: Redis;
  readonly rollouts: RolloutService;
  /** The BullMQ side of rollouts (tick jobs); for diagnostics and tests. */
  readonly rolloutEngine: RolloutEngine;
  /** Connects to the broker, starts ingest, runs anti-entropy now and periodically. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface ControllerDeps {
  logger: Logger;
  now?: () => number;
}

/** Assembles the control plane from its configuration; nothing starts until start(). */
export function createController(config: ControllerConfig, deps: ControllerDeps): Controller {
  const logger = deps.logger;
  const now = deps.now ?? Date.now;
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'controller redis error'));
  const keys = new Keys(config.keyPrefix);
  const topics = new Topics(config.topicPrefix);
  const devices = new DeviceStore(redis, keys, new SerialQueue(), now);
  const releases = new ReleaseStore(redis, keys, now);
  const deployments = new DeploymentStore(redis, keys, now);
  const status = new StatusStore(redis, keys);
  const credentials = new DeviceCredentials(redis, config.keyPrefix);
  // Created before the MQTT client it publishes through; it only uses it on send().
  let commands: CommandService | undefined;
  const ingest = new Ingest({ topics, status, logger: logger.child({ component: 'ingest' }), now, onEvent: async (e) => commands?.onEvent(e) });
  const mqttClient = new ServiceClient(
    {
      brokerUrl: config.brokerUrl,
      username: config.serviceUsername,
      password: config.servicePassword,
      clientId: config.clientId,
      subscriptions: ingest.subscriptions(),
    },
    (topic, payload) => ingest.handle(topic, payload),
    logger.child({ component: 'mqtt' }),
  );
  const publisher = new DesiredPublisher({
    redis,
    keys,
    topics,
    devices,
    deployments,
    releases,
    mqtt: mqttClient,
    logger: logger.child({ component: 'publisher' }),
    now,
    batchSize: config.publishBatchSize,
  });
  const openReader = (options: mqtt.IClientOptions) =>
    mqtt.connectAsync(config.brokerUrl, {
      ...options,
      clientId: `${config.clientId}:ae`,
      username: config.serviceUsername,
      password: config.servicePassword,
      protocolVersion: 4,
      connectTimeout: 10_000,
    });
  const antiEntropy = new AntiEntropy({
    redis,
    keys,
    topics,
    devices,
    publisher,
    mqtt: mqttClient,
    openReader,
    logger: logger.child({ component: 'anti-entropy' }),
  });
  commands = new CommandService({ redis, keys, topics, mqtt: mqttClient, status, now, logger: logger.child({ component: 'commands' }) });
  const rollouts = createRollouts({
    redisUrl: config.redisUrl,
    keys,
    topics,
    devices,
    releases,
    status,
    publisher,
    mqtt: mqttClient,
    logger: logger.child({ component: 'rollouts' }),
    now,
    pollSeconds: config.rolloutPollSeconds,
    publishBatchSize: config.publishBatchSize,
  });
  const controlPlane = new ControlPlane({
    redis,
    keys,
    topics,
    devices,
    releases,
    deployments,
    status,
    publisher,
    credentials,
    mqtt: mqttClient,
    commands,
    rollouts: rollouts.service,
    purgeSession: (deviceId) =>
      purgeDeviceSession(deviceId, {
        brokerUrl: config.brokerUrl,
        connect: (url, opts) => mqtt.connectAsync(url, opts),
        setSecret: (id, secret) => credentials.set(id, secret),
      }),
    logger: logger.child({ component: 'control-plane' }),
  });

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running: Promise<unknown> = Promise.resolve();
  const runAntiEntropy = (why: string): void => {
    running = running
      .then(() => antiEntropy.run())
      .then((r) => logger.debug({ why, ...r, republished: r.republished.length, bumped: r.bumped.length }, 'anti-entropy pass'))
      .catch((err: unknown) => logger.warn({ why, err: errorMessage(err) }, 'anti-entropy pass failed'));
  };

  return {
    controlPlane,
    publisher,
    antiEntropy,
    status,
    redis,
    rollouts: rollouts.service,
    rolloutEngine: rollouts.engine,
    async start() {
      await checkRedisPolicy(redis, logger);
      let first = true;
      mqttClient.on('ready', () => {
        // After a broker restart its retained store may have lost documents.
        runAntiEntropy(first ? 'start' : 'broker reconnect');
        first = false;
      });
      await mqttClient.start();
      await running;
      await rollouts.start();
      const everyMs = config.antiEntropyIntervalSeconds * 1000;
      if (everyMs > 0) {
        const tick = (): void => {
          if (closed) return;
          runAntiEntropy('periodic');
          timer = setTimeout(tick, everyMs);
          timer.unref();
        };
        timer = setTimeout(tick, everyMs);
        timer.unref();
      }
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running.catch(() => undefined);
      await rollouts.close();
      await mqttClient.close();
      redis.disconnect();
    },
  };
}
