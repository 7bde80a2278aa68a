import { z } from 'zod';

/**
 * Device ids are used verbatim as MQTT topic levels, MQTT client ids, Docker
 * label values and container-name parts, so the grammar excludes everything
 * that is special in any of them: `/`, `+`, `#`, `$`, whitespace, upper case.
 */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const DeviceId = z
  .string()
  .regex(DEVICE_ID_PATTERN, 'device id must match ^[a-z0-9][a-z0-9._-]{0,62}$')
  .describe('Device id: 1-63 chars of a-z 0-9 . _ -, starting with a letter or digit');
export type DeviceId = z.infer<typeof DeviceId>;

export function isDeviceId(value: unknown): value is DeviceId {
  return typeof value === 'string' && DEVICE_ID_PATTERN.test(value);
}

/** Workload names share the grammar: they become container-name parts and label values. */
export const WORKLOAD_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const WorkloadName = z
  .string()
  .regex(WORKLOAD_NAME_PATTERN, 'workload name must match ^[a-z0-9][a-z0-9_-]{0,62}$');
