import { z } from 'zod';
import { DeviceId } from '../device-id.js';
import { ProtocolVersion, Timestamp } from './common.js';

/**
 * The controller's clock, for one device (DD-052), on .../devices/{id}/clock:
 * QoS 0, not retained, so it is never queued for an offline session nor kept
 * by the broker; a copy that arrives is fresh (transport delay only). The
 * controller sends one in answer to every `online` presence it stores, echoing
 * that presence's epoch, so the agent can also measure the round trip.
 */
export const ControllerTime = z
  .strictObject({
    protocol: ProtocolVersion,
    deviceId: DeviceId,
    at: Timestamp.describe("The controller's clock when it sent this message"),
    epoch: z
      .number()
      .int()
      .min(1)
      .max(Number.MAX_SAFE_INTEGER)
      .nullable()
      .default(null)
      .describe('The epoch of the online presence this answers, if it answers one'),
  })
  .describe("The controller's clock (QoS 0, not retained) on .../devices/{id}/clock");
export type ControllerTime = z.infer<typeof ControllerTime>;
