import { describe, expect, it } from 'vitest';
import { planFlaps } from '../helpers/flap-schedule.js';

describe('planFlaps (the F5 schedule)', () => {
  const opts = { seed: 42, devices: 10, share: 0.3, durationMs: 45_000, keepaliveSeconds: 10 };

  it('is the same plan for the same seed, and another one for another seed', () => {
    expect(planFlaps(opts)).toEqual(planFlaps(opts));
    expect(planFlaps({ ...opts, seed: 43 })).not.toEqual(planFlaps(opts));
  });

  it('flaps 30 % of the devices (at least one), each within the run, outages of one device apart', () => {
    for (let seed = 1; seed <= 50; seed++) {
      for (const devices of [1, 3, 8, 10, 40]) {
        const plan = planFlaps({ ...opts, seed, devices });
        expect(plan.flapping).toHaveLength(Math.max(1, Math.round(devices * 0.3)));
        expect(new Set(plan.flapping).size).toBe(plan.flapping.length);
        for (const device of plan.flapping) {
          const own = plan.outages.filter((o) => o.device === device);
          expect(own.length).toBeGreaterThan(0);
          own.forEach((o, i) => {
            expect(o.cutAtMs).toBeLessThan(o.healAtMs);
            expect(o.healAtMs).toBeLessThanOrEqual(opts.durationMs);
            if (i > 0) expect(o.cutAtMs).toBeGreaterThanOrEqual(own[i - 1]!.healAtMs + 2_000);
          });
        }
        expect(plan.outages.every((o) => plan.flapping.includes(o.device))).toBe(true);
      }
    }
  });

  it('mixes outages shorter than the keepalive with ones past 1.5 keepalives', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const { outages } = planFlaps({ ...opts, seed });
      expect(outages.some((o) => o.long && o.healAtMs - o.cutAtMs >= 15_000)).toBe(true);
      expect(outages.some((o) => o.healAtMs - o.cutAtMs < 10_000)).toBe(true);
    }
  });
});
