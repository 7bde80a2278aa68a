import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { NO_FAILPOINTS, type Failpoints } from '../shared/failpoints.js';
import type { Logger } from '../shared/logger.js';
import { Topics } from '../shared/topics.js';
import { errorMessage } from '../shared/errors.js';
import { redactUrl } from '../shared/redact-url.js';
import { createMetricsEndpoint, createMetricsRegistry, type MetricsEndpoint } from '../shared/metrics-endpoint.js';
import type { ControllerConfig } from './config.js';
import { AuditLog } from './access/audit-log.js';
import { TokenStore } from './access/token-store.js';
import { CommandService } from './commands/command-service.js';
import { ControlPlane } from './control-plane.js';
import { AntiEntropy } from './desired-state/anti-entropy.js';
import { ReceiptWatch } from './desired-state/receipt-watch.js';
import { RedisLease } from './coordination/redis-lease.js';
import { DesiredPublisher } from './desired-state/desired-publisher.js';
import { DesiredWriter } from './desired-state/desired-writer.js';
import { IntentDrain } from './desired-state/intent-drain.js';
import { DocumentSigner } from './signing/document-signer.js';
import { SignWorkerPool } from './signing/sign-worker-pool.js';
import { ExpiryRefresher } from './signing/expiry-refresher.js';
import { SigningKeys } from './signing/signing-keys.js';
import { ChangeFeed } from './dashboard/change-feed.js';
import { notifyingPublisher } from './dashboard/notifying-publisher.js';
import { Ingest } from './ingest/ingest.js';
import { ClockReply } from './ingest/clock-reply.js';
import { StatusStore } from './ingest/status-store.js';
import { purgeDeviceSession } from './mqtt/purge-session.js';
import { ServiceClient } from './mqtt/service-client.js';
import type { BrokerCredentials } from './broker-admin/broker-credentials.js';
import { createBrokerCredentials } from './broker-admin/create-broker-credentials.js';
import { CertificateOperations } from './operations/certificate-operations.js';
import { CommandOperations } from './operations/command-operations.js';
import { Decommissioner } from './operations/decommission.js';
import { DeploymentOperations } from './operations/deployment-operations.js';
import { DeviceOperations } from './operations/device-operations.js';
import { SigningOperations } from './operations/signing-operations.js';
import { RegistryCredentialOperations } from './operations/registry-credential-operations.js';
import { DeploymentViews } from './read-models/deployment-views.js';
import { DeviceViews } from './read-models/device-views.js';
import { fleetSnapshot, fleetSummary } from './read-models/fleet-summary.js';
import { ControllerCounters } from './metrics/controller-counters.js';
import { FleetGauges } from './metrics/fleet-gauges.js';
import { checkRedisPolicy } from './redis-check.js';
import { waitForRedis } from './redis-wait.js';
import { DeploymentStore } from './registry/deployment-store.js';
import { DeviceStore } from './registry/device-store.js';
import { Keys } from './registry/keys.js';
import { ReleaseStore } from './registry/release-store.js';
import { RegistryCredentialStore } from './registry-auth/registry-credential-store.js';
import { createRollouts } from './rollout/create-rollouts.js';
import type { RolloutEngine } from './rollout/rollout-engine.js';
import type { RolloutService } from './rollout/rollout-service.js';

