import type { Redis } from 'ioredis';
import { coveredBy, parseScopes } from '../desired-state/dirty-scopes.js';
import type { Device } from '../model/device.js';
import type { Keys } from '../registry/keys.js';

/**
 * Which of `devices` have an operator change that is not on the broker yet
 * (DD-021): a dirty scope that covers them (stored in the registry, not yet
 * composed) or a stored document the broker has not acknowledged.
 */
export async function pendingDevices(redis: Redis, keys: Keys, devices: readonly Pick<Device, 'id' | 'labels'>[]): Promise<Set<string>> {
  const [members, unpublished] = await Promise.all([redis.zrange(keys.dirty(), 0, -1), redis.smembers(keys.unpublished())]);
  if (members.length === 0 && unpublished.length === 0) return new Set();
  const scopes = parseScopes(members, unpublished);
  return new Set(devices.filter((d) => coveredBy(scopes, d)).map((d) => d.id));
}
