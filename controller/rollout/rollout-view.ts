import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import type { RolloutStatus } from '../../shared/schemas/rollout-status.js';
import type { RolloutDetail, RolloutDeviceView, RolloutSummary } from '../http/rollout-schemas.js';
import { countWave, effectiveStatus, type WaveCounts } from './evaluate-wave.js';
import type { DeviceRolloutState, RolloutPhase, RolloutState } from './model.js';

/** The deployment a rollout moves its devices into. */
export function rolloutDeploymentId(rolloutId: string): string {
  return `rollout-${rolloutId}`;
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
/** The wire schema's phases and the model's must not drift apart. */
export type RolloutPhasesInSync = Assert<Same<RolloutPhase, RolloutStatus['phase']>>;

const zero = (): WaveCounts => ({ pending: 0, notified: 0, applying: 0, succeeded: 0, failed: 0, timedOut: 0 });

function devicesOf(state: RolloutState, ids: readonly string[]): DeviceRolloutState[] {
  return ids.map((id) => state.devices[id]).filter((d): d is DeviceRolloutState => d !== undefined);
}

/** Pure: the summary every view shares (counts with per-device timeouts applied at `now`). */
export function summarizeRollout(state: RolloutState, now: Date): RolloutSummary {
  const totals = zero();
  const waves = state.waves.map((w) => {
    const counts = countWave(devicesOf(state, w.devices), state.spec.deviceTimeoutSeconds, now);
    for (const k of Object.keys(totals) as (keyof WaveCounts)[]) totals[k] += counts[k];
    return {
      index: w.index,
      size: w.devices.length,
      canary: w.canary === true,
      startedAt: w.startedAt ?? null,
      evaluatedAt: w.evaluatedAt ?? null,
      outcome: w.outcome ?? null,
      reason: w.reason ?? null,
      manual: w.manual === true,
      counts,
    };
  });
  const lastVerdict = [...state.waves].reverse().find((w) => w.evaluatedAt !== undefined);
  return {
    id: state.id,
    app: state.spec.app,
    toVersion: state.spec.toVersion,
    phase: state.phase,
    currentWave: state.currentWave,
    reason: (state.pausedReason ?? (lastVerdict ? `wave ${lastVerdict.index} ${lastVerdict.outcome ?? 'evaluated'}: ${lastVerdict.reason ?? ''}`.trim() : null))?.slice(0, 1024) ?? null,
    deploymentId: rolloutDeploymentId(state.id),
    totals,
    lateSuccesses: Object.values(state.devices).filter((d) => d.lateSuccess === true).length,
    waves,
    revision: state.revision,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
  };
}

/** Pure: the API's full view of one rollout. */
export function rolloutDetail(state: RolloutState, now: Date): RolloutDetail {
  const summary = summarizeRollout(state, now);
  const timeout = state.spec.deviceTimeoutSeconds;
  const devices: RolloutDeviceView[] = state.waves.flatMap((w) =>
    devicesOf(state, w.devices).map((d) => {
      const status = effectiveStatus(d, timeout, now);
      const reason = d.reason ?? (status === 'timed-out' ? `no success within ${timeout}s of notification` : null);
      return {
        deviceId: d.deviceId,
        wave: d.wave,
        status,
        reason: reason ?? null,
        version: d.version ?? null,
        notifiedAt: d.notifiedAt ?? null,
        succeededAt: d.succeededAt ?? null,
        lateSuccess: d.lateSuccess === true,
      };
    }),
  );
  return {
    ...summary,
    spec: state.spec,
    waves: summary.waves.map((w, i) => ({ ...w, devices: [...(state.waves[i]?.devices ?? [])] })),
    devices,
  };
}

/** Pure: the retained MQTT status message for integrating platforms. */
export function rolloutStatusMessage(state: RolloutState, now: Date): RolloutStatus {
  const s = summarizeRollout(state, now);
  return {
    protocol: PROTOCOL_VERSION,
    id: s.id,
    app: s.app,
    toVersion: s.toVersion,
    phase: s.phase,
    currentWave: s.currentWave,
    waves: s.waves.map(({ manual: _manual, ...w }) => w),
    totals: s.totals,
    lateSuccesses: s.lateSuccesses,
    reason: s.reason,
    revision: s.revision,
    updatedAt: s.updatedAt,
  };
}
