import { randomBytes } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { checkBrokerConfig } from '../broker/config.js';
import { createBroker, type OutpostBroker } from '../broker/create-broker.js';
import { ensureStoreKeyFile } from '../broker/persistence/store-key.js';
import { createMetricsRegistry } from '../shared/metrics-endpoint.js';
import { redisServerAvailable, startEmbeddedRedis, type EmbeddedRedis } from '../controller/embedded-redis.js';
import { parseControllerConfig } from '../controller/config.js';
import { runControlPlane, type RunningControlPlane } from '../controller/run-control-plane.js';
import { errorMessage } from '../shared/errors.js';
import { createLogger, LogFormat, type Logger } from '../shared/logger.js';
import { redactUrl } from '../shared/redact-url.js';
import { SECRET_FILE_WARNING, secretFileWarning } from '../shared/secret-input.js';
import { brokerNames, ensureUpCertificates, type UpCertificates } from './up-certificates.js';
import { collect } from './commands/args.js';

interface UpOptions {
  dataDir?: string;
  host?: string;
  port?: string;
  plainHost?: string;
  tlsPort?: string;
  tlsSan: string[];
  tlsCert?: string;
  tlsKey?: string;
  deviceCaCert?: string;
  deviceCaKey?: string;
  redisPort?: string;
  apiHost?: string;
  apiPort?: string;
  logLevel?: string;
  logFormat?: string;
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
    .option('--data-dir <dir>', 'where the embedded Redis, generated secrets, the CA and certificates live (env OUTPOST_DATA_DIR, default ./.outpost)')
    .option('--host <host>', 'address of MQTT over TLS, what devices connect to (env OUTPOST_BROKER_HOST, default 0.0.0.0)')
    .option('--tls-port <port>', "MQTT over TLS port, or 'off' (env OUTPOST_BROKER_TLS_PORT, default 8883)")
    .option('--tls-san <name>', 'another host name or IP address devices reach this machine by, for the generated broker certificate (repeatable; env OUTPOST_TLS_SANS, comma-separated)', collect, [])
    .option('--tls-cert <file>', 'serve this PEM broker certificate instead of generating one (env OUTPOST_BROKER_TLS_CERT_FILE)')
    .option('--tls-key <file>', 'PEM key of --tls-cert (env OUTPOST_BROKER_TLS_KEY_FILE)')
    .option('--device-ca-cert <file>', 'your own CA for device certificates (and the generated broker certificate) instead of <data-dir>/ca.pem (env OUTPOST_DEVICE_CA_CERT_FILE)')
    .option('--device-ca-key <file>', 'PEM key of --device-ca-cert (env OUTPOST_DEVICE_CA_KEY_FILE)')
    .option('--port <port>', "plain MQTT port, or 'off' (env OUTPOST_BROKER_PORT, default 1883)")
    .option('--plain-host <host>', 'address of plain MQTT (env OUTPOST_BROKER_PLAIN_HOST, default 127.0.0.1: plain MQTT carries secrets in clear, so it stays on this machine)')
    .option('--redis-port <port>', 'port of the embedded Redis (env OUTPOST_REDIS_PORT, default 6390)')
    .option('--api-host <host>', 'API listen address (env OUTPOST_API_HOST, default 127.0.0.1)')
    .option('--api-port <port>', 'API port (env OUTPOST_API_PORT, default 8080)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env OUTPOST_LOG_LEVEL)')
    .option('--log-format <format>', 'auto: readable lines on a terminal, JSON otherwise; json; pretty (env OUTPOST_LOG_FORMAT, default auto)')
    .action(async (options: UpOptions) => {
      const env = process.env;
      const logFormat = LogFormat.safeParse(options.logFormat ?? env.OUTPOST_LOG_FORMAT ?? 'auto');
      if (!logFormat.success) {
        process.stderr.write('outpost up: --log-format / OUTPOST_LOG_FORMAT must be auto, json or pretty\n');
        process.exit(2);
      }
      const logger = createLogger({ level: options.logLevel ?? env.OUTPOST_LOG_LEVEL ?? 'info', format: logFormat.data, name: 'outpost' });
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

/** A value from a flag, else the environment; '' counts as unset. */
function pick(flag: string | undefined, env: Env, name: string): string | undefined {
  const value = flag ?? env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The address to reach a listener on this machine: loopback for a wildcard address. */
function reachable(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
}

const urlHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

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
      // DD-027: generated once, like the admin token; an older data dir without one gets one now.
      password: await secret(dataDir, 'redis-password', undefined, logger),
      logger,
    });
    redisUrl = parts.redis.url;
  }
  const servicePassword = await secret(dataDir, 'service-password', env.OUTPOST_SERVICE_PASSWORD, logger);
  const adminToken = await secret(dataDir, 'admin-token', env.OUTPOST_ADMIN_TOKEN, logger);

