import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import mqtt from 'mqtt';
import { systemClock } from '../shared/clock.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { Agent } from './agent.js';
import { parseAgentConfig, type AgentConfig } from './config.js';
import { DockerRuntime } from './runtime/docker-runtime.js';
import { StateStore } from './state/state-store.js';
import type { Step } from './reconcile/steps.js';

interface AgentFlags {
  device?: string;
  broker?: string;
  stateDir?: string;
  secret?: string;
  secretFile?: string;
  topicPrefix?: string;
  dockerSocket?: string;
  allowHostPath: string[];
  logLevel?: string;
  keepalive?: string;
  settleMs?: string;
  resyncInterval?: string;
  reconnectBaseMs?: string;
  reconnectCapMs?: string;
  watchdogSeconds?: string;
  retryBaseMs?: string;
  retryCapMs?: string;
  locksDir?: string;
  lockPollMs?: string;
  telemetryInterval?: string;
}

const int = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

/** Flags first, then environment; the only place the agent reads process.env. */
export function agentConfigFromFlags(flags: AgentFlags, env: NodeJS.ProcessEnv): Readonly<AgentConfig> {
  let secret = flags.secret ?? env.OUTPOST_DEVICE_SECRET;
  const secretFile = flags.secretFile ?? env.OUTPOST_DEVICE_SECRET_FILE;
  if (!secret && secretFile) secret = readFileSync(secretFile, 'utf8').trim();
  const raw: Record<string, unknown> = {
    deviceId: flags.device ?? env.OUTPOST_DEVICE,
    brokerUrl: flags.broker ?? env.OUTPOST_BROKER_URL,
    secret,
    stateDir: (flags.stateDir ?? env.OUTPOST_STATE_DIR) === undefined ? undefined : resolve((flags.stateDir ?? env.OUTPOST_STATE_DIR) as string),
    locksDir: (flags.locksDir ?? env.OUTPOST_LOCKS_DIR) === undefined ? undefined : resolve((flags.locksDir ?? env.OUTPOST_LOCKS_DIR) as string),
    lockPollMs: int(flags.lockPollMs),
    telemetryIntervalSeconds: int(flags.telemetryInterval ?? env.OUTPOST_TELEMETRY_INTERVAL),
    topicPrefix: flags.topicPrefix ?? env.OUTPOST_TOPIC_PREFIX,
    dockerSocket: flags.dockerSocket ?? env.OUTPOST_DOCKER_SOCKET,
    allowedHostPaths: flags.allowHostPath.length ? flags.allowHostPath : env.OUTPOST_ALLOW_HOST_PATHS?.split(':').filter(Boolean),
    logLevel: flags.logLevel ?? env.OUTPOST_LOG_LEVEL,
    keepaliveSeconds: int(flags.keepalive),
    settleMs: int(flags.settleMs),
    resyncIntervalSeconds: int(flags.resyncInterval),
    reconnectBaseMs: int(flags.reconnectBaseMs),
    reconnectCapMs: int(flags.reconnectCapMs),
    watchdogSeconds: int(flags.watchdogSeconds),
    retryBaseMs: int(flags.retryBaseMs),
    retryCapMs: int(flags.retryCapMs),
  };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  return parseAgentConfig(raw);
}

function secretFileOf(flags: AgentFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (flags.secret ?? env.OUTPOST_DEVICE_SECRET) return undefined;
  return flags.secretFile ?? env.OUTPOST_DEVICE_SECRET_FILE;
}

/**
 * The secret file's current content at each connection attempt, so a
 * rotated secret is used from the next reconnect on. An unreadable or empty
 * file keeps the last good secret (and says so once).
 */
function secretFromFile(file: string, initial: string, logger: Logger): () => string {
  let last = initial;
  let warned = false;
  return () => {
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value) {
        last = value;
        warned = false;
      }
    } catch (err) {
      if (!warned) logger.warn({ file, err: errorMessage(err) }, 'cannot read the secret file; using the last secret read');
      warned = true;
    }
    return last;
  };
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return randomUUID();
  }
}

