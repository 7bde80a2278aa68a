import type { Redis } from 'ioredis';
import { matches, parseSelector, type Selector } from '../desired-state/selector.js';
import type { Device } from '../model/device.js';
import type { Keys } from '../registry/keys.js';
import { ALL_SCOPE } from '../registry/registry-tx.js';

/**
 * Which of `devices` have an operator change that is not on the broker yet
 * (DD-021): a dirty scope that covers them (stored in the registry, not yet
 * composed) or a stored document the broker has not acknowledged.
 */
export async function pendingDevices(redis: Redis, keys: Keys, devices: readonly Pick<Device, 'id' | 'labels'>[]): Promise<Set<string>> {
  const [scopes, unpublished] = await Promise.all([redis.zrange(keys.dirty(), 0, -1), redis.smembers(keys.unpublished())]);
  const out = new Set<string>();
  if (scopes.length === 0 && unpublished.length === 0) return out;
  const direct = new Set(unpublished);
  const selectors: Selector[] = [];
  let all = false;
  for (const s of scopes) {
    if (s === ALL_SCOPE) all = true;
    else if (s.startsWith('d:')) direct.add(s.slice(2));
    else if (s.startsWith('s:')) {
      try {
        selectors.push(parseSelector(s.slice(2)));
      } catch {
        // validated when stored; an unreadable one marks nothing
      }
    }
  }
  for (const d of devices) {
    if (all || direct.has(d.id) || selectors.some((sel) => matches(sel, d.labels))) out.add(d.id);
  }
  return out;
}
