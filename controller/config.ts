import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { LogFormat } from '../shared/logger.js';
import { isDeviceId } from '../shared/device-id.js';
import { DEFAULT_TOPIC_PREFIX, TopicPrefix } from '../shared/topics.js';
import { formatIssues } from '../shared/decode.js';
import { OutpostError } from '../shared/errors.js';

/** A URL with one of the given schemes that the URL parser accepts too: connecting must not be the first to find it broken. */
const ConnectionUrl = (scheme: RegExp, message: string) =>
  z
    .string()
    .regex(scheme, { message, abort: true })
    .refine((url) => URL.canParse(url), message);

export const ControllerConfig = z
  .strictObject({
    redisUrl: ConnectionUrl(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
    keyPrefix: z.string().regex(/^[A-Za-z0-9:_.-]{0,64}$/).default('outpost:'),
    topicPrefix: TopicPrefix.default(DEFAULT_TOPIC_PREFIX),
    brokerUrl: ConnectionUrl(/^(mqtts?|tcp|tls):\/\//, 'must be an mqtt:// or mqtts:// URL'),
    /** PEM CA of the broker's certificate, for an mqtts:// brokerUrl; absent: the system's CAs. */
    brokerCaFile: z.string().min(1).optional(),
    serviceUsername: z.string().min(1).default('svc:outpost'),
    servicePassword: z.string().min(16, 'must be at least 16 characters'),
    /** MQTT client id of this controller process; never a valid device id (DD-008). */
    clientId: z
      .string()
      .min(1)
      .max(128)
      .refine((id): boolean => !isDeviceId(id), 'must not be a valid device id (use a colon, e.g. svc:controller-1)')
      .default(() => `svc:controller-${randomBytes(4).toString('hex')}`),
    apiHost: z.string().default('127.0.0.1'),
    apiPort: z.coerce.number().int().min(0).max(65535).default(8080),
    /** PEM certificate (intermediates after it) and key: the API serves HTTPS instead of HTTP (DD-023). */
    apiTlsCertFile: z.string().min(1).optional(),
    apiTlsKeyFile: z.string().min(1).optional(),
    /** PEM CA certificate and key that sign device certificates (DD-027); without them the API refuses to issue any. */
    deviceCaCertFile: z.string().min(1).optional(),
    deviceCaKeyFile: z.string().min(1).optional(),
    /** Bearer tokens with full access; at least one. Never logged. */
    adminTokens: z.array(z.string().min(16, 'admin tokens must be at least 16 characters')).min(1),
    antiEntropyIntervalSeconds: z.coerce.number().int().min(0).default(300),
    /**
     * DD-062: how long after the broker acknowledged a desired document a device online through it
     * must show it (report or event) before it is sent again; 0 = never checked.
     */
    receiptGraceSeconds: z.coerce.number().min(0).max(86_400).default(300),
    publishBatchSize: z.coerce.number().int().min(1).max(10_000).default(500),
    /** Sign desired documents (DD-026). Off only while agents older than signed documents are in the fleet. */
    signDesired: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
      .default(true),
    /** PKCS#8 PEM Ed25519 key to sign with; created (0600) when absent. Without it the key lives in Redis only. */
    signingKeyFile: z.string().min(1).optional(),
    /** AES-256 key (base64 file, created 0600 when absent) that seals registry passwords in Redis (DD-041); without it none are stored. */
    registryCredentialsKeyFile: z.string().min(1).optional(),
    /** How long a signed desired document is valid; it is re-signed when half of that is left. */
    desiredValiditySeconds: z.coerce.number().int().min(10).max(365 * 86_400).default(7 * 86_400),
    /** How long start() waits for Redis before it fails (Redis started beside it may still be loading); 0 = one try. */
    redisWaitSeconds: z.coerce.number().min(0).max(3600).default(60),
    /** How long start() waits for the broker before serving without it (changes stay pending until it is back). */
    brokerWaitSeconds: z.coerce.number().min(0).max(600).default(10),
    /** How long the publish lease outlives a controller killed while publishing (DD-021). */
    publishLeaseSeconds: z.coerce.number().min(1).max(300).default(10),
    /** Longest wait between two ticks of a running rollout (device progress is polled); paused and finished ones: 5×. */
    rolloutPollSeconds: z.coerce.number().min(0.2).max(300).default(2),
    /** Most entries the API audit log keeps; the oldest go first (DD-025). */
    auditMaxEntries: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
    /**
     * Who holds device credentials (DD-030): `outpost` — Outpost's broker reads them from Redis;
     * `mosquitto-dynsec` — the controller manages Mosquitto's clients and roles through its
     * dynamic-security plugin, as `brokerAdminUsername`.
     */
    brokerAdmin: z.enum(['outpost', 'mosquitto-dynsec']).default('outpost'),
    brokerAdminUsername: z.string().min(1).default('outpost-admin'),
    /** Never logged; from a file or the environment only (DD-025). */
    brokerAdminPassword: z.string().min(1).optional(),
    /** How long one admin command may wait for Mosquitto's answer. */
    brokerAdminTimeoutMs: z.coerce.number().int().min(100).max(120_000).default(5000),
    /** Full comparison of Mosquitto's clients with the registry every so often (0: only at connect and after failures). */
    brokerAdminRepairIntervalSeconds: z.coerce.number().int().min(0).max(86_400).default(300),
    /** GET /metrics without a token (DD-039); default: any API token (viewer or above). */
    metricsPublic: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
      .default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    logFormat: LogFormat.default('auto'),
  })
  .refine((c) => (c.apiTlsCertFile === undefined) === (c.apiTlsKeyFile === undefined), {
    path: ['apiTlsKeyFile'],
    message: 'apiTlsCertFile and apiTlsKeyFile go together',
  })
  .refine((c) => (c.deviceCaCertFile === undefined) === (c.deviceCaKeyFile === undefined), {
    path: ['deviceCaKeyFile'],
    message: 'deviceCaCertFile and deviceCaKeyFile go together',
  })
  .refine((c) => c.brokerAdmin !== 'mosquitto-dynsec' || c.brokerAdminPassword !== undefined, {
    path: ['brokerAdminPassword'],
    message: 'brokerAdmin mosquitto-dynsec needs the admin password (--broker-admin-password-file or env OUTPOST_BROKER_ADMIN_PASSWORD)',
  })
  .refine((c) => c.brokerAdminUsername !== c.serviceUsername, {
    path: ['brokerAdminUsername'],
    message: 'the broker admin and the service identity must be different clients',
  })
  .readonly();
export type ControllerConfig = z.infer<typeof ControllerConfig>;
export type ControllerConfigInput = z.input<typeof ControllerConfig>;

export function parseControllerConfig(input: unknown): ControllerConfig {
  const parsed = ControllerConfig.safeParse(input);
  if (!parsed.success) throw new OutpostError('CONFIG_INVALID', `invalid controller configuration: ${formatIssues(parsed.error.issues, 20)}`);
  return parsed.data;
}
