import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readSecretFile, secretOnCommandLine, type SecretFileWarning } from '../shared/secret-input.js';
import { parseAgentConfig, type AgentConfig } from './config.js';
import type { AgentFlags } from './options.js';

const int = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
/** on|off → boolean; anything else is passed on for the config schema to refuse by name. */
const onOff = (v: string | undefined): boolean | string | undefined => (v === 'on' ? true : v === 'off' ? false : v);
const absolute = (path: string | undefined): string | undefined => (path ? resolve(path) : undefined);
/** `--broker A,B,…`: the first is where the agent connects first, the others its failover brokers (DD-046). */
const brokerList = (v: string | undefined): { brokerUrl?: string; failoverBrokerUrls?: string[] } => {
  if (v === undefined) return {};
  const [first, ...rest] = v.split(',').map((u) => u.trim());
  return rest.length === 0 ? { brokerUrl: first } : { brokerUrl: first, failoverBrokerUrls: rest };
};

/**
 * Flags first, then environment, then the config file (`file`, DD-043), then
 * the defaults; the only place the agent reads process.env.
 */
export function agentConfigFromFlags(
  flags: AgentFlags,
  env: NodeJS.ProcessEnv,
  warnings: SecretFileWarning[] = [],
  file: Partial<AgentFlags> = {},
): Readonly<AgentConfig> {
  // DD-025: secrets come from files or the environment only.
  if (flags.secret !== undefined) throw new Error(secretOnCommandLine('--secret', '--secret-file FILE or env OUTPOST_DEVICE_SECRET'));
  let secret = env.OUTPOST_DEVICE_SECRET;
  const secretFile = secretFileSetting(flags, env, file);
  if (!secret && secretFile) secret = readSecretFile(secretFile, warnings);
  const trustFile = flags.trust ?? env.OUTPOST_TRUST_FILE ?? file.trust;
  const switchOn = (flag: boolean | undefined, envValue: string | undefined, fromFile: boolean | undefined): true | undefined =>
    flag === true || envValue === '1' || fromFile === true ? true : undefined;
  const list = (flag: string[], envValue: string[] | undefined, fromFile: string[] | undefined): string[] | undefined =>
    flag.length ? flag : (envValue ?? fromFile);
  const stateDir = flags.stateDir ?? env.OUTPOST_STATE_DIR ?? file.stateDir;
  const locksDir = flags.locksDir ?? env.OUTPOST_LOCKS_DIR ?? file.locksDir;
  const raw: Record<string, unknown> = {
    trust: trustFile === undefined ? undefined : readFileSync(trustFile, 'utf8'),
    acceptUnsigned: switchOn(flags.acceptUnsigned, env.OUTPOST_ACCEPT_UNSIGNED, file.acceptUnsigned),
    deviceId: flags.device ?? env.OUTPOST_DEVICE ?? file.device,
    ...brokerList(flags.broker ?? env.OUTPOST_BROKER_URL ?? file.broker),
    secret,
    caFile: absolute(flags.ca ?? env.OUTPOST_CA_FILE ?? file.ca),
    certFile: absolute(flags.cert ?? env.OUTPOST_CERT_FILE ?? file.cert),
    keyFile: absolute(flags.key ?? env.OUTPOST_KEY_FILE ?? file.key),
    insecurePlaintext: switchOn(flags.insecurePlaintext, env.OUTPOST_INSECURE_PLAINTEXT, file.insecurePlaintext),
    stateDir: absolute(stateDir),
    locksDir: absolute(locksDir),
    lockPollMs: int(flags.lockPollMs ?? file.lockPollMs),
    telemetryIntervalSeconds: int(flags.telemetryInterval ?? env.OUTPOST_TELEMETRY_INTERVAL ?? file.telemetryInterval),
    telemetryDeltas: onOff(flags.telemetryDeltas ?? env.OUTPOST_TELEMETRY_DELTAS ?? file.telemetryDeltas),
    eventDetail: flags.eventDetail ?? env.OUTPOST_EVENT_DETAIL ?? file.eventDetail,
    reportFormat: flags.reportFormat ?? env.OUTPOST_REPORT_FORMAT ?? file.reportFormat,
    profile: flags.profile ?? env.OUTPOST_AGENT_PROFILE ?? file.profile,
    reportDelayMs: int(flags.reportDelayMs ?? file.reportDelayMs),
    topicPrefix: flags.topicPrefix ?? env.OUTPOST_TOPIC_PREFIX ?? file.topicPrefix,
    dockerSocket: flags.dockerSocket ?? env.OUTPOST_DOCKER_SOCKET ?? file.dockerSocket,
    allowedHostPaths: list(flags.allowHostPath, env.OUTPOST_ALLOW_HOST_PATHS?.split(':').filter(Boolean), file.allowHostPath),
    allowedCapabilities: (list(flags.allowCapability, env.OUTPOST_ALLOW_CAPABILITIES?.split(','), file.allowCapability) ?? [])
      .map((c) => c.trim().toUpperCase().replace(/^CAP_/, ''))
      .filter(Boolean),
    allowedVolumes: list(flags.allowVolume, env.OUTPOST_ALLOW_VOLUMES?.split(',').map((v) => v.trim()).filter(Boolean), file.allowVolume),
    secretFile: secretFile ? resolve(secretFile) : undefined,
    logLevel: flags.logLevel ?? env.OUTPOST_LOG_LEVEL ?? file.logLevel,
    logFormat: flags.logFormat ?? env.OUTPOST_LOG_FORMAT ?? file.logFormat,
    keepaliveSeconds: int(flags.keepalive ?? file.keepalive),
    settleMs: int(flags.settleMs ?? file.settleMs),
    resyncIntervalSeconds: int(flags.resyncInterval ?? file.resyncInterval),
    clockRefreshSeconds: int(flags.clockRefresh ?? file.clockRefresh),
    reconnectBaseMs: int(flags.reconnectBaseMs ?? file.reconnectBaseMs),
    reconnectCapMs: int(flags.reconnectCapMs ?? file.reconnectCapMs),
    watchdogSeconds: int(flags.watchdogSeconds ?? file.watchdogSeconds),
    retryBaseMs: int(flags.retryBaseMs ?? file.retryBaseMs),
    retryCapMs: int(flags.retryCapMs ?? file.retryCapMs),
  };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  return parseAgentConfig(raw);
}

export function secretFileSetting(flags: AgentFlags, env: NodeJS.ProcessEnv, file: Partial<AgentFlags>): string | undefined {
  return flags.secretFile ?? env.OUTPOST_DEVICE_SECRET_FILE ?? file.secretFile;
}

