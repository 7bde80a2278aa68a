import { z } from 'zod';
import { DeviceId, WorkloadName } from '../device-id.js';
import { ProtocolVersion, StateVersion, Timestamp } from './common.js';
import { WorkloadMap } from './workload.js';

export const Provenance = z.strictObject({
  deployment: z.string().max(128).optional().describe('Deployment id that selected this workload'),
  release: z.string().max(192).optional().describe('Release as app@version'),
  rollout: z.string().max(128).optional(),
});

export type Provenance = z.infer<typeof Provenance>;

/** Reserved for signed desired documents; agents of protocol v1 do not verify it yet. */
export const Signature = z.strictObject({
  alg: z.string().max(32),
  keyId: z.string().max(256),
  value: z.string().max(8192),
});

export const DesiredState = z
  .strictObject({
    protocol: ProtocolVersion,
    deviceId: DeviceId,
    version: StateVersion,
    issuedAt: Timestamp,
    workloads: WorkloadMap.describe('Workloads keyed by name; a name absent here is removed from the device'),
    provenance: z.record(WorkloadName, Provenance).default({}),
    signature: Signature.nullable().default(null),
  })
  .describe('The full state a device should be in. Published retained, QoS 1 on .../devices/{id}/desired');
export type DesiredState = z.infer<typeof DesiredState>;
export type DesiredStateInput = z.input<typeof DesiredState>;