export interface Controller {
  readonly controlPlane: ControlPlane;
  readonly publisher: DesiredPublisher;
  /** Publishes what registry changes and crashes left dirty or unpublished (DD-021). */
  readonly drain: IntentDrain;
  readonly decommissioner: Decommissioner;
  /** The desired-document signing keys (DD-026). */
  readonly signingKeys: SigningKeys;
  /** Re-signs documents before they expire. */
  readonly expiryRefresher: ExpiryRefresher;
  readonly antiEntropy: AntiEntropy;
  /** DD-062's delivery check; null with --receipt-grace 0. */
  readonly receipts: ReceiptWatch | null;
  /** Where device credentials go: Outpost's broker (Redis) or Mosquitto's dynamic security (DD-030). */
  readonly brokerCredentials: BrokerCredentials;
  readonly status: StatusStore;
  readonly redis: Redis;
  readonly rollouts: RolloutService;
  /** The BullMQ side of rollouts (tick jobs); for diagnostics and tests. */
  readonly rolloutEngine: RolloutEngine;
  /** Prometheus metrics of this controller (DD-039); the API serves them at /metrics. */
  readonly metrics: MetricsEndpoint;
  /** Connects to the broker, starts ingest, runs anti-entropy now and periodically. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface ControllerDeps {
  logger: Logger;
  now?: () => number;
  /** Fault injection for crash tests (shared/failpoints.ts); none in production. */
  failpoints?: Failpoints;
  /** Wraps the broker-session purge of decommission; it is handed the real one (tests make it fail). */
  purgeSession?: (deviceId: string, purge: (deviceId: string) => Promise<void>) => Promise<void>;
  /** Where the controller's metrics are registered (DD-039); default: a registry of its own with the process metrics. */
  metricsRegistry?: Registry;
}

