import type { DeviceRolloutState, RolloutSpec, RolloutState, RolloutWave, TargetDevice } from './model.js';
import { planWaveLayout } from './plan-waves.js';

/**
 * A new rollout, waves planned from the target as it is now (devices that
 * join later are placed by placeLateJoiners). It starts `scheduled`; the
 * first planning pass at or after `startAt` starts wave 0.
 */
export function createRollout(id: string, spec: RolloutSpec, devices: readonly TargetDevice[], now: Date): RolloutState {
  const at = now.toISOString();
  const layout = planWaveLayout(spec, devices);
  const waves: RolloutWave[] = layout.waves.map((ids, index) => ({
    index,
    devices: ids,
    ...(layout.canaryWave && index === 0 ? { canary: true } : {}),
  }));
  const states: Record<string, DeviceRolloutState> = {};
  for (const wave of waves) {
    for (const deviceId of wave.devices) states[deviceId] = { deviceId, wave: wave.index, status: 'pending' };
  }
  return {
    id,
    spec,
    phase: 'scheduled',
    currentWave: 0,
    waves,
    devices: states,
    createdAt: at,
    updatedAt: at,
    revision: 1,
  };
}
