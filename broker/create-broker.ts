import { readFileSync } from 'node:fs';
import { Aedes, type AedesOptions, type Client, type Subscription } from 'aedes';
import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { errorMessage, OutpostError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { createMetricsEndpoint, createMetricsRegistry, type MetricsEndpoint } from '../shared/metrics-endpoint.js';
import { Topics } from '../shared/topics.js';
import { AccessPolicy } from './auth/access-policy.js';
import { createAuthenticate, createPreConnect, PendingWills } from './auth/authenticate.js';
import { ConnackLedger, createAuthorizeForward } from './auth/authorize-forward.js';
import { createAuthorizePublish } from './auth/authorize-publish.js';
import { createAuthorizeSubscribe } from './auth/authorize-subscribe.js';
import { TlsPeers } from './auth/tls-peer.js';
import { DeviceCredentials } from '../shared/device-credentials.js';
import { IdentityRegistry } from './auth/identity.js';
import { clip } from './auth/log-fields.js';
import { logBrokerEvents } from './broker-events.js';
import type { BrokerConfig } from './config.js';
import { createConnectionServer, type TlsListenerOptions } from './connection-server.js';
import { ForgivingRedis } from './forgiving-redis.js';
import { HEADER_ALLOWANCE_BYTES } from './packet-size-guard.js';
import { createPersistence } from './persistence/create-persistence.js';
import { readStoreKey } from './persistence/store-key.js';
import { withDurablePublish, type DurableStore } from './durable-publish.js';
import { RedisOutageLog, watchRedis } from './redis-outage-log.js';
import { CredentialWatch } from './credential-watch.js';
import { createEmitter } from './emitter.js';
import { createBrokerMetrics } from './broker-metrics.js';
import { createMetricsServer } from './metrics-server.js';

/**
 * aedes only applies it to MQTT 3.1 (its default of 23 is 3.1's limit), but
 * device ids are up to 63 characters, so it must be at least 64.
 */
const MAX_CLIENT_ID_LENGTH = 128;
/** Longest a close step may take before shutdown moves on without it. */
const CLOSE_STEP_TIMEOUT_MS = 5_000;
/** SUBACK return code of a refused filter [MQTT-3.9.3]. */
const SUBACK_FAILURE = 128;

export interface BrokerDeps {
  logger: Logger;
  /**
   * Connection for Outpost's own keys (device credentials). Owned by the
   * caller and left open by close(). Default: one the broker opens to
   * `config.redisUrl` and closes.
   */
  redis?: Redis;
  /**
   * Remove the filters authorizeSubscribe refused from a persistent session
   * right after the SUBSCRIBE (default true), so no QoS 1 messages are queued
   * for them. authorizeForward blocks their delivery either way; tests turn
   * this off to prove that.
   */
  purgeRefusedSubscriptions?: boolean;
  /** Where the broker's metrics are registered (DD-039); default: a registry of its own with the process metrics. */
  metricsRegistry?: Registry;
}

/** Where a started broker listens. */
export interface BrokerAddress {
  host: string;
  /** The plain TCP port; with plain TCP off, the TLS port. */
  port: number;
  /** The TLS port, when TLS is on. */
  tlsPort?: number;
  /** The TLS listener's address, when TLS is on. */
  tlsHost?: string;
  /** The port of GET /metrics, when config.metricsPort is set (DD-039). */
  metricsPort?: number;
}

export interface OutpostBroker {
  readonly aedes: Aedes;
  readonly credentials: DeviceCredentials;
  readonly topics: Topics;
  /** Prometheus metrics of this broker process (DD-039); served over HTTP when config.metricsPort is set. */
  readonly metrics: MetricsEndpoint;
  /** Starts accepting MQTT connections on config.host: config.port (plain TCP) and/or config.tlsPort (TLS). */
  listen(): Promise<BrokerAddress>;
  /** Stop accepting, close aedes (clients, emitter), then persistence and Redis connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * The Outpost broker: aedes with Redis persistence and emitter, Outpost's
 * authentication and authorization, and a packet size guard in front of
 * every connection. Resolves once persistence is loaded; call listen() next.
 */
export async function createBroker(config: BrokerConfig, deps: BrokerDeps): Promise<OutpostBroker> {
  const logger = deps.logger;
  const topics = new Topics(config.topicPrefix);
  const policy = new AccessPolicy(topics, config);
  const identities = new IdentityRegistry();
  const wills = new PendingWills();
  const connacks = new ConnackLedger();
  const tlsPeers = new TlsPeers();
  // Before anything is opened: an unreadable certificate is a configuration error, not a half-started broker.
  const tls = readTlsMaterial(config);

  // Fails fast while Redis is away (no offline queue): a CONNECT then gets
  // "server unavailable" at once instead of hanging until Redis returns.
  // Auto-pipelined: in a reconnect storm the credential lookups of one
  // event-loop turn leave as one socket write, not one each.
  const credentialsRedis =
    deps.redis ?? new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true });
  const ownRedis = deps.redis ? undefined : credentialsRedis;
  if (ownRedis) watchRedis(ownRedis, new RedisOutageLog(logger, 'credentials'));
  const credentials = new DeviceCredentials(credentialsRedis, config.keyPrefix);

  // Before anything is opened, like the TLS files: a missing or malformed key is a configuration error.
  const seal = config.storeKeyFile === undefined ? undefined : readStoreKey(config.storeKeyFile);
  const metricsRegistry = deps.metricsRegistry ?? createMetricsRegistry();
  const metrics = createBrokerMetrics(metricsRegistry);
  const persistence = createPersistence({
    kind: config.persistence,
    ...(seal ? { seal } : {}),
    onUnreadable: (kind) => metrics.countUnreadable(kind),
    onEnqueued: (queued, dropped) => metrics.countQueued(queued, dropped),
    redisUrl: config.redisUrl,
    keyPrefix: config.keyPrefix,
    maxSessionDelivery: config.maxSessionDelivery,
    maxQueuedMessages: config.maxQueuedMessages,
    logger,
  });
  const persistenceRedis = persistence.redis;
  watchRedis(persistenceRedis, new RedisOutageLog(logger, 'persistence'));

  const mq = createEmitter(config, logger);
  const metricsEndpoint = createMetricsEndpoint(metricsRegistry);
  const metricsServer = createMetricsServer(metricsEndpoint, logger);

  let aedesRef: Aedes | undefined;
  const options: AedesOptions = {
    mq,
    persistence: persistence.aedes,
    concurrency: config.concurrency,
    heartbeatInterval: config.heartbeatIntervalMs,
    connectTimeout: config.connectTimeoutMs,
    drainTimeout: config.drainTimeoutMs,
    maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
    maxTopicLevels: config.maxTopicLevels,
    preConnect: createPreConnect(wills),
    authenticate: createAuthenticate({
      credentials,
      policy,
      identities,
      wills,
      serviceUsername: config.serviceUsername,
      servicePassword: config.servicePassword,
      // aedes's `client.conn` is the stream the connection server handed it.
      tlsPeerOf: (client) => tlsPeers.get(Reflect.get(client, 'conn')),
      logger,
    }),
    authorizePublish: withDurablePublish(createAuthorizePublish({ policy, identities, logger }), persistence.aedes as DurableStore, () => aedesRef),
    authorizeSubscribe: createAuthorizeSubscribe({ policy, identities, logger }),
    authorizeForward: metrics.countForward(createAuthorizeForward({ policy, identities, connacks, logger })),
  };

  let aedes: Aedes | undefined;
  // Subscriber mode needs a connection of its own; it waits out Redis outages like the emitter's.
  const watchConnection = new ForgivingRedis(config.redisUrl, { maxRetriesPerRequest: null });
  watchRedis(watchConnection, new RedisOutageLog(logger, 'credential watch'));
  const credentialWatch = new CredentialWatch({
    subscriber: watchConnection,
    keyPrefix: config.keyPrefix,
    credentials,
    identities,
    clientOf: (clientId) => clientsOf(aedesRef)[clientId],
    allClients: () => Object.values(clientsOf(aedesRef)),
    logger,
  });
  try {
    // Both wait for Redis for as long as it takes (persistence commands are
    // never dropped, see persistence/create-persistence.ts); the outage is logged meanwhile.
    if (ownRedis) await ready(ownRedis);
    aedes = await Aedes.createBroker(options);
    aedesRef = aedes;
    // Before listen(), so no client connects before the old wills are known
    // (DD-011); the session sweep's first pass runs now, before aedes's first
    // will sweep (4 heartbeats on).
    const live = aedes;
    await persistence.startMaintenance({
      aedes: live,
      credentialsRedis,
      keyPrefix: config.keyPrefix,
      sessionSweepIntervalMs: config.sessionSweepIntervalMs,
      isConnected: (clientId) => isConnected(live, clientId),
    });
    await credentialWatch.start();
  } catch (err) {
    // Nothing opened above may outlive a failed start: the process would neither serve nor exit.
    const opened = aedes;
    await closeQuietly(logger, [
      ['session sweep', () => persistence.stopMaintenance()],
      ['credential watch', async () => credentialWatch.close()],
      ['aedes', () => new Promise<void>((resolve) => (opened ? opened.close(() => resolve()) : mq.close(() => resolve())))],
    ]);
    persistenceRedis.disconnect();
    ownRedis?.disconnect();
    throw err;
  }
  const broker = aedes;

  const server = createConnectionServer({
    handle: (conn) => broker.handle(conn),
    maxRemainingLength: config.maxPayloadBytes + config.maxTopicBytes + HEADER_ALLOWANCE_BYTES,
    logger,
    tlsPeers,
    listenBacklog: config.listenBacklog,
    maxOutgoingBufferBytes: config.maxOutgoingBufferBytes,
    onTooSlow: () => metrics.countSlowClientCut(),
  });
  logBrokerEvents(broker, { identities, logger, remoteOf: server.remoteOf });
  metrics.attach(broker, () => clientsOf(broker));
  broker.on('connackSent', (packet, client) => {
    if (packet.returnCode === 0) connacks.markSent(client);
  });

  if (deps.purgeRefusedSubscriptions ?? true) {
    // aedes persists every filter of a SUBSCRIBE from a clean=false client,
    // the refused ones too (pitfalls.md), and would queue matching QoS 1
    // messages for them until the next CONNECT. 'subscribe' fires after the
    // filters were stored, so removing the refused ones now cannot race them.
    broker.on('subscribe', (subscriptions: Subscription[], client: Client) => {
      if (client.clean) return;
      const refused = subscriptions.filter((s) => Number(s.qos) === SUBACK_FAILURE).map((s) => s.topic);
      if (refused.length === 0) return;
      persistence.removeSubscriptions(client, refused).then(
        () => logger.debug({ clientId: clip(client.id), topics: refused.map(clip) }, 'refused subscriptions purged'),
        (err: unknown) => logger.warn({ clientId: clip(client.id), err: errorMessage(err) }, 'purging refused subscriptions failed'),
      );
    });
  }

  let closing: Promise<void> | undefined;

  return {
    aedes: broker,
    credentials,
    topics,
    metrics: metricsEndpoint,
    async listen() {
      const plain = config.port === null ? undefined : await server.listen(config.plainHost ?? config.host, config.port);
      const secure = tls === undefined || config.tlsPort === undefined ? undefined : await server.listenTls(config.host, config.tlsPort, tls);
      const host = (plain ?? secure)?.address ?? config.host;
      const metricsPort = config.metricsPort === undefined ? undefined : await metricsServer.listen(config.metricsHost, config.metricsPort);
      logger.info(
        {
          host,
          port: plain?.port ?? null,
          ...(secure && secure.address !== host ? { tlsHost: secure.address } : {}),
          tlsPort: secure?.port ?? null,
          clientCertificates: tls?.clientCa !== undefined,
          topicPrefix: topics.prefix,
          ...(metricsPort !== undefined ? { metricsHost: config.metricsHost, metricsPort } : {}),
        },
        'broker listening',
      );
      const port = plain?.port ?? secure?.port;
      if (port === undefined) throw new Error('no listener configured');
      return { host, port, ...(secure ? { tlsPort: secure.port, tlsHost: secure.address } : {}), ...(metricsPort !== undefined ? { metricsPort } : {}) };
    },
    close() {
      closing ??= (async () => {
        const stopped = server.stopAccepting();
        await closeQuietly(logger, [
          ['metrics listener', () => metricsServer.close()],
          ['session sweep', () => persistence.stopMaintenance()],
          ['credential watch', async () => credentialWatch.close()],
          ['aedes', () => new Promise<void>((resolve) => broker.close(() => resolve()))],
          ['connections', async () => {
            server.destroyConnections();
            await stopped;
          }],
          // After aedes: its clients still write wills and unsubscribe through
          // persistence while they close, and aedes.close() closes the emitter.
          ['persistence', () => persistence.destroy()],
          ['credentials redis', async () => void (await ownRedis?.quit())],
        ]);
        logger.info('broker closed');
      })();
      return closing;
    },
  };
}

