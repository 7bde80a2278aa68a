import { z } from 'zod';
import type { AppResolution } from '../../controller/desired-state/compose-desired.js';
import type { Deployment } from '../../controller/model/deployment.js';
import type { Device } from '../../controller/model/device.js';
import type { Release } from '../../controller/model/release.js';
import type { CommandView } from '../../controller/commands/command-record.js';
import type { Telemetry } from '../../shared/schemas/telemetry.js';
import type { DeploymentDetail, DeviceDetail, DeviceSummary, FleetSummary } from '../../controller/views.js';

/**
 * What the CLI needs from each API answer. Loose objects: fields the CLI does
 * not use pass through untouched (so `--json` prints the whole answer) and a
 * newer API adding fields never breaks an older CLI.
 */
const StringMap = z.record(z.string(), z.string());
const Version = z.number().int().nullable();

export const ApiErrorBody = z.object({
  error: z.looseObject({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export const DeviceBody = z.looseObject({
  id: z.string(),
  labels: StringMap,
  createdAt: z.string(),
  overrides: z.looseObject({
    env: StringMap,
    workloadEnv: z.record(z.string(), StringMap),
    pins: StringMap,
  }),
});
export type DeviceBody = z.infer<typeof DeviceBody>;

export const DeviceSummaryBody = z.looseObject({
  id: z.string(),
  labels: StringMap,
  createdAt: z.string(),
  online: z.boolean(),
  lastSeen: z.string().nullable(),
  phase: z.string(),
  desiredVersion: Version,
  appliedVersion: Version,
  inSync: z.boolean(),
  pending: z.boolean().optional(),
  decommissioning: z.boolean().optional(),
});
export type DeviceSummaryBody = z.infer<typeof DeviceSummaryBody>;

export const AppResolutionBody = z.looseObject({
  app: z.string(),
  deploymentId: z.string(),
  version: z.string(),
  source: z.string(),
  shadowed: z.array(z.string()),
});

const WorkloadStatusBody = z.looseObject({ state: z.string(), reason: z.string(), image: z.string() });
const ReportedErrorBody = z.looseObject({ code: z.string(), message: z.string(), at: z.string(), workload: z.string().nullable().optional() });

export const ReportedBody = z.looseObject({
  reportedAt: z.string(),
  phase: z.string(),
  desired: z.looseObject({ seenVersion: Version, appliedVersion: Version, applyingVersion: Version }),
  workloads: z.record(z.string(), WorkloadStatusBody),
  errors: z.array(ReportedErrorBody),
  rejected: z.looseObject({ version: Version, code: z.string(), reason: z.string(), at: z.string() }).nullable(),
  deferred: z.looseObject({ version: z.number(), reason: z.string(), until: z.string().nullable(), workloads: z.array(z.string()) }).nullable().optional(),
  clock: z.looseObject({ skewMs: z.number(), rttMs: z.number().nullable(), measuredAt: z.string() }).nullable().optional(),
});

export const DesiredBody = z.looseObject({
  version: z.number().int(),
  issuedAt: z.string(),
  workloads: z.record(z.string(), z.looseObject({ image: z.string() })),
  provenance: z.record(z.string(), z.looseObject({ deployment: z.string().optional(), release: z.string().optional() })).optional(),
  apply: z
    .looseObject({ after: z.string().optional(), window: z.looseObject({ cron: z.string(), durationMinutes: z.number(), timezone: z.string() }).optional() })
    .optional(),
  force: z.boolean().optional(),
});

export const DeviceDetailBody = DeviceSummaryBody.extend({
  overrides: DeviceBody.shape.overrides,
  apps: z.array(AppResolutionBody),
  problems: z.array(z.string()),
  desired: DesiredBody.nullable(),
  reported: ReportedBody.nullable(),
  presence: z.looseObject({ status: z.string(), at: z.string() }).nullable(),
  decommission: z.lazy(() => DecommissionBody).nullable().optional(),
});
export type DeviceDetailBody = z.infer<typeof DeviceDetailBody>;

export const DeviceEventBody = z.looseObject({
  at: z.string(),
  type: z.string(),
  level: z.string(),
  message: z.string(),
  version: Version.optional(),
  workload: z.string().nullable().optional(),
  code: z.string().nullable().optional(),
});
export type DeviceEventBody = z.infer<typeof DeviceEventBody>;

export const ReleaseBody = z.looseObject({
  app: z.string(),
  version: z.string(),
  workloads: z.record(z.string(), z.looseObject({ image: z.string() })),
  notes: z.string().optional(),
  createdAt: z.string(),
  digest: z.string(),
});
export type ReleaseBody = z.infer<typeof ReleaseBody>;

const TargetBody = z.union([
  z.looseObject({ kind: z.literal('devices'), devices: z.array(z.string()) }),
  z.looseObject({ kind: z.literal('selector'), selector: z.string() }),
]);

export const DeploymentBody = z.looseObject({
  id: z.string(),
  app: z.string(),
  version: z.string(),
  target: TargetBody,
  priority: z.number(),
  /** Absent from older APIs and from deployments without a policy (DD-040). */
  apply: z
    .looseObject({
      window: z.looseObject({ cron: z.string(), durationMinutes: z.number(), timezone: z.string() }).optional(),
      after: z.string().optional(),
      force: z.boolean().optional(),
    })
    .optional(),
  createdAt: z.string(),
});
export type DeploymentBody = z.infer<typeof DeploymentBody>;

export const DeploymentDetailBody = DeploymentBody.extend({
  targeted: z.array(z.string()),
  applied: z.array(z.string()),
  shadowed: z.array(z.string()),
  pinned: z.array(z.string()),
  running: z.array(z.string()),
});
export type DeploymentDetailBody = z.infer<typeof DeploymentDetailBody>;

/** Whether a change is on the broker yet (controller/operations/delivery.ts); absent from older APIs. */
export const DeliveryBody = z.looseObject({
  state: z.string(),
  published: z.number(),
  pending: z.number(),
  pendingDevices: z.array(z.string()),
  reason: z.string().nullable(),
});
export type DeliveryBody = z.infer<typeof DeliveryBody>;

export const DecommissionBody = z.looseObject({
  deviceId: z.string(),
  state: z.string(),
  requestedAt: z.string(),
  wipe: z.boolean(),
  remaining: z.array(z.string()),
  wiped: z.string(),
  attempts: z.number(),
  lastError: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type DecommissionBody = z.infer<typeof DecommissionBody>;

/** How many desired documents a change published: the contract says a count; a list of {deviceId, version} is counted too. */
export const PublishedBody = z.union([z.number().int().min(0), z.array(z.unknown())]);

export function publishedCount(published: z.infer<typeof PublishedBody>): number {
  return typeof published === 'number' ? published : published.length;
}

export const FleetSummaryBody = z.looseObject({
  devices: z.number(),
  online: z.number(),
  offline: z.number(),
  byPhase: z.record(z.string(), z.number()),
  inSync: z.number(),
  lagging: z.number().optional(),
  byRelease: z.record(z.string(), z.looseObject({ desired: z.number(), running: z.number() })),
  pending: z.number().optional(),
  pendingDevices: z.array(z.string()).optional(),
  decommissioning: z.array(z.string()).optional(),
  deployments: z.number(),
  releases: z.number(),
});
export type FleetSummaryBody = z.infer<typeof FleetSummaryBody>;

export const CommandAnswerBody = z.looseObject({
  status: z.string(),
  ok: z.boolean(),
  at: z.string(),
  output: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
  code: z.string().nullable(),
});

export const CommandViewBody = z.looseObject({
  command: z.looseObject({ id: z.string(), deviceId: z.string(), type: z.string(), workload: z.string().optional(), issuedAt: z.string(), expiresAt: z.string() }),
  status: z.string(),
  sentAt: z.string(),
  expiresAt: z.string(),
  online: z.boolean(),
  message: z.string(),
  result: CommandAnswerBody.nullable(),
});
export type CommandViewBody = z.infer<typeof CommandViewBody>;

export const TelemetryBody = z.looseObject({
  deviceId: z.string(),
  at: z.string(),
  uptimeSeconds: z.number(),
  agentUptimeSeconds: z.number(),
  cpu: z.looseObject({ cores: z.number(), loadAverage1m: z.number(), usagePct: z.number().nullable() }),
  memory: z.looseObject({ totalBytes: z.number(), availableBytes: z.number() }),
  disk: z.looseObject({ path: z.string(), totalBytes: z.number(), freeBytes: z.number() }),
  containers: z.array(z.looseObject({ workload: z.string(), state: z.string(), restartCount: z.number() })),
  mqtt: z.looseObject({ bytesIn: z.number(), bytesOut: z.number() }),
});
export type TelemetryBody = z.infer<typeof TelemetryBody>;

/**
 * Compile-time contract check: every value the controller's views can hold is
 * accepted by the CLI's schema. A view change that would make the CLI reject
 * real answers fails `tsc` here instead of at an operator's terminal.
 */
type Known<T> = T extends readonly (infer E)[]
  ? Known<E>[]
  : T extends object
    ? { [K in keyof T as string extends K ? never : K]: Known<T[K]> }
    : T;
type Accepts<Schema, View extends Known<Schema>> = View;
export type ContractChecks = [
  Accepts<DeviceBody, Device>,
  Accepts<DeviceSummaryBody, DeviceSummary>,
  Accepts<DeviceDetailBody, DeviceDetail>,
  Accepts<z.infer<typeof AppResolutionBody>, AppResolution>,
  Accepts<ReleaseBody, Release>,
  Accepts<DeploymentBody, Deployment>,
  Accepts<DeploymentDetailBody, DeploymentDetail>,
  Accepts<FleetSummaryBody, FleetSummary>,
  Accepts<CommandViewBody, CommandView>,
  Accepts<TelemetryBody, Telemetry>,
];
