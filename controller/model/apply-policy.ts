import { z } from 'zod';
import { Timestamp } from '../../shared/schemas/common.js';
import { MaintenanceWindow } from './maintenance-window.js';

/**
 * When devices may apply what a deployment gives them (DD-040). Devices
 * download at once either way; they replace containers only after `after`
 * and inside `window`. `force` replaces them even while a workload holds its
 * update lock. The controller folds the policies of the deployments that win
 * on a device into that device's desired document (compose-apply-policy.ts).
 */
export const DeploymentApplyPolicy = z
  .strictObject({
    window: MaintenanceWindow.optional().describe('Recurring maintenance window (5-field cron in an IANA timezone, open for durationMinutes)'),
    after: Timestamp.optional().describe('Not before this instant'),
    force: z.boolean().optional().describe('Apply even while a workload holds its update lock'),
  })
  .describe('When devices may apply this deployment: they download at once, and replace containers only after `after` and inside `window`');
export type DeploymentApplyPolicy = z.infer<typeof DeploymentApplyPolicy>;

/** A policy that asks for nothing is no policy: stored and compared as absent. */
export function normalizeApplyPolicy(p: DeploymentApplyPolicy | undefined): DeploymentApplyPolicy | undefined {
  if (!p) return undefined;
  const out: DeploymentApplyPolicy = {
    ...(p.window ? { window: p.window } : {}),
    ...(p.after ? { after: new Date(p.after).toISOString() } : {}),
    ...(p.force ? { force: true } : {}),
  };
  return Object.keys(out).length ? out : undefined;
}