/**
 * Fault injection for the crash-safety tests: OUTPOST_FAULT_CRASH_AFTER=<step kind>
 * makes the agent kill -9 itself right after the first step of that kind.
 */
function crashHook(env: NodeJS.ProcessEnv): ((step: Step) => void) | undefined {
  const kind = env.OUTPOST_FAULT_CRASH_AFTER;
  if (!kind) return undefined;
  return (step) => {
    if (step.kind === kind) {
      process.stderr.write(`fault injection: SIGKILL after ${step.kind}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  };
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the device agent: keeps this device\'s containers at the desired state published for it')
    .option('--device <id>', 'device id (env OUTPOST_DEVICE)')
    .option('--broker <url>', 'broker URL, e.g. mqtt://host:1883 (env OUTPOST_BROKER_URL)')
    .option('--state-dir <dir>', 'directory for the agent state (env OUTPOST_STATE_DIR)')
    .option('--secret <secret>', 'device secret (prefer --secret-file or env OUTPOST_DEVICE_SECRET)')
    .option('--secret-file <file>', 'file holding the device secret (env OUTPOST_DEVICE_SECRET_FILE)')
    .option('--topic-prefix <prefix>', 'MQTT topic prefix (default outpost/v1)')
    .option('--docker-socket <path>', 'Docker socket (default /var/run/docker.sock)')
    .option('--allow-host-path <path>', 'allow bind mounts under this host path (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--keepalive <seconds>', 'MQTT keepalive in seconds')
    .option('--settle-ms <ms>', 'wait after SUBACK before applying the newest desired version')
    .option('--resync-interval <seconds>', 'periodic level-based reconcile, 0 = off')
    .option('--reconnect-base-ms <ms>', 'reconnect backoff base')
    .option('--reconnect-cap-ms <ms>', 'reconnect backoff cap')
    .option('--watchdog-seconds <s>', 'recreate the MQTT client after this long disconnected')
    .option('--retry-base-ms <ms>', 'reconcile retry backoff base')
    .option('--retry-cap-ms <ms>', 'reconcile retry backoff cap')
    .option('--locks-dir <dir>', 'host directory for update locks, mounted at /run/outpost in each workload (default <state-dir>/locks)')
    .option('--lock-poll-ms <ms>', 'how often a deferred update re-checks update locks')
    .option('--telemetry-interval <seconds>', 'telemetry period, 0 = off (env OUTPOST_TELEMETRY_INTERVAL, default 300)')
    .action(async (flags: AgentFlags) => {
      let config: Readonly<AgentConfig>;
      try {
        config = agentConfigFromFlags(flags, process.env);
      } catch (err) {
        process.stderr.write(`outpost agent: ${errorMessage(err)}\n`);
        process.exit(2);
      }
      const logger = createLogger({ level: config.logLevel, name: 'agent' });
      const agent = new Agent({
        config,
        runtime: new DockerRuntime(config.dockerSocket ? { socketPath: config.dockerSocket } : {}),
        store: new StateStore(config.stateDir, config.deviceId, logger.child({ component: 'state' })),
        connect: (url, opts) => mqtt.connect(url, opts),
        clock: systemClock,
        random: Math.random,
        logger,
        bootId: readBootId(),
        ...(crashHook(process.env) ? { afterStep: crashHook(process.env) } : {}),
        ...(secretFileOf(flags, process.env) ? { currentSecret: secretFromFile(secretFileOf(flags, process.env) as string, config.secret, logger) } : {}),
      });
      const shutdown = (signal: string): void => {
        logger.info({ signal }, 'agent stopping');
        agent.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
        setTimeout(() => process.exit(1), 10_000).unref();
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.on('unhandledRejection', (err) => logger.error({ err: errorMessage(err) }, 'unhandled rejection'));
      await agent.start();
      logger.info({ broker: config.brokerUrl, stateDir: config.stateDir }, 'agent started');
    });
}
