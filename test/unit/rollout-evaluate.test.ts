import { describe, expect, it } from 'vitest';
import { evaluateWave, type EvaluationPolicy, type WaveCounts } from '../../controller/rollout/evaluate-wave.js';
import type { DeviceRolloutState } from '../../controller/rollout/model.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const minutesAgo = (m: number): string => new Date(NOW.getTime() - m * 60_000).toISOString();

type Short = 'p' | 'n' | 'a' | 's' | 'f' | 't' | 'silent';
/** p pending, n notified (recently), a applying, s succeeded, f failed, t timed-out, silent notified 31 min ago (past the 30 min timeout). */
function wave(spec: Partial<Record<Short, number>>): DeviceRolloutState[] {
  const out: DeviceRolloutState[] = [];
  const add = (n: number | undefined, make: (i: number) => Omit<DeviceRolloutState, 'deviceId' | 'wave'>): void => {
    for (let i = 0; i < (n ?? 0); i++) out.push({ deviceId: `d${out.length}`, wave: 0, ...make(i) });
  };
  add(spec.p, () => ({ status: 'pending' }));
  add(spec.n, () => ({ status: 'notified', notifiedAt: minutesAgo(5), version: 7 }));
  add(spec.a, () => ({ status: 'applying', notifiedAt: minutesAgo(5), version: 7 }));
  add(spec.s, () => ({ status: 'succeeded', notifiedAt: minutesAgo(5), version: 7, succeededAt: minutesAgo(1) }));
  add(spec.f, () => ({ status: 'failed', notifiedAt: minutesAgo(5), version: 7 }));
  add(spec.t, () => ({ status: 'timed-out', notifiedAt: minutesAgo(40), version: 7 }));
  add(spec.silent, () => ({ status: 'notified', notifiedAt: minutesAgo(31), version: 7 }));
  return out;
}

const policy = (over: Partial<EvaluationPolicy> = {}): EvaluationPolicy => ({
  successThresholdPct: 100,
  maxFailurePct: 0,
  minSampleSize: 1,
  deviceTimeoutSeconds: 1800,
  ...over,
});

describe('evaluateWave: thresholds', () => {
  const table: [string, Partial<Record<Short, number>>, Partial<EvaluationPolicy>, 'continue' | 'advance' | 'fail', boolean][] = [
    // name, wave, policy, verdict, done
    ['all succeeded → advance', { s: 5 }, {}, 'advance', true],
    ['defaults: one failure trips at once', { s: 4, f: 1 }, {}, 'fail', true],
    ['defaults: one failure trips even while others are in flight', { n: 8, f: 1, s: 1 }, {}, 'fail', false],
    ['in flight, no failure → continue', { s: 3, a: 2 }, {}, 'continue', false],
    ['pending devices → continue', { s: 3, p: 2 }, {}, 'continue', false],
    ['80% threshold reached, 20% limit, rest in flight → early advance', { s: 8, a: 2 }, { successThresholdPct: 80, maxFailurePct: 20 }, 'advance', false],
    ['80% reached but the rest still pending → continue', { s: 8, p: 2 }, { successThresholdPct: 80, maxFailurePct: 20 }, 'continue', false],
    ['80% reached, but in-flight failures could exceed 0% → wait', { s: 8, a: 2 }, { successThresholdPct: 80 }, 'continue', false],
    ['exactly at the threshold (80.0%) advances', { s: 8, f: 2 }, { successThresholdPct: 80, maxFailurePct: 20 }, 'advance', true],
    ['failure exactly at the limit (20%) does not trip', { s: 7, f: 2, a: 1 }, { successThresholdPct: 70, maxFailurePct: 30 }, 'advance', false],
    ['failure just above the limit trips', { s: 7, f: 3 }, { successThresholdPct: 70, maxFailurePct: 29.9 }, 'fail', true],
    ['done, below threshold, failures within limit → fail (cannot advance)', { s: 7, f: 3 }, { successThresholdPct: 80, maxFailurePct: 50 }, 'fail', true],
    ['threshold 0 still needs nothing pending', { p: 1, s: 0, a: 2 }, { successThresholdPct: 0, maxFailurePct: 100 }, 'continue', false],
    ['threshold 0, 100% failure allowed → advances with everything in flight', { a: 3 }, { successThresholdPct: 0, maxFailurePct: 100 }, 'advance', false],
    ['maxFailure 100 never trips; a wave of failures ends below threshold', { f: 3 }, { maxFailurePct: 100 }, 'fail', true],
    ['33.3% threshold with 1 of 3 succeeded', { s: 1, f: 2 }, { successThresholdPct: 33.3, maxFailurePct: 70 }, 'advance', true],
    ['empty wave (devices left the target) advances', {}, {}, 'advance', true],
  ];
  it.each(table)('%s', (_name, w, over, verdict, done) => {
    const r = evaluateWave(wave(w), policy(over), NOW);
    expect(r.verdict).toBe(verdict);
    expect(r.done).toBe(done);
    expect(r.reason).not.toBe('');
  });
});

