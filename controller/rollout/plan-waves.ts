import type { PlaceAction } from './actions.js';
import { orderDevices, rolloutOrder } from './device-order.js';
import type { RolloutSpec, RolloutState, TargetDevice, WavePolicy, WaveSize } from './model.js';

/** Floating-point slack so 1.1 × 10 (= 11.000000000000002) rounds up to 11, not 12. */
const EPSILON = 1e-9;

export interface WaveLayout {
  waves: string[][];
  /** Wave 0 holds the canaries. */
  canaryWave: boolean;
}

/**
 * Splits the target into waves, in device order (device-order.ts):
 *   - canaries, if any match, form wave 0;
 *   - `sizes`: each entry is the cumulative count of non-canary devices done
 *     after that wave (counts as given, percentages of the non-canary total
 *     rounded up). An entry that adds nobody is skipped; devices left after
 *     the last entry form one more final wave (an implicit 100%).
 *   - `exponential`: wave k holds ceil(initial × factor^k); the last wave
 *     takes whatever remains.
 * Never an empty wave; no wave at all when there are no devices.
 */
export function planWaveLayout(spec: Pick<RolloutSpec, 'app' | 'canary' | 'waves'>, devices: readonly TargetDevice[]): WaveLayout {
  const { canaries, rest } = rolloutOrder(spec, devices);
  const waves: string[][] = [];
  if (canaries.length > 0) waves.push(canaries);
  let start = 0;
  for (const size of waveSizes(spec.waves, rest.length)) {
    waves.push(rest.slice(start, start + size));
    start += size;
  }
  return { waves, canaryWave: canaries.length > 0 };
}

export function planWaves(spec: Pick<RolloutSpec, 'app' | 'canary' | 'waves'>, devices: readonly TargetDevice[]): string[][] {
  return planWaveLayout(spec, devices).waves;
}

/** Per-wave sizes (all ≥ 1) summing to `total`. */
export function waveSizes(policy: WavePolicy, total: number): number[] {
  const sizes: number[] = [];
  let placed = 0;
  if (policy.kind === 'sizes') {
    for (const entry of policy.sizes) {
      const cumulative = Math.min(total, cumulativeTarget(entry, total));
      if (cumulative > placed) {
        sizes.push(cumulative - placed);
        placed = cumulative;
      }
    }
  } else {
    for (let k = 0; placed < total; k++) {
      const size = Math.min(total - placed, Math.max(1, Math.ceil(policy.initial * Math.pow(policy.factor, k) - EPSILON)));
      sizes.push(size);
      placed += size;
    }
  }
  if (placed < total) sizes.push(total - placed);
  return sizes;
}

function cumulativeTarget(entry: WaveSize, total: number): number {
  if (typeof entry === 'number') return entry;
  const pct = Number.parseFloat(entry);
  return Math.ceil((total * pct) / 100 - EPSILON);
}

/**
 * Devices that joined the target during the rollout go to the first wave,
 * from the current one on, that has not been evaluated and is not the canary
 * wave: the current wave while it is being delivered, else the next unstarted
 * one, else a new final wave. Never into an evaluated wave, so no verdict
 * already taken is changed after the fact.
 */
export function placeLateJoiners(state: RolloutState, newDevices: Iterable<string>): PlaceAction | null {
  const ids = orderDevices(
    state.spec.app,
    [...newDevices].filter((id) => !Object.prototype.hasOwnProperty.call(state.devices, id)),
  );
  if (ids.length === 0) return null;
  let wave = state.waves.length;
  for (let i = state.currentWave; i < state.waves.length; i++) {
    const w = state.waves[i];
    if (w && w.evaluatedAt === undefined && !w.canary) {
      wave = i;
      break;
    }
  }
  return { kind: 'place', wave, deviceIds: ids };
}