  // DD-027: TLS by default, from a CA of its own unless the operator brings one.
  const tlsPort = pick(options.tlsPort, env, 'OUTPOST_BROKER_TLS_PORT') ?? '8883';
  const tlsOn = tlsPort !== 'off';
  const tlsCert = pick(options.tlsCert, env, 'OUTPOST_BROKER_TLS_CERT_FILE');
  const tlsKey = pick(options.tlsKey, env, 'OUTPOST_BROKER_TLS_KEY_FILE');
  const caCert = pick(options.deviceCaCert, env, 'OUTPOST_DEVICE_CA_CERT_FILE');
  const caKey = pick(options.deviceCaKey, env, 'OUTPOST_DEVICE_CA_KEY_FILE');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if ((caCert === undefined) !== (caKey === undefined)) throw new Error('--device-ca-cert and --device-ca-key go together');
  const sans = [...options.tlsSan, ...(env.OUTPOST_TLS_SANS ?? '').split(',')];
  const pki: UpCertificates = await ensureUpCertificates({
    dataDir,
    ...(caCert !== undefined && caKey !== undefined ? { ca: { certFile: caCert, keyFile: caKey } } : {}),
    serverProvided: tlsCert !== undefined || !tlsOn,
    names: brokerNames(hostname(), sans),
    now: new Date(),
    logger,
  });
  const serverCert = tlsCert !== undefined && tlsKey !== undefined ? { certFile: tlsCert, keyFile: tlsKey } : pki.server;

  // DD-047: the broker's retained documents (they carry registry credentials) sealed in Redis; one key, made on first start.
  const storeKeyFile = pick(undefined, env, 'OUTPOST_BROKER_STORE_KEY_FILE') ?? join(dataDir, 'broker-store.key');
  if (await ensureStoreKeyFile(storeKeyFile)) logger.info({ file: storeKeyFile }, 'broker store key generated');