describe('evaluateWave: minimum sample (AWS minNumberOfExecutedThings)', () => {
  const table: [string, Partial<Record<Short, number>>, 'continue' | 'fail'][] = [
    ['one early failure in a wave of 100 does not trip with minSampleSize 5', { f: 1, n: 99 }, 'continue'],
    ['four failures: sample still 4', { f: 4, n: 96 }, 'continue'],
    ['five failures trip', { f: 5, n: 95 }, 'fail'],
    ['one failure + four successes reach the sample and trip (0% allowed)', { f: 1, s: 4, n: 95 }, 'fail'],
    ['timed-out devices count towards the sample and the failures', { t: 2, f: 3, n: 95 }, 'fail'],
  ];
  it.each(table)('%s', (_name, w, verdict) => {
    expect(evaluateWave(wave(w), policy({ minSampleSize: 5 }), NOW).verdict).toBe(verdict);
  });

  it('the sample is capped at the wave size, so a small wave can still trip', () => {
    expect(evaluateWave(wave({ f: 1, n: 1 }), policy({ minSampleSize: 5 }), NOW).verdict).toBe('continue');
    expect(evaluateWave(wave({ f: 1, s: 2 }), policy({ minSampleSize: 5, successThresholdPct: 0, maxFailurePct: 10 }), NOW)).toMatchObject({
      verdict: 'fail',
      done: true,
    });
  });

  it('names the numbers in the reason', () => {
    const r = evaluateWave(wave({ f: 5, n: 95 }), policy({ minSampleSize: 5 }), NOW);
    expect(r.reason).toMatch(/5 of 100 devices failed or timed out \(5%\), above the 0% limit/);
    expect(r.reason).toMatch(/minimum sample 5/);
  });
});

describe('evaluateWave: per-device timeout (hawkBit #1208)', () => {
  it('a silent device past notifiedAt + timeout counts as timed out, not in flight; thresholds decide', () => {
    const r = evaluateWave(wave({ s: 9, silent: 1 }), policy({ successThresholdPct: 90, maxFailurePct: 10 }), NOW);
    const counts: WaveCounts = { pending: 0, notified: 0, applying: 0, succeeded: 9, failed: 0, timedOut: 1 };
    expect(r).toMatchObject({ done: true, verdict: 'advance', counts });
  });

  it('a silent device holds a strict wave only until its deadline, then counts as a failure', () => {
    const w = wave({ s: 9, silent: 1 });
    const justBefore = new Date(NOW.getTime() - 60_001);
    expect(evaluateWave(w, policy(), justBefore)).toMatchObject({ verdict: 'continue', done: false });
    expect(evaluateWave(w, policy(), NOW)).toMatchObject({ verdict: 'fail', done: true });
  });

  it('when the limits tolerate it, the wave does not wait for the silent device at all', () => {
    const justBefore = new Date(NOW.getTime() - 60_001);
    const r = evaluateWave(wave({ s: 9, silent: 1 }), policy({ successThresholdPct: 90, maxFailurePct: 10 }), justBefore);
    expect(r).toMatchObject({ verdict: 'advance', done: false });
  });

  it('the deadline is inclusive', () => {
    const atDeadline = new Date(Date.parse(minutesAgo(31)) + 1800_000);
    expect(evaluateWave(wave({ silent: 1 }), policy(), atDeadline).counts.timedOut).toBe(1);
  });

  it('counts every status', () => {
    expect(evaluateWave(wave({ p: 1, n: 2, a: 3, s: 4, f: 5, t: 6, silent: 7 }), policy({ maxFailurePct: 100, successThresholdPct: 0 }), NOW).counts).toEqual({
      pending: 1,
      notified: 2,
      applying: 3,
      succeeded: 4,
      failed: 5,
      timedOut: 13,
    });
  });
});
