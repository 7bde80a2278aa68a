import { z } from 'zod';
import { DeviceId, WorkloadName } from '../device-id.js';
import { ProtocolVersion, Timestamp } from './common.js';

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
    cpu: z.strictObject({
      cores: z.number().int().min(1),
      loadAverage1m: z.number().min(0),
      usagePct: z.number().min(0).max(100).nullable().describe('Busy share of all cores since the previous sample'),
    }),
    memory: z.strictObject({ totalBytes: z.number().int().min(0), availableBytes: z.number().int().min(0) }),
    disk: z.strictObject({ path: z.string().max(1024), totalBytes: z.number().int().min(0), freeBytes: z.number().int().min(0) }),
    containers: z
      .array(
        z.strictObject({
          workload: WorkloadName,
          state: z.string().max(32),
          restartCount: z.number().int().min(0),
        }),
      )
      .max(64),
    mqtt: z.strictObject({ bytesIn: z.number().int().min(0), bytesOut: z.number().int().min(0) }),
  })
  .describe('Device metrics (QoS 0, not retained)');
export type Telemetry = z.infer<typeof Telemetry>;
