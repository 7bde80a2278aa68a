import { z } from 'zod';
import { DeviceId, WORKLOAD_NAME_PATTERN } from '../../shared/device-id.js';
import { Labels } from '../desired-state/selector.js';
import { AppName, ReleaseVersion } from './names.js';

const EnvMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'env names must match ^[A-Za-z_][A-Za-z0-9_]*$'), z.string().max(32 * 1024));

/**
 * Per-device settings that always win over fleet deployments and survive
 * every later deployment (anchors.md: Azure IoT Edge #1885, #7416).
 * Env precedence: device+workload > device > release.
 */
export const DeviceOverrides = z.strictObject({
  env: EnvMap.default({}),
  /** Keyed by the device's workload name (`<app>-<workload>`). */
  workloadEnv: z.record(z.string().regex(WORKLOAD_NAME_PATTERN), EnvMap).default({}),
  /** app → release version the device stays on whatever deployments say. */
  pins: z.record(AppName, ReleaseVersion).default({}),
});
export type DeviceOverrides = z.infer<typeof DeviceOverrides>;

export const Device = z.strictObject({
  id: DeviceId,
  labels: Labels,
  createdAt: z.iso.datetime(),
  overrides: DeviceOverrides,
});
export type Device = z.infer<typeof Device>;

export function emptyOverrides(): DeviceOverrides {
  return { env: {}, workloadEnv: {}, pins: {} };
}