/** The TLS listener's PEM material, read once at start; undefined without TLS. */
function readTlsMaterial(config: BrokerConfig): TlsListenerOptions | undefined {
  if (config.tlsCertFile === undefined || config.tlsKeyFile === undefined) return undefined;
  const read = (key: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new OutpostError('CONFIG_INVALID', `invalid broker configuration: ${key}: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
    }
  };
  return {
    cert: read('tlsCertFile', config.tlsCertFile),
    key: read('tlsKeyFile', config.tlsKeyFile),
    ...(config.tlsClientCaFile !== undefined ? { clientCa: read('tlsClientCaFile', config.tlsClientCaFile) } : {}),
    handshakeTimeoutMs: config.connectTimeoutMs,
  };
}

/** aedes's live clients by id (`aedes.clients`, not in its types); empty before aedes exists. */
function clientsOf(aedes: Aedes | undefined): Record<string, Client> {
  const clients: unknown = aedes ? Reflect.get(aedes, 'clients') : undefined;
  return typeof clients === 'object' && clients !== null ? (clients as Record<string, Client>) : {};
}

/** aedes's own registry of connected clients (`aedes.clients`, not in its types); it decides session takeovers. */
function isConnected(aedes: Aedes, clientId: string): boolean {
  const clients: unknown = Reflect.get(aedes, 'clients');
  // Unknown means "maybe": the sweep then fails its pass rather than remove a live session.
  if (typeof clients !== 'object' || clients === null) throw new Error('aedes has no `clients` registry: check the installed version');
  return Object.hasOwn(clients, clientId);
}

function ready(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    redis.once('ready', () => resolve());
    redis.once('end', () => reject(new Error('Redis connection ended before it was ready')));
  });
}

type CloseStep = [name: string, run: () => Promise<unknown>];

/** Runs shutdown steps in order; a failing or hanging step is logged and skipped, never fatal. */
async function closeQuietly(logger: Logger, steps: CloseStep[]): Promise<void> {
  for (const [name, run] of steps) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), CLOSE_STEP_TIMEOUT_MS);
    });
    try {
      const result = await Promise.race([run(), timeout]);
      if (result === 'timeout') logger.warn({ step: name, timeoutMs: CLOSE_STEP_TIMEOUT_MS }, 'close step timed out');
    } catch (err) {
      logger.warn({ step: name, err: errorMessage(err) }, 'close step failed');
    } finally {
      clearTimeout(timer);
    }
  }
}
