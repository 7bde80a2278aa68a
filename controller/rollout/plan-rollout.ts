import type { RolloutAction } from './actions.js';
import { applyActions } from './apply-actions.js';
import { deviceDeadline, evaluateWave } from './evaluate-wave.js';
import type { DeviceRolloutState, ObservedDevice, RolloutState, TargetDevice } from './model.js';
import { observeDevices } from './observe-devices.js';
import { placeLateJoiners } from './plan-waves.js';
import { rateBudget, rateFreesAt, selectNotifications } from './select-notifications.js';

export { applyActions } from './apply-actions.js';

export interface PlanInput {
  now: Date;
  /** Latest report per device; a device without one has not reported. */
  deviceStatuses: Readonly<Record<string, ObservedDevice>>;
  /** The rollout's target as it is now (selector re-evaluated by the worker). */
  targetDevices: readonly TargetDevice[];
  /** Devices the worker notified in the last minute (for ratePerMinute). */
  notifiedInLastMinute: number;
}

export interface RolloutPlan {
  actions: RolloutAction[];
  /** When planning again can change something without a new device report; null when only reports can. */
  nextCheckAt: Date | null;
}

/**
 * One pure planning pass. Each step is applied to a working copy through the
 * reducer before the next is planned, so the actions form a consistent
 * sequence and planning again on the result, with the same input, yields
 * nothing new:
 *   1. scheduled: nothing before startAt; then start wave 0.
 *   2. record what devices report (mark), and timeouts.
 *   3. running only: drop pending devices that left the target, place late
 *      joiners, evaluate the current wave (advance / finish / fail; several
 *      waves in one pass only if they are already decided), notify.
 * Paused, aborted and succeeded rollouts still record reports (late
 * successes) but never notify; rolling-back and rolled-back ones are the
 * worker's rollback business.
 */
export function planRollout(state: RolloutState, input: PlanInput): RolloutPlan {
  const { now } = input;
  if (state.phase === 'rolling-back' || state.phase === 'rolled-back') return { actions: [], nextCheckAt: null };
  if (state.phase === 'scheduled' && state.spec.startAt !== undefined) {
    const startAt = new Date(state.spec.startAt);
    if (startAt.getTime() > now.getTime()) return { actions: [], nextCheckAt: startAt };
  }

  const actions: RolloutAction[] = [];
  let s = state;
  const emit = (action: RolloutAction): void => {
    const next = applyActions(s, [action], now);
    if (next !== s) {
      actions.push(action);
      s = next;
    }
  };

  emit({ kind: 'start' });
  const updates = observeDevices(s, input.deviceStatuses, now);
  if (updates.length > 0) emit({ kind: 'mark', updates });

  let waitFor: Date | null = null;
  if (s.phase === 'running') {
    for (const action of membershipChanges(s, input.targetDevices)) emit(action);
    // Several verdicts in one pass only when later waves are already decided (e.g. emptied by drops).
    for (let i = 0; i <= s.waves.length && s.phase === 'running'; i++) {
      const before = s;
      const verdict = evaluation(s, now);
      if (verdict) emit(verdict);
      if (s === before) break;
    }
    if (s.phase === 'running') {
      const selection = selectNotifications(s, input.targetDevices, now, rateBudget(s, input.notifiedInLastMinute, now));
      for (const [wave, deviceIds] of selection.byWave) emit({ kind: 'notify', wave, deviceIds });
      waitFor = earliest(waitFor, selection.windowOpensAt);
      if (selection.rateLimited) waitFor = earliest(waitFor, rateFreesAt(s, input.notifiedInLastMinute, now));
    }
  }
  return { actions, nextCheckAt: earliest(waitFor, earliestDeadline(s)) };
}

function membershipChanges(s: RolloutState, targetDevices: readonly TargetDevice[]): RolloutAction[] {
  const inTarget = new Set(targetDevices.map((d) => d.id));
  const actions: RolloutAction[] = [];
  const leavers = Object.values(s.devices)
    .filter((d) => d.status === 'pending' && !inTarget.has(d.deviceId))
    .map((d) => d.deviceId);
  if (leavers.length > 0) actions.push({ kind: 'drop', deviceIds: leavers });
  const placement = placeLateJoiners(s, inTarget);
  if (placement) actions.push(placement);
  return actions;
}

/** The verdict on the current wave as an action, or null while it continues. */
function evaluation(state: RolloutState, now: Date): RolloutAction | null {
  if (state.waves.length === 0) return { kind: 'finish', phase: 'succeeded', reason: 'no devices in the target' };
  const wave = state.waves[state.currentWave];
  if (!wave || wave.startedAt === undefined || wave.evaluatedAt !== undefined) return null;
  const devices = wave.devices.map((id) => state.devices[id]).filter((d): d is DeviceRolloutState => d !== undefined);
  const result = evaluateWave(devices, state.spec, now);
  switch (result.verdict) {
    case 'continue':
      return null;
    case 'fail':
      return { kind: 'fail', wave: wave.index, action: state.spec.failureAction, reason: result.reason };
    case 'advance':
      return state.currentWave === state.waves.length - 1
        ? { kind: 'finish', phase: 'succeeded', reason: result.reason }
        : { kind: 'advance', toWave: state.currentWave + 1, reason: result.reason };
  }
}

/** The next per-device deadline, so timeouts are marked without waiting for a report. */
function earliestDeadline(s: RolloutState): Date | null {
  let min: number | null = null;
  for (const d of Object.values(s.devices)) {
    if (d.status !== 'notified' && d.status !== 'applying') continue;
    const t = deviceDeadline(d, s.spec.deviceTimeoutSeconds);
    if (t !== null && (min === null || t < min)) min = t;
  }
  return min === null ? null : new Date(min);
}

function earliest(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a.getTime() <= b.getTime() ? a : b;
}
