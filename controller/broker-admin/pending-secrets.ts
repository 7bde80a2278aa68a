import type { Redis } from 'ioredis';
import type { Keys } from '../registry/keys.js';

/** Deletes the pending secret only if it is still the one applied: a newer rotation stays pending. */
const CLEAR = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
  return 1
end
if not redis.call('GET', KEYS[1]) then redis.call('SREM', KEYS[2], ARGV[2]) end
return 0`;

/**
 * Device secrets written with their credential record (registry/device-store.ts)
 * and waiting to be handed to the broker's admin API (DD-030). They live only
 * until applied: the adapter clears each one after the broker confirmed it.
 */
export class PendingSecrets {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  get(deviceId: string): Promise<string | null> {
    return this.redis.get(this.keys.brokerSecretPending(deviceId));
  }

  async ids(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.brokerSecretsPending())).sort();
  }

  /** Secrets of many devices (null: none pending). */
  async many(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (ids.length === 0) return out;
    const values = await this.redis.mget(...ids.map((id) => this.keys.brokerSecretPending(id)));
    ids.forEach((id, i) => {
      const v = values[i];
      if (typeof v === 'string') out.set(id, v);
    });
    return out;
  }

  /** True if `secret` was still the pending one and is now gone. */
  async clear(deviceId: string, secret: string): Promise<boolean> {
    const done = await this.redis.eval(CLEAR, 2, this.keys.brokerSecretPending(deviceId), this.keys.brokerSecretsPending(), secret, deviceId);
    return done === 1;
  }

  /** Drops whatever is pending (the device is gone or lost its credential). */
  async discard(deviceId: string): Promise<void> {
    await this.redis.multi().del(this.keys.brokerSecretPending(deviceId)).srem(this.keys.brokerSecretsPending(), deviceId).exec();
  }
}
