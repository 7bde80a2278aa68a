import { seededRandom } from '../../shared/seeded-random.js';

/** One outage of one device's link: cut at `cutAtMs`, healed at `healAtMs` (ms from the start of the run). */
export interface Outage {
  readonly device: number;
  readonly cutAtMs: number;
  readonly healAtMs: number;
  /** Longer than 1.5 keepalives: both ends give the connection up (broker: the will; agent: a reconnect). */
  readonly long: boolean;
}

export interface FlapPlan {
  /** Indices of the devices whose links flap. */
  readonly flapping: readonly number[];
  /** Every outage, by start time. */
  readonly outages: readonly Outage[];
}

export interface FlapPlanOptions {
  readonly seed: number;
  readonly devices: number;
  /** Share of the devices whose links flap (at least one). */
  readonly share: number;
  readonly durationMs: number;
  readonly keepaliveSeconds: number;
}

/**
 * The F5 schedule, pure and seeded: which devices flap, and when each of
 * their links goes down and comes back. Outages alternate (from a random
 * first kind) between short ones, shorter than the keepalive (a hiccup TCP
 * rides out), and long ones, past 1.5 keepalives (the broker gives the
 * session up and the agent reconnects); links are up 2 to 12 s in between.
 * Nothing is cut after `durationMs`; an outage still open then ends there.
 */
export function planFlaps(opts: FlapPlanOptions): FlapPlan {
  const random = seededRandom(opts.seed);
  const between = (lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));
  const keepaliveMs = opts.keepaliveSeconds * 1000;
  const count = Math.min(opts.devices, Math.max(1, Math.round(opts.devices * opts.share)));
  const pool = Array.from({ length: opts.devices }, (_, i) => i);
  const flapping: number[] = [];
  while (flapping.length < count) flapping.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  flapping.sort((a, b) => a - b);

  const outages: Outage[] = [];
  for (const device of flapping) {
    let t = between(0, 5_000);
    let long = random() < 0.5;
    while (t < opts.durationMs) {
      const length = long ? between(1.6 * keepaliveMs, 2.5 * keepaliveMs) : between(1_000, 0.8 * keepaliveMs);
      const healAtMs = Math.min(t + length, opts.durationMs);
      outages.push({ device, cutAtMs: t, healAtMs, long: long && healAtMs - t >= 1.5 * keepaliveMs });
      t = healAtMs + between(2_000, 12_000);
      long = !long;
    }
  }
  outages.sort((a, b) => a.cutAtMs - b.cutAtMs || a.device - b.device);
  return { flapping, outages };
}
