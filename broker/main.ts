import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Redis } from 'ioredis';
import { DeviceId } from '../shared/device-id.js';
import { errorMessage } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { DeviceCredentials, MIN_SECRET_LENGTH } from '../shared/device-credentials.js';
import { checkBrokerConfig, DEFAULT_KEY_PREFIX, KeyPrefix, RedisUrl, type BrokerConfig, type ConfigIssue } from './config.js';
import { createBroker } from './create-broker.js';

/** Exit code for unusable configuration or arguments. */
const EXIT_CONFIG = 2;
/** A second signal, or a shutdown slower than this, ends the process at once. */
const SHUTDOWN_GRACE_MS = 15_000;

type Env = Readonly<Record<string, string | undefined>>;

interface RunOptions {
  host?: string;
  port?: string;
  redis?: string;
  keyPrefix?: string;
  topicPrefix?: string;
  maxPayloadBytes?: string;
  heartbeatIntervalMs?: string;
  maxQueuedMessages?: string;
  maxSessionDelivery?: string;
  sessionSweepIntervalMs?: string;
  serviceUsername?: string;
  servicePassword?: string;
  servicePasswordFile?: string;
  logLevel?: string;
}

interface DeviceOptions {
  redis?: string;
  keyPrefix?: string;
  secret?: string;
}

