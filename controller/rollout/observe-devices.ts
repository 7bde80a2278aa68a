import { deviceDeadline } from './evaluate-wave.js';
import type { DeviceRolloutState, ObservedDevice, RolloutState } from './model.js';

export type Observation = 'succeeded' | 'failed' | 'applying' | 'none';

const NOT_RUNNING_PHASES = new Set(['failed', 'rolled-back', 'degraded']);
const FAILED_PHASES = new Set(['failed', 'rolled-back']);

/**
 * What a device report says about the version the rollout moved it to (V):
 *   - succeeded: V (or newer) applied and every workload running; success
 *     means running, not delivered (hawkBit #3185);
 *   - failed: phase failed / rolled-back about V or newer (phaseVersion, else
 *     seenVersion), so a stale failure of an older version does not count;
 *   - applying: the device has seen V;
 *   - none: nothing yet, or the version the device was moved to is unknown.
 */
export function observe(version: number | undefined, obs: ObservedDevice | undefined): Observation {
  if (version === undefined || !obs) return 'none';
  const applied = obs.appliedVersion ?? -1;
  if (applied >= version && obs.allRunning && !NOT_RUNNING_PHASES.has(obs.phase)) return 'succeeded';
  const seen = Math.max(obs.seenVersion ?? -1, applied);
  if (FAILED_PHASES.has(obs.phase) && (obs.phaseVersion ?? seen) >= version) return 'failed';
  return seen >= version ? 'applying' : 'none';
}

/**
 * Status changes for every device the rollout has moved, in wave order.
 * A success or failure reported before the device was marked timed out wins
 * over its deadline (the controller may have been down when it converged);
 * once timed out, the status stays, and a later success is recorded as
 * `lateSuccess`.
 */
export function observeDevices(
  state: RolloutState,
  statuses: Readonly<Record<string, ObservedDevice>>,
  now: Date,
): DeviceRolloutState[] {
  const at = now.toISOString();
  const timeout = state.spec.deviceTimeoutSeconds;
  const updates: DeviceRolloutState[] = [];
  for (const wave of state.waves) {
    for (const id of wave.devices) {
      const d = state.devices[id];
      if (!d) continue;
      const obs = Object.prototype.hasOwnProperty.call(statuses, id) ? statuses[id] : undefined;
      const seen = observe(d.version, obs);
      if (d.status === 'timed-out') {
        if (!d.lateSuccess && seen === 'succeeded') updates.push({ ...d, lateSuccess: true, succeededAt: at });
        continue;
      }
      if (d.status !== 'notified' && d.status !== 'applying') continue;
      const deadline = deviceDeadline(d, timeout);
      if (seen === 'succeeded') updates.push({ ...d, status: 'succeeded', succeededAt: at });
      else if (seen === 'failed') updates.push({ ...d, status: 'failed', reason: failureReason(obs, d.version) });
      else if (deadline !== null && now.getTime() >= deadline) {
        updates.push({ ...d, status: 'timed-out', reason: timeoutReason(timeout, obs) });
      } else if (seen === 'applying' && d.status === 'notified') updates.push({ ...d, status: 'applying' });
    }
  }
  return updates;
}

function failureReason(obs: ObservedDevice | undefined, version: number | undefined): string {
  return `device reported ${obs?.phase ?? 'failure'} for desired version ${obs?.phaseVersion ?? version ?? '?'}`;
}

function timeoutReason(timeoutSeconds: number, obs: ObservedDevice | undefined): string {
  const why = !obs ? 'no report' : !obs.online ? 'device offline' : `device ${obs.phase}`;
  return `no success within ${timeoutSeconds}s of notification (${why})`;
}
