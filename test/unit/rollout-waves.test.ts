import { describe, expect, it } from 'vitest';
import { applyActions } from '../../controller/rollout/apply-actions.js';
import { createRollout } from '../../controller/rollout/create-rollout.js';
import { deviceRank, orderDevices, rolloutOrder } from '../../controller/rollout/device-order.js';
import { RolloutSpec, type RolloutSpecInput, type TargetDevice, type WavePolicy } from '../../controller/rollout/model.js';
import { placeLateJoiners, planWaves, waveSizes } from '../../controller/rollout/plan-waves.js';

const spec = (over: Partial<RolloutSpecInput> = {}): RolloutSpec =>
  RolloutSpec.parse({
    app: 'web',
    toVersion: '2.0.0',
    target: { kind: 'selector', selector: 'role=kiosk' },
    waves: { kind: 'sizes', sizes: [1, '50%', '100%'] },
    ...over,
  });

const fleet = (n: number, labels: (i: number) => Record<string, string> = () => ({ role: 'kiosk' })): TargetDevice[] =>
  Array.from({ length: n }, (_, i) => ({ id: `dev-${String(i).padStart(5, '0')}`, labels: labels(i) }));

const sizes = (...s: (number | `${number}%`)[]): WavePolicy => ({ kind: 'sizes', sizes: s });
const exponential = (initial: number, factor: number): WavePolicy => ({ kind: 'exponential', initial, factor });

describe('waveSizes', () => {
  // Sizes are CUMULATIVE targets of non-canary devices; an implicit 100% closes the list.
  const table: [string, WavePolicy, number, number[]][] = [
    ['hawkBit style 1,5%,25%,100% of 100', sizes(1, '5%', '25%', '100%'), 100, [1, 4, 20, 75]],
    ['… of 10: 5% (=1) adds nobody and is skipped', sizes(1, '5%', '25%', '100%'), 10, [1, 2, 7]],
    ['… of 1', sizes(1, '5%', '25%', '100%'), 1, [1]],
    ['… of 0', sizes(1, '5%', '25%', '100%'), 0, []],
    ['counts are cumulative too; the rest is an extra final wave', sizes(2, 5), 20, [2, 3, 15]],
    ['a count above the fleet takes everything', sizes(10), 3, [3]],
    ['percentages round up: 50% of 5 is 3', sizes('50%', '50%'), 5, [3, 2]],
    ['decreasing entries add nobody', sizes(5, 3, 10), 10, [5, 5]],
    ['33.3% of 3 rounds up to 1', sizes('33.3%'), 3, [1, 2]],
    ['exponential 1×2 over 10', exponential(1, 2), 10, [1, 2, 4, 3]],
    ['exponential 2×1.5 over 20', exponential(2, 1.5), 20, [2, 3, 5, 7, 3]],
    ['exponential 1×1.1 over 5 (rounded up, never 0)', exponential(1, 1.1), 5, [1, 2, 2]],
    ['exponential larger than the fleet', exponential(10, 10), 5, [5]],
    ['exponential 10×1.1: 11.000000000000002 is 11, not 12', exponential(10, 1.1), 100, [10, 11, 13, 14, 15, 17, 18, 2]],
  ];
  it.each(table)('%s', (_name, policy, total, expected) => {
    expect(waveSizes(policy, total)).toEqual(expected);
  });

  it.each([sizes(1, '5%', '25%', '100%'), sizes(3, '10%'), sizes('1%'), exponential(1, 2), exponential(3, 1.3)])(
    'never an empty wave, every device exactly once (%j, fleets 0..60)',
    (policy) => {
      for (let total = 0; total <= 60; total++) {
        const s = waveSizes(policy, total);
        expect(s.every((n) => n >= 1)).toBe(true);
        expect(s.reduce((a, b) => a + b, 0)).toBe(total);
      }
    },
  );
});

describe('device order', () => {
  it('is sha256(app:id) order, independent of input order', () => {
    const ids = fleet(50).map((d) => d.id);
    const ordered = orderDevices('web', ids);
    expect(orderDevices('web', [...ids].reverse())).toEqual(ordered);
    const ranks = ordered.map((id) => deviceRank('web', id));
    expect([...ranks].sort()).toEqual(ranks);
  });

  it('differs per app, so apps do not share their first devices', () => {
    const ids = fleet(50).map((d) => d.id);
    expect(orderDevices('web', ids)).not.toEqual(orderDevices('db', ids));
  });

  it('puts explicit canaries first (in the given order, only if targeted), then selector matches in hash order', () => {
    const devices = fleet(20, (i) => ({ role: 'kiosk', ...(i === 2 || i === 7 ? { tier: 'canary' } : {}) }));
    const s = spec({ canary: { devices: ['dev-00005', 'dev-99999', 'dev-00002'], selector: 'tier=canary' } });
    const { canaries, rest } = rolloutOrder(s, devices);
    expect(canaries).toEqual(['dev-00005', 'dev-00002', 'dev-00007']);
    expect(rest).toHaveLength(17);
    expect(rest).toEqual(orderDevices('web', rest));
  });
});

