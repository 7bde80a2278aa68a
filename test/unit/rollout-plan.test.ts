import { describe, expect, it } from 'vitest';
import type { RolloutAction } from '../../controller/rollout/actions.js';
import { createRollout } from '../../controller/rollout/create-rollout.js';
import { RolloutSpec, type ObservedDevice, type RolloutSpecInput, type RolloutState, type TargetDevice } from '../../controller/rollout/model.js';
import { rollbackTargets } from '../../controller/rollout/operations.js';
import { applyActions, planRollout, type PlanInput, type RolloutPlan } from '../../controller/rollout/plan-rollout.js';

const T0 = new Date('2026-06-01T10:00:00Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const MIN = 60_000;

const spec = (over: Partial<RolloutSpecInput> = {}): RolloutSpec =>
  RolloutSpec.parse({
    app: 'web',
    toVersion: '2.0.0',
    target: { kind: 'selector', selector: 'role=kiosk' },
    waves: { kind: 'sizes', sizes: [1, '50%', '100%'] },
    ...over,
  });

const fleet = (n: number, labels: (i: number) => Record<string, string> = () => ({})): TargetDevice[] =>
  Array.from({ length: n }, (_, i) => ({ id: `dev-${String(i).padStart(3, '0')}`, labels: { role: 'kiosk', ...labels(i) } }));

type Behaviour = 'converge' | 'fail' | 'silent';
const OLD_VERSION = 1;
const idle = (online = true): ObservedDevice => ({ appliedVersion: OLD_VERSION, seenVersion: OLD_VERSION, phase: 'converged', allRunning: true, online });

/**
 * A fake fleet + worker: the worker stamps each notify with the desired
 * version it "published"; on the next tick every notified device reports
 * according to its behaviour.
 */
class Sim {
  state: RolloutState;
  now: Date = T0;
  readonly statuses: Record<string, ObservedDevice> = {};
  readonly notified: { at: Date; wave: number; id: string }[] = [];
  readonly log: RolloutAction[] = [];
  private nextVersion = 100;

  constructor(
    s: RolloutSpec,
    public target: TargetDevice[],
    public behave: (id: string) => Behaviour = () => 'converge',
  ) {
    this.state = createRollout('r1', s, target, T0);
    for (const d of target) this.statuses[d.id] = idle();
  }

  input(): PlanInput {
    return { now: this.now, deviceStatuses: { ...this.statuses }, targetDevices: this.target, notifiedInLastMinute: 0 };
  }

  /** One worker pass: plan, execute notifies, apply; checks idempotence on the way. */
  tick(): RolloutPlan {
    const input = this.input();
    const plan = planRollout(this.state, input);
    expect(planRollout(this.state, input)).toEqual(plan);
    const executed = plan.actions.map((a): RolloutAction => (a.kind === 'notify' ? { ...a, versions: this.publish(a.deviceIds) } : a));
    const next = applyActions(this.state, executed, this.now);
    expect(applyActions(next, executed, this.now)).toBe(next);
    expect(planRollout(next, input).actions).toEqual([]);
    for (const a of executed) if (a.kind === 'notify') for (const id of a.deviceIds) this.notified.push({ at: this.now, wave: a.wave, id });
    this.log.push(...plan.actions);
    this.state = next;
    return plan;
  }

  /** Devices react to what they were sent. */
  converge(): void {
    for (const d of Object.values(this.state.devices)) {
      if (d.version === undefined) continue;
      const b = this.behave(d.deviceId);
      if (b === 'converge') this.statuses[d.deviceId] = { appliedVersion: d.version, seenVersion: d.version, phase: 'converged', allRunning: true, online: true };
      if (b === 'fail') {
        this.statuses[d.deviceId] = { appliedVersion: OLD_VERSION, seenVersion: d.version, phase: 'rolled-back', phaseVersion: d.version, allRunning: true, online: true };
      }
      if (b === 'silent') this.statuses[d.deviceId] = idle(false);
    }
  }

  run(maxTicks: number, stepMs = MIN): void {
    for (let i = 0; i < maxTicks && !['succeeded', 'paused', 'rolling-back', 'aborted'].includes(this.state.phase); i++) {
      this.tick();
      this.converge();
      this.now = new Date(this.now.getTime() + stepMs);
    }
  }

  private publish(ids: string[]): Record<string, number> {
    return Object.fromEntries(ids.map((id) => [id, this.nextVersion++]));
  }
}

describe('planRollout: a whole rollout', () => {
  it('runs 3 waves from scheduled to succeeded, each wave only after the previous one passed', () => {
    const sim = new Sim(spec({ startAt: at(5 * MIN).toISOString() }), fleet(10));
    expect(sim.state.waves.map((w) => w.devices.length)).toEqual([1, 4, 5]);

    const early = sim.tick();
    expect(early).toEqual({ actions: [], nextCheckAt: at(5 * MIN) });
    sim.now = at(5 * MIN);
    sim.run(20);

    expect(sim.state.phase).toBe('succeeded');
    expect(sim.state.waves.map((w) => w.outcome)).toEqual(['passed', 'passed', 'passed']);
    expect(Object.values(sim.state.devices).every((d) => d.status === 'succeeded')).toBe(true);
    // Every device notified exactly once, and no wave before its predecessor passed.
    expect(sim.notified.map((n) => n.id).sort()).toEqual(sim.target.map((d) => d.id).sort());
    for (const n of sim.notified) {
      const previous = sim.state.waves[n.wave - 1];
      if (previous) expect(n.at.getTime()).toBeGreaterThanOrEqual(Date.parse(previous.evaluatedAt ?? ''));
    }
    expect(new Set(sim.notified.filter((n) => n.wave === 0).map((n) => n.at.getTime())).size).toBe(1);
    expect(sim.tick()).toEqual({ actions: [], nextCheckAt: null });
  });

  it('a failing release trips in the first wave after the canary: paused, later waves never notified', () => {
    const canary = 'dev-000';
    const sim = new Sim(spec({ canary: { devices: [canary] }, waves: { kind: 'sizes', sizes: ['30%', '100%'] }, minSampleSize: 2 }), fleet(10), (id) =>
      id === canary ? 'converge' : 'fail',
    );
    expect(sim.state.waves.map((w) => w.devices.length)).toEqual([1, 3, 6]);
    sim.run(20);
    sim.run(5); // stays paused: nothing more happens
    expect(sim.state.phase).toBe('paused');
    expect(sim.state.pausedReason).toMatch(/^wave 1 failed: 3 of 3 devices failed or timed out/);
    expect(sim.state.waves.map((w) => w.outcome)).toEqual(['passed', 'failed', undefined]);
    expect(sim.notified.some((n) => n.wave === 2)).toBe(false);
    expect(sim.state.waves[2]?.devices.every((id) => sim.state.devices[id]?.status === 'pending')).toBe(true);
    expect(sim.log.filter((a) => a.kind === 'fail')).toEqual([{ kind: 'fail', wave: 1, action: 'pause', reason: expect.any(String) }]);
    expect(sim.state.devices[sim.state.waves[1]?.devices[0] ?? '']?.reason).toMatch(/device reported rolled-back for desired version \d+/);
  });

  it('with failureAction rollback: rolling-back, and every notified device is listed to move back', () => {
    const sim = new Sim(spec({ failureAction: 'rollback' }), fleet(10), () => 'fail');
    sim.run(10);
    expect(sim.state.phase).toBe('rolling-back');
    expect(rollbackTargets(sim.state)).toEqual(sim.state.waves[0]?.devices);
    expect(planRollout(sim.state, sim.input())).toEqual({ actions: [], nextCheckAt: null });
  });
});

describe('planRollout: per-device timeouts', () => {
  const silentOne = (id: string): Behaviour => (id === 'dev-003' ? 'silent' : 'converge');

  it('a silent device times out; its wave advances by thresholds; its later success is recorded as late', () => {
    const sim = new Sim(spec({ waves: { kind: 'sizes', sizes: ['100%'] }, successThresholdPct: 80, maxFailurePct: 20 }), fleet(5), silentOne);
    sim.tick();
    sim.converge();
    sim.now = at(MIN);
    const plan = sim.tick();
    // 4 of 5 succeeded and one silent failure would still be within 20%: done without waiting.
    expect(plan.actions.map((a) => a.kind)).toEqual(['mark', 'finish']);
    expect(sim.state.phase).toBe('succeeded');
    expect(sim.state.devices['dev-003']?.status).toBe('notified');
    expect(plan.nextCheckAt).toEqual(at(30 * MIN));

    sim.now = at(30 * MIN);
    sim.tick();
    expect(sim.state.devices['dev-003']).toMatchObject({ status: 'timed-out', reason: expect.stringMatching(/within 1800s.*device offline/) });

    sim.behave = () => 'converge';
    sim.converge();
    sim.now = at(95 * MIN);
    sim.tick();
    expect(sim.state.devices['dev-003']).toMatchObject({ status: 'timed-out', lateSuccess: true, succeededAt: at(95 * MIN).toISOString() });
  });

  it('with strict thresholds the silent device holds the wave until its deadline, then trips it', () => {
    const sim = new Sim(spec({ waves: { kind: 'sizes', sizes: ['100%'] } }), fleet(5), silentOne);
    sim.run(5);
    expect(sim.state.phase).toBe('running');
    sim.now = at(30 * MIN);
    sim.tick();
    expect(sim.state.phase).toBe('paused');
    expect(sim.state.waves[0]?.reason).toMatch(/1 of 5 devices failed or timed out .*\(0 failed, 1 timed out/);
  });

  it('a success reported before the timeout was marked counts as success, even if seen after the deadline', () => {
    const sim = new Sim(spec({ waves: { kind: 'sizes', sizes: ['100%'] } }), fleet(2));
    sim.tick();
    sim.converge();
    sim.now = at(45 * MIN); // controller was down past the deadline
    sim.tick();
    expect(sim.state.phase).toBe('succeeded');
  });
});

describe('planRollout: maintenance windows', () => {
  // Berlin springs forward on 29 Mar 2026: the 02:30 window opens at 03:30 CEST = 01:30Z.
  const night = { cron: '30 2 * * *', durationMinutes: 60, timezone: 'Europe/Berlin' };

  it('devices outside their window get nothing until it opens (across a DST change)', () => {
    const s = spec({ waves: { kind: 'sizes', sizes: ['100%'] }, windows: { night } });
    const sim = new Sim(s, fleet(4, (i): Record<string, string> => (i < 2 ? { 'maintenance-window': 'night' } : {})));
    sim.now = new Date('2026-03-28T12:00:00Z');
    const first = sim.tick();
    expect(first.actions.find((a) => a.kind === 'notify')).toMatchObject({ deviceIds: expect.arrayContaining(['dev-002', 'dev-003']) });
    expect(sim.notified.map((n) => n.id).sort()).toEqual(['dev-002', 'dev-003']);
    sim.converge();

    sim.now = new Date('2026-03-29T01:29:00Z'); // 03:29 CEST: the shifted window has not opened
    const before = sim.tick();
    expect(before.actions.filter((a) => a.kind === 'notify')).toEqual([]);
    expect(before.nextCheckAt).toEqual(new Date('2026-03-29T01:30:00Z'));

    sim.now = new Date('2026-03-29T01:30:00Z');
    sim.tick();
    expect(sim.notified.map((n) => n.id).sort()).toEqual(['dev-000', 'dev-001', 'dev-002', 'dev-003']);
  });

  it('the rollout-wide window holds everyone; nextCheckAt is its start', () => {
    const s = spec({ waves: { kind: 'sizes', sizes: ['100%'] }, window: night });
    const sim = new Sim(s, fleet(3));
    sim.now = new Date('2026-10-24T12:00:00Z');
    expect(sim.tick()).toEqual({ actions: [{ kind: 'start' }], nextCheckAt: new Date('2026-10-25T00:30:00Z') });
    sim.now = new Date('2026-10-25T01:45:00Z'); // 02:45 CET, the repeated hour: the window already closed
    expect(sim.tick().nextCheckAt).toEqual(new Date('2026-10-26T01:30:00Z'));
    expect(sim.notified).toEqual([]);
  });
});

describe('planRollout: rate limiting', () => {
  it('ratePerMinute 2 with 5 devices: 2, then 2 a minute later, then 1', () => {
    const sim = new Sim(spec({ waves: { kind: 'sizes', sizes: ['100%'] }, ratePerMinute: 2 }), fleet(5));
    const first = sim.tick();
    expect(sim.notified).toHaveLength(2);
    expect(first.nextCheckAt).toEqual(at(MIN));

    sim.now = at(59_999);
    sim.tick();
    expect(sim.notified).toHaveLength(2);

    sim.now = at(MIN);
    sim.tick();
    expect(sim.notified).toHaveLength(4);
    sim.now = at(2 * MIN);
    sim.tick();
    expect(sim.notified).toHaveLength(5);
  });

  it("counts the worker's figure (other notifications) too", () => {
    const sim = new Sim(spec({ waves: { kind: 'sizes', sizes: ['100%'] }, ratePerMinute: 2 }), fleet(5));
    const plan = planRollout(sim.state, { ...sim.input(), notifiedInLastMinute: 2 });
    expect(plan).toEqual({ actions: [{ kind: 'start' }], nextCheckAt: at(MIN) });
  });
});

describe('planRollout: target changes during the rollout', () => {
  it('a device that joins goes into the current wave and is notified in the same pass', () => {
    const sim = new Sim(spec({ waves: { kind: 'sizes', sizes: [2, '100%'] } }), fleet(6));
    sim.tick();
    sim.target = [...sim.target, { id: 'late-1', labels: { role: 'kiosk' } }];
    const plan = sim.tick();
    expect(plan.actions).toContainEqual({ kind: 'place', wave: 0, deviceIds: ['late-1'] });
    expect(plan.actions).toContainEqual({ kind: 'notify', wave: 0, deviceIds: ['late-1'] });
    expect(sim.state.waves[0]?.devices).toContain('late-1');
  });

  it('a joiner during the last wave joins it, and the rollout waits for it', () => {
    const sim = new Sim(spec({ waves: { kind: 'sizes', sizes: [2, '100%'] } }), fleet(4));
    sim.run(2); // wave 0 passed, wave 1 notified and converging
    expect(sim.state.currentWave).toBe(1);
    sim.target = [...sim.target, { id: 'late-1', labels: {} }];
    const plan = sim.tick();
    expect(plan.actions.map((a) => a.kind)).toEqual(['mark', 'place', 'notify']);
    expect(sim.state.devices['late-1']?.wave).toBe(1);
    sim.converge();
    sim.run(10);
    expect(sim.state.phase).toBe('succeeded');
    expect(sim.state.devices['late-1']?.status).toBe('succeeded');
  });

  it('a pending device that leaves the target is dropped; moved devices stay', () => {
    const sim = new Sim(spec({ waves: { kind: 'sizes', sizes: [2, '100%'] } }), fleet(4));
    sim.tick();
    const leaving = sim.state.waves[1]?.devices[0] ?? '';
    const moved = sim.state.waves[0]?.devices[0] ?? '';
    sim.target = sim.target.filter((d) => d.id !== leaving && d.id !== moved);
    const plan = sim.tick();
    expect(plan.actions).toContainEqual({ kind: 'drop', deviceIds: [leaving] });
    expect(sim.state.devices[leaving]).toBeUndefined();
    expect(sim.state.devices[moved]?.status).toBe('notified');
  });
});

describe('planRollout: phases', () => {
  const base = (): Sim => new Sim(spec(), fleet(4));
  it.each(['paused', 'aborted', 'rolled-back', 'rolling-back', 'succeeded'] as const)('%s never notifies', (phase) => {
    const sim = base();
    sim.tick();
    sim.state = { ...sim.state, phase, currentWave: 1, waves: sim.state.waves.map((w) => ({ ...w, startedAt: T0.toISOString() })) };
    const plan = planRollout(sim.state, sim.input());
    expect(plan.actions.filter((a) => a.kind === 'notify' || a.kind === 'advance' || a.kind === 'place')).toEqual([]);
  });

  it('scheduled without startAt starts at once', () => {
    const plan = planRollout(base().state, base().input());
    expect(plan.actions.map((a) => a.kind)).toEqual(['start', 'notify']);
  });

  it('an empty target finishes at once', () => {
    const sim = new Sim(spec(), []);
    sim.tick();
    expect(sim.state.phase).toBe('succeeded');
  });
});

describe('reducer idempotence', () => {
  it('applying the same plan twice equals applying it once; nothing is evaluated twice', () => {
    const sim = new Sim(spec(), fleet(4));
    const plan = planRollout(sim.state, sim.input());
    const once = applyActions(sim.state, plan.actions, T0);
    expect(applyActions(once, plan.actions, T0)).toBe(once);
    expect(once.revision).toBe(sim.state.revision + 1);

    const failed = applyActions(once, [{ kind: 'fail', wave: 0, action: 'pause', reason: 'first' }], at(MIN));
    const again = applyActions(failed, [{ kind: 'fail', wave: 0, action: 'pause', reason: 'second' }], at(2 * MIN));
    expect(again).toBe(failed);
    expect(failed.waves[0]).toMatchObject({ outcome: 'failed', reason: 'first', evaluatedAt: at(MIN).toISOString() });
  });

  it('advance only to the next wave: to the current one, or skipping one, changes nothing', () => {
    const s = applyActions(createRollout('r1', spec(), fleet(4), T0), [{ kind: 'start' }], T0);
    expect(applyActions(s, [{ kind: 'advance', toWave: 0 }], T0)).toBe(s);
    expect(applyActions(s, [{ kind: 'advance', toWave: 2 }], T0)).toBe(s);
    const moved = applyActions(s, [{ kind: 'advance', toWave: 1 }], T0);
    expect(applyActions(moved, [{ kind: 'advance', toWave: 1 }], T0)).toBe(moved);
  });

  it('statuses only move forward; a notify of a notified device is dropped', () => {
    const s = applyActions(createRollout('r1', spec(), fleet(1), T0), [{ kind: 'start' }, { kind: 'notify', wave: 0, deviceIds: ['dev-000'], versions: { 'dev-000': 5 } }], T0);
    const done = applyActions(s, [{ kind: 'mark', updates: [{ deviceId: 'dev-000', wave: 0, status: 'succeeded', succeededAt: T0.toISOString() }] }], T0);
    expect(applyActions(done, [{ kind: 'mark', updates: [{ deviceId: 'dev-000', wave: 0, status: 'applying' }] }], T0)).toBe(done);
    expect(applyActions(done, [{ kind: 'notify', wave: 0, deviceIds: ['dev-000'], versions: { 'dev-000': 6 } }], at(MIN))).toBe(done);
    expect(done.devices['dev-000']).toMatchObject({ version: 5, notifiedAt: T0.toISOString() });
  });
});

describe('planRollout: scale', () => {
  it('plans a pass over a 10,000-device wave quickly (windows and rate included)', () => {
    const night = { cron: '0 2 * * *', durationMinutes: 60, timezone: 'Europe/Berlin' };
    const s = spec({ waves: { kind: 'sizes', sizes: ['100%'] }, ratePerMinute: 1000, windows: { night } });
    const devices = fleet(10_000, (i): Record<string, string> => (i % 2 === 0 ? { 'maintenance-window': 'night' } : {}));
    const state = createRollout('big', s, devices, T0);
    const started = performance.now();
    const plan = planRollout(state, { now: T0, deviceStatuses: {}, targetDevices: devices, notifiedInLastMinute: 0 });
    const next = applyActions(state, plan.actions, T0);
    const again = planRollout(next, { now: at(MIN), deviceStatuses: {}, targetDevices: devices, notifiedInLastMinute: 0 });
    const elapsedMs = performance.now() - started;
    const notify = plan.actions.find((a) => a.kind === 'notify');
    expect(notify?.kind === 'notify' && notify.deviceIds.length).toBe(1000);
    expect(again.actions.filter((a) => a.kind === 'notify').flatMap((a) => (a.kind === 'notify' ? a.deviceIds : []))).toHaveLength(1000);
    expect(plan.nextCheckAt).toEqual(at(MIN));
    expect(elapsedMs).toBeLessThan(2000);
  });
});
