import { createHash } from 'node:crypto';
import { matches, parseSelector } from '../desired-state/selector.js';
import type { RolloutSpec, TargetDevice } from './model.js';

/**
 * Deterministic device order: sha256(`${app}:${deviceId}`). Stable across
 * processes and restarts, independent of registration order, and per app, so
 * a new release of the same app picks the same first devices again while
 * different apps spread their early waves over different devices.
 */
export function deviceRank(app: string, deviceId: string): string {
  return createHash('sha256').update(`${app}:${deviceId}`).digest('hex');
}

export function orderDevices(app: string, deviceIds: Iterable<string>): string[] {
  const ranked = [...new Set(deviceIds)].map((id) => ({ id, rank: deviceRank(app, id) }));
  ranked.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ranked.map((r) => r.id);
}

/**
 * Canaries first: explicit ids in the order given, then devices matching the
 * canary selector in hash order. Canaries must be in the target; named ones
 * that are not are ignored. The rest follow in hash order.
 */
export function rolloutOrder(
  spec: Pick<RolloutSpec, 'app' | 'canary'>,
  devices: readonly TargetDevice[],
): { canaries: string[]; rest: string[] } {
  const inTarget = new Map(devices.map((d) => [d.id, d]));
  const canaries: string[] = [];
  const taken = new Set<string>();
  for (const id of spec.canary?.devices ?? []) {
    if (inTarget.has(id) && !taken.has(id)) {
      canaries.push(id);
      taken.add(id);
    }
  }
  if (spec.canary?.selector) {
    const selector = parseSelector(spec.canary.selector);
    const matching = devices.filter((d) => !taken.has(d.id) && matches(selector, d.labels)).map((d) => d.id);
    for (const id of orderDevices(spec.app, matching)) {
      canaries.push(id);
      taken.add(id);
    }
  }
  const rest = orderDevices(
    spec.app,
    devices.filter((d) => !taken.has(d.id)).map((d) => d.id),
  );
  return { canaries, rest };
}
