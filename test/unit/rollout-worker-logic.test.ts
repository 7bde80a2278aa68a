import { describe, expect, it } from 'vitest';
import type { DeviceStatus } from '../../controller/ingest/status-store.js';
import { applyActions } from '../../controller/rollout/apply-actions.js';
import { createRollout } from '../../controller/rollout/create-rollout.js';
import { RolloutSpec, type RolloutState } from '../../controller/rollout/model.js';
import { observedFromStatus } from '../../controller/rollout/observed-status.js';
import { IDLE_POLL_FACTOR, MIN_TICK_DELAY_MS, RolloutEngine, type RolloutEngineDeps } from '../../controller/rollout/rollout-engine.js';
import { RolloutScheduler } from '../../controller/rollout/rollout-scheduler.js';
import { LATE_SUCCESS_WATCH_MS, needsTicks } from '../../controller/rollout/rollout-tick.js';
import { rolloutDetail, rolloutStatusMessage } from '../../controller/rollout/rollout-view.js';
import { ReportedState } from '../../shared/schemas/reported-state.js';
import { RolloutStatus } from '../../shared/schemas/rollout-status.js';

const T0 = new Date('2026-06-01T10:00:00Z');
const spec = RolloutSpec.parse({ app: 'web', toVersion: '2', target: { kind: 'selector', selector: 'role=kiosk' }, waves: { kind: 'sizes', sizes: [1, '100%'] }, deviceTimeoutSeconds: 60 });
const devices = ['a', 'b', 'c'].map((id) => ({ id, labels: { role: 'kiosk' } }));

function report(over: Partial<Omit<ReportedState, 'workloads'>> & { workloads?: Record<string, { state: string }> }): ReportedState {
  const at = T0.toISOString();
  return ReportedState.parse({
    protocol: 1,
    deviceId: 'a',
    reportedAt: at,
    agent: { version: 't', bootId: 'b', startedAt: at },
    desired: { seenVersion: 5, appliedVersion: 5, applyingVersion: null },
    phase: 'converged',
    errors: [],
    deferred: null,
    rollback: null,
    rejected: null,
    ...over,
    workloads: Object.fromEntries(
      Object.entries(over.workloads ?? { 'web-main': { state: 'running' } }).map(([k, w]) => [
        k,
        { state: w.state, reason: '', image: 'x:1', imageId: null, imageDigest: null, containerId: null, specHash: null },
      ]),
    ),
  });
}
const status = (reported: ReportedState | null, online = true): DeviceStatus => ({ reported, presence: null, online, lastSeen: null });

describe('observedFromStatus', () => {
  it.each([
    ['no report yet', status(null), undefined],
    ['converged, all running', status(report({})), { appliedVersion: 5, seenVersion: 5, phase: 'converged', phaseVersion: null, allRunning: true, online: true }],
    [
      'a workload not running',
      status(report({ phase: 'degraded', workloads: { 'web-main': { state: 'failed' } } })),
      { appliedVersion: 5, seenVersion: 5, phase: 'degraded', phaseVersion: null, allRunning: false, online: true },
    ],
    [
      'rolled back by the health gate: the failure is about the rolled-back version',
      status(
        report({
          phase: 'rolled-back',
          desired: { seenVersion: 6, appliedVersion: 5, applyingVersion: 6 },
          rollback: { version: 6, workload: 'web-main', reason: 'exited', exitCode: 3, logs: '', health: null, at: T0.toISOString(), repullNeeded: false },
        }),
        false,
      ),
      { appliedVersion: 5, seenVersion: 6, phase: 'rolled-back', phaseVersion: 6, allRunning: true, online: false },
    ],
    [
      'failed: about the version being applied',
      status(report({ phase: 'failed', desired: { seenVersion: 7, appliedVersion: 5, applyingVersion: 7 } })),
      { appliedVersion: 5, seenVersion: 7, phase: 'failed', phaseVersion: 7, allRunning: true, online: true },
    ],
    ['one-shot workloads that exited cleanly count as running', status(report({ workloads: { 'web-job': { state: 'stopped' } } })), expect.objectContaining({ allRunning: true })],
  ])('%s', (_name, input, expected) => {
    expect(observedFromStatus(input)).toEqual(expected);
  });
});

