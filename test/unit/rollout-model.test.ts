import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../shared/decode.js';
import { RolloutAction } from '../../controller/rollout/actions.js';
import { createRollout } from '../../controller/rollout/create-rollout.js';
import { RolloutSpec, RolloutState } from '../../controller/rollout/model.js';

const valid = {
  app: 'web',
  toVersion: '2.0.0',
  target: { kind: 'selector', selector: 'role=kiosk' },
  waves: { kind: 'sizes', sizes: [1, '5%', '25%', '100%'] },
};
const night = { cron: '0 2 * * *', durationMinutes: 60, timezone: 'Europe/Berlin' };

describe('RolloutSpec', () => {
  it('fills the defaults', () => {
    expect(RolloutSpec.parse(valid)).toEqual({
      ...valid,
      successThresholdPct: 100,
      maxFailurePct: 0,
      minSampleSize: 1,
      deviceTimeoutSeconds: 1800,
      failureAction: 'pause',
      windows: {},
      deviceWindowLabel: 'maintenance-window',
      priority: 1_000_000,
    });
  });

  it('accepts the full form', () => {
    const full = {
      ...valid,
      id: 'web-2',
      target: { kind: 'devices', devices: ['dev-1', 'dev-2'] },
      waves: { kind: 'exponential', initial: 2, factor: 1.5 },
      canary: { devices: ['dev-1'], selector: 'tier=canary' },
      ratePerMinute: 10,
      successThresholdPct: 90,
      maxFailurePct: 5,
      minSampleSize: 5,
      deviceTimeoutSeconds: 600,
      failureAction: 'rollback',
      startAt: '2026-06-01T22:00:00+02:00',
      window: night,
      windows: { night },
      deviceWindowLabel: 'site-window',
      priority: 500,
    };
    expect(RolloutSpec.parse(full)).toEqual(full);
  });

  // Every error names the field it is about.
  const table: [string, Record<string, unknown>, string][] = [
    ['percent above 100', { waves: { kind: 'sizes', sizes: [1, '101%'] } }, 'waves.sizes.1'],
    ['percent below 1', { waves: { kind: 'sizes', sizes: ['0.5%'] } }, 'waves.sizes.0'],
    ['not a percent', { waves: { kind: 'sizes', sizes: ['half'] } }, 'waves.sizes.0'],
    ['zero count', { waves: { kind: 'sizes', sizes: [0] } }, 'waves.sizes.0'],
    ['no sizes', { waves: { kind: 'sizes', sizes: [] } }, 'waves.sizes'],
    ['factor 1', { waves: { kind: 'exponential', initial: 1, factor: 1 } }, 'waves.factor'],
    ['bad target selector', { target: { kind: 'selector', selector: 'a b' } }, 'target.selector'],
    ['bad canary selector', { canary: { selector: 'site in (a' } }, 'canary.selector'],
    ['bad canary device id', { canary: { devices: ['Not Valid'] } }, 'canary.devices.0'],
    ['threshold above 100', { successThresholdPct: 101 }, 'successThresholdPct'],
    ['negative max failure', { maxFailurePct: -1 }, 'maxFailurePct'],
    ['zero min sample', { minSampleSize: 0 }, 'minSampleSize'],
    ['zero rate', { ratePerMinute: 0 }, 'ratePerMinute'],
    ['startAt not a timestamp', { startAt: 'tomorrow' }, 'startAt'],
    ['unknown timezone', { window: { ...night, timezone: 'Europe/Atlantis' } }, 'window.timezone'],
    ['bad cron in a named window', { windows: { night: { ...night, cron: '0 2 * *' } } }, 'windows.night.cron'],
    ['duration over a day', { window: { ...night, durationMinutes: 1441 } }, 'window.durationMinutes'],
    ['bad failure action', { failureAction: 'explode' }, 'failureAction'],
  ];
  it.each(table)('%s → %s', (_name, patch, path) => {
    const r = RolloutSpec.safeParse({ ...valid, ...patch });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
    expect(formatIssues(r.error?.issues ?? [])).toContain(`${path}: `);
  });

  it('rejects unknown keys', () => {
    const r = RolloutSpec.safeParse({ ...valid, wave: [1] });
    expect(formatIssues(r.error?.issues ?? [])).toMatch(/wave/);
  });
});

describe('RolloutState and actions survive a trip through JSON (Redis, job data)', () => {
  it('state', () => {
    const s = createRollout('r1', RolloutSpec.parse({ ...valid, window: night }), [{ id: 'dev-1', labels: {} }], new Date('2026-06-01T10:00:00Z'));
    expect(RolloutState.parse(JSON.parse(JSON.stringify(s)))).toEqual(s);
  });

  it('actions', () => {
    const a = { kind: 'notify', wave: 0, deviceIds: ['dev-1'], versions: { 'dev-1': 12 } };
    expect(RolloutAction.parse(JSON.parse(JSON.stringify(a)))).toEqual(a);
    expect(RolloutAction.safeParse({ kind: 'advance', toWave: -1 }).success).toBe(false);
  });
});
