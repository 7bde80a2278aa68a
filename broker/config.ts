import { z } from 'zod';
import { LogFormat } from '../shared/logger.js';
import { isDeviceId } from '../shared/device-id.js';
import { OutpostError } from '../shared/errors.js';
import { LIMITS } from '../shared/limits.js';
import { DEFAULT_TOPIC_PREFIX, TopicPrefix } from '../shared/topics.js';
import { PERSISTENCE_KINDS } from './persistence/kinds.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Whole numbers from flags and env arrive as strings; anything but plain
 * digits (including '' and '1e3') stays a string and fails the number check,
 * so an empty env var can never silently become port 0.
 */
function int(min: number, max: number) {
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
    // The type error only: a schema-wide `error` would also replace the range messages.
    z
      .number({ error: (iss) => (iss.code === 'invalid_type' ? 'must be a whole number' : undefined) })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );
}

export const DEFAULT_KEY_PREFIX = 'outpost:';

/** Prefix of Outpost's own Redis keys (device credentials); aedes's persistence keys are its own. */
export const KeyPrefix = z.string().regex(/^[A-Za-z0-9:_.-]{0,64}$/, 'must be 0-64 chars of [A-Za-z0-9:_.-]');

export const RedisUrl = z.url({
  protocol: /^rediss?$/,
  error: (iss) => (iss.input === undefined ? 'required' : 'must be a redis:// or rediss:// URL'),
});

/** MQTT over TLS, IANA-registered ("secure-mqtt"). */
export const DEFAULT_TLS_PORT = 8883;

/** Device topics are `<prefix>/devices/<id>/<channel>`: 3 levels below the prefix. */
const DEVICE_TOPIC_EXTRA_LEVELS = 3;
/** Longest device topic below the prefix: '/devices/' + 63-char id + '/telemetry'. */
const DEVICE_TOPIC_EXTRA_BYTES = '/devices/'.length + 63 + '/telemetry'.length;

