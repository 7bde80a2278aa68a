import type { DeviceRolloutState, RolloutSpec } from './model.js';

export interface WaveCounts {
  pending: number;
  notified: number;
  applying: number;
  succeeded: number;
  failed: number;
  timedOut: number;
}

export interface WaveEvaluation {
  /** Every device succeeded, failed or timed out. */
  done: boolean;
  counts: WaveCounts;
  verdict: 'continue' | 'advance' | 'fail';
  reason: string;
}

export type EvaluationPolicy = Pick<RolloutSpec, 'successThresholdPct' | 'maxFailurePct' | 'minSampleSize' | 'deviceTimeoutSeconds'>;

/** When a notified device that has not succeeded counts as timed out (inclusive). */
export function deviceDeadline(device: DeviceRolloutState, timeoutSeconds: number): number | null {
  if (device.notifiedAt === undefined) return null;
  return Date.parse(device.notifiedAt) + timeoutSeconds * 1000;
}

/** Status with the per-device timeout applied at `now` (hawkBit #1208: silent devices must not hold a wave open). */
export function effectiveStatus(device: DeviceRolloutState, timeoutSeconds: number, now: Date): DeviceRolloutState['status'] {
  if (device.status !== 'notified' && device.status !== 'applying') return device.status;
  const deadline = deviceDeadline(device, timeoutSeconds);
  return deadline !== null && now.getTime() >= deadline ? 'timed-out' : device.status;
}

export function countWave(devices: readonly DeviceRolloutState[], timeoutSeconds: number, now: Date): WaveCounts {
  const counts: WaveCounts = { pending: 0, notified: 0, applying: 0, succeeded: 0, failed: 0, timedOut: 0 };
  for (const d of devices) {
    const status = effectiveStatus(d, timeoutSeconds, now);
    if (status === 'timed-out') counts.timedOut++;
    else counts[status]++;
  }
  return counts;
}

/**
 * Verdict on one wave, re-checked on every pass:
 *   - fail, as soon as (failed + timed out) / size > maxFailurePct and at
 *     least min(minSampleSize, size) devices are done (succeeded, failed or
 *     timed out). Checked before the wave is done, so a bad release stops
 *     early; the sample is capped at the wave size so a small wave can trip.
 *   - advance, when succeeded / size ≥ successThresholdPct, no device is still
 *     pending (every device of the wave has been notified, so no device of a
 *     later wave gets the release before one of this wave), and even if every
 *     device still in flight failed, the failure limit would hold: an early
 *     advance can never bypass the failure rule.
 *   - fail, when every device is done but the success threshold was missed
 *     (the wave can neither advance nor improve).
 *   - continue otherwise.
 * Percentages divide by the full wave, so comparisons are monotone: more
 * failures never un-trip the check. An empty wave (its devices left the
 * target) advances.
 */
export function evaluateWave(devices: readonly DeviceRolloutState[], policy: EvaluationPolicy, now: Date): WaveEvaluation {
  const counts = countWave(devices, policy.deviceTimeoutSeconds, now);
  const size = devices.length;
  const inFlight = counts.notified + counts.applying;
  const done = counts.pending + inFlight === 0;
  if (size === 0) return { done, counts, verdict: 'advance', reason: 'the wave is empty' };

  const bad = counts.failed + counts.timedOut;
  const executed = counts.succeeded + bad;
  const minSample = Math.min(policy.minSampleSize, size);
  // Integer-side comparisons: x / size > p / 100  ⇔  100 x > p size.
  if (bad * 100 > policy.maxFailurePct * size && executed >= minSample) {
    return {
      done,
      counts,
      verdict: 'fail',
      reason:
        `${bad} of ${size} devices failed or timed out (${pct(bad, size)}%), above the ${policy.maxFailurePct}% limit ` +
        `(${counts.failed} failed, ${counts.timedOut} timed out; ${executed} done, minimum sample ${minSample})`,
    };
  }
  const successReached = counts.succeeded * 100 >= policy.successThresholdPct * size;
  const worstCaseHolds = (bad + inFlight) * 100 <= policy.maxFailurePct * size;
  if (successReached && counts.pending === 0 && worstCaseHolds) {
    return {
      done,
      counts,
      verdict: 'advance',
      reason: `${counts.succeeded} of ${size} devices succeeded (${pct(counts.succeeded, size)}%), threshold ${policy.successThresholdPct}%`,
    };
  }
  if (done) {
    return {
      done,
      counts,
      verdict: 'fail',
      reason:
        `wave finished with ${counts.succeeded} of ${size} devices succeeded (${pct(counts.succeeded, size)}%), ` +
        `below the ${policy.successThresholdPct}% threshold (${counts.failed} failed, ${counts.timedOut} timed out)`,
    };
  }
  return { done, counts, verdict: 'continue', reason: waiting(counts, successReached) };
}

function waiting(counts: WaveCounts, successReached: boolean): string {
  if (counts.pending > 0) return `${counts.pending} devices still to notify`;
  if (successReached) return `success threshold reached; waiting for ${counts.notified + counts.applying} devices in flight so failures cannot exceed the limit`;
  return `waiting for ${counts.notified + counts.applying} devices in flight`;
}

function pct(n: number, of: number): number {
  return Math.round((n * 1000) / of) / 10;
}
