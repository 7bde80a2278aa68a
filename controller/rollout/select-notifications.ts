import type { RolloutState, TargetDevice } from './model.js';
import { windowCache, windowFor } from './windows.js';

const MINUTE_MS = 60_000;

export interface Selection {
  /** Wave index → devices to notify now, in wave order. */
  byWave: Map<number, string[]>;
  /** Earliest window start among devices held back by their window. */
  windowOpensAt: Date | null;
  /** Devices are waiting for the rate limit. */
  rateLimited: boolean;
}

/**
 * Pending devices of every started wave (not just the current one: a wave
 * that tripped early and was resumed past still delivers its remaining
 * devices), in wave order, inside their maintenance window, up to the rate
 * budget. Devices not in the target are skipped (the planner drops them).
 */
export function selectNotifications(
  state: RolloutState,
  targetDevices: readonly TargetDevice[],
  now: Date,
  budget: number,
): Selection {
  const labels = new Map(targetDevices.map((d) => [d.id, d.labels]));
  const windows = windowCache(now);
  const byWave = new Map<number, string[]>();
  let windowOpensAt: Date | null = null;
  let rateLimited = false;
  let left = budget;
  for (const wave of state.waves) {
    if (wave.index > state.currentWave || wave.startedAt === undefined) continue;
    for (const id of wave.devices) {
      const lab = labels.get(id);
      if (state.devices[id]?.status !== 'pending' || lab === undefined) continue;
      const window = windowFor(state.spec, lab);
      if (window && !windows.isOpen(window)) {
        const opens = windows.nextStart(window);
        if (!windowOpensAt || opens < windowOpensAt) windowOpensAt = opens;
        continue;
      }
      if (left <= 0) {
        rateLimited = true;
        continue;
      }
      left--;
      const list = byWave.get(wave.index);
      if (list) list.push(id);
      else byWave.set(wave.index, [id]);
    }
  }
  return { byWave, windowOpensAt, rateLimited };
}

/** Times (ms) of this rollout's notifications within the sliding minute before `now`. */
export function recentNotifications(state: RolloutState, now: Date): number[] {
  const from = now.getTime() - MINUTE_MS;
  const times: number[] = [];
  for (const d of Object.values(state.devices)) {
    if (d.notifiedAt === undefined) continue;
    const t = Date.parse(d.notifiedAt);
    if (t > from && t <= now.getTime()) times.push(t);
  }
  return times.sort((a, b) => a - b);
}

/**
 * Devices that may be notified now: ratePerMinute minus what was notified in
 * the last minute, by the worker's count or by this rollout's own record,
 * whichever is higher (the record makes planning after applying idempotent).
 */
export function rateBudget(state: RolloutState, notifiedInLastMinute: number, now: Date): number {
  const limit = state.spec.ratePerMinute;
  if (limit === undefined) return Number.POSITIVE_INFINITY;
  return Math.max(0, limit - Math.max(notifiedInLastMinute, recentNotifications(state, now).length));
}

/** When the budget next allows one more device. */
export function rateFreesAt(state: RolloutState, notifiedInLastMinute: number, now: Date): Date {
  const limit = state.spec.ratePerMinute ?? 1;
  const times = recentNotifications(state, now);
  let at = now.getTime() + MINUTE_MS;
  if (notifiedInLastMinute < limit) {
    // Only our own record binds: once its oldest entries leave the minute, one slot is free.
    const oldestThatMustExpire = times[times.length - limit];
    if (oldestThatMustExpire !== undefined) at = oldestThatMustExpire + MINUTE_MS;
  }
  return new Date(at);
}
