import { z } from 'zod';
import { DeviceId } from '../device-id.js';
import { ProtocolVersion, Timestamp } from './common.js';

export const Presence = z
  .strictObject({
    protocol: ProtocolVersion,
    deviceId: DeviceId,
    status: z.enum(['online', 'offline']),
    epoch: z
      .number()
      .int()
      .min(1)
      .max(Number.MAX_SAFE_INTEGER)
      .describe(
        'Connection epoch: strictly increases with every MQTT connection the agent opens. A message whose epoch is ' +
          'lower than one already seen is stale (e.g. the will of a connection that was taken over) and is ignored.',
      ),
    at: Timestamp.describe('For online: when the connection was made. For the offline will: when it was armed.'),
    agentVersion: z.string().max(64).optional(),
    bootId: z.string().max(128).optional(),
  })
  .describe('Device connectivity. Published retained, QoS 1 on .../devices/{id}/presence; offline is the will');
export type Presence = z.infer<typeof Presence>;