/** Assembles the control plane from its configuration; nothing starts until start(). */
export function createController(config: ControllerConfig, deps: ControllerDeps): Controller {
  const logger = deps.logger;
  const now = deps.now ?? Date.now;
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  // The last connection error, for the message of a start that gave up waiting for Redis.
  let lastRedisError: string | undefined;
  redis.on('error', (err) => {
    lastRedisError = err.message;
    logger.warn({ err: err.message }, 'controller redis error');
  });
  const keys = new Keys(config.keyPrefix);
  const topics = new Topics(config.topicPrefix);
  const failpoints = deps.failpoints ?? NO_FAILPOINTS;
  const devices = new DeviceStore(redis, keys, now);
  const releases = new ReleaseStore(redis, keys, now);
  const deployments = new DeploymentStore(redis, keys, now);
  const status = new StatusStore(redis, keys);
  const metricsRegistry = deps.metricsRegistry ?? createMetricsRegistry();
  const counters = new ControllerCounters(metricsRegistry);
  const lease = new RedisLease(redis, { logger: logger.child({ component: 'publish-lease' }), ttlMs: config.publishLeaseSeconds * 1000 });
  // Created before the MQTT client it publishes through; it only uses it on send().
  let commands: CommandService | undefined;
  // DD-042: what the dashboard's live stream is fed from.
  const changes = new ChangeFeed({ logger: logger.child({ component: 'changes' }) });
  const ingest = new Ingest({
    topics,
    status,
    logger: logger.child({ component: 'ingest' }),
    now,
    onEvent: async (e) => commands?.onEvent(e),
    metrics: counters,
    onStored: (deviceId) => changes.device(deviceId),
    onPresence: (p) => clockReply.presence(p),
  });
  // DD-052: devices learn the controller's clock from the answer to their online presence.
  const clockReply = new ClockReply({ topics, publisher: () => mqttClient, now, logger: logger.child({ component: 'clock' }) });
  // Every MQTT connection of the controller trusts the same broker CA (DD-023).
  const brokerTls = config.brokerCaFile === undefined ? {} : { ca: readFileSync(config.brokerCaFile) };
  const sessions = createBrokerCredentials(config, { redis, keys, topics, logger: logger.child({ component: 'broker-admin' }), ...brokerTls });
  const mqttClient = new ServiceClient(
    {
      brokerUrl: config.brokerUrl,
      username: config.serviceUsername,
      password: config.servicePassword,
      clientId: config.clientId,
      subscriptions: ingest.subscriptions(),
      // A device's messages in order; devices at once.
      orderKey: (topic) => topics.parseDevice(topic)?.deviceId ?? topic,
      ...brokerTls,
    },
    (topic, payload) => ingest.handle(topic, payload),
    logger.child({ component: 'mqtt' }),
  );
  // DD-026: every published document is signed, unless the fleet still has agents older than signatures.
  const signingKeys = new SigningKeys(redis, keys, { logger: logger.child({ component: 'signing' }), now, ...(config.signingKeyFile ? { keyFile: config.signingKeyFile } : {}) });
  const signWorkers = new SignWorkerPool(logger.child({ component: 'signing' }));
  const signer = config.signDesired
    ? new DocumentSigner(signingKeys, config.desiredValiditySeconds * 1000, now, { pool: signWorkers, logger: logger.child({ component: 'signing' }) })
    : undefined;
  // DD-041: passwords sealed in Redis, opened only to publish.
  const registryCredentials = new RegistryCredentialStore({
    redis,
    keys,
    now,
    logger: logger.child({ component: 'registry-credentials' }),
    ...(config.registryCredentialsKeyFile ? { keyFile: config.registryCredentialsKeyFile } : {}),
  });
  const writer = new DesiredWriter({
    redis,
    keys,
    topics,
    mqtt: notifyingPublisher(mqttClient, topics, changes),
    logger: logger.child({ component: 'publisher' }),
    now,
    failpoints,
    metrics: counters,
    ...(signer ? { signer } : {}),
    revealSecrets: (payload) => registryCredentials.reveal(payload),
    // The watch is built after the drain it marks devices for; only called once publishing runs.
    onAcknowledged: (ids): Promise<void> =>
      receipts?.acknowledged(ids).catch((err: unknown) => logger.warn({ devices: ids.length, err: errorMessage(err) }, 'cannot arm the delivery check')) ??
      Promise.resolve(),
  });
  const drain = new IntentDrain({
    redis,
    keys,
    devices,
    deployments,
    releases,
    writer,
    registryCredentials,
    lease,
    logger: logger.child({ component: 'drain' }),
    batchSize: config.publishBatchSize,
    failpoints,
  });
  const publisher = new DesiredPublisher({ redis, keys, drain });
  const openReader = (options: mqtt.IClientOptions) =>
    mqtt.connectAsync(config.brokerUrl, {
      ...options,
      clientId: `${config.clientId}:ae`,
      ...brokerTls,
      username: config.serviceUsername,
      password: config.servicePassword,
      protocolVersion: 4,
      connectTimeout: 10_000,
    });
  const validityMs = config.desiredValiditySeconds * 1000;
  const expiryRefresher = new ExpiryRefresher({
    redis,
    keys,
    drain,
    logger: logger.child({ component: 'signing' }),
    now,
    validityMs,
    checkEveryMs: Math.min(3_600_000, Math.max(1000, validityMs / 10)),
  });
  // DD-062: online devices that show nothing of an acknowledged document get it again.
  const receiptGraceMs = config.receiptGraceSeconds * 1000;
  const receipts: ReceiptWatch | null =
    receiptGraceMs > 0
      ? new ReceiptWatch({
          redis,
          keys,
          drain,
          logger: logger.child({ component: 'receipts' }),
          now,
          graceMs: receiptGraceMs,
          checkEveryMs: Math.min(60_000, Math.max(200, receiptGraceMs / 4)),
        })
      : null;
  const antiEntropy = new AntiEntropy({
    redis,
    keys,
    topics,
    devices,
    drain,
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
    mqtt: notifyingPublisher(mqttClient, topics, changes),
    logger: logger.child({ component: 'rollouts' }),
    now,
    pollSeconds: config.rolloutPollSeconds,
    publishBatchSize: config.publishBatchSize,
  });
  const purge = (deviceId: string): Promise<void> =>
    purgeDeviceSession(deviceId, {
      brokerUrl: config.brokerUrl,
      connect: (url, opts) => mqtt.connectAsync(url, { ...opts, ...brokerTls }),
      setSecret: (id, secret) => sessions.setPurgeSecret(id, secret),
    });
  const decommissioner = new Decommissioner({
    redis,
    keys,
    topics,
    devices,
    status,
    writer,
    lease,
    mqtt: mqttClient,
    sessions,
    purgeSession: (deviceId) => (deps.purgeSession ? deps.purgeSession(deviceId, purge) : purge(deviceId)),
    revokeCredential: (id) => sessions.revoke(id),
    logger: logger.child({ component: 'decommission' }),
    now,
    failpoints,
  });
  const deploymentOps = new DeploymentOperations({ devices, releases, deployments, publisher, failpoints });
  const certificates = new CertificateOperations({
    devices,
    logger: logger.child({ component: 'certificates' }),
    now,
    ...(config.deviceCaCertFile !== undefined && config.deviceCaKeyFile !== undefined ? { ca: { certFile: config.deviceCaCertFile, keyFile: config.deviceCaKeyFile } } : {}),
  });
  const fleetDeps = { redis, keys, devices, status };
  const controlPlane = new ControlPlane({
    devices: new DeviceOperations({
      redis,
      keys,
      devices,
      releases,
      publisher,
      sessions,
      keepPendingSecret: sessions.keepsPendingSecret,
      logger: logger.child({ component: 'control-plane' }),
      failpoints,
      reservedIds: new Set([config.serviceUsername]),
    }),
    decommission: decommissioner,
    deployments: deploymentOps,
    commands: new CommandOperations({ redis, keys, devices, commands }),
    deviceViews: new DeviceViews({ redis, keys, devices, releases, deployments, status, registryCredentials }),
    deploymentViews: new DeploymentViews({ redis, keys, devices, releases, deployments, status, targetedIds: (d) => deploymentOps.targetedIds(d) }),
    fleetSummary: () => fleetSummary(fleetDeps),
    signing: new SigningOperations({ redis, keys, devices, signingKeys, publisher, logger: logger.child({ component: 'signing' }) }),
    certificates,
    rollouts: rollouts.service,
    tokens: new TokenStore({ redis, keys, now, logger: logger.child({ component: 'tokens' }) }),
    audit: new AuditLog({ redis, keys, maxEntries: config.auditMaxEntries }),
    registryCredentials: new RegistryCredentialOperations({ store: registryCredentials, publisher }),
    changes,
  });

  const gauges = new FleetGauges(metricsRegistry, {
    snapshot: () => fleetSnapshot(fleetDeps),
    rollouts: () => rollouts.service.list(),
    ping: () => redis.ping(),
    logger: logger.child({ component: 'metrics' }),
  });
  const metrics = createMetricsEndpoint(metricsRegistry, () => gauges.collect());

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
    drain,
    decommissioner,
    signingKeys,
    expiryRefresher,
    receipts,
    antiEntropy,
    brokerCredentials: sessions,
    status,
    redis,
    rollouts: rollouts.service,
    rolloutEngine: rollouts.engine,
    metrics,
    async start() {
      // Redis is required: without it nothing can be accepted. The broker is
      // not: changes made while it is away are stored and published once it
      // is back (DD-021), so the API serves meanwhile.
      await waitForRedis(config.redisWaitSeconds * 1000, {
        ping: async () => {
          try {
            return await redis.ping();
          } catch (err) {
            // ioredis answers "max retries per request"; the refused connection behind it says more.
            throw lastRedisError ? new Error(lastRedisError, { cause: err }) : err;
          }
        },
        logger,
        redisUrl: config.redisUrl,
      });
      await checkRedisPolicy(redis, logger);
      await signingKeys.init();
      await registryCredentials.init();
      await certificates.init();
      // Before the service client connects: on Mosquitto it may first have to be created.
      await sessions.start(config.brokerWaitSeconds * 1000);
      let first = true;
      mqttClient.on('ready', () => {
        // After a broker restart its retained store may have lost documents;
        // anything left dirty or unpublished goes out with the same pass.
        runAntiEntropy(first ? 'start' : 'broker reconnect');
        first = false;
      });
      const connected = mqttClient.start();
      const waited = await Promise.race([connected.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), config.brokerWaitSeconds * 1000).unref())]);
      if (waited) await running;
      else logger.warn({ broker: redactUrl(config.brokerUrl), waitedSeconds: config.brokerWaitSeconds }, 'broker not reachable yet; serving anyway, changes are published once it is');
      // Decommissions a crashed controller left half-done carry on by themselves.
      void decommissioner.resume().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'resuming decommissions failed'));
      await rollouts.start();
      if (signer) expiryRefresher.start();
      receipts?.start();
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
      changes.close();
      if (timer) clearTimeout(timer);
      drain.close();
      await expiryRefresher.close();
      await receipts?.close();
      decommissioner.close();
      await running.catch(() => undefined);
      await rollouts.close();
      await mqttClient.close();
      await sessions.close();
      await signWorkers.close();
      redis.disconnect();
    },
  };
}
