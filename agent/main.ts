import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import mqtt from 'mqtt';
import { systemClock } from '../shared/clock.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { redactUrl } from '../shared/redact-url.js';
import { readSecretFile, SECRET_FILE_WARNING, secretOnCommandLine, type SecretFileWarning } from '../shared/secret-input.js';
import { Agent } from './agent.js';
import { parseAgentConfig, type AgentConfig } from './config.js';
import { DockerRuntime } from './runtime/docker-runtime.js';
import { StateStore } from './state/state-store.js';
import { tlsMaterialFromFiles, type TlsMaterial } from './mqtt/tls-files.js';
import type { Step } from './reconcile/steps.js';

interface AgentFlags {
  trust?: string;
  acceptUnsigned?: boolean;
  device?: string;
  broker?: string;
  stateDir?: string;
  secret?: string;
  secretFile?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecurePlaintext?: boolean;
  topicPrefix?: string;
  dockerSocket?: string;
  allowHostPath: string[];
  allowCapability: string[];
  allowVolume: string[];
  logLevel?: string;
  logFormat?: string;
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
  telemetryDeltas?: string;
  eventDetail?: string;
  reportFormat?: string;
  profile?: string;
  reportDelayMs?: string;
}

const int = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
/** on|off → boolean; anything else is passed on for the config schema to refuse by name. */
const onOff = (v: string | undefined): boolean | string | undefined => (v === 'on' ? true : v === 'off' ? false : v);
const absolute = (path: string | undefined): string | undefined => (path ? resolve(path) : undefined);

