import type { MaintenanceWindow, RolloutSpec } from './model.js';

export { checkCron, isInWindow, nextWindowStart, windowCache } from '../../shared/maintenance-window.js';

/**
 * The window that applies to a device: the named window its
 * `deviceWindowLabel` label points at, else the rollout-wide window, else
 * none (always open). A label naming a window the rollout does not define
 * falls back to the rollout-wide window.
 */
export function windowFor(
  spec: Pick<RolloutSpec, 'window' | 'windows' | 'deviceWindowLabel'>,
  labels: Readonly<Record<string, string>>,
): MaintenanceWindow | null {
  const name = Object.prototype.hasOwnProperty.call(labels, spec.deviceWindowLabel) ? labels[spec.deviceWindowLabel] : undefined;
  const named = name !== undefined && Object.prototype.hasOwnProperty.call(spec.windows, name) ? spec.windows[name] : undefined;
  return named ?? spec.window ?? null;
}
