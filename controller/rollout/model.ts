import { z } from 'zod';
import { DeviceId } from '../../shared/device-id.js';
import { StateVersion, Timestamp } from '../../shared/schemas/common.js';
import { LabelKey, parseSelector } from '../desired-state/selector.js';
import { DeploymentTarget } from '../model/deployment.js';
import { MaintenanceWindow } from '../model/maintenance-window.js';
import { AppName, ReleaseVersion } from '../model/names.js';

export { MaintenanceWindow };

/** At most 56 chars, so the rollout's own deployment id `rollout-<id>` is a valid deployment id (≤ 64). */
export const RolloutId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,55}$/, 'rollout ids: 1-56 chars of a-z 0-9 -, starting with a letter or digit');

const SelectorText = z
  .string()
  .min(1)
  .max(4096)
  .superRefine((text, ctx) => {
    try {
      parseSelector(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  });

/** "N%" with 1 ≤ N ≤ 100 (decimals allowed, e.g. "2.5%"). */
export const WavePercent = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3})?%$/, 'wave percentages look like "5%" or "2.5%"')
  .refine((v) => {
    const n = Number.parseFloat(v);
    return n >= 1 && n <= 100;
  }, 'wave percentages must be between 1% and 100%');

export const WaveSize = z.union([z.number().int().min(1).max(1_000_000), WavePercent]);
export type WaveSize = z.infer<typeof WaveSize>;

/**
 * `sizes`: each entry is the CUMULATIVE number of non-canary devices moved
 * once that wave is done (hawkBit-style `1,5%,25%,100%`); percentages are of
 * the non-canary total, rounded up. An implicit final 100% moves the rest.
 * `exponential`: wave k holds ceil(initial × factor^k) devices (per wave).
 */
export const WavePolicy = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('sizes'), sizes: z.array(WaveSize).min(1).max(100) }),
  z.strictObject({
    kind: z.literal('exponential'),
    initial: z.number().int().min(1).max(1_000_000),
    factor: z.number().gt(1).max(100),
  }),
]);
export type WavePolicy = z.infer<typeof WavePolicy>;

export const CanaryPolicy = z.strictObject({
  devices: z.array(DeviceId).max(1000).optional(),
  selector: SelectorText.optional(),
});

const WindowName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/, 'window names must be valid label values');

export const RolloutSpec = z
  .strictObject({
    id: RolloutId.optional(),
    app: AppName,
    toVersion: ReleaseVersion,
    target: DeploymentTarget,
    waves: WavePolicy,
    canary: CanaryPolicy.optional(),
    /** At most this many devices notified per minute (sliding minute). */
    ratePerMinute: z.number().int().min(1).max(1_000_000).optional(),
    successThresholdPct: z.number().min(0).max(100).default(100),
    /** 0 = any failure trips, once the minimum sample is reached. */
    maxFailurePct: z.number().min(0).max(100).default(0),
    /** Devices of a wave that must be done (succeeded, failed, timed out) before failures can trip (AWS minNumberOfExecutedThings). */
    minSampleSize: z.number().int().min(1).max(1_000_000).default(1),
    deviceTimeoutSeconds: z.number().int().min(1).max(30 * 86_400).default(1800),
    failureAction: z.enum(['pause', 'rollback']).default('pause'),
    startAt: Timestamp.optional(),
    /** Rollout-wide window; a device's named window (below) wins. */
    window: MaintenanceWindow.optional(),
    windows: z.record(WindowName, MaintenanceWindow).default({}),
    /** A device labelled `<deviceWindowLabel>=<name>` uses `windows[name]`. */
    deviceWindowLabel: LabelKey.default('maintenance-window'),
    /** Above ordinary deployments (default 0), so the rollout's release wins on moved devices. */
    priority: z.number().int().min(-1_000_000).max(1_000_000).default(1_000_000),
  })
  .superRefine((spec, ctx) => {
    if (spec.target.kind === 'selector') {
      try {
        parseSelector(spec.target.selector);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['target', 'selector'], message: err instanceof Error ? err.message : String(err) });
      }
    }
  });
export type RolloutSpec = z.infer<typeof RolloutSpec>;
export type RolloutSpecInput = z.input<typeof RolloutSpec>;

export const DEVICE_ROLLOUT_STATUSES = ['pending', 'notified', 'applying', 'succeeded', 'failed', 'timed-out'] as const;
export const DeviceRolloutStatus = z.enum(DEVICE_ROLLOUT_STATUSES);
export type DeviceRolloutStatus = z.infer<typeof DeviceRolloutStatus>;

export const DeviceRolloutState = z.strictObject({
  deviceId: DeviceId,
  wave: z.number().int().min(0),
  status: DeviceRolloutStatus,
  notifiedAt: Timestamp.optional(),
  /** Desired-state version the device was moved to (filled in by the worker that published it). */
  version: StateVersion.optional(),
  /** When success was observed; for a timed-out device, its late success (`lateSuccess`). */
  succeededAt: Timestamp.optional(),
  lateSuccess: z.boolean().optional(),
  reason: z.string().max(1024).optional(),
});
export type DeviceRolloutState = z.infer<typeof DeviceRolloutState>;

export const ROLLOUT_PHASES = ['scheduled', 'running', 'paused', 'succeeded', 'aborted', 'rolling-back', 'rolled-back'] as const;
export const RolloutPhase = z.enum(ROLLOUT_PHASES);
export type RolloutPhase = z.infer<typeof RolloutPhase>;

export const RolloutWave = z.strictObject({
  index: z.number().int().min(0),
  devices: z.array(DeviceId),
  /** The canary wave (wave 0 when the spec names canaries) takes no late joiners. */
  canary: z.boolean().optional(),
  startedAt: Timestamp.optional(),
  /** Set once, with outcome: a wave is never evaluated twice. */
  evaluatedAt: Timestamp.optional(),
  outcome: z.enum(['passed', 'failed']).optional(),
  /** Why it passed or failed; "advanced by hand" for manual advances. */
  reason: z.string().max(1024).optional(),
  manual: z.boolean().optional(),
});
export type RolloutWave = z.infer<typeof RolloutWave>;

export const RolloutState = z.strictObject({
  id: RolloutId,
  spec: RolloutSpec,
  phase: RolloutPhase,
  currentWave: z.number().int().min(0),
  waves: z.array(RolloutWave),
  devices: z.record(DeviceId, DeviceRolloutState),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  pausedReason: z.string().max(1024).optional(),
  /** Bumped on every change: the store compares-and-sets on it. */
  revision: z.number().int().min(1),
});
export type RolloutState = z.infer<typeof RolloutState>;

/** What the worker observes of one device (from its reported state). */
export interface ObservedDevice {
  /** reported.desired.appliedVersion */
  appliedVersion: number | null;
  /** reported.desired.seenVersion; when absent, appliedVersion stands in. */
  seenVersion?: number | null;
  /** reported.phase: idle | applying | deferred | converged | degraded | failed | rolled-back */
  phase: string;
  /**
   * The version a failed / rolled-back phase is about (desired.applyingVersion,
   * or rollback.version); when absent, seenVersion stands in.
   */
  phaseVersion?: number | null;
  /** Every workload of appliedVersion runs (and is healthy, once health checks exist). */
  allRunning: boolean;
  online: boolean;
}

export interface TargetDevice {
  id: string;
  labels: Readonly<Record<string, string>>;
}
