import { z } from 'zod';
import { DeviceId } from '../../shared/device-id.js';
import { StateVersion } from '../../shared/schemas/common.js';
import { DeviceRolloutState } from './model.js';

/**
 * What one planning pass asks for. The planner emits them in order; the
 * reducer (apply-actions.ts) applies them, ignoring any whose effect is
 * already in the state, so a job that runs twice changes nothing more.
 * Schemas because actions cross into BullMQ job data.
 */
const WaveIndex = z.number().int().min(0);

/** Scheduled → running: start wave 0 (startAt reached, or none). */
export const StartAction = z.strictObject({ kind: z.literal('start') });

/**
 * Move these pending devices of a started wave to the rollout's release. The
 * planner leaves `versions` out; the worker fills in the desired-state version
 * it published per device before handing the action to the reducer (or
 * re-applies the action with versions later: a missing version is the only
 * thing the reducer adds to an already-notified device).
 */
export const NotifyAction = z.strictObject({
  kind: z.literal('notify'),
  wave: WaveIndex,
  deviceIds: z.array(DeviceId),
  versions: z.record(DeviceId, StateVersion).optional(),
});

/** Status changes observed from device reports, or timeouts. Statuses only move forward. */
export const MarkAction = z.strictObject({ kind: z.literal('mark'), updates: z.array(DeviceRolloutState) });

/** The current wave passed: record it, start `toWave` (= current + 1). */
export const AdvanceAction = z.strictObject({ kind: z.literal('advance'), toWave: WaveIndex, reason: z.string().max(1024).optional() });

/** The last wave passed: the rollout succeeded. */
export const FinishAction = z.strictObject({
  kind: z.literal('finish'),
  phase: z.literal('succeeded'),
  reason: z.string().max(1024).optional(),
});

/** Wave `wave` failed its thresholds: record it, then pause or roll back. */
export const FailAction = z.strictObject({
  kind: z.literal('fail'),
  wave: WaveIndex,
  action: z.enum(['pause', 'rollback']),
  reason: z.string().max(1024),
});

/** Devices that joined the target during the rollout; `wave` may be one past the last (a new final wave). */
export const PlaceAction = z.strictObject({ kind: z.literal('place'), wave: WaveIndex, deviceIds: z.array(DeviceId) });

/** Pending devices that left the target: they never received anything and leave the rollout. */
export const DropAction = z.strictObject({ kind: z.literal('drop'), deviceIds: z.array(DeviceId) });

export const RolloutAction = z.discriminatedUnion('kind', [
  StartAction,
  NotifyAction,
  MarkAction,
  AdvanceAction,
  FinishAction,
  FailAction,
  PlaceAction,
  DropAction,
]);
export type RolloutAction = z.infer<typeof RolloutAction>;
export type StartAction = z.infer<typeof StartAction>;
export type NotifyAction = z.infer<typeof NotifyAction>;
export type MarkAction = z.infer<typeof MarkAction>;
export type AdvanceAction = z.infer<typeof AdvanceAction>;
export type FinishAction = z.infer<typeof FinishAction>;
export type FailAction = z.infer<typeof FailAction>;
export type PlaceAction = z.infer<typeof PlaceAction>;
export type DropAction = z.infer<typeof DropAction>;
