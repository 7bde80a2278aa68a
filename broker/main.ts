import { accessSync, constants, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { Redis } from 'ioredis';
import { DeviceId } from '../shared/device-id.js';
import { errorMessage } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { DeviceCredentials, MIN_SECRET_LENGTH } from '../shared/device-credentials.js';
import { readSecretFile, SECRET_FILE_WARNING, secretFileWarning, secretOnCommandLine, type SecretFileWarning } from '../shared/secret-input.js';
import { checkBrokerConfig, DEFAULT_KEY_PREFIX, KeyPrefix, RedisUrl, type BrokerConfig, type ConfigIssue } from './config.js';
import { isBrokerWorker, leaveCluster, runBrokerPrimary, WORKER_INDEX_ENV } from './cluster.js';
import { createBroker } from './create-broker.js';
import { readStoreKey } from './persistence/store-key.js';

/** Exit code for unusable configuration or arguments. */
const EXIT_CONFIG = 2;
/** A second signal, or a shutdown slower than this, ends the process at once. */
const SHUTDOWN_GRACE_MS = 15_000;

type Env = Readonly<Record<string, string | undefined>>;

interface RunOptions {
  host?: string;
  plainHost?: string;
  port?: string;
  tlsPort?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  redis?: string;
  keyPrefix?: string;
  topicPrefix?: string;
  maxPayloadBytes?: string;
  heartbeatIntervalMs?: string;
  maxQueuedMessages?: string;
  maxOutgoingBufferBytes?: string;
  maxSessionDelivery?: string;
  sessionSweepIntervalMs?: string;
  persistence?: string;
  storeKeyFile?: string;
  emitter?: string;
  workers?: string;
  listenBacklog?: string;
  metricsPort?: string;
  metricsHost?: string;
  serviceUsername?: string;
  servicePassword?: string;
  servicePasswordFile?: string;
  logLevel?: string;
  logFormat?: string;
}

interface DeviceOptions {
  redis?: string;
  keyPrefix?: string;
  secret?: string;
  secretFile?: string;
}

/** Where each config key can come from, for error messages. */
const SOURCES: Record<string, string> = {
  host: '--host / OUTPOST_BROKER_HOST',
  plainHost: '--plain-host / OUTPOST_BROKER_PLAIN_HOST',
  port: '--port / OUTPOST_BROKER_PORT',
  tlsPort: '--tls-port / OUTPOST_BROKER_TLS_PORT',
  tlsCertFile: '--tls-cert / OUTPOST_BROKER_TLS_CERT_FILE',
  tlsKeyFile: '--tls-key / OUTPOST_BROKER_TLS_KEY_FILE',
  tlsClientCaFile: '--tls-client-ca / OUTPOST_BROKER_TLS_CLIENT_CA_FILE',
  redisUrl: '--redis / REDIS_URL',
  keyPrefix: '--key-prefix / OUTPOST_KEY_PREFIX',
  topicPrefix: '--topic-prefix / OUTPOST_TOPIC_PREFIX',
  maxPayloadBytes: '--max-payload-bytes / OUTPOST_BROKER_MAX_PAYLOAD_BYTES',
  heartbeatIntervalMs: '--heartbeat-interval-ms / OUTPOST_BROKER_HEARTBEAT_INTERVAL_MS',
  maxQueuedMessages: '--max-queued-messages / OUTPOST_BROKER_MAX_QUEUED_MESSAGES',
  maxOutgoingBufferBytes: '--max-outgoing-buffer-bytes / OUTPOST_BROKER_MAX_OUTGOING_BUFFER_BYTES',
  maxSessionDelivery: '--max-session-delivery / OUTPOST_BROKER_MAX_SESSION_DELIVERY',
  sessionSweepIntervalMs: '--session-sweep-interval-ms / OUTPOST_BROKER_SESSION_SWEEP_INTERVAL_MS',
  persistence: '--persistence / OUTPOST_BROKER_PERSISTENCE',
  storeKeyFile: '--store-key-file / OUTPOST_BROKER_STORE_KEY_FILE',
  emitter: '--emitter / OUTPOST_BROKER_EMITTER',
  workers: '--workers / OUTPOST_BROKER_WORKERS',
  listenBacklog: '--listen-backlog / OUTPOST_BROKER_LISTEN_BACKLOG',
  metricsPort: '--metrics-port / OUTPOST_BROKER_METRICS_PORT',
  metricsHost: '--metrics-host / OUTPOST_BROKER_METRICS_HOST',
  serviceUsername: '--service-username / OUTPOST_SERVICE_USERNAME',
  servicePassword: '--service-password-file / OUTPOST_SERVICE_PASSWORD',
  logLevel: '--log-level / OUTPOST_LOG_LEVEL',
  logFormat: '--log-format / OUTPOST_LOG_FORMAT',
};

/** Flag first, then env; empty strings count as unset. */
function pick(flag: string | undefined, env: Env, name: string): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function registerBrokerCommands(program: Command): void {
  const broker = program.command('broker').description('MQTT broker for Outpost devices (aedes, Redis persistence)');

  broker
    .command('run', { isDefault: true })
    .description('run the broker (the default when no sub-command is given)')
    .option('--host <host>', 'address to listen on (env OUTPOST_BROKER_HOST, default 0.0.0.0)')
    .option('--port <port>', "plain TCP port, or 'off' for TLS only (env OUTPOST_BROKER_PORT, default 1883)")
    .option('--plain-host <host>', 'address of the plain TCP listener when not --host, e.g. 127.0.0.1 to keep plain MQTT on this machine (env OUTPOST_BROKER_PLAIN_HOST)')
    .option('--tls-port <port>', 'MQTT over TLS port (env OUTPOST_BROKER_TLS_PORT, default 8883 once --tls-cert is given)')
    .option('--tls-cert <file>', 'PEM server certificate, intermediates after it (env OUTPOST_BROKER_TLS_CERT_FILE)')
    .option('--tls-key <file>', 'PEM key of --tls-cert (env OUTPOST_BROKER_TLS_KEY_FILE)')
    .option('--tls-client-ca <file>', 'PEM CA of device certificates: a certificate naming the device id replaces its password (env OUTPOST_BROKER_TLS_CLIENT_CA_FILE)')
    .option('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379 (env REDIS_URL)')
    .option('--key-prefix <prefix>', "prefix of Outpost's Redis keys (env OUTPOST_KEY_PREFIX, default outpost:)")
    .option('--topic-prefix <prefix>', 'MQTT topic prefix (env OUTPOST_TOPIC_PREFIX, default outpost/v1)')
    .option('--max-payload-bytes <n>', 'largest PUBLISH payload accepted (env OUTPOST_BROKER_MAX_PAYLOAD_BYTES)')
    .option('--heartbeat-interval-ms <ms>', 'aedes heartbeat period, at least 1000 (env OUTPOST_BROKER_HEARTBEAT_INTERVAL_MS, default 60000)')
    .option('--max-queued-messages <n>', 'longest QoS 1 queue of a persistent session, oldest dropped beyond it (env OUTPOST_BROKER_MAX_QUEUED_MESSAGES, default 1000)')
    .option(
      '--max-outgoing-buffer-bytes <n>',
      'unread bytes the broker holds for one client before it cuts the connection (env OUTPOST_BROKER_MAX_OUTGOING_BUFFER_BYTES, default 8388608)',
    )
    .option('--max-session-delivery <n>', 'queued messages replayed per CONNECT (env OUTPOST_BROKER_MAX_SESSION_DELIVERY, default 100)')
    .option('--session-sweep-interval-ms <ms>', 'how often sessions of device ids without a credential are removed (env OUTPOST_BROKER_SESSION_SWEEP_INTERVAL_MS, default 600000)')
    .option('--persistence <kind>', "aedes persistence: outpost (one Redis round trip per operation) or legacy (aedes-persistence-redis, for comparison) (env OUTPOST_BROKER_PERSISTENCE, default outpost)")
    .option('--store-key-file <file>', 'seal stored packets (retained, queued, wills) in Redis with this key: 32 random bytes, base64 (head -c 32 /dev/urandom | base64); every broker on one Redis needs the same file; not with --persistence legacy (env OUTPOST_BROKER_STORE_KEY_FILE; default: stored in clear)')
    .option('--emitter <kind>', 'how messages reach subscribers: redis (every broker process on this Redis; several may share the fleet) or local (this process only) (env OUTPOST_BROKER_EMITTER, default redis)')
    .option('--workers <n>', 'broker processes sharing the listeners and Redis, e.g. one per core; above 1 needs --emitter redis (env OUTPOST_BROKER_WORKERS, default 1)')
    .option('--listen-backlog <n>', 'listen queue of the TCP and TLS listeners, capped by net.core.somaxconn (env OUTPOST_BROKER_LISTEN_BACKLOG, default 4096)')
    .option('--metrics-port <port>', 'serve Prometheus metrics at http://<metrics-host>:<port>/metrics, no token; with --workers N, worker i on port+i (env OUTPOST_BROKER_METRICS_PORT; default: off)')
    .option('--metrics-host <host>', 'address of the metrics listener (env OUTPOST_BROKER_METRICS_HOST, default 127.0.0.1)')
    .option('--service-username <name>', 'service identity username (env OUTPOST_SERVICE_USERNAME, default svc:outpost)')
    .addOption(new Option('--service-password <password>', 'refused: use --service-password-file or env OUTPOST_SERVICE_PASSWORD').hideHelp())
    .option('--service-password-file <path>', 'file holding the service identity password (env OUTPOST_SERVICE_PASSWORD_FILE, or the password in OUTPOST_SERVICE_PASSWORD); none: service disabled')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env OUTPOST_LOG_LEVEL, default info)')
    .option('--log-format <format>', 'auto: readable lines on a terminal, JSON otherwise; json; pretty (env OUTPOST_LOG_FORMAT, default auto)')
    .action(async (options: RunOptions) => {
      await runBroker(options, process.env);
    });

  broker
    .command('add-device <id>')
    .description('store a device credential and print its secret (generated unless --secret-file is given) once')
    .option('--redis <url>', 'Redis URL (env REDIS_URL)')
    .option('--key-prefix <prefix>', "prefix of Outpost's Redis keys (env OUTPOST_KEY_PREFIX, default outpost:)")
    .option('--secret-file <file>', `use the secret in this file (at least ${MIN_SECRET_LENGTH} characters: generate it, e.g. openssl rand -base64 32) instead of generating one`)
    .addOption(new Option('--secret <secret>', 'refused: use --secret-file').hideHelp())
    .action(async (id: string, options: DeviceOptions) => {
      await withCredentials(id, options, process.env, async (credentials, deviceId, secret) => {
        if (secret !== undefined) {
          await credentials.set(deviceId, secret);
          process.stderr.write(`credential stored for ${deviceId}\n`);
        } else {
          process.stdout.write(`${await credentials.issue(deviceId)}\n`);
        }
      });
    });

  broker
    .command('remove-device <id>')
    .description("delete a device's credential; it can no longer connect")
    .option('--redis <url>', 'Redis URL (env REDIS_URL)')
    .option('--key-prefix <prefix>', "prefix of Outpost's Redis keys (env OUTPOST_KEY_PREFIX, default outpost:)")
    .action(async (id: string, options: DeviceOptions) => {
      await withCredentials(id, options, process.env, async (credentials, deviceId) => {
        const removed = await credentials.revoke(deviceId);
        process.stderr.write(removed ? `credential removed for ${deviceId}\n` : `no credential for ${deviceId}\n`);
      });
    });
}

