import { z } from 'zod';
import { LogFormat } from '../shared/logger.js';
import { DeviceId } from '../shared/device-id.js';
import { DEFAULT_TOPIC_PREFIX, TopicPrefix } from '../shared/topics.js';
import { LIMITS } from '../shared/limits.js';
import { OutpostError } from '../shared/errors.js';
import { formatIssues } from '../shared/decode.js';
import { Capability } from '../shared/schemas/workload.js';
import { isLoopbackHost } from '../shared/loopback.js';

/**
 * Link profiles (issue 11): the defaults of the settings that decide what the agent sends when nothing
 * happens. An explicit setting always wins over its profile's default. docs/operations.md, "Metered
 * links", documents both.
 */
export const AGENT_PROFILES = {
  /**
   * Telemetry deltas on both profiles (DD-038): an older controller drops them as invalid (a log line and a counter
   * each) and keeps showing the last full sample; `--telemetry-deltas off` serves a fleet whose controller is not
   * upgraded yet.
   */
  default: { keepaliveSeconds: 60, telemetryIntervalSeconds: 300, telemetryDeltas: true, reportDelayMs: 1000, eventDetail: 'summary' },
  /**
   * Cellular / metered: a PINGREQ+PINGRESP every 5 minutes instead of every minute (a dead link is then
   * noticed within ~10 minutes by the agent and 7.5 by the broker), telemetry hourly as deltas against a full
   * sample sent on every connection and once a day, reports paced over 5 s (an outcome — converged, failed,
   * rolled back, rejected — still goes at once), and one event per update (event detail outcome).
   */
  cellular: { keepaliveSeconds: 300, telemetryIntervalSeconds: 3600, telemetryDeltas: true, reportDelayMs: 5000, eventDetail: 'outcome' },
} as const;
export type AgentProfile = keyof typeof AGENT_PROFILES;

const BrokerUrl = z
  .string()
  .regex(/^(mqtts?|tcp|tls):\/\/[^\s/,]+(:\d+)?\/?$/, { message: 'broker must be a URL like mqtt://host:1883 or mqtts://host:8883', abort: true })
  // The regex admits authorities the URL parser refuses (`mqtt://:0`, a port over 65535), which would throw later.
  .refine((url) => URL.canParse(url), 'broker must be a URL like mqtt://host:1883 or mqtts://host:8883');

