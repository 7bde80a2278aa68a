import { describe, expect, it } from 'vitest';
import { createRollout } from '../../controller/rollout/create-rollout.js';
import { RolloutSpec, type RolloutState, type TargetDevice } from '../../controller/rollout/model.js';
import { abort, advanceManually, finishRollback, pause, resume, rollback, rollbackTargets } from '../../controller/rollout/operations.js';
import { applyActions, planRollout } from '../../controller/rollout/plan-rollout.js';

const T0 = new Date('2026-06-01T10:00:00Z');
const T1 = new Date('2026-06-01T10:01:00Z');

const spec = RolloutSpec.parse({
  app: 'web',
  toVersion: '2.0.0',
  target: { kind: 'selector', selector: 'role=kiosk' },
  waves: { kind: 'sizes', sizes: [2, 4, 6] },
});
const fleet: TargetDevice[] = Array.from({ length: 6 }, (_, i) => ({ id: `dev-${i}`, labels: { role: 'kiosk' } }));
const input = (now: Date) => ({ now, deviceStatuses: {}, targetDevices: fleet, notifiedInLastMinute: 0 });

/** Planned and applied once: wave 0 started and notified. */
function running(): RolloutState {
  const s = createRollout('r1', spec, fleet, T0);
  return applyActions(s, planRollout(s, input(T0)).actions, T0);
}

const notifiedIds = (s: RolloutState): string[] => Object.values(s.devices).filter((d) => d.status !== 'pending').map((d) => d.deviceId);

describe('pause / resume', () => {
  it('pausing stops notifications; resuming continues them', () => {
    const paused = pause(running(), 'looking at logs', T1);
    expect(paused).toMatchObject({ phase: 'paused', pausedReason: 'looking at logs', updatedAt: T1.toISOString() });
    expect(pause(paused, 'again', T1)).toBe(paused);
    const advanced = applyActions(paused, [{ kind: 'advance', toWave: 1 }], T1);
    expect(advanced).toBe(paused);

    const resumed = resume(paused, T1);
    expect(resumed.phase).toBe('running');
    expect(resumed.pausedReason).toBeUndefined();
    expect(resumed.revision).toBe(paused.revision + 1);
    expect(resume(resumed, T1)).toBe(resumed);
  });

  it('a scheduled rollout paused before it started resumes as scheduled', () => {
    const s = createRollout('r1', spec, fleet, T0);
    expect(resume(pause(s, 'wait', T0), T1).phase).toBe('scheduled');
  });

  it('resuming after a failed wave accepts it and starts the next wave (which the planner then notifies)', () => {
    const failed = applyActions(running(), [{ kind: 'fail', wave: 0, action: 'pause', reason: 'too many failures' }], T1);
    expect(failed.phase).toBe('paused');
    const resumed = resume(failed, T1);
    expect(resumed).toMatchObject({ phase: 'running', currentWave: 1 });
    expect(resumed.waves[0]).toMatchObject({ outcome: 'failed', reason: 'too many failures' });
    expect(resumed.waves[1]?.startedAt).toBe(T1.toISOString());
    const plan = planRollout(resumed, input(T1));
    expect(plan.actions).toEqual([{ kind: 'notify', wave: 1, deviceIds: resumed.waves[1]?.devices }]);
  });

  it('resuming after the last wave failed finishes the rollout', () => {
    let s = running();
    s = applyActions(s, [{ kind: 'advance', toWave: 1 }, { kind: 'advance', toWave: 2 }, { kind: 'fail', wave: 2, action: 'pause', reason: 'x' }], T1);
    expect(resume(s, T1).phase).toBe('succeeded');
  });
});

describe('abort', () => {
  it('no further devices; moved ones stay as they are', () => {
    const s = running();
    const aborted = abort(s, T1);
    expect(aborted.phase).toBe('aborted');
    expect(aborted.devices).toEqual(s.devices);
    expect(planRollout(aborted, input(T1)).actions.filter((a) => a.kind === 'notify')).toEqual([]);
    expect(abort(aborted, T1)).toBe(aborted);
    expect(resume(aborted, T1)).toBe(aborted);
  });
});

describe('rollback', () => {
  it('lists every device that was moved, and is idempotent', () => {
    const s = running();
    const { state, deviceIds } = rollback(s, T1);
    expect(state.phase).toBe('rolling-back');
    expect([...deviceIds].sort()).toEqual(notifiedIds(s).sort());
    expect(deviceIds).toHaveLength(2);
    const again = rollback(state, T1);
    expect(again.state).toBe(state);
    expect(again.deviceIds).toEqual(deviceIds);
    expect(planRollout(state, input(T1))).toEqual({ actions: [], nextCheckAt: null });
    const done = finishRollback(state, T1);
    expect(done.phase).toBe('rolled-back');
    expect(finishRollback(done, T1)).toBe(done);
    expect(rollbackTargets(done)).toEqual(deviceIds);
  });

  it('from a scheduled rollout there is nothing to move back', () => {
    expect(rollback(createRollout('r1', spec, fleet, T0), T1).deviceIds).toEqual([]);
  });
});

describe('advanceManually', () => {
  it('from scheduled starts wave 0', () => {
    const s = advanceManually(createRollout('r1', spec, fleet, T0), T1);
    expect(s).toMatchObject({ phase: 'running', currentWave: 0 });
    expect(s.waves[0]?.startedAt).toBe(T1.toISOString());
  });

  it('records the current wave as passed by hand and starts the next; never skips', () => {
    const s = advanceManually(running(), T1);
    expect(s.currentWave).toBe(1);
    expect(s.waves[0]).toMatchObject({ outcome: 'passed', manual: true, reason: 'advanced by hand', evaluatedAt: T1.toISOString() });
    expect(s.waves[2]?.startedAt).toBeUndefined();
  });

  it('from paused also resumes; on the last wave the rollout succeeds', () => {
    const paused = pause(running(), 'x', T1);
    const s = advanceManually(paused, T1);
    expect(s).toMatchObject({ phase: 'running', currentWave: 1 });
    expect(s.pausedReason).toBeUndefined();
    expect(advanceManually(advanceManually(s, T1), T1).phase).toBe('succeeded');
  });

  it('does nothing once the rollout is over', () => {
    const aborted = abort(running(), T1);
    expect(advanceManually(aborted, T1)).toBe(aborted);
  });
});
