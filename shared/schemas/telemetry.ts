import { z } from 'zod';
import { DeviceId, WorkloadName } from '../device-id.js';
import { ProtocolVersion, Timestamp } from './common.js';

const Cpu = z.strictObject({
  cores: z.number().int().min(1),
  loadAverage1m: z.number().min(0).describe('1-minute load average, rounded to 2 decimals by the reference agent'),
  usagePct: z.number().min(0).max(100).nullable().describe('Busy share of all cores since the previous sample'),
});
const Memory = z.strictObject({ totalBytes: z.number().int().min(0), availableBytes: z.number().int().min(0) });
const Disk = z.strictObject({ path: z.string().max(1024), totalBytes: z.number().int().min(0), freeBytes: z.number().int().min(0) });
const Containers = z
  .array(
    z.strictObject({
      workload: WorkloadName,
      state: z.string().max(32),
      restartCount: z.number().int().min(0),
    }),
  )
  .max(64);
const Mqtt = z.strictObject({ bytesIn: z.number().int().min(0), bytesOut: z.number().int().min(0) });

/**
 * Periodic device metrics on .../devices/{id}/telemetry: QoS 0, not
 * retained, low default rate (agent --telemetry-interval, 0 = off).
 */
export const Telemetry = z
  .strictObject({
    protocol: ProtocolVersion,
    deviceId: DeviceId,
    at: Timestamp,
    uptimeSeconds: z.number().min(0).describe('Device (host) uptime'),
    agentUptimeSeconds: z.number().min(0),
    cpu: Cpu,
    memory: Memory,
    disk: Disk,
    containers: Containers,
    mqtt: Mqtt,
  })
  .describe('Device metrics (QoS 0, not retained)');
export type Telemetry = z.infer<typeof Telemetry>;

/**
 * A sample as the changes against the last FULL sample the device sent
 * (`base` is that sample's `at`; never against another delta, so a lost
 * QoS 0 delta loses nothing later). A field or member left out has its
 * value in the base sample, except the uptimes: left out, they are the
 * base's plus the whole seconds from `base` to `at` (DD-038, protocol §6.7).
 */
export const TelemetryDelta = z
  .strictObject({
    protocol: ProtocolVersion,
    deviceId: DeviceId,
    at: Timestamp,
    base: Timestamp.describe('`at` of the full sample this delta is relative to'),
    uptimeSeconds: z.number().min(0).optional().describe('Left out: base value + whole seconds from base to at'),
    agentUptimeSeconds: z.number().min(0).optional().describe('Left out: base value + whole seconds from base to at'),
    cpu: Cpu.partial().optional(),
    memory: Memory.partial().optional(),
    disk: Disk.partial().optional(),
    containers: Containers.optional().describe('The whole list when it changed'),
    mqtt: Mqtt.partial().optional(),
  })
  .describe('Device metrics as changes against the last full sample (QoS 0, not retained)');
export type TelemetryDelta = z.infer<typeof TelemetryDelta>;

/** What the telemetry topic carries: a full sample or a delta (which alone has `base`). */
export const TelemetryMessage = z.union([Telemetry, TelemetryDelta]).describe('A full telemetry sample or a delta against the last full one');
export type TelemetryMessage = z.infer<typeof TelemetryMessage>;