function configFromOptions(options: RunOptions, env: Env, warnings: SecretFileWarning[]): BrokerConfig | ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // DD-025: secrets come from files or the environment only.
  if (options.servicePassword !== undefined) {
    issues.push({ key: 'servicePassword', message: secretOnCommandLine('--service-password', '--service-password-file FILE or env OUTPOST_SERVICE_PASSWORD') });
  }
  let servicePassword = pick(undefined, env, 'OUTPOST_SERVICE_PASSWORD');
  const passwordFile = pick(options.servicePasswordFile, env, 'OUTPOST_SERVICE_PASSWORD_FILE');
  if (passwordFile !== undefined) {
    try {
      servicePassword = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
      const warning = secretFileWarning(passwordFile);
      if (warning) warnings.push(warning);
    } catch (err) {
      issues.push({ key: 'servicePassword', message: `cannot read ${passwordFile}: ${errorMessage(err)}` });
    }
  }
  const input = Object.fromEntries(
    Object.entries({
      host: pick(options.host, env, 'OUTPOST_BROKER_HOST'),
      plainHost: pick(options.plainHost, env, 'OUTPOST_BROKER_PLAIN_HOST'),
      port: pick(options.port, env, 'OUTPOST_BROKER_PORT'),
      tlsPort: pick(options.tlsPort, env, 'OUTPOST_BROKER_TLS_PORT'),
      tlsCertFile: pick(options.tlsCert, env, 'OUTPOST_BROKER_TLS_CERT_FILE'),
      tlsKeyFile: pick(options.tlsKey, env, 'OUTPOST_BROKER_TLS_KEY_FILE'),
      tlsClientCaFile: pick(options.tlsClientCa, env, 'OUTPOST_BROKER_TLS_CLIENT_CA_FILE'),
      redisUrl: pick(options.redis, env, 'REDIS_URL'),
      keyPrefix: pick(options.keyPrefix, env, 'OUTPOST_KEY_PREFIX'),
      topicPrefix: pick(options.topicPrefix, env, 'OUTPOST_TOPIC_PREFIX'),
      maxPayloadBytes: pick(options.maxPayloadBytes, env, 'OUTPOST_BROKER_MAX_PAYLOAD_BYTES'),
      heartbeatIntervalMs: pick(options.heartbeatIntervalMs, env, 'OUTPOST_BROKER_HEARTBEAT_INTERVAL_MS'),
      maxQueuedMessages: pick(options.maxQueuedMessages, env, 'OUTPOST_BROKER_MAX_QUEUED_MESSAGES'),
      maxOutgoingBufferBytes: pick(options.maxOutgoingBufferBytes, env, 'OUTPOST_BROKER_MAX_OUTGOING_BUFFER_BYTES'),
      maxSessionDelivery: pick(options.maxSessionDelivery, env, 'OUTPOST_BROKER_MAX_SESSION_DELIVERY'),
      sessionSweepIntervalMs: pick(options.sessionSweepIntervalMs, env, 'OUTPOST_BROKER_SESSION_SWEEP_INTERVAL_MS'),
      persistence: pick(options.persistence, env, 'OUTPOST_BROKER_PERSISTENCE'),
      storeKeyFile: pick(options.storeKeyFile, env, 'OUTPOST_BROKER_STORE_KEY_FILE'),
      emitter: pick(options.emitter, env, 'OUTPOST_BROKER_EMITTER'),
      workers: pick(options.workers, env, 'OUTPOST_BROKER_WORKERS'),
      listenBacklog: pick(options.listenBacklog, env, 'OUTPOST_BROKER_LISTEN_BACKLOG'),
      metricsPort: pick(options.metricsPort, env, 'OUTPOST_BROKER_METRICS_PORT'),
      metricsHost: pick(options.metricsHost, env, 'OUTPOST_BROKER_METRICS_HOST'),
      serviceUsername: pick(options.serviceUsername, env, 'OUTPOST_SERVICE_USERNAME'),
      servicePassword,
      logLevel: pick(options.logLevel, env, 'OUTPOST_LOG_LEVEL'),
      logFormat: pick(options.logFormat, env, 'OUTPOST_LOG_FORMAT'),
    }).filter(([, value]) => value !== undefined),
  );
  const result = checkBrokerConfig(input);
  if (result.ok) issues.push(...unreadableFiles(result.config), ...badStoreKey(result.config, warnings));
  const all = [...issues, ...(result.ok ? [] : result.issues)];
  return result.ok && all.length === 0 ? result.config : all;
}