export const AgentConfig = z.strictObject({
  deviceId: DeviceId,
  /** Which defaults apply to keepalive, telemetry and report pacing (AGENT_PROFILES). */
  profile: z.enum(['default', 'cellular']).default('default'),
  brokerUrl: BrokerUrl,
  /**
   * DD-046: further brokers of the same cluster (--broker A,B,…): after a failed attempt or a lost
   * connection the agent tries the next one, round robin, with the same back-off.
   */
  failoverBrokerUrls: z.array(BrokerUrl).max(7, 'at most 8 broker URLs').default([]),
  /** Optional with a client certificate (certFile), which then authenticates the device (DD-023). */
  secret: z.string().min(1, 'the device secret is empty (--secret-file or OUTPOST_DEVICE_SECRET)').optional(),
  /** PEM CA that signed the broker's certificate (mqtts://); absent: the system's CAs. */
  caFile: z.string().min(1).optional(),
  /** PEM client certificate naming this device id (CN or SAN), and its key: mutual TLS. */
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  /** Allow mqtt:// to a broker that is not on this machine: secrets and documents then cross the network in clear. */
  insecurePlaintext: z.boolean().default(false),
  stateDir: z.string().min(1),
  topicPrefix: TopicPrefix.default(DEFAULT_TOPIC_PREFIX),
  dockerSocket: z.string().optional(),
  allowedHostPaths: z.array(z.string().regex(/^\//, 'host paths must be absolute')).default([]),
  /** DD-024: capabilities workloads may ask for beyond the default set (--allow-capability). */
  allowedCapabilities: z.array(Capability).default([]),
  /** DD-024: named volumes used under their own name by any workload; all others are namespaced per app (--allow-volume). */
  allowedVolumes: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/, 'volume names: letters, digits, _ . -')).default([]),
  /** The device secret's file, if any: never mountable by a workload (DD-024). */
  secretFile: z.string().regex(/^\//, 'the secret file path must be absolute').optional(),
  /**
   * DD-026: the controller's signing keys (content of the --trust file: PEM
   * or JSON); every desired document must be signed by one of them. Absent
   * only with acceptUnsigned.
   */
  trust: z.string().min(1).optional(),
  /** Accept unsigned desired documents (an unsigned fleet); signatures are then not checked at all. */
  acceptUnsigned: z.boolean().default(false),
  /** Host directory holding each workload's update-lock directory (default <stateDir>/locks). It must be a host path the Docker engine can bind. */
  locksDir: z.string().regex(/^\//, 'the locks directory must be an absolute path').optional(),
  /** How often a deferred update re-checks its update locks. */
  lockPollMs: z.number().int().min(100).default(2000),
  /**
   * summary (profile default): an update's step events are folded into the event that closes it (`data.steps`);
   * outcome (cellular): an update is told by the event that closes it alone, its steps counted (`data.stepCount`);
   * steps: every step is its own event, as it happens (issue 11, docs/protocol.md "Event detail").
   */
  eventDetail: z.enum(['summary', 'outcome', 'steps']).default('summary'),
  /**
   * compact (default): reports and events leave out fields at their defaults and carry 12-digit ids;
   * full: every field, whole ids, as agents before DD-037 (docs/protocol.md §11.1). Both are protocol v1.
   */
  reportFormat: z.enum(['compact', 'full']).default('compact'),
  /** Telemetry interval; 0 turns telemetry off. */
  telemetryIntervalSeconds: z.number().int().min(0).default(300),
  /** DD-038: telemetry as deltas against the last full sample (a full one per connection and every 24 samples); false: full samples only. */
  telemetryDeltas: z.boolean().default(true),
  keepaliveSeconds: z.number().int().min(5).max(3600).default(60),
  /** How long a report of progress (an update started, a workload pulling or starting) waits, so that several go out as one; outcomes go at once. */
  reportDelayMs: z.number().int().min(0).max(60_000).default(1000),
  connectTimeoutMs: z.number().int().min(1000).default(15_000),
  reconnectBaseMs: z.number().int().min(10).default(1000),
  reconnectCapMs: z.number().int().min(100).default(60_000),
  watchdogSeconds: z.number().int().min(1).default(300),
  /** After the SUBACK, wait this long for queued and retained desired documents before applying the newest. */
  settleMs: z.number().int().min(0).default(300),
  /** Apply anyway this long after a connect when no SUBACK came. */
  maxSettleMs: z.number().int().min(0).default(5000),
  resyncIntervalSeconds: z.number().int().min(0).default(60),
  /** Re-read the controller's clock this often while connected (DD-061): one presence and one ~100-byte answer; 0 = at each connection only. */
  clockRefreshSeconds: z.number().int().min(0).max(30 * 86_400).default(21_600),
  retryBaseMs: z.number().int().min(10).default(2000),
  retryCapMs: z.number().int().min(100).default(300_000),
  maxDesiredBytes: z.number().int().min(1024).max(LIMITS.desiredMaxBytes).default(LIMITS.desiredMaxBytes),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  logFormat: LogFormat.default('auto'),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

/** Refine: a device either trusts signing keys or says explicitly that it runs an unsigned fleet. */
function checkSignatureSetting(config: AgentConfig): string | null {
  if (config.trust === undefined && !config.acceptUnsigned) {
    return 'the agent needs the controller signing key to verify desired documents: --trust FILE (written by `outpost device add --trust-out FILE`), or --accept-unsigned for an unsigned fleet';
  }
  return null;
}

/**
 * Refine (DD-023): a device proves who it is with a secret or a client
 * certificate, and never sends either in clear across a network unless the
 * operator says the link is protected otherwise.
 */
function checkTransport(config: AgentConfig): string | null {
  const problems: string[] = [];
  if (config.secret === undefined && config.certFile === undefined) {
    problems.push('a device secret (--secret-file or OUTPOST_DEVICE_SECRET) or a client certificate (--cert and --key) is required');
  }
  if ((config.certFile === undefined) !== (config.keyFile === undefined)) problems.push('--cert and --key go together');
  for (const brokerUrl of [config.brokerUrl, ...config.failoverBrokerUrls]) {
    const problem = checkBrokerTransport(config, brokerUrl);
    if (problem !== null && !problems.includes(problem)) problems.push(problem);
  }
  return problems.length ? problems.join('; ') : null;
}

/** One broker URL: TLS material only over TLS, and no plaintext across a network unless told so. */
function checkBrokerTransport(config: AgentConfig, brokerUrl: string): string | null {
  const url = new URL(brokerUrl);
  const plaintext = url.protocol === 'mqtt:' || url.protocol === 'tcp:';
  const problems: string[] = [];
  if (plaintext && (config.caFile ?? config.certFile ?? config.keyFile) !== undefined) {
    problems.push(`--ca, --cert and --key need a TLS broker URL (mqtts://), not ${url.protocol}//`);
  }
  if (plaintext && !config.insecurePlaintext && !isLoopbackHost(url.hostname)) {
    problems.push(
      `refusing ${url.protocol}// to ${url.hostname}, which is not this machine: the device secret and every desired document ` +
        '(with its registry credentials) would cross the network unencrypted. Use mqtts:// (and --ca if the broker\'s certificate is ' +
        'not from a public CA), or pass --insecure-plaintext if the link is encrypted otherwise (VPN, a private network you trust)',
    );
  }
  return problems.length ? problems.join('; ') : null;
}

/** The profile's defaults under what the input sets itself. */
function withProfileDefaults(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const raw = input as Record<string, unknown>;
  const profile = raw.profile ?? 'default';
  if (typeof profile !== 'string' || !Object.hasOwn(AGENT_PROFILES, profile)) return input;
  const defaults: Record<string, unknown> = AGENT_PROFILES[profile as AgentProfile];
  const out: Record<string, unknown> = { ...raw };
  for (const [key, value] of Object.entries(defaults)) if (out[key] === undefined) out[key] = value;
  return out;
}

export function parseAgentConfig(input: unknown): Readonly<AgentConfig> {
  const parsed = AgentConfig.safeParse(withProfileDefaults(input));
  if (!parsed.success) {
    throw new OutpostError('CONFIG_INVALID', `invalid agent configuration: ${formatIssues(parsed.error.issues, 20)}`);
  }
  const signatureProblem = checkSignatureSetting(parsed.data);
  if (signatureProblem) throw new OutpostError('CONFIG_INVALID', `invalid agent configuration: ${signatureProblem}`);
  const transportProblem = checkTransport(parsed.data);
  if (transportProblem) throw new OutpostError('CONFIG_INVALID', `invalid agent configuration: ${transportProblem}`);
  return Object.freeze(parsed.data);
}
