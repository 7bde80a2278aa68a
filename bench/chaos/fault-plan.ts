/**
 * The chaos run's schedule (issue 13), planned purely from a seeded random
 * source: which fault starts when, on what, for how long. The executor
 * (fault-executor.ts) carries it out. Faults of the control plane and of the
 * device links overlap freely; one group of devices has one link fault at a
 * time, and one process is not killed again while it is down.
 */

export const FAULT_KINDS = [
  'broker-kill',
  'redis-restart',
  'controller-kill',
  'partition',
  'flapping',
  'half-open',
  'slow-link',
  'long-offline',
  'frozen-subscriber',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The fault matrix number of each kind (F9, clock skew, is a property of devices for the whole run). */
export const FAULT_NUMBER: Readonly<Record<FaultKind, string>> = {
  'broker-kill': 'F1',
  'redis-restart': 'F2',
  'controller-kill': 'F3',
  partition: 'F4',
  flapping: 'F5',
  'half-open': 'F6',
  'slow-link': 'F7',
  'long-offline': 'F8',
  'frozen-subscriber': 'F10',
};

export type PlannedFault =
  | { kind: 'broker-kill'; atMs: number; durationMs: number; broker: number }
  | { kind: 'redis-restart' | 'controller-kill'; atMs: number; durationMs: number }
  | { kind: 'partition' | 'half-open' | 'slow-link' | 'long-offline' | 'frozen-subscriber'; atMs: number; durationMs: number; group: number }
  | { kind: 'flapping'; atMs: number; durationMs: number; groups: number[] };

export interface FaultPlanInput {
  durationMs: number;
  groups: number;
  brokers: number;
  keepaliveSeconds: number;
  /** Mean time between two fault starts. */
  meanGapMs: number;
  random: () => number;
}

const between = (random: () => number, lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));

/** How long each kind lasts; for a process, how long it stays down. */
function durationOf(kind: FaultKind, keepaliveMs: number, random: () => number): number {
  switch (kind) {
    case 'broker-kill':
    case 'controller-kill':
      return between(random, 1_000, 6_000);
    case 'redis-restart':
      return between(random, 1_000, 4_000);
    case 'partition':
      // F4: longer than the keepalive, so both ends declare the connection dead before it heals.
      return between(random, 1.5 * keepaliveMs, 3 * keepaliveMs);
    case 'flapping':
      return between(random, 20_000, 60_000);
    case 'half-open':
      return 2 * keepaliveMs;
    case 'slow-link':
      return between(random, 20_000, 60_000);
    case 'long-offline':
      return between(random, 3 * keepaliveMs, 5 * keepaliveMs);
    case 'frozen-subscriber':
      return between(random, 15_000, 40_000);
  }
}

export function planFaults(input: FaultPlanInput): PlannedFault[] {
  const { random } = input;
  const keepaliveMs = input.keepaliveSeconds * 1000;
  const groupFreeAt = Array.from({ length: input.groups }, () => 0);
  const brokerFreeAt = Array.from({ length: input.brokers }, () => 0);
  const freeAt: Record<'redis-restart' | 'controller-kill', number> = { 'redis-restart': 0, 'controller-kill': 0 };
  const plan: PlannedFault[] = [];
  // Exponential gaps (a Poisson process), the first one too.
  for (let at = -Math.log(1 - random()) * input.meanGapMs; at < input.durationMs; at += -Math.log(1 - random()) * input.meanGapMs) {
    const atMs = Math.round(at);
    const kind = FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)] ?? 'partition';
    const durationMs = Math.min(durationOf(kind, keepaliveMs, random), Math.max(1_000, input.durationMs - atMs));
    if (kind === 'broker-kill') {
      const broker = Math.floor(random() * input.brokers);
      if ((brokerFreeAt[broker] ?? 0) > atMs) continue;
      brokerFreeAt[broker] = atMs + durationMs;
      plan.push({ kind, atMs, durationMs, broker });
    } else if (kind === 'redis-restart' || kind === 'controller-kill') {
      if (freeAt[kind] > atMs) continue;
      freeAt[kind] = atMs + durationMs;
      plan.push({ kind, atMs, durationMs });
    } else {
      const free = groupFreeAt.flatMap((t, g) => (t <= atMs ? [g] : []));
      if (free.length === 0) continue;
      if (kind === 'flapping') {
        // F5: about 30 % of the fleet flaps at once.
        const want = Math.max(1, Math.round(0.3 * input.groups));
        const groups: number[] = [];
        while (groups.length < Math.min(want, free.length)) {
          const g = free[Math.floor(random() * free.length)] ?? 0;
          if (!groups.includes(g)) groups.push(g);
        }
        for (const g of groups) groupFreeAt[g] = atMs + durationMs;
        plan.push({ kind, atMs, durationMs, groups: groups.sort((a, b) => a - b) });
      } else {
        const group = free[Math.floor(random() * free.length)] ?? 0;
        groupFreeAt[group] = atMs + durationMs;
        plan.push({ kind, atMs, durationMs, group });
      }
    }
  }
  return plan;
}

/** Faults per kind, every kind listed (0 when it never came up). */
export function countByKind(plan: readonly { kind: FaultKind }[]): Record<FaultKind, number> {
  const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of plan) counts[f.kind] += 1;
  return counts;
}
