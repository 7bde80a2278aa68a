import { z } from 'zod';
import { DeviceId, WorkloadName } from '../device-id.js';
import { ProtocolVersion, StateVersion, Timestamp } from './common.js';
import { WorkloadMap } from './workload.js';

export const Provenance = z.strictObject({
  deployment: z.string().max(128).optional().describe('Deployment id that selected this workload'),
  release: z.string().max(192).optional().describe('Release as app@version'),
  rollout: z.string().max(128).optional(),
});

export type Provenance = z.infer<typeof Provenance>;

/**
 * An Ed25519 signature over the RFC 8785 canonical form of the document
 * without `signature` (shared/desired-signature.ts, protocol §6.2.1).
 */
export const Signature = z.strictObject({
  alg: z.string().max(32).describe('ed25519'),
  keyId: z.string().max(256).describe('Which key signed: ed25519:<first 16 hex of SHA-256 of the raw public key>'),
  value: z.string().max(8192).describe('The signature, base64url'),
});

/** A signing key the device should trust, announced inside a signed document (key rotation). */
export const TrustedKey = z.strictObject({
  keyId: z.string().regex(/^ed25519:[0-9a-f]{16}$/, 'key ids look like ed25519:<16 hex digits>'),
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'an Ed25519 public key: 32 bytes, base64url'),
});
export type TrustedKey = z.infer<typeof TrustedKey>;

/** Recurring maintenance window: opens at each cron match (in its timezone) for durationMinutes. */
export const MaintenanceWindow = z.strictObject({
  cron: z
    .string()
    .regex(/^\S+( \S+){4}$/, 'cron must have 5 fields: minute hour day-of-month month day-of-week')
    .max(256),
  durationMinutes: z.number().int().min(1).max(1440),
  timezone: z.string().min(1).max(64).describe('IANA timezone, e.g. Europe/Berlin'),
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

/**
 * When the agent may apply this version. It downloads at once either way;
 * it replaces containers only after `after` and inside `window`.
 */
export const ApplyPolicy = z.strictObject({
  after: Timestamp.optional(),
  window: MaintenanceWindow.optional(),
});

/** Registry credentials for private pulls, keyed by registry host[:port]. Never cached on disk by the agent. */
/** A registry as Docker names it in an image reference: host[:port] (docker.io for Docker Hub). */
export const REGISTRY_HOST_PATTERN = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;

export const RegistryCredentials = z.record(
  z.string().regex(REGISTRY_HOST_PATTERN, 'registry keys are host[:port]'),
  z.strictObject({ username: z.string().min(1).max(256), password: z.string().min(1).max(4096) }),
);

export const DesiredState = z
  .strictObject({
    protocol: ProtocolVersion,
    deviceId: DeviceId,
    version: StateVersion,
    issuedAt: Timestamp,
    expiresAt: Timestamp.optional().describe(
      'Signed documents: after this instant an agent refuses the document, and one that runs it reports itself stale (freeze attacks). The controller re-signs well before.',
    ),
    workloads: WorkloadMap.describe('Workloads keyed by name; a name absent here is removed from the device'),
    provenance: z.record(WorkloadName, Provenance).default({}),
    signature: z
      .union([Signature, z.array(Signature).min(1).max(4)])
      .nullable()
      .default(null)
      .describe('null for unsigned fleets; one signature, or one per key while a signing key is being rotated'),
    trust: z
      .strictObject({ keys: z.array(TrustedKey).min(1).max(8) })
      .optional()
      .describe('The signing keys the device trusts from now on; honoured only in a document signed by a key it trusts already'),
    apply: ApplyPolicy.optional(),
    force: z
      .boolean()
      .default(false)
      .describe('Apply even while a workload holds its update lock'),
    registryAuth: RegistryCredentials.optional(),
  })
  .describe('The full state a device should be in. Published retained, QoS 1 on .../devices/{id}/desired');
export type DesiredState = z.infer<typeof DesiredState>;
export type DesiredStateInput = z.input<typeof DesiredState>;
