import { z } from 'zod';
import { DeviceId } from '../../shared/device-id.js';

/** What is left to do, in order (DD-022). */
export const DECOMMISSION_STEPS = ['wipe', 'clear-retained', 'purge-session', 'forget'] as const;
export type DecommissionStep = (typeof DECOMMISSION_STEPS)[number];

/**
 * The tombstone of a device being decommissioned, and for a day after it
 * was forgotten (so a retried DELETE answers like the first one did). While
 * it is `pending`, no desired document is stored for the device and no
 * registry change is accepted for it.
 */
export const DecommissionRecord = z.strictObject({
  deviceId: DeviceId,
  state: z.enum(['pending', 'done']),
  requestedAt: z.iso.datetime(),
  /** Publish an empty desired state first and wait for the device to remove its workloads. */
  wipe: z.boolean(),
  wipeTimeoutSeconds: z.number().int().min(1).max(86_400),
  remaining: z.array(z.enum(DECOMMISSION_STEPS)),
  /** Version of the empty desired document the wipe published. */
  wipeVersion: z.number().int().min(1).nullable(),
  /** confirmed: the device reported it runs nothing; unconfirmed: it did not say so in time. */
  wiped: z.enum(['not-requested', 'pending', 'confirmed', 'unconfirmed']),
  attempts: z.number().int().min(0),
  lastError: z.string().max(2048).nullable(),
  finishedAt: z.iso.datetime().nullable(),
});
export type DecommissionRecord = z.infer<typeof DecommissionRecord>;