describe('planWaves', () => {
  it('canaries form wave 0; percentages are of the non-canary devices', () => {
    const devices = fleet(21, (i) => ({ role: 'kiosk', ...(i < 1 ? { tier: 'canary' } : {}) }));
    const waves = planWaves(spec({ canary: { selector: 'tier=canary' }, waves: { kind: 'sizes', sizes: ['10%', '50%', '100%'] } }), devices);
    expect(waves.map((w) => w.length)).toEqual([1, 2, 8, 10]);
    expect(waves[0]).toEqual(['dev-00000']);
  });

  it('no canary wave when no canary matches', () => {
    expect(planWaves(spec({ canary: { selector: 'tier=canary' } }), fleet(4)).map((w) => w.length)).toEqual([1, 1, 2]);
  });

  it.each([
    [0, []],
    [1, [1]],
    [2, [1, 1]],
    [3, [1, 1, 1]],
  ])('tiny fleet of %i → wave sizes %j', (n, expected) => {
    expect(planWaves(spec(), fleet(n)).map((w) => w.length)).toEqual(expected);
  });

  it('picks the same first devices again for the next release of the same app', () => {
    const devices = fleet(200);
    const v2 = planWaves(spec({ toVersion: '2.0.0', waves: { kind: 'exponential', initial: 2, factor: 2 } }), devices);
    const v3 = planWaves(spec({ toVersion: '3.0.0', waves: { kind: 'exponential', initial: 2, factor: 2 } }), [...devices].reverse());
    expect(v3[0]).toEqual(v2[0]);
    expect(v3).toEqual(v2);
  });

  it('plans 10,000 devices quickly, each exactly once', () => {
    const devices = fleet(10_000);
    const started = performance.now();
    const waves = planWaves(spec({ waves: { kind: 'sizes', sizes: [1, '1%', '10%', '50%'] } }), devices);
    const elapsedMs = performance.now() - started;
    expect(waves.map((w) => w.length)).toEqual([1, 99, 900, 4000, 5000]);
    expect(new Set(waves.flat()).size).toBe(10_000);
    expect(elapsedMs).toBeLessThan(1000);
  });
});

describe('placeLateJoiners', () => {
  const now = new Date('2026-06-01T10:00:00Z');
  const base = () => createRollout('r1', spec({ waves: { kind: 'sizes', sizes: [2, 4, 6] } }), fleet(6), now); // waves 2, 2, 2

  it('goes to the current wave while it is not evaluated', () => {
    const s = applyActions(base(), [{ kind: 'start' }, { kind: 'advance', toWave: 1 }], now);
    expect(placeLateJoiners(s, ['new-1'])).toEqual({ kind: 'place', wave: 1, deviceIds: ['new-1'] });
  });

  it('goes to the next unstarted wave once the current one is evaluated', () => {
    const s = applyActions(base(), [{ kind: 'start' }, { kind: 'fail', wave: 0, action: 'pause', reason: 'x' }], now);
    expect(placeLateJoiners(s, ['new-1'])?.wave).toBe(1);
  });

  it('goes to a new final wave when every wave is evaluated', () => {
    const s = applyActions(
      base(),
      [{ kind: 'start' }, { kind: 'advance', toWave: 1 }, { kind: 'advance', toWave: 2 }, { kind: 'fail', wave: 2, action: 'pause', reason: 'x' }],
      now,
    );
    expect(placeLateJoiners(s, ['new-1'])?.wave).toBe(3);
    const placed = applyActions(s, [placeLateJoiners(s, ['new-1']) ?? { kind: 'start' }], now);
    expect(placed.waves[3]).toEqual({ index: 3, devices: ['new-1'] });
    expect(placed.devices['new-1']).toEqual({ deviceId: 'new-1', wave: 3, status: 'pending' });
  });

  it('never joins the canary wave', () => {
    const devices = fleet(6, (i) => ({ role: 'kiosk', ...(i === 0 ? { tier: 'canary' } : {}) }));
    const s = createRollout('r1', spec({ canary: { selector: 'tier=canary' } }), devices, now);
    expect(s.waves[0]?.canary).toBe(true);
    expect(placeLateJoiners(s, ['new-1'])?.wave).toBe(1);
  });

  it('ignores devices already in the rollout and orders new ones by hash', () => {
    const s = base();
    expect(placeLateJoiners(s, ['dev-00001'])).toBeNull();
    const ids = ['z-1', 'a-2', 'm-3', 'dev-00002'];
    expect(placeLateJoiners(s, ids)?.deviceIds).toEqual(orderDevices('web', ['z-1', 'a-2', 'm-3']));
  });

  it('the reducer refuses a placement into an evaluated wave', () => {
    const s = applyActions(base(), [{ kind: 'start' }, { kind: 'fail', wave: 0, action: 'pause', reason: 'x' }], now);
    expect(applyActions(s, [{ kind: 'place', wave: 0, deviceIds: ['new-1'] }], now)).toBe(s);
  });
});