  const host = pick(options.host, env, 'OUTPOST_BROKER_HOST');
  const port = pick(options.port, env, 'OUTPOST_BROKER_PORT');
  const checked = checkBrokerConfig({
    redisUrl,
    servicePassword,
    storeKeyFile,
    ...(host ? { host } : {}),
    // Plain MQTT carries device secrets and documents in clear: on this machine only, unless told otherwise.
    plainHost: pick(options.plainHost, env, 'OUTPOST_BROKER_PLAIN_HOST') ?? '127.0.0.1',
    ...(port ? { port } : {}),
    ...(tlsOn && serverCert
      ? { tlsPort, tlsCertFile: serverCert.certFile, tlsKeyFile: serverCert.keyFile, tlsClientCaFile: pki.ca.certFile }
      : {}),
    ...(env.OUTPOST_TOPIC_PREFIX ? { topicPrefix: env.OUTPOST_TOPIC_PREFIX } : {}),
    // One broker, in this process: no Redis channel per subscribed topic (DD-035). A fleet that grows
    // past one process runs `outpost broker --workers N` (redis emitter) instead.
    emitter: pick(undefined, env, 'OUTPOST_BROKER_EMITTER') ?? 'local',
    logLevel: options.logLevel ?? env.OUTPOST_LOG_LEVEL ?? 'info',
  });
  if (!checked.ok) {
    throw new Error(`invalid configuration: ${checked.issues.map((i) => `${i.key}: ${i.message}`).join('; ')}`);
  }
  // DD-039: one registry for the broker and the controller of this process, served at the API's /metrics.
  const metricsRegistry = createMetricsRegistry();
  parts.broker = await createBroker(checked.config, { logger: logger.child({ component: 'broker' }), metricsRegistry });
  const address = await parts.broker.listen();
  const plainUrl = checked.config.port === null ? undefined : `mqtt://${urlHost(address.host)}:${address.port}`;
  const tlsUrl = address.tlsPort === undefined ? undefined : `mqtts://${urlHost(address.tlsHost ?? address.host)}:${address.tlsPort}`;
  // The controller stays on this machine: plain loopback MQTT when there is one, else TLS to 127.0.0.1 (a name the generated certificate has).
  const brokerCaFile = pick(undefined, env, 'OUTPOST_BROKER_CA_FILE') ?? (tlsCert === undefined ? pki.ca.certFile : undefined);
  const controllerBroker =
    plainUrl !== undefined
      ? { brokerUrl: `mqtt://${urlHost(reachable(address.host))}:${address.port}` }
      : { brokerUrl: `mqtts://${urlHost(reachable(address.tlsHost ?? address.host))}:${address.tlsPort ?? ''}`, ...(brokerCaFile ? { brokerCaFile } : {}) };
  const controllerConfig = parseControllerConfig({
    redisUrl,
    ...controllerBroker,
    servicePassword,
    serviceUsername: checked.config.serviceUsername,
    topicPrefix: checked.config.topicPrefix,
    keyPrefix: checked.config.keyPrefix,
    adminTokens: [adminToken],
    // DD-026: generated (0600) on first start, like the admin token.
    signingKeyFile: env.OUTPOST_SIGNING_KEY_FILE ?? join(dataDir, 'signing-key.pem'),
    // DD-041: seals private-registry passwords in Redis; generated (0600) on first start.
    registryCredentialsKeyFile: env.OUTPOST_REGISTRY_CREDENTIALS_KEY_FILE ?? join(dataDir, 'registry-credentials.key'),
    // DD-027: `outpost device add --cert-out` is signed by the broker's device CA.
    deviceCaCertFile: pki.ca.certFile,
    deviceCaKeyFile: pki.ca.keyFile,
    ...(options.apiHost ?? env.OUTPOST_API_HOST ? { apiHost: options.apiHost ?? env.OUTPOST_API_HOST } : {}),
    ...(options.apiPort ?? env.OUTPOST_API_PORT ? { apiPort: options.apiPort ?? env.OUTPOST_API_PORT } : {}),
    ...(env.OUTPOST_METRICS_PUBLIC ? { metricsPublic: env.OUTPOST_METRICS_PUBLIC } : {}),
    logLevel: checked.config.logLevel,
  });
  parts.controlPlane = await runControlPlane(controllerConfig, logger, { metricsRegistry });
  logger.info(
    {
      broker: tlsUrl ?? plainUrl,
      ...(tlsUrl && plainUrl ? { plainBroker: plainUrl } : {}),
      ...(tlsUrl ? { caFile: tlsCert === undefined ? pki.ca.certFile : undefined } : {}),
      api: parts.controlPlane.apiUrl,
      redis: redactUrl(redisUrl),
      dataDir,
      adminTokenFile: env.OUTPOST_ADMIN_TOKEN ? undefined : join(dataDir, 'admin-token'),
    },
    'outpost is up',
  );
}
