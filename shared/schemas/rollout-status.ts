import { z } from 'zod';
import { ProtocolVersion, Timestamp } from './common.js';

/** Same vocabulary as the controller's rollout model (a compile-time check there keeps them equal). */
export const ROLLOUT_STATUS_PHASES = ['scheduled', 'running', 'paused', 'succeeded', 'aborted', 'rolling-back', 'rolled-back'] as const;

const Count = z.number().int().min(0);

export const RolloutWaveCounts = z
  .strictObject({
    pending: Count.describe('Not notified yet (waiting for its wave, its maintenance window or the rate limit)'),
    notified: Count.describe('Moved to the new release; the device has not reported seeing it yet'),
    applying: Count.describe('The device has seen the new version and works on it'),
    succeeded: Count.describe('The device runs the new version with every workload running'),
    failed: Count.describe('The device reported the new version failed (e.g. rolled back by its health gate)'),
    timedOut: Count.describe('No success within the per-device timeout (a late success is still recorded)'),
  })
  .describe('Devices per rollout status');
export type RolloutWaveCounts = z.infer<typeof RolloutWaveCounts>;

export const RolloutWaveStatus = z.strictObject({
  index: z.number().int().min(0),
  size: Count.describe('Devices in the wave'),
  canary: z.boolean().describe('The canary wave (named canary devices or selector)'),
  startedAt: Timestamp.nullable(),
  evaluatedAt: Timestamp.nullable().describe('When the wave passed or failed; set once'),
  outcome: z.enum(['passed', 'failed']).nullable(),
  reason: z.string().max(1024).nullable().describe('Why the wave passed or failed'),
  counts: RolloutWaveCounts,
});
export type RolloutWaveStatus = z.infer<typeof RolloutWaveStatus>;

export const RolloutStatus = z
  .strictObject({
    protocol: ProtocolVersion,
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,55}$/).describe('Rollout id, as in the topic'),
    app: z.string().max(64),
    toVersion: z.string().max(64).describe('The release the rollout moves devices to'),
    phase: z
      .enum(ROLLOUT_STATUS_PHASES)
      .describe(
        'scheduled: waiting for startAt; running: moving devices wave by wave; paused: by hand or by a failed wave; ' +
          'succeeded: the last wave passed; aborted: stopped, moved devices stay; rolling-back / rolled-back: moved ' +
          'devices go back to their previous release',
      ),
    currentWave: z.number().int().min(0),
    waves: z.array(RolloutWaveStatus),
    totals: RolloutWaveCounts.describe('Sums over all waves'),
    lateSuccesses: Count.describe('Timed-out devices that succeeded later'),
    reason: z.string().max(1024).nullable().describe('Why the rollout is paused, or the verdict of the last evaluated wave'),
    revision: z.number().int().min(1).describe('Increases with every change of the rollout'),
    updatedAt: Timestamp,
  })
  .describe('State of one rollout, for integrating platforms. Published retained, QoS 1 on .../rollouts/{id}/status by the controller');
export type RolloutStatus = z.infer<typeof RolloutStatus>;