/** Where each config key can come from, for error messages. */
const SOURCES: Record<string, string> = {
  host: '--host / OUTPOST_BROKER_HOST',
  port: '--port / OUTPOST_BROKER_PORT',
  redisUrl: '--redis / REDIS_URL',
  keyPrefix: '--key-prefix / OUTPOST_KEY_PREFIX',
  topicPrefix: '--topic-prefix / OUTPOST_TOPIC_PREFIX',
  maxPayloadBytes: '--max-payload-bytes / OUTPOST_BROKER_MAX_PAYLOAD_BYTES',
  heartbeatIntervalMs: '--heartbeat-interval-ms / OUTPOST_BROKER_HEARTBEAT_INTERVAL_MS',
  maxQueuedMessages: '--max-queued-messages / OUTPOST_BROKER_MAX_QUEUED_MESSAGES',
  maxSessionDelivery: '--max-session-delivery / OUTPOST_BROKER_MAX_SESSION_DELIVERY',
  sessionSweepIntervalMs: '--session-sweep-interval-ms / OUTPOST_BROKER_SESSION_SWEEP_INTERVAL_MS',
  serviceUsername: '--service-username / OUTPOST_SERVICE_USERNAME',
  servicePassword: '--service-password / --service-password-file / OUTPOST_SERVICE_PASSWORD',
  logLevel: '--log-level / OUTPOST_LOG_LEVEL',
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
    .option('--port <port>', 'TCP port (env OUTPOST_BROKER_PORT, default 1883)')
    .option('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379 (env REDIS_URL)')
    .option('--key-prefix <prefix>', "prefix of Outpost's Redis keys (env OUTPOST_KEY_PREFIX, default outpost:)")
    .option('--topic-prefix <prefix>', 'MQTT topic prefix (env OUTPOST_TOPIC_PREFIX, default outpost/v1)')
    .option('--max-payload-bytes <n>', 'largest PUBLISH payload accepted (env OUTPOST_BROKER_MAX_PAYLOAD_BYTES)')
    .option('--heartbeat-interval-ms <ms>', 'aedes heartbeat period, at least 1000 (env OUTPOST_BROKER_HEARTBEAT_INTERVAL_MS, default 60000)')
    .option('--max-queued-messages <n>', 'longest QoS 1 queue of a persistent session, oldest dropped beyond it (env OUTPOST_BROKER_MAX_QUEUED_MESSAGES, default 1000)')
    .option('--max-session-delivery <n>', 'queued messages replayed per CONNECT (env OUTPOST_BROKER_MAX_SESSION_DELIVERY, default 100)')
    .option('--session-sweep-interval-ms <ms>', 'how often sessions of device ids without a credential are removed (env OUTPOST_BROKER_SESSION_SWEEP_INTERVAL_MS, default 600000)')
    .option('--service-username <name>', 'service identity username (env OUTPOST_SERVICE_USERNAME, default svc:outpost)')
    .option('--service-password <password>', 'service identity password (env OUTPOST_SERVICE_PASSWORD); none: service disabled')
    .option('--service-password-file <path>', 'file holding the service password (env OUTPOST_SERVICE_PASSWORD_FILE)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env OUTPOST_LOG_LEVEL, default info)')
    .action(async (options: RunOptions) => {
      await runBroker(options, process.env);
    });

  broker
    .command('add-device <id>')
    .description('store a device credential and print its secret (generated unless --secret is given) once')
    .option('--redis <url>', 'Redis URL (env REDIS_URL)')
    .option('--key-prefix <prefix>', "prefix of Outpost's Redis keys (env OUTPOST_KEY_PREFIX, default outpost:)")
    .option('--secret <secret>', 'use this secret (at least 16 characters) instead of generating one')
    .action(async (id: string, options: DeviceOptions) => {
      await withCredentials(id, options, process.env, async (credentials, deviceId) => {
        if (options.secret !== undefined) {
          await credentials.set(deviceId, options.secret);
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

function configFromOptions(options: RunOptions, env: Env): BrokerConfig | ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  let servicePassword = pick(options.servicePassword, env, 'OUTPOST_SERVICE_PASSWORD');
  const passwordFile = pick(options.servicePasswordFile, env, 'OUTPOST_SERVICE_PASSWORD_FILE');
  if (passwordFile !== undefined) {
    if (options.servicePassword !== undefined) {
      issues.push({ key: 'servicePassword', message: 'give --service-password or --service-password-file, not both' });
    }
    try {
      servicePassword = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      issues.push({ key: 'servicePassword', message: `cannot read ${passwordFile}: ${errorMessage(err)}` });
    }
  }
  const input = Object.fromEntries(
    Object.entries({
      host: pick(options.host, env, 'OUTPOST_BROKER_HOST'),
      port: pick(options.port, env, 'OUTPOST_BROKER_PORT'),
      redisUrl: pick(options.redis, env, 'REDIS_URL'),
      keyPrefix: pick(options.keyPrefix, env, 'OUTPOST_KEY_PREFIX'),
      topicPrefix: pick(options.topicPrefix, env, 'OUTPOST_TOPIC_PREFIX'),
      maxPayloadBytes: pick(options.maxPayloadBytes, env, 'OUTPOST_BROKER_MAX_PAYLOAD_BYTES'),
      heartbeatIntervalMs: pick(options.heartbeatIntervalMs, env, 'OUTPOST_BROKER_HEARTBEAT_INTERVAL_MS'),
      maxQueuedMessages: pick(options.maxQueuedMessages, env, 'OUTPOST_BROKER_MAX_QUEUED_MESSAGES'),
      maxSessionDelivery: pick(options.maxSessionDelivery, env, 'OUTPOST_BROKER_MAX_SESSION_DELIVERY'),
      sessionSweepIntervalMs: pick(options.sessionSweepIntervalMs, env, 'OUTPOST_BROKER_SESSION_SWEEP_INTERVAL_MS'),
      serviceUsername: pick(options.serviceUsername, env, 'OUTPOST_SERVICE_USERNAME'),
      servicePassword,
      logLevel: pick(options.logLevel, env, 'OUTPOST_LOG_LEVEL'),
    }).filter(([, value]) => value !== undefined),
  );
  const result = checkBrokerConfig(input);
  const all = [...issues, ...(result.ok ? [] : result.issues)];
  return result.ok && all.length === 0 ? result.config : all;
}

function reportConfigIssues(issues: ConfigIssue[]): void {
  const lines = issues.map((i) => `  - ${i.key}${SOURCES[i.key] ? ` (${SOURCES[i.key]})` : ''}: ${i.message}`);
  process.stderr.write(`outpost broker: invalid configuration\n${lines.join('\n')}\n`);
  process.exitCode = EXIT_CONFIG;
}

async function runBroker(options: RunOptions, env: Env): Promise<void> {
  const config = configFromOptions(options, env);
  if (Array.isArray(config)) {
    reportConfigIssues(config);
    return;
  }
  const logger = createLogger({ level: config.logLevel, name: 'outpost-broker' });
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
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  setTimeout(force, SHUTDOWN_GRACE_MS).unref();
  await broker.close();
  process.removeListener('SIGINT', force);
  process.removeListener('SIGTERM', force);
}

async function withCredentials(
  id: string,
  options: DeviceOptions,
  env: Env,
  run: (credentials: DeviceCredentials, deviceId: DeviceId) => Promise<void>,
): Promise<void> {
  const issues: ConfigIssue[] = [];
  const deviceId = DeviceId.safeParse(id);
  if (!deviceId.success) issues.push({ key: 'id', message: deviceId.error.issues[0]?.message ?? 'invalid device id' });
  const redisUrl = RedisUrl.safeParse(pick(options.redis, env, 'REDIS_URL'));
  if (!redisUrl.success) issues.push({ key: 'redisUrl', message: redisUrl.error.issues[0]?.message ?? 'invalid' });
  const keyPrefix = KeyPrefix.safeParse(pick(options.keyPrefix, env, 'OUTPOST_KEY_PREFIX') ?? DEFAULT_KEY_PREFIX);
  if (!keyPrefix.success) issues.push({ key: 'keyPrefix', message: keyPrefix.error.issues[0]?.message ?? 'invalid' });
  if (options.secret !== undefined && options.secret.length < MIN_SECRET_LENGTH) {
    issues.push({ key: 'secret', message: `must be at least ${MIN_SECRET_LENGTH} characters` });
  }
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
    await run(new DeviceCredentials(redis, keyPrefix.data), deviceId.data);
  } catch (err) {
    // Only host and port: the URL may carry a password.
    const { hostname, port } = new URL(redisUrl.data);
    process.stderr.write(`outpost broker: Redis at ${hostname}:${port || '6379'} failed: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  } finally {
    redis.disconnect();
  }
}
