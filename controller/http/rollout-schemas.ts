import { z } from 'zod';
import { DeviceId } from '../../shared/device-id.js';
import { StateVersion, Timestamp } from '../../shared/schemas/common.js';
import { RolloutWaveCounts } from '../../shared/schemas/rollout-status.js';
import { DEVICE_ROLLOUT_STATUSES, ROLLOUT_PHASES, RolloutId, RolloutSpec } from '../rollout/model.js';

/**
 * Request and response bodies of the rollout routes (kept apart from
 * schemas.ts, which holds the rest of the API, only for size).
 */
function component<S extends z.ZodType>(schema: S, id: string): S {
  return schema.meta({ id });
}

export const RolloutParams = z.strictObject({ id: RolloutId });
export const CreateRolloutBody = component(RolloutSpec, 'RolloutSpec');

export const RolloutCounts = component(RolloutWaveCounts, 'RolloutCounts');

const WaveShape = z.strictObject({
  index: z.number().int().min(0),
  size: z.number().int().min(0),
  canary: z.boolean(),
  startedAt: Timestamp.nullable(),
  evaluatedAt: Timestamp.nullable().describe('Set once: a wave is never evaluated twice'),
  outcome: z.enum(['passed', 'failed']).nullable(),
  reason: z.string().nullable().describe('Why the wave passed or failed'),
  manual: z.boolean().describe('Advanced by hand'),
  counts: RolloutCounts,
});

const SummaryShape = z.strictObject({
  id: RolloutId,
  app: z.string(),
  toVersion: z.string(),
  phase: z.enum(ROLLOUT_PHASES),
  currentWave: z.number().int().min(0),
  reason: z.string().nullable().describe('Why the rollout is paused, or the verdict of the last evaluated wave'),
  deploymentId: z.string().describe('The deployment the rollout moves devices into (rollout-<id>)'),
  totals: RolloutCounts,
  lateSuccesses: z.number().int().min(0).describe('Timed-out devices that succeeded later'),
  waves: z.array(WaveShape),
  revision: z.number().int().min(1),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const RolloutSummary = component(SummaryShape.describe('A rollout with per-wave counts'), 'RolloutSummary');

export const RolloutDeviceView = component(
  z
    .strictObject({
      deviceId: DeviceId,
      wave: z.number().int().min(0),
      status: z.enum(DEVICE_ROLLOUT_STATUSES).describe('With the per-device timeout applied at the time of the request'),
      reason: z.string().nullable(),
      version: StateVersion.nullable().describe('Desired-state version the device was moved to'),
      notifiedAt: Timestamp.nullable(),
      succeededAt: Timestamp.nullable(),
      lateSuccess: z.boolean().describe('Timed out, then succeeded'),
    })
    .describe('One device of a rollout'),
  'RolloutDevice',
);

export const RolloutDetail = component(
  SummaryShape.extend({
    spec: RolloutSpec,
    waves: z.array(WaveShape.extend({ devices: z.array(DeviceId) })),
    devices: z.array(RolloutDeviceView).describe('Every device of the rollout, in wave order'),
  }).describe('A rollout with its spec, waves and per-device status'),
  'RolloutDetail',
);

export const RolloutList = z.strictObject({ rollouts: z.array(RolloutSummary) }).describe('Rollouts, newest first');
export const RolloutEnvelope = z.strictObject({ rollout: RolloutDetail }).describe('The rollout');

export type RolloutSummary = z.infer<typeof RolloutSummary>;
export type RolloutDetail = z.infer<typeof RolloutDetail>;
export type RolloutDeviceView = z.infer<typeof RolloutDeviceView>;
