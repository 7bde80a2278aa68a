import { Option, type Command } from 'commander';
import { createLogger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { Failpoints } from '../shared/failpoints.js';
import { parseControllerConfig, type ControllerConfig } from './config.js';
import { runControlPlane } from './run-control-plane.js';
import { redactUrl } from '../shared/redact-url.js';
import { readSecretFile, SECRET_FILE_WARNING, secretOnCommandLine, type SecretFileWarning } from '../shared/secret-input.js';
import { isLoopbackHost, urlHost } from '../shared/loopback.js';

interface ControllerFlags {
  redis?: string;
  broker?: string;
  brokerCa?: string;
  apiTlsCert?: string;
  apiTlsKey?: string;
  deviceCaCert?: string;
  deviceCaKey?: string;
  servicePassword?: string;
  servicePasswordFile?: string;
  serviceUsername?: string;
  apiHost?: string;
  apiPort?: string;
  adminToken?: string;
  adminTokenFile?: string;
  keyPrefix?: string;
  topicPrefix?: string;
  antiEntropyInterval?: string;
  receiptGrace?: string;
  rolloutPoll?: string;
  publishLease?: string;
  brokerWait?: string;
  redisWait?: string;
  auditMaxEntries?: string;
  signingKeyFile?: string;
  registryCredentialsKeyFile?: string;
  signDesired?: string;
  desiredValidity?: string;
  brokerAdmin?: string;
  brokerAdminUsername?: string;
  brokerAdminPassword?: string;
  brokerAdminPasswordFile?: string;
  brokerAdminTimeoutMs?: string;
  brokerAdminRepairInterval?: string;
  metricsPublic?: boolean;
  logLevel?: string;
  logFormat?: string;
}

/**
 * Flags first, then the environment; the only place the controller reads
 * process.env. Secrets come from files or the environment only (DD-025);
 * secret files open to group or others are added to `warnings`.
 */
export function controllerConfigFromFlags(flags: ControllerFlags, env: NodeJS.ProcessEnv, warnings: SecretFileWarning[] = []): ControllerConfig {
  if (flags.adminToken !== undefined) throw new Error(secretOnCommandLine('--admin-token', '--admin-token-file FILE or env OUTPOST_ADMIN_TOKEN'));
  if (flags.servicePassword !== undefined) {
    throw new Error(secretOnCommandLine('--service-password', '--service-password-file FILE or env OUTPOST_SERVICE_PASSWORD'));
  }
  if (flags.brokerAdminPassword !== undefined) {
    throw new Error(secretOnCommandLine('--broker-admin-password', '--broker-admin-password-file FILE or env OUTPOST_BROKER_ADMIN_PASSWORD'));
  }
  const readSecret = (file: string | undefined): string | undefined => (file ? readSecretFile(file, warnings) : undefined);
  const adminToken = readSecret(flags.adminTokenFile ?? env.OUTPOST_ADMIN_TOKEN_FILE) ?? env.OUTPOST_ADMIN_TOKEN;
  const raw: Record<string, unknown> = {
    redisUrl: flags.redis ?? env.REDIS_URL,
    brokerUrl: flags.broker ?? env.OUTPOST_BROKER_URL,
    brokerCaFile: flags.brokerCa ?? env.OUTPOST_BROKER_CA_FILE,
    apiTlsCertFile: flags.apiTlsCert ?? env.OUTPOST_API_TLS_CERT_FILE,
    apiTlsKeyFile: flags.apiTlsKey ?? env.OUTPOST_API_TLS_KEY_FILE,
    deviceCaCertFile: flags.deviceCaCert ?? env.OUTPOST_DEVICE_CA_CERT_FILE,
    deviceCaKeyFile: flags.deviceCaKey ?? env.OUTPOST_DEVICE_CA_KEY_FILE,
    servicePassword: readSecret(flags.servicePasswordFile ?? env.OUTPOST_SERVICE_PASSWORD_FILE) ?? env.OUTPOST_SERVICE_PASSWORD,
    serviceUsername: flags.serviceUsername ?? env.OUTPOST_SERVICE_USERNAME,
    apiHost: flags.apiHost ?? env.OUTPOST_API_HOST,
    apiPort: flags.apiPort ?? env.OUTPOST_API_PORT,
    adminTokens: adminToken ? [adminToken] : undefined,
    keyPrefix: flags.keyPrefix ?? env.OUTPOST_KEY_PREFIX,
    topicPrefix: flags.topicPrefix ?? env.OUTPOST_TOPIC_PREFIX,
    antiEntropyIntervalSeconds: flags.antiEntropyInterval ?? env.OUTPOST_ANTI_ENTROPY_INTERVAL,
    receiptGraceSeconds: flags.receiptGrace ?? env.OUTPOST_RECEIPT_GRACE_SECONDS,
    rolloutPollSeconds: flags.rolloutPoll ?? env.OUTPOST_ROLLOUT_POLL_SECONDS,
    publishLeaseSeconds: flags.publishLease ?? env.OUTPOST_PUBLISH_LEASE_SECONDS,
    brokerWaitSeconds: flags.brokerWait ?? env.OUTPOST_BROKER_WAIT_SECONDS,
    redisWaitSeconds: flags.redisWait ?? env.OUTPOST_REDIS_WAIT_SECONDS,
    auditMaxEntries: flags.auditMaxEntries ?? env.OUTPOST_AUDIT_MAX_ENTRIES,
    signingKeyFile: flags.signingKeyFile ?? env.OUTPOST_SIGNING_KEY_FILE,
    registryCredentialsKeyFile: flags.registryCredentialsKeyFile ?? env.OUTPOST_REGISTRY_CREDENTIALS_KEY_FILE,
    signDesired: flags.signDesired ?? env.OUTPOST_SIGN_DESIRED,
    desiredValiditySeconds: flags.desiredValidity ?? env.OUTPOST_DESIRED_VALIDITY_SECONDS,
    brokerAdmin: flags.brokerAdmin ?? env.OUTPOST_BROKER_ADMIN,
    brokerAdminUsername: flags.brokerAdminUsername ?? env.OUTPOST_BROKER_ADMIN_USERNAME,
    brokerAdminPassword: readSecret(flags.brokerAdminPasswordFile ?? env.OUTPOST_BROKER_ADMIN_PASSWORD_FILE) ?? env.OUTPOST_BROKER_ADMIN_PASSWORD,
    brokerAdminTimeoutMs: flags.brokerAdminTimeoutMs ?? env.OUTPOST_BROKER_ADMIN_TIMEOUT_MS,
    brokerAdminRepairIntervalSeconds: flags.brokerAdminRepairInterval ?? env.OUTPOST_BROKER_ADMIN_REPAIR_INTERVAL,
    metricsPublic: flags.metricsPublic ?? env.OUTPOST_METRICS_PUBLIC,
    logLevel: flags.logLevel ?? env.OUTPOST_LOG_LEVEL,
    logFormat: flags.logFormat ?? env.OUTPOST_LOG_FORMAT,
  };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  return parseControllerConfig(raw);
}

export function registerControllerCommand(program: Command): void {
  program
    .command('controller')
    .description('run the controller and its HTTP API against an existing Redis and broker')
    .option('--redis <url>', 'Redis URL (env REDIS_URL)')
    .option('--broker <url>', 'broker URL, mqtt:// or mqtts:// (env OUTPOST_BROKER_URL)')
    .option('--broker-ca <file>', "PEM CA of the broker's certificate, for mqtts:// (env OUTPOST_BROKER_CA_FILE; default: the system's CAs)")
    .option('--service-username <name>', 'service identity (env OUTPOST_SERVICE_USERNAME, default svc:outpost)')
    .addOption(new Option('--service-password <password>', 'refused: use --service-password-file or env OUTPOST_SERVICE_PASSWORD').hideHelp())
    .option('--service-password-file <file>', 'file holding the service password (env OUTPOST_SERVICE_PASSWORD_FILE)')
    .option('--api-host <host>', 'API listen address (env OUTPOST_API_HOST, default 127.0.0.1)')
    .option('--api-port <port>', 'API port (env OUTPOST_API_PORT, default 8080)')
    .option('--api-tls-cert <file>', 'PEM certificate: the API serves HTTPS (env OUTPOST_API_TLS_CERT_FILE)')
    .option('--api-tls-key <file>', 'PEM key of --api-tls-cert (env OUTPOST_API_TLS_KEY_FILE)')
    .option('--device-ca-cert <file>', "PEM CA certificate that signs device certificates (outpost device add --cert-out); the broker's --tls-client-ca (env OUTPOST_DEVICE_CA_CERT_FILE)")
    .option('--device-ca-key <file>', 'PEM key of --device-ca-cert (env OUTPOST_DEVICE_CA_KEY_FILE)')
    .addOption(new Option('--admin-token <token>', 'refused: use --admin-token-file or env OUTPOST_ADMIN_TOKEN').hideHelp())
    .option('--admin-token-file <file>', 'file holding the admin token, the bootstrap token with role admin (env OUTPOST_ADMIN_TOKEN_FILE, or the token in OUTPOST_ADMIN_TOKEN)')
    .option('--key-prefix <prefix>', 'Redis key prefix (env OUTPOST_KEY_PREFIX, default outpost:)')
    .option('--topic-prefix <prefix>', 'MQTT topic prefix (env OUTPOST_TOPIC_PREFIX, default outpost/v1)')
    .option('--anti-entropy-interval <seconds>', 'seconds between anti-entropy passes, 0 = only at start and on reconnect')
    .option(
      '--receipt-grace <seconds>',
      'a device online through a publish that shows nothing of the document this long after is sent it again, at most 3 times (env OUTPOST_RECEIPT_GRACE_SECONDS, default 300; 0 = off)',
    )
    .option('--rollout-poll <seconds>', 'longest wait between two ticks of a running rollout (env OUTPOST_ROLLOUT_POLL_SECONDS, default 2)')
    .option('--publish-lease <seconds>', 'how long a controller killed while publishing blocks the others (env OUTPOST_PUBLISH_LEASE_SECONDS, default 10)')
    .option('--signing-key-file <file>', 'Ed25519 key (PKCS#8 PEM) desired documents are signed with; created 0600 when missing (env OUTPOST_SIGNING_KEY_FILE; default: a key kept in Redis)')
    .option(
      '--registry-credentials-key-file <file>',
      'key that seals private-registry passwords in Redis; created 0600 when missing; without it `outpost registry-login` is refused (env OUTPOST_REGISTRY_CREDENTIALS_KEY_FILE)',
    )
    .option('--sign-desired <true|false>', 'sign desired documents (default true; false only while agents older than signatures remain) (env OUTPOST_SIGN_DESIRED)')
    .option('--desired-validity <seconds>', 'how long a signed desired document is valid; re-signed at half (env OUTPOST_DESIRED_VALIDITY_SECONDS, default 604800)')
    .option('--redis-wait <seconds>', 'how long start waits for Redis before it fails, e.g. while Redis loads its append-only file (env OUTPOST_REDIS_WAIT_SECONDS, default 60; 0 = one try)')
    .option('--broker-wait <seconds>', 'how long start waits for the broker before serving without it; changes stay pending until it is back (env OUTPOST_BROKER_WAIT_SECONDS, default 10)')
    .option('--audit-max-entries <n>', 'most entries the API audit log keeps, oldest dropped first (env OUTPOST_AUDIT_MAX_ENTRIES, default 10000)')
    .option('--broker-admin <kind>', 'who holds device credentials: outpost (Outpost broker, Redis) or mosquitto-dynsec (the controller manages Mosquitto dynamic-security clients) (env OUTPOST_BROKER_ADMIN, default outpost)')
    .option('--broker-admin-username <name>', 'Mosquitto dynamic-security admin client (env OUTPOST_BROKER_ADMIN_USERNAME, default outpost-admin)')
    .addOption(new Option('--broker-admin-password <password>', 'refused: use --broker-admin-password-file or env OUTPOST_BROKER_ADMIN_PASSWORD').hideHelp())
    .option('--broker-admin-password-file <file>', 'file holding the dynamic-security admin password (env OUTPOST_BROKER_ADMIN_PASSWORD_FILE)')
    .option('--broker-admin-timeout-ms <ms>', 'how long one dynamic-security command may wait for its answer (env OUTPOST_BROKER_ADMIN_TIMEOUT_MS, default 5000)')
    .option('--broker-admin-repair-interval <seconds>', 'seconds between full comparisons of Mosquitto clients with the registry, 0 = only at connect and after failures (env OUTPOST_BROKER_ADMIN_REPAIR_INTERVAL, default 300)')
    .option('--metrics-public', 'serve GET /metrics without a token, for a Prometheus on a trusted network (env OUTPOST_METRICS_PUBLIC=true; default: any API token, e.g. a viewer token)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--log-format <format>', 'auto: readable lines on a terminal, JSON otherwise; json; pretty (env OUTPOST_LOG_FORMAT, default auto)')
    .action(async (flags: ControllerFlags) => {
      let config: ControllerConfig;
      const secretWarnings: SecretFileWarning[] = [];
      try {
        config = controllerConfigFromFlags(flags, process.env, secretWarnings);
      } catch (err) {
        process.stderr.write(`outpost controller: ${errorMessage(err)}\n`);
        process.exit(2);
      }
      const logger = createLogger({ level: config.logLevel, format: config.logFormat, name: 'outpost-controller' });
      for (const w of secretWarnings) logger.warn(w, SECRET_FILE_WARNING);
      const brokerHost = urlHost(config.brokerUrl);
      if (/^(mqtt|tcp):/.test(config.brokerUrl) && brokerHost !== undefined && !isLoopbackHost(brokerHost)) {
        logger.warn({ broker: redactUrl(config.brokerUrl) }, 'plain MQTT to a broker on another machine: the service password and every desired document cross the network in clear; use mqtts:// (--broker-ca)');
      }
      // Crash tests only (shared/failpoints.ts): e.g. OUTPOST_FAILPOINTS=publish:after-store=kill
      const failpoints = Failpoints.parse(process.env.OUTPOST_FAILPOINTS);
      if (failpoints.active) logger.warn({ failpoints: process.env.OUTPOST_FAILPOINTS }, 'failpoints armed (testing only)');
      const running = await runControlPlane(config, logger, { failpoints });
      const signal = await new Promise<NodeJS.Signals>((res) => {
        process.once('SIGINT', () => res('SIGINT'));
        process.once('SIGTERM', () => res('SIGTERM'));
      });
      logger.info({ signal }, 'shutting down');
      setTimeout(() => process.exit(1), 15_000).unref();
      await running.close();
    });
}
