import { z } from 'zod';
import { DeviceId } from '../../shared/device-id.js';
import { DeploymentApplyPolicy } from './apply-policy.js';
import { AppName, DeploymentId, ReleaseVersion } from './names.js';

export const DeploymentTarget = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('devices'), devices: z.array(DeviceId).min(1).max(100_000) }),
  z.strictObject({ kind: z.literal('selector'), selector: z.string().min(1).max(4096) }),
]);
export type DeploymentTarget = z.infer<typeof DeploymentTarget>;

export const DeploymentInput = z.strictObject({
  app: AppName,
  version: ReleaseVersion,
  target: DeploymentTarget,
  /** Higher wins per app on a device; ties go to the newest deployment. */
  priority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
  /** When devices may apply it (DD-040); absent: at once, and not over update locks. */
  apply: DeploymentApplyPolicy.optional(),
  /** Optional id; generated when absent. */
  id: DeploymentId.optional(),
});
export type DeploymentInput = z.input<typeof DeploymentInput>;

export const Deployment = z.strictObject({
  id: DeploymentId,
  app: AppName,
  version: ReleaseVersion,
  target: DeploymentTarget,
  priority: z.number().int(),
  apply: DeploymentApplyPolicy.optional(),
  createdAt: z.iso.datetime(),
  /** Monotonic creation sequence: breaks priority ties deterministically (newest wins). */
  seq: z.number().int().min(1),
});
export type Deployment = z.infer<typeof Deployment>;