describe('rollout views', () => {
  const started = applyActions(createRollout('r1', spec, devices, T0), [{ kind: 'start' }], T0);
  const first = started.waves[0]?.devices[0] ?? '';
  const notified = applyActions(started, [{ kind: 'notify', wave: 0, deviceIds: [first], versions: { [first]: 7 } }], T0);

  it('the MQTT status message is valid per its wire schema, counts per wave', () => {
    const msg = rolloutStatusMessage(notified, T0);
    expect(RolloutStatus.parse(msg)).toEqual(msg);
    expect(msg).toMatchObject({ protocol: 1, id: 'r1', app: 'web', toVersion: '2', phase: 'running', currentWave: 0 });
    expect(msg.waves.map((w) => [w.size, w.counts.notified, w.counts.pending])).toEqual([
      [1, 1, 0],
      [2, 0, 2],
    ]);
    expect(msg.totals).toEqual({ pending: 2, notified: 1, applying: 0, succeeded: 0, failed: 0, timedOut: 0 });
  });

  it('the API view applies the per-device timeout at the time of the request', () => {
    const later = new Date(T0.getTime() + 61_000);
    const detail = rolloutDetail(notified, later);
    expect(detail.devices.find((d) => d.deviceId === first)).toMatchObject({ status: 'timed-out', version: 7, reason: 'no success within 60s of notification' });
    expect(detail.waves[0]?.counts.timedOut).toBe(1);
    expect(detail.deploymentId).toBe('rollout-r1');
  });
});

describe('needsTicks', () => {
  const base = createRollout('r1', spec, devices, T0);
  const at = (s: RolloutState, phase: RolloutState['phase']): RolloutState => ({ ...s, phase });
  const timedOut: RolloutState = { ...base, devices: { ...base.devices, a: { deviceId: 'a', wave: 0, status: 'timed-out', notifiedAt: T0.toISOString(), version: 3 } } };

  it.each([
    ['scheduled', at(base, 'scheduled'), T0, true],
    ['paused', at(base, 'paused'), T0, true],
    ['rolling-back', at(base, 'rolling-back'), T0, true],
    ['rolled-back', at(base, 'rolled-back'), T0, false],
    ['succeeded, nothing open', at(base, 'succeeded'), T0, false],
    ['succeeded, a timed-out device may still succeed late', at(timedOut, 'succeeded'), T0, true],
    ['aborted, but a week later', at(timedOut, 'aborted'), new Date(T0.getTime() + LATE_SUCCESS_WATCH_MS + 1), false],
  ])('%s', (_name, state, now, expected) => {
    expect(needsTicks(state, now)).toBe(expected);
  });
});

describe('tick scheduling', () => {
  const now = 1_800_000_000_000;
  const engine = new RolloutEngine({ now: () => now, pollSeconds: 2 } as unknown as RolloutEngineDeps);
  const running = { ...createRollout('r1', spec, devices, T0), phase: 'running' as const };

  it.each([
    ['no next check: poll', running, null, now + 2000],
    ['a deadline soon', running, new Date(now + 700), now + 700],
    ['never sooner than the minimum', running, new Date(now - 5000), now + MIN_TICK_DELAY_MS],
    ['a window opening in an hour: still poll', running, new Date(now + 3_600_000), now + 2000],
    ['paused: slower', { ...running, phase: 'paused' as const }, null, now + 2000 * IDLE_POLL_FACTOR],
  ])('%s', (_name, state, nextCheckAt, due) => {
    expect(engine.nextDue({ kind: 'continue', state, nextCheckAt })).toBe(due);
  });

  it('one job id per rollout and due second', () => {
    expect(RolloutScheduler.jobId('web-2', 1_800_000_000_999)).toBe('tick-web-2-1800000000');
    expect(RolloutScheduler.jobId('web-2', 1_800_000_001_000)).toBe('tick-web-2-1800000001');
  });
});
