import { describe, expect, it } from 'vitest';
import { countByKind, FAULT_KINDS, planFaults, type FaultPlanInput, type PlannedFault } from '../../bench/chaos/fault-plan.js';
import { seededRandom } from '../../shared/seeded-random.js';

const input = (seed: number, over: Partial<FaultPlanInput> = {}): FaultPlanInput => ({
  durationMs: 600_000,
  groups: 10,
  brokers: 2,
  keepaliveSeconds: 15,
  meanGapMs: 4_000,
  random: seededRandom(seed),
  ...over,
});

const groupsOf = (f: PlannedFault): number[] => ('groups' in f ? f.groups : 'group' in f ? [f.group] : []);

describe('chaos fault plan', () => {
  it('is the same plan for the same seed, another for another seed', () => {
    expect(planFaults(input(7))).toEqual(planFaults(input(7)));
    expect(planFaults(input(7))).not.toEqual(planFaults(input(8)));
  });

  it('starts every fault inside the run, in order, and every kind comes up in a long run', () => {
    const plan = planFaults(input(3));
    expect(plan.every((f, i) => f.atMs >= 0 && f.atMs < 600_000 && f.atMs >= (plan[i - 1]?.atMs ?? 0))).toBe(true);
    expect(Object.values(countByKind(plan)).every((n) => n > 0)).toBe(true);
    expect(Object.keys(countByKind([]))).toEqual([...FAULT_KINDS]);
  });

  it('gives a group one link fault at a time and kills no process that is still down', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const plan = planFaults(input(seed, { groups: 3 }));
      const busy = new Map<string, number>();
      for (const f of plan) {
        const targets = f.kind === 'broker-kill' ? [`broker ${f.broker}`] : f.kind === 'redis-restart' || f.kind === 'controller-kill' ? [f.kind] : groupsOf(f).map((g) => `group ${g}`);
        for (const t of targets) {
          expect(busy.get(t) ?? 0, `${t} at ${f.atMs} (seed ${seed})`).toBeLessThanOrEqual(f.atMs);
          busy.set(t, f.atMs + f.durationMs);
        }
      }
    }
  });

  it('partitions for longer than the keepalive (F4) and flaps about 30 % of the groups (F5), unless the run ends first', () => {
    const plan = planFaults(input(11));
    for (const f of plan) {
      const cut = f.atMs + f.durationMs >= 600_000;
      if (f.kind === 'partition' && !cut) expect(f.durationMs).toBeGreaterThan(15_000);
      if (f.kind === 'long-offline' && !cut) expect(f.durationMs).toBeGreaterThanOrEqual(45_000);
      if (f.kind === 'flapping') expect(f.groups.length).toBeLessThanOrEqual(3);
    }
    expect(plan.some((f) => f.kind === 'flapping' && f.groups.length === 3)).toBe(true);
  });
});