/** TLS files that cannot be read now: better a configuration error at start than a failed listen. */
function unreadableFiles(config: BrokerConfig): ConfigIssue[] {
  const files = { tlsCertFile: config.tlsCertFile, tlsKeyFile: config.tlsKeyFile, tlsClientCaFile: config.tlsClientCaFile };
  return Object.entries(files).flatMap(([key, file]) => {
    if (file === undefined) return [];
    try {
      accessSync(file, constants.R_OK);
      return [];
    } catch (err) {
      return [{ key, message: `cannot read ${file}: ${errorMessage(err)}` }];
    }
  });
}

/**
 * DD-047: a store key file that is missing or malformed is refused, never
 * created here: brokers sharing a Redis must share one key, and a broker
 * that made its own would drop what the others stored. `outpost up` creates its own.
 */
function badStoreKey(config: BrokerConfig, warnings: SecretFileWarning[]): ConfigIssue[] {
  if (config.storeKeyFile === undefined) return [];
  try {
    readStoreKey(config.storeKeyFile);
  } catch (err) {
    return [{ key: 'storeKeyFile', message: errorMessage(err).replace(/^invalid broker configuration: storeKeyFile: /, '') }];
  }
  const warning = secretFileWarning(config.storeKeyFile);
  if (warning) warnings.push(warning);
  return [];
}