/** Flags first, then environment; the only place the agent reads process.env. */
export function agentConfigFromFlags(flags: AgentFlags, env: NodeJS.ProcessEnv, warnings: SecretFileWarning[] = []): Readonly<AgentConfig> {
  // DD-025: secrets come from files or the environment only.
  if (flags.secret !== undefined) throw new Error(secretOnCommandLine('--secret', '--secret-file FILE or env OUTPOST_DEVICE_SECRET'));
  let secret = env.OUTPOST_DEVICE_SECRET;
  const secretFile = flags.secretFile ?? env.OUTPOST_DEVICE_SECRET_FILE;
  if (!secret && secretFile) secret = readSecretFile(secretFile, warnings);
  const trustFile = flags.trust ?? env.OUTPOST_TRUST_FILE;
  const raw: Record<string, unknown> = {
    trust: trustFile === undefined ? undefined : readFileSync(trustFile, 'utf8'),
    acceptUnsigned: flags.acceptUnsigned === true || env.OUTPOST_ACCEPT_UNSIGNED === '1' ? true : undefined,
    deviceId: flags.device ?? env.OUTPOST_DEVICE,
    brokerUrl: flags.broker ?? env.OUTPOST_BROKER_URL,
    secret,
    caFile: absolute(flags.ca ?? env.OUTPOST_CA_FILE),
    certFile: absolute(flags.cert ?? env.OUTPOST_CERT_FILE),
    keyFile: absolute(flags.key ?? env.OUTPOST_KEY_FILE),
    insecurePlaintext: flags.insecurePlaintext === true || env.OUTPOST_INSECURE_PLAINTEXT === '1' ? true : undefined,
    stateDir: (flags.stateDir ?? env.OUTPOST_STATE_DIR) === undefined ? undefined : resolve((flags.stateDir ?? env.OUTPOST_STATE_DIR) as string),
    locksDir: (flags.locksDir ?? env.OUTPOST_LOCKS_DIR) === undefined ? undefined : resolve((flags.locksDir ?? env.OUTPOST_LOCKS_DIR) as string),
    lockPollMs: int(flags.lockPollMs),
    telemetryIntervalSeconds: int(flags.telemetryInterval ?? env.OUTPOST_TELEMETRY_INTERVAL),
    telemetryDeltas: onOff(flags.telemetryDeltas ?? env.OUTPOST_TELEMETRY_DELTAS),
    eventDetail: flags.eventDetail ?? env.OUTPOST_EVENT_DETAIL,
    reportFormat: flags.reportFormat ?? env.OUTPOST_REPORT_FORMAT,
    profile: flags.profile ?? env.OUTPOST_AGENT_PROFILE,
    reportDelayMs: int(flags.reportDelayMs),
    topicPrefix: flags.topicPrefix ?? env.OUTPOST_TOPIC_PREFIX,
    dockerSocket: flags.dockerSocket ?? env.OUTPOST_DOCKER_SOCKET,
    allowedHostPaths: flags.allowHostPath.length ? flags.allowHostPath : env.OUTPOST_ALLOW_HOST_PATHS?.split(':').filter(Boolean),
    allowedCapabilities: (flags.allowCapability.length ? flags.allowCapability : (env.OUTPOST_ALLOW_CAPABILITIES?.split(',') ?? []))
      .map((c) => c.trim().toUpperCase().replace(/^CAP_/, ''))
      .filter(Boolean),
    allowedVolumes: flags.allowVolume.length ? flags.allowVolume : env.OUTPOST_ALLOW_VOLUMES?.split(',').map((v) => v.trim()).filter(Boolean),
    secretFile: secretFile ? resolve(secretFile) : undefined,
    logLevel: flags.logLevel ?? env.OUTPOST_LOG_LEVEL,
    logFormat: flags.logFormat ?? env.OUTPOST_LOG_FORMAT,
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
    .addOption(new Option('--secret <secret>', 'refused: use --secret-file or env OUTPOST_DEVICE_SECRET').hideHelp())
    .option('--secret-file <file>', 'file holding the device secret (env OUTPOST_DEVICE_SECRET_FILE)')
    .option('--ca <file>', "PEM CA of the broker's certificate, for mqtts:// (env OUTPOST_CA_FILE; default: the system's CAs)")
    .option('--cert <file>', 'PEM client certificate naming this device id; replaces the secret (env OUTPOST_CERT_FILE)')
    .option('--key <file>', 'PEM key of --cert (env OUTPOST_KEY_FILE)')
    .option('--insecure-plaintext', 'allow mqtt:// to a broker on another machine: the secret and documents cross the network in clear (env OUTPOST_INSECURE_PLAINTEXT=1)')
    .option('--trust <file>', "the controller's signing key(s), PEM or JSON, from `outpost device add --trust-out` (env OUTPOST_TRUST_FILE)")
    .option('--accept-unsigned', 'accept unsigned desired documents: an unsigned fleet, no signature checks (env OUTPOST_ACCEPT_UNSIGNED=1)')
    .option('--topic-prefix <prefix>', 'MQTT topic prefix (default outpost/v1)')
    .option('--docker-socket <path>', 'Docker socket (default /var/run/docker.sock)')
    .option('--allow-host-path <path>', 'allow bind mounts under this host path (repeatable; env OUTPOST_ALLOW_HOST_PATHS, colon-separated)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--allow-capability <cap>', 'let workloads ask for this capability, e.g. NET_ADMIN (repeatable; env OUTPOST_ALLOW_CAPABILITIES, comma-separated)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--allow-volume <name>', 'let any workload mount this named volume under its own name, not namespaced per app (repeatable; env OUTPOST_ALLOW_VOLUMES, comma-separated)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--log-format <format>', 'auto: readable lines on a terminal, JSON otherwise; json; pretty (env OUTPOST_LOG_FORMAT, default auto)')
    .option('--keepalive <seconds>', 'MQTT keepalive in seconds (profile default 60, cellular 300)')
    .option('--settle-ms <ms>', 'wait after SUBACK before applying the newest desired version')
    .option('--resync-interval <seconds>', 'periodic level-based reconcile, 0 = off')
    .option('--reconnect-base-ms <ms>', 'reconnect backoff base')
    .option('--reconnect-cap-ms <ms>', 'reconnect backoff cap')
    .option('--watchdog-seconds <s>', 'recreate the MQTT client after this long disconnected')
    .option('--retry-base-ms <ms>', 'reconcile retry backoff base')
    .option('--retry-cap-ms <ms>', 'reconcile retry backoff cap')
    .option('--locks-dir <dir>', 'host directory for update locks, mounted at /run/outpost in each workload (default <state-dir>/locks)')
    .option('--lock-poll-ms <ms>', 'how often a deferred update re-checks update locks')
    .option('--telemetry-interval <seconds>', 'telemetry period, 0 = off (env OUTPOST_TELEMETRY_INTERVAL; profile default 300, cellular 3600)')
    .option(
      '--telemetry-deltas <on|off>',
      'on: telemetry as deltas against a full sample sent on every connection and every 24 samples; off: full samples only, for a controller older than DD-038 (env OUTPOST_TELEMETRY_DELTAS; default on)',
    )
    .option(
      '--profile <name>',
      'link profile: default (keepalive 60 s, telemetry 300 s) or cellular (keepalive 300 s, telemetry hourly, reports paced over 5 s, one event per update); explicit options win (env OUTPOST_AGENT_PROFILE)',
    )
    .option('--report-delay-ms <ms>', 'how long a progress report waits to go out with the next one (profile default: 1000, cellular 5000)')
    .option(
      '--event-detail <level>',
      "summary: an update's steps are listed in the event that ends it; outcome: that event alone tells the update (cellular profile); steps: one event per step as it happens (env OUTPOST_EVENT_DETAIL, profile default summary)",
    )
    .option(
      '--report-format <form>',
      'compact: reports and events without default-valued fields, ids cut to 12 hex digits; full: every field, whole ids (env OUTPOST_REPORT_FORMAT, default compact)',
    )
    .action(async (flags: AgentFlags) => {
      let config: Readonly<AgentConfig>;
      const secretWarnings: SecretFileWarning[] = [];
      try {
        config = agentConfigFromFlags(flags, process.env, secretWarnings);
      } catch (err) {
        process.stderr.write(`outpost agent: ${errorMessage(err)}\n`);
        process.exit(2);
      }
      const logger = createLogger({ level: config.logLevel, format: config.logFormat, name: 'agent' });
      for (const w of secretWarnings) logger.warn(w, SECRET_FILE_WARNING);
      let currentTls: (() => TlsMaterial) | undefined;
      try {
        const tlsFiles = { caFile: config.caFile, certFile: config.certFile, keyFile: config.keyFile };
        currentTls = Object.values(tlsFiles).some((f) => f !== undefined) ? tlsMaterialFromFiles(tlsFiles, logger) : undefined;
      } catch (err) {
        process.stderr.write(`outpost agent: ${errorMessage(err)}\n`);
        process.exit(2);
      }
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
        ...(secretFileOf(flags, process.env) ? { currentSecret: secretFromFile(secretFileOf(flags, process.env) as string, config.secret ?? '', logger) } : {}),
        ...(currentTls ? { currentTls } : {}),
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
      logger.info({ broker: redactUrl(config.brokerUrl), stateDir: config.stateDir }, 'agent started');
    });
}