export const BrokerConfig = z
  .strictObject({
    host: z.string().min(1).default('0.0.0.0'),
    /**
     * Address of the plain TCP listener when it differs from `host`: e.g.
     * 127.0.0.1, so plain MQTT stays on this machine while TLS listens on
     * every interface (what `outpost up` does, DD-027).
     */
    plainHost: z.string().min(1).optional(),
    /** Plain TCP; 0 asks the kernel for a free port (tests); 'off' (or null): no plain listener, TLS only. */
    port: z.preprocess((v) => (v === 'off' ? null : v), int(0, 65535).nullable()).default(1883),
    /**
     * MQTT over TLS, conventionally 8883 (the default once a certificate is
     * given); 0 asks the kernel for a free port. Absent: no TLS listener.
     */
    tlsPort: int(0, 65535).optional(),
    /** PEM server certificate (and intermediates) and its key, read at start. */
    tlsCertFile: z.string().min(1).optional(),
    tlsKeyFile: z.string().min(1).optional(),
    /**
     * PEM CA(s) of device certificates. Given: TLS clients are asked for a
     * certificate, and one that chains to it and names the device id (CN or
     * a DNS/URI SAN) authenticates that device without a password (DD-023).
     */
    tlsClientCaFile: z.string().min(1).optional(),
    redisUrl: RedisUrl,
    keyPrefix: KeyPrefix.default(DEFAULT_KEY_PREFIX),
    topicPrefix: TopicPrefix.default(DEFAULT_TOPIC_PREFIX),
    maxPayloadBytes: int(1, 64 * 1024 * 1024).default(LIMITS.brokerMaxPayloadBytes),
    maxTopicBytes: int(1, 65535).default(LIMITS.topicMaxBytes),
    /** aedes clamps its own limit to 1-100 (qlobber's max_words), so ours may not exceed it. */
    maxTopicLevels: int(1, 100).default(LIMITS.topicMaxLevels),
    serviceUsername: z
      .string()
      .min(1)
      .max(128)
      .refine((u): boolean => !isDeviceId(u), 'must not be a valid device id (use a colon, e.g. svc:outpost)')
      .default('svc:outpost'),
    /** Absent: no service identity can connect. */
    servicePassword: z.string().min(16, 'must be at least 16 characters').max(1024).optional(),
    /**
     * Which aedes persistence (DD-028): `outpost`, Outpost's own (one Redis
     * round trip per operation, keys below `<keyPrefix>mqtt:`), or `legacy`,
     * aedes-persistence-redis 11.2 (kept for one release, for comparison).
     * The two keep their data apart: switching starts with no sessions.
     */
    persistence: z.enum(PERSISTENCE_KINDS, { error: `must be one of ${PERSISTENCE_KINDS.join(', ')}` }).default('outpost'),
    /**
     * How the broker hands a PUBLISH to its subscribers: `redis`
     * (mqemitter-redis: every broker process on the same Redis sees every
     * message, so several of them can share the fleet) or `local` (in this
     * process only: no Redis channel per subscribed topic, for a single
     * broker process). Sessions, queues and retained messages are in Redis
     * either way.
     */
    /**
     * DD-047: file holding the key (32 random bytes, base64) that seals every
     * stored packet with a payload (retained, queued, in-flight, wills) in
     * Redis with AES-256-GCM. Absent: stored in clear. Every broker process
     * on one Redis needs the same key; the `outpost` persistence only.
     */
    storeKeyFile: z.string().min(1).optional(),
    emitter: z.enum(['redis', 'local'], { error: 'must be redis or local' }).default('redis'),
    /**
     * Broker processes (DD-035): above 1, this process forks that many
     * workers that share the listeners (node:cluster) and one another's
     * messages through the Redis emitter, to use more than one core.
     */
    workers: int(1, 64).default(1),
    /**
     * Queue of connections the kernel has accepted but the broker has not yet
     * taken (net.Server listen `backlog`; the kernel caps it at
     * net.core.somaxconn). A reconnect storm overflows a short one, and every
     * overflow costs a client a SYN retransmission (1, 3, 7 s …).
     */
    listenBacklog: int(1, 1_000_000).default(4096),
    /** Offline messages replayed per CONNECT (the persistence's `maxSessionDelivery`). */
    maxSessionDelivery: int(1, 100_000).default(100),
    /**
     * Longest QoS 1 queue of a persistent session; beyond it the OLDEST
     * messages are dropped (DD-020). A device needs only the newest desired
     * document, which is retained anyway; Mosquitto's default is the same 1000.
     */
    maxQueuedMessages: int(1, 1_000_000).default(1000),
    /**
     * How often persistent sessions of device ids without a credential
     * (decommissioned, or never enrolled) are removed; also once at start.
     */
    sessionSweepIntervalMs: int(100, 86_400_000).default(600_000),
    /** A subscriber whose socket stays full this long is cut off, so it cannot stall delivery to all (pitfalls.md). */
    drainTimeoutMs: int(1000, 600_000).default(30_000),
    /**
     * DD-050: bytes the broker holds for one connection that its client has
     * not read yet (beyond the kernel's socket buffers). A packet for a client
     * already this far behind cuts the connection (CLIENT_TOO_SLOW) instead
     * of waiting on it: a client that stopped reading can neither hold the
     * broker's delivery slots nor grow its memory without bound.
     */
    maxOutgoingBufferBytes: int(64 * 1024, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
    heartbeatIntervalMs: int(1000, 3_600_000).default(60_000),
    connectTimeoutMs: int(1000, 600_000).default(30_000),
    /** Messages aedes's emitter processes concurrently. */
    concurrency: int(1, 100_000).default(100),
    /**
     * Port of the HTTP listener serving GET /metrics (DD-039); 0 asks the
     * kernel for one. Absent: no metrics listener. With workers, worker i
     * serves on metricsPort + i.
     */
    metricsPort: int(0, 65535).optional(),
    /** Address of the metrics listener: loopback by default, as it has no authentication. */
    metricsHost: z.string().min(1).default('127.0.0.1'),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    logFormat: LogFormat.default('auto'),
  })
  .superRefine((c, ctx) => {
    const tlsGiven = c.tlsCertFile !== undefined || c.tlsKeyFile !== undefined;
    if (c.storeKeyFile !== undefined && c.persistence === 'legacy') {
      ctx.addIssue({ code: 'custom', path: ['storeKeyFile'], message: 'needs the outpost persistence: the legacy persistence (aedes-persistence-redis) cannot seal stored packets' });
    }
    if (c.workers > 1 && c.emitter === 'local') {
      ctx.addIssue({ code: 'custom', path: ['workers'], message: 'above 1 needs the redis emitter: with --emitter local a worker would not deliver what a device on another worker publishes' });
    }
    if (c.tlsCertFile === undefined && (c.tlsKeyFile !== undefined || c.tlsPort !== undefined || c.tlsClientCaFile !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tlsCertFile'], message: 'required for a TLS listener (with tlsKeyFile)' });
    }
    if (c.tlsKeyFile === undefined && (c.tlsCertFile !== undefined || c.tlsPort !== undefined || c.tlsClientCaFile !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tlsKeyFile'], message: 'required for a TLS listener (with tlsCertFile)' });
    }
    if (c.port === null && !tlsGiven) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: 'is off and no TLS listener is configured: the broker would accept no connection' });
    }
    const tlsPort = c.tlsPort ?? (tlsGiven ? DEFAULT_TLS_PORT : undefined);
    if (c.port !== null && c.port !== 0 && c.port === tlsPort) {
      ctx.addIssue({ code: 'custom', path: ['tlsPort'], message: `must differ from the plain TCP port ${c.port}` });
    }
    if (c.metricsPort !== undefined && c.workers > 1 && c.metricsPort === 0) {
      ctx.addIssue({ code: 'custom', path: ['metricsPort'], message: 'must be a fixed port with workers above 1 (worker i serves on metricsPort + i)' });
    }
    if (c.metricsPort !== undefined && c.metricsPort + c.workers - 1 > 65535) {
      ctx.addIssue({ code: 'custom', path: ['metricsPort'], message: `must leave room for ${c.workers} workers (metricsPort + i ≤ 65535)` });
    }
    const prefixLevels = c.topicPrefix.split('/').length;
    if (c.maxTopicLevels < prefixLevels + DEVICE_TOPIC_EXTRA_LEVELS) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxTopicLevels'],
        message: `must be at least ${prefixLevels + DEVICE_TOPIC_EXTRA_LEVELS} for topic prefix ${c.topicPrefix}`,
      });
    }
    const minBytes = Buffer.byteLength(c.topicPrefix) + DEVICE_TOPIC_EXTRA_BYTES;
    if (c.maxTopicBytes < minBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxTopicBytes'],
        message: `must be at least ${minBytes} to fit every device topic under ${c.topicPrefix}`,
      });
    }
  })
  .transform((c) => ({ ...c, tlsPort: c.tlsPort ?? (c.tlsCertFile !== undefined ? DEFAULT_TLS_PORT : undefined) }))
  .readonly();

export type BrokerConfig = z.infer<typeof BrokerConfig>;
export type BrokerConfigInput = z.input<typeof BrokerConfig>;

export interface ConfigIssue {
  key: string;
  message: string;
}

export type BrokerConfigResult = { ok: true; config: BrokerConfig } | { ok: false; issues: ConfigIssue[] };

/** Every problem with the input, one per bad key (never their values: one may be a password). */
export function checkBrokerConfig(input: unknown): BrokerConfigResult {
  const parsed = BrokerConfig.safeParse(input);
  if (parsed.success) return { ok: true, config: parsed.data };
  const issues: ConfigIssue[] = parsed.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ key, message: 'unknown key' }));
    }
    return [{ key: issue.path.length ? issue.path.join('.') : '(root)', message: issue.message }];
  });
  return { ok: false, issues };
}

/** Parses once; throws CONFIG_INVALID listing every bad key. */
export function parseBrokerConfig(input: unknown): BrokerConfig {
  const result = checkBrokerConfig(input);
  if (result.ok) return result.config;
  const list = result.issues.map((i) => `${i.key}: ${i.message}`).join('; ');
  throw new OutpostError('CONFIG_INVALID', `invalid broker configuration: ${list}`, { details: { issues: result.issues } });
}
