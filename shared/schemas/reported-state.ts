import { z } from 'zod';
import { DeviceId, WorkloadName } from '../device-id.js';
import { ErrorCodeString, ProtocolVersion, StateVersion, Timestamp } from './common.js';

export const WORKLOAD_STATES = [
  'pending',
  'pulling',
  'starting',
  'running',
  'failed',
  'stopped',
  'removed',
  'deferred',
  'rolled-back',
] as const;
export const WorkloadState = z.enum(WORKLOAD_STATES);
export type WorkloadState = z.infer<typeof WorkloadState>;

export const DEVICE_PHASES = ['idle', 'applying', 'deferred', 'converged', 'degraded', 'failed', 'rolled-back'] as const;
export const DevicePhase = z
  .enum(DEVICE_PHASES)
  .describe(
    'idle: no desired state yet; applying: working towards desired.applyingVersion; deferred: downloaded, waiting ' +
      'for its apply window or an update lock (see deferred); converged: every workload of appliedVersion runs; ' +
      'degraded: appliedVersion was applied but a workload is not running; failed: the last attempt failed (see ' +
      'errors) and the previous workloads were left as they were; rolled-back: the new version was unhealthy and ' +
      'the previous one runs again (see rollback)',
  );
export type DevicePhase = z.infer<typeof DevicePhase>;

export const WorkloadStatus = z.strictObject({
  state: WorkloadState,
  reason: z.string().max(1024).describe('Why the workload is in this state, human-readable'),
  image: z.string().max(512).describe('Image reference from the desired state'),
  imageId: z.string().max(128).nullable().describe('Local image id (sha256:...) the container runs'),
  imageDigest: z.string().max(600).nullable().describe('Registry digest (repo@sha256:...) of the running image, when known'),
  containerId: z.string().max(128).nullable(),
  specHash: z.string().max(128).nullable().describe('Hash of the workload spec the container was created from'),
  exitCode: z.number().int().nullable().default(null),
  restartCount: z.number().int().min(0).default(0),
  startedAt: Timestamp.nullable().default(null),
});
export type WorkloadStatus = z.infer<typeof WorkloadStatus>;

export const ReportedError = z.strictObject({
  code: ErrorCodeString,
  message: z.string().max(2048),
  at: Timestamp,
  version: StateVersion.nullable().default(null),
  workload: WorkloadName.nullable().default(null),
});
export type ReportedError = z.infer<typeof ReportedError>;

export const ReportedState = z
  .strictObject({
    protocol: ProtocolVersion,
    deviceId: DeviceId,
    reportedAt: Timestamp,
    agent: z.strictObject({
      version: z.string().max(64),
      bootId: z.string().max(128).describe('Changes on every device boot'),
      startedAt: Timestamp.describe('When this agent process started'),
    }),
    desired: z.strictObject({
      seenVersion: StateVersion.nullable().describe('Highest valid desired version received'),
      appliedVersion: StateVersion.nullable().describe('Last desired version fully applied'),
      applyingVersion: StateVersion.nullable().describe('Version being worked on, when phase is applying or failed'),
    }),
    phase: DevicePhase,
    workloads: z.record(WorkloadName, WorkloadStatus),
    errors: z.array(ReportedError).max(20).describe('Most recent errors of the current attempt, newest last'),
    deferred: z
      .strictObject({
        version: StateVersion,
        reason: z.enum(['window', 'locked']),
        until: Timestamp.nullable().describe('When the window opens (reason window)'),
        workloads: z.array(WorkloadName).describe('Workloads holding their update lock (reason locked)'),
      })
      .nullable()
      .default(null)
      .describe('Why applyingVersion waits, if it does'),
    rollback: z
      .strictObject({
        version: StateVersion.describe('The version that was rolled back'),
        workload: WorkloadName,
        reason: z.string().max(2048),
        exitCode: z.number().int().nullable(),
        logs: z.string().max(8192).describe('Last log lines of the failed container'),
        health: z.string().max(4096).nullable().describe('Last health-check output'),
        at: Timestamp,
        repullNeeded: z.boolean().describe('delete-then-download: the previous image had to be pulled again'),
      })
      .nullable()
      .default(null)
      .describe('Last automatic rollback, until a newer version applies'),
    rejected: z
      .strictObject({
        version: StateVersion.nullable(),
        code: ErrorCodeString,
        reason: z.string().max(2048),
        at: Timestamp,
      })
      .nullable()
      .describe('Last desired payload the agent refused, if any since the last applied version'),
    stale: z
      .strictObject({
        version: StateVersion,
        expiredAt: Timestamp,
      })
      .nullable()
      .optional()
      .describe('The document the device runs has expired and no fresh one arrived: it keeps running it (signed fleets)'),
    clock: z
      .strictObject({
        skewMs: z.number().int().describe("The device's clock minus the controller's, in ms: +3600000 is an hour ahead"),
        rttMs: z.number().int().min(0).nullable().describe('Round trip of the measurement (null: one-way, error up to the transport delay)'),
        measuredAt: Timestamp.describe("When it was measured, in the controller's time"),
      })
      .nullable()
      .optional()
      .describe(
        "The device's clock against the controller's (DD-052), from the last ControllerTime message; null before the first. " +
          "Once it is known, every timestamp in this document is in the controller's time.",
      ),
  })
  .describe('What a device runs. Published retained, QoS 1 on .../devices/{id}/reported');
export type ReportedState = z.infer<typeof ReportedState>;
