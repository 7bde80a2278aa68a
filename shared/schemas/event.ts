import { z } from 'zod';
import { DeviceId, WorkloadName } from '../device-id.js';
import { ProtocolVersion, StateVersion, Timestamp } from './common.js';

export const EVENT_TYPES = [
  'agent.started',
  'desired.received',
  'desired.ignored',
  'desired.rejected',
  'desired.stale',
  'reconcile.started',
  'reconcile.succeeded',
  'reconcile.failed',
  'step.started',
  'step.succeeded',
  'step.failed',
  'pull.progress',
  'update.deferred',
  'update.rolled-back',
  'health.failed',
  'image.removed',
  'command.result',
  'command.expired',
  'command.rejected',
] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

export const DeviceEvent = z
  .strictObject({
    protocol: ProtocolVersion,
    deviceId: DeviceId,
    id: z.string().min(1).max(64).describe('Unique per event; receivers de-duplicate on it (QoS 1 is at-least-once)'),
    at: Timestamp,
    type: EventType,
    level: z.enum(['info', 'warn', 'error']),
    message: z.string().max(2048),
    version: StateVersion.nullable().default(null).describe('Desired version the event concerns'),
    workload: WorkloadName.nullable().default(null),
    code: z.string().max(64).nullable().default(null).describe('Error code for warn/error events'),
    data: z.record(z.string(), z.unknown()).default({}),
  })
  .describe('Something that happened on the device. Published QoS 1, not retained, on .../devices/{id}/events');
export type DeviceEvent = z.infer<typeof DeviceEvent>;
export type DeviceEventInput = z.input<typeof DeviceEvent>;
