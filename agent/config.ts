import { z } from 'zod';
import { DeviceId } from '../shared/device-id.js';
import { DEFAULT_TOPIC_PREFIX, TopicPrefix } from '../shared/topics.js';
import { LIMITS } from '../shared/limits.js';
import { OutpostError } from '../shared/errors.js';
import { formatIssues } from '../shared/decode.js';

export const AgentConfig = z.strictObject({
  deviceId: DeviceId,
  brokerUrl: z
    .string()
    .regex(/^(mqtts?|tcp|tls):\/\/[^\s/]+(:\d+)?\/?$/, 'broker must be a URL like mqtt://host:1883 or mqtts://host:8883'),
  secret: z.string().min(1, 'a device secret is required (--secret, --secret-file or OUTPOST_DEVICE_SECRET)'),
  stateDir: z.string().min(1),
  topicPrefix: TopicPrefix.default(DEFAULT_TOPIC_PREFIX),
  dockerSocket: z.string().optional(),
  allowedHostPaths: z.array(z.string().regex(/^\//, 'host paths must be absolute')).default([]),
  /** Host directory holding each workload's update-lock directory (default <stateDir>/locks). It must be a host path the Docker engine can bind. */
  locksDir: z.string().regex(/^\//, 'the locks directory must be an absolute path').optional(),
  /** How often a deferred update re-checks its update locks. */
  lockPollMs: z.number().int().min(100).default(2000),
  /** Telemetry interval; 0 turns telemetry off. */
  telemetryIntervalSeconds: z.number().int().min(0).default(300),
  keepaliveSeconds: z.number().int().min(5).max(3600).default(60),
  connectTimeoutMs: z.number().int().min(1000).default(15_000),
  reconnectBaseMs: z.number().int().min(10).default(1000),
  reconnectCapMs: z.number().int().min(100).default(60_000),
  watchdogSeconds: z.number().int().min(1).default(300),
  /** After the SUBACK, wait this long for queued and retained desired documents before applying the newest. */
  settleMs: z.number().int().min(0).default(300),
  /** Apply anyway this long after a connect when no SUBACK came. */
  maxSettleMs: z.number().int().min(0).default(5000),
  resyncIntervalSeconds: z.number().int().min(0).default(60),
  retryBaseMs: z.number().int().min(10).default(2000),
  retryCapMs: z.number().int().min(100).default(300_000),
  maxDesiredBytes: z.number().int().min(1024).max(LIMITS.desiredMaxBytes).default(LIMITS.desiredMaxBytes),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

export function parseAgentConfig(input: unknown): Readonly<AgentConfig> {
  const parsed = AgentConfig.safeParse(input);
  if (!parsed.success) {
    throw new OutpostError('CONFIG_INVALID', `invalid agent configuration: ${formatIssues(parsed.error.issues, 20)}`);
  }
  return Object.freeze(parsed.data);
}