function reportConfigIssues(issues: ConfigIssue[]): void {
  const lines = issues.map((i) => `  - ${i.key}${SOURCES[i.key] ? ` (${SOURCES[i.key]})` : ''}: ${i.message}`);
  process.stderr.write(`outpost broker: invalid configuration\n${lines.join('\n')}\n`);
  process.exitCode = EXIT_CONFIG;
}

async function runBroker(options: RunOptions, env: Env): Promise<void> {
  const warnings: SecretFileWarning[] = [];
  const config = configFromOptions(options, env, warnings);
  if (Array.isArray(config)) {
    reportConfigIssues(config);
    return;
  }
  const worker = isBrokerWorker();
  const workerIndex = env[WORKER_INDEX_ENV];
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, name: worker && workerIndex !== undefined ? `outpost-broker-${workerIndex}` : 'outpost-broker' });
  if (config.workers > 1 && !worker) {
    for (const w of warnings) logger.warn(w, SECRET_FILE_WARNING);
    process.exitCode = await runBrokerPrimary({ workers: config.workers, logger, shutdownGraceMs: SHUTDOWN_GRACE_MS });
    return;
  }
  if (!worker) for (const w of warnings) logger.warn(w, SECRET_FILE_WARNING);
  // DD-039: each worker has its own metrics listener (node:cluster would hand one shared port's scrapes to any worker).
  const index = worker && workerIndex !== undefined ? Number(workerIndex) : 0;
  const own = config.metricsPort === undefined || index === 0 ? config : { ...config, metricsPort: config.metricsPort + index };
  try {
    await serve(own, logger, worker);
  } finally {
    leaveCluster();
  }
}

