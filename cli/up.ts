import { randomBytes } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { checkBrokerConfig } from '../broker/config.js';
import { createBroker, type OutpostBroker } from '../broker/create-broker.js';
import { redisServerAvailable, startEmbeddedRedis, type EmbeddedRedis } from '../controller/embedded-redis.js';
import { parseControllerConfig } from '../controller/config.js';
import { runControlPlane, type RunningControlPlane } from '../controller/run-control-plane.js';
import { errorMessage } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { redactUrl } from '../shared/redact-url.js';
import { SECRET_FILE_WARNING, secretFileWarning } from '../shared/secret-input.js';

interface UpOptions {
  dataDir?: string;
  host?: string;
  port?: string;
  redisPort?: string;
  apiHost?: string;
  apiPort?: string;
  logLevel?: string;
}

interface Parts {
  redis?: EmbeddedRedis;
  broker?: OutpostBroker;
  controlPlane?: RunningControlPlane;
}

type Env = Readonly<Record<string, string | undefined>>;

/** A secret from the environment, else the one `up` generated once into the data dir (0600; a warning when someone opened it up). */
async function secret(dataDir: string, name: string, fromEnv: string | undefined, logger: Logger): Promise<string> {
  if (fromEnv) return fromEnv;
  const file = join(dataDir, name);
  try {
    const value = (await readFile(file, 'utf8')).trim();
    const warning = secretFileWarning(file);
    if (warning) logger.warn(warning, SECRET_FILE_WARNING);
    return value;
  } catch {
    const generated = randomBytes(24).toString('base64url');
    await writeFile(file, `${generated}\n`, { mode: 0o600 });
    return generated;
  }
}

/**
 * `outpost up` (= `npm start`): the control plane in one process on its
 * embedded default — Redis from REDIS_URL, else a private redis-server child
 * with AOF under the data directory — the broker, the controller and the API.
 */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('run the control plane in one process: broker, controller and HTTP API (+ a private Redis when REDIS_URL is not set)')
    .option('--data-dir <dir>', 'where the embedded Redis and generated secrets live (env OUTPOST_DATA_DIR, default ./.outpost)')
    .option('--host <host>', 'broker listen address (env OUTPOST_BROKER_HOST, default 0.0.0.0)')
    .option('--port <port>', 'broker TCP port (env OUTPOST_BROKER_PORT, default 1883)')
    .option('--redis-port <port>', 'port of the embedded Redis (env OUTPOST_REDIS_PORT, default 6390)')
    .option('--api-host <host>', 'API listen address (env OUTPOST_API_HOST, default 127.0.0.1)')
    .option('--api-port <port>', 'API port (env OUTPOST_API_PORT, default 8080)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env OUTPOST_LOG_LEVEL)')
    .action(async (options: UpOptions) => {
      const env = process.env;
      const logger = createLogger({ level: options.logLevel ?? env.OUTPOST_LOG_LEVEL ?? 'info', name: 'outpost' });
      const dataDir = resolve(options.dataDir ?? env.OUTPOST_DATA_DIR ?? '.outpost');
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const parts: Parts = {};
      const shutdown = async (): Promise<void> => {
        await parts.controlPlane?.close();
        await parts.broker?.close();
        await parts.redis?.stop();
      };
      try {
        await runUp(options, env, dataDir, logger, parts);
      } catch (err) {
        process.stderr.write(`outpost up: ${errorMessage(err)}\n`);
        await shutdown();
        process.exitCode = 1;
        return;
      }
      const signal = await new Promise<NodeJS.Signals>((res) => {
        process.once('SIGINT', () => res('SIGINT'));
        process.once('SIGTERM', () => res('SIGTERM'));
      });
      logger.info({ signal }, 'shutting down');
      setTimeout(() => process.exit(1), 20_000).unref();
      await shutdown();
    });
}

async function runUp(
  options: UpOptions,
  env: Env,
  dataDir: string,
  logger: Logger,
  parts: Parts,
): Promise<void> {
  let redisUrl = env.REDIS_URL;
  if (!redisUrl) {
    if (!redisServerAvailable()) {
      throw new Error(
        'no Redis: set REDIS_URL=redis://host:6379, or install redis-server so `outpost up` can run a private one ' +
          '(Debian/Ubuntu: apt-get install redis-server; or run scripts/bootstrap-debian.sh)',
      );
    }
    parts.redis = await startEmbeddedRedis({
      dataDir,
      port: Number(options.redisPort ?? env.OUTPOST_REDIS_PORT ?? 6390),
      logger,
    });
    redisUrl = parts.redis.url;
  }
  const servicePassword = await secret(dataDir, 'service-password', env.OUTPOST_SERVICE_PASSWORD, logger);
  const adminToken = await secret(dataDir, 'admin-token', env.OUTPOST_ADMIN_TOKEN, logger);
  const checked = checkBrokerConfig({
    redisUrl,
    servicePassword,
    ...(options.host ?? env.OUTPOST_BROKER_HOST ? { host: options.host ?? env.OUTPOST_BROKER_HOST } : {}),
    ...(options.port ?? env.OUTPOST_BROKER_PORT ? { port: options.port ?? env.OUTPOST_BROKER_PORT } : {}),
    ...(env.OUTPOST_TOPIC_PREFIX ? { topicPrefix: env.OUTPOST_TOPIC_PREFIX } : {}),
    logLevel: options.logLevel ?? env.OUTPOST_LOG_LEVEL ?? 'info',
  });
  if (!checked.ok) {
    throw new Error(`invalid configuration: ${checked.issues.map((i) => `${i.key}: ${i.message}`).join('; ')}`);
  }
  parts.broker = await createBroker(checked.config, { logger: logger.child({ component: 'broker' }) });
  const address = await parts.broker.listen();
  const controllerConfig = parseControllerConfig({
    redisUrl,
    brokerUrl: `mqtt://127.0.0.1:${address.port}`,
    servicePassword,
    serviceUsername: checked.config.serviceUsername,
    topicPrefix: checked.config.topicPrefix,
    keyPrefix: checked.config.keyPrefix,
    adminTokens: [adminToken],
    // DD-026: generated (0600) on first start, like the admin token.
    signingKeyFile: env.OUTPOST_SIGNING_KEY_FILE ?? join(dataDir, 'signing-key.pem'),
    ...(options.apiHost ?? env.OUTPOST_API_HOST ? { apiHost: options.apiHost ?? env.OUTPOST_API_HOST } : {}),
    ...(options.apiPort ?? env.OUTPOST_API_PORT ? { apiPort: options.apiPort ?? env.OUTPOST_API_PORT } : {}),
    logLevel: checked.config.logLevel,
  });
  parts.controlPlane = await runControlPlane(controllerConfig, logger);
  logger.info(
    {
      broker: `mqtt://${address.host}:${address.port}`,
      api: parts.controlPlane.apiUrl,
      redis: redactUrl(redisUrl),
      dataDir,
      adminTokenFile: env.OUTPOST_ADMIN_TOKEN ? undefined : join(dataDir, 'admin-token'),
    },
    'outpost is up',
  );
}
