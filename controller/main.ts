import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createLogger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { Failpoints } from '../shared/failpoints.js';
import { parseControllerConfig, type ControllerConfig } from './config.js';
import { runControlPlane } from './run-control-plane.js';

interface ControllerFlags {
  redis?: string;
  broker?: string;
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
  rolloutPoll?: string;
  publishLease?: string;
  brokerWait?: string;
  logLevel?: string;
}

const readSecret = (file: string | undefined): string | undefined => (file ? readFileSync(file, 'utf8').trim() : undefined);

/** Flags first, then the environment; the only place the controller reads process.env. */
export function controllerConfigFromFlags(flags: ControllerFlags, env: NodeJS.ProcessEnv): ControllerConfig {
  const adminToken = flags.adminToken ?? readSecret(flags.adminTokenFile ?? env.OUTPOST_ADMIN_TOKEN_FILE) ?? env.OUTPOST_ADMIN_TOKEN;
  const raw: Record<string, unknown> = {
    redisUrl: flags.redis ?? env.REDIS_URL,
    brokerUrl: flags.broker ?? env.OUTPOST_BROKER_URL,
    servicePassword: flags.servicePassword ?? readSecret(flags.servicePasswordFile ?? env.OUTPOST_SERVICE_PASSWORD_FILE) ?? env.OUTPOST_SERVICE_PASSWORD,
    serviceUsername: flags.serviceUsername ?? env.OUTPOST_SERVICE_USERNAME,
    apiHost: flags.apiHost ?? env.OUTPOST_API_HOST,
    apiPort: flags.apiPort ?? env.OUTPOST_API_PORT,
    adminTokens: adminToken ? [adminToken] : undefined,
    keyPrefix: flags.keyPrefix ?? env.OUTPOST_KEY_PREFIX,
    topicPrefix: flags.topicPrefix ?? env.OUTPOST_TOPIC_PREFIX,
    antiEntropyIntervalSeconds: flags.antiEntropyInterval ?? env.OUTPOST_ANTI_ENTROPY_INTERVAL,
    rolloutPollSeconds: flags.rolloutPoll ?? env.OUTPOST_ROLLOUT_POLL_SECONDS,
    publishLeaseSeconds: flags.publishLease ?? env.OUTPOST_PUBLISH_LEASE_SECONDS,
    brokerWaitSeconds: flags.brokerWait ?? env.OUTPOST_BROKER_WAIT_SECONDS,
    logLevel: flags.logLevel ?? env.OUTPOST_LOG_LEVEL,
  };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  return parseControllerConfig(raw);
}

export function registerControllerCommand(program: Command): void {
  program
    .command('controller')
    .description('run the controller and its HTTP API against an existing Redis and broker')
    .option('--redis <url>', 'Redis URL (env REDIS_URL)')
    .option('--broker <url>', 'broker URL (env OUTPOST_BROKER_URL)')
    .option('--service-username <name>', 'service identity (env OUTPOST_SERVICE_USERNAME, default svc:outpost)')
    .option('--service-password <password>', 'service password (env OUTPOST_SERVICE_PASSWORD)')
    .option('--service-password-file <file>', 'file holding the service password (env OUTPOST_SERVICE_PASSWORD_FILE)')
    .option('--api-host <host>', 'API listen address (env OUTPOST_API_HOST, default 127.0.0.1)')
    .option('--api-port <port>', 'API port (env OUTPOST_API_PORT, default 8080)')
    .option('--admin-token <token>', 'admin bearer token (prefer OUTPOST_ADMIN_TOKEN or --admin-token-file)')
    .option('--admin-token-file <file>', 'file holding the admin token (env OUTPOST_ADMIN_TOKEN_FILE)')
    .option('--key-prefix <prefix>', 'Redis key prefix (env OUTPOST_KEY_PREFIX, default outpost:)')
    .option('--topic-prefix <prefix>', 'MQTT topic prefix (env OUTPOST_TOPIC_PREFIX, default outpost/v1)')
    .option('--anti-entropy-interval <seconds>', 'seconds between anti-entropy passes, 0 = only at start and on reconnect')
    .option('--rollout-poll <seconds>', 'longest wait between two ticks of a running rollout (env OUTPOST_ROLLOUT_POLL_SECONDS, default 2)')
    .option('--publish-lease <seconds>', 'how long a controller killed while publishing blocks the others (env OUTPOST_PUBLISH_LEASE_SECONDS, default 10)')
    .option('--broker-wait <seconds>', 'how long start waits for the broker before serving without it; changes stay pending until it is back (env OUTPOST_BROKER_WAIT_SECONDS, default 10)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .action(async (flags: ControllerFlags) => {
      let config: ControllerConfig;
      try {
        config = controllerConfigFromFlags(flags, process.env);
      } catch (err) {
        process.stderr.write(`outpost controller: ${errorMessage(err)}\n`);
        process.exit(2);
      }
      const logger = createLogger({ level: config.logLevel, name: 'outpost-controller' });
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
