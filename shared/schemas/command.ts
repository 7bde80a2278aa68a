import { z } from 'zod';
import { DeviceId, WorkloadName } from '../device-id.js';
import { ProtocolVersion, Timestamp } from './common.js';

export const COMMAND_TYPES = ['restart', 'logs', 'ping', 'resync'] as const;

/**
 * An imperative request to one device, on .../devices/{id}/commands (QoS 1,
 * not retained, queued in the persistent session while the device is
 * offline). Expired commands are dropped on arrival, never executed. The
 * result comes back as a `command.result` event with data.commandId.
 */
export const Command = z
  .strictObject({
    protocol: ProtocolVersion,
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    deviceId: DeviceId,
    type: z.enum(COMMAND_TYPES),
    workload: WorkloadName.optional().describe('restart, logs'),
    tail: z.number().int().min(1).max(1000).default(100).describe('logs: how many lines'),
    issuedAt: Timestamp,
    expiresAt: Timestamp,
  })
  .refine((c) => c.type === 'ping' || c.type === 'resync' || c.workload !== undefined, {
    message: 'restart and logs need a workload',
    path: ['workload'],
  })
  .describe('A command for one device (QoS 1, not retained)');
export type Command = z.infer<typeof Command>;
export type CommandInput = z.input<typeof Command>;

/** Largest log excerpt a logs command returns, in bytes. */
export const COMMAND_LOG_MAX_BYTES = 32 * 1024;