/** One broker process, from start to a signalled shutdown. */
async function serve(config: BrokerConfig, logger: Logger, worker: boolean): Promise<void> {
  const broker = await createBroker(config, { logger });
  try {
    await broker.listen();
  } catch (err) {
    await broker.close();
    throw err;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  logger.info({ signal }, 'shutting down');
  const force = (): never => {
    logger.warn('shutdown forced');
    process.exit(1);
  };
  // A worker gets a Ctrl-C from the terminal and the primary's SIGTERM: the
  // second is not an operator's "now"; the primary escalates after its grace.
  const second = worker ? (): void => undefined : force;
  process.once('SIGINT', second);
  process.once('SIGTERM', second);
  setTimeout(force, SHUTDOWN_GRACE_MS).unref();
  await broker.close();
  process.removeListener('SIGINT', second);
  process.removeListener('SIGTERM', second);
}

async function withCredentials(
  id: string,
  options: DeviceOptions,
  env: Env,
  run: (credentials: DeviceCredentials, deviceId: DeviceId, secret: string | undefined) => Promise<void>,
): Promise<void> {
  const issues: ConfigIssue[] = [];
  const deviceId = DeviceId.safeParse(id);
  if (!deviceId.success) issues.push({ key: 'id', message: deviceId.error.issues[0]?.message ?? 'invalid device id' });
  const redisUrl = RedisUrl.safeParse(pick(options.redis, env, 'REDIS_URL'));
  if (!redisUrl.success) issues.push({ key: 'redisUrl', message: redisUrl.error.issues[0]?.message ?? 'invalid' });
  const keyPrefix = KeyPrefix.safeParse(pick(options.keyPrefix, env, 'OUTPOST_KEY_PREFIX') ?? DEFAULT_KEY_PREFIX);
  if (!keyPrefix.success) issues.push({ key: 'keyPrefix', message: keyPrefix.error.issues[0]?.message ?? 'invalid' });
  const secret = chosenSecret(options, issues);
  if (!deviceId.success || !redisUrl.success || !keyPrefix.success || issues.length > 0) {
    reportConfigIssues(issues);
    return;
  }
  const redis = new Redis(redisUrl.data, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => (attempt > 3 ? null : 200),
  });
  redis.on('error', () => undefined); // the failing command reports it
  try {
    await redis.connect();
    await run(new DeviceCredentials(redis, keyPrefix.data), deviceId.data, secret);
  } catch (err) {
    // Only host and port: the URL may carry a password.
    const { hostname, port } = new URL(redisUrl.data);
    process.stderr.write(`outpost broker: Redis at ${hostname}:${port || '6379'} failed: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  } finally {
    redis.disconnect();
  }
}

/**
 * A secret a person chose for `add-device`: from --secret-file only (DD-025),
 * and at least MIN_SECRET_LENGTH characters, because the broker's fast hash
 * is only sound for high-entropy secrets (DD-007).
 */
function chosenSecret(options: DeviceOptions, issues: ConfigIssue[]): string | undefined {
  if (options.secret !== undefined) {
    issues.push({ key: 'secret', message: secretOnCommandLine('--secret', '--secret-file FILE') });
    return undefined;
  }
  if (options.secretFile === undefined) return undefined;
  const warnings: SecretFileWarning[] = [];
  let secret: string;
  try {
    secret = readSecretFile(options.secretFile, warnings);
  } catch (err) {
    issues.push({ key: 'secret', message: `cannot read ${options.secretFile}: ${errorMessage(err)}` });
    return undefined;
  }
  for (const w of warnings) process.stderr.write(`outpost broker: warning: ${w.file} (mode ${w.mode}): ${SECRET_FILE_WARNING}\n`);
  if (secret.length < MIN_SECRET_LENGTH) {
    issues.push({ key: 'secret', message: `the secret in ${options.secretFile} has ${secret.length} characters; at least ${MIN_SECRET_LENGTH} are required (generate one: openssl rand -base64 32)` });
    return undefined;
  }
  return secret;
}
