import type { Redis } from 'ioredis';
import { credentialChannel } from '../../shared/device-credentials.js';

/** Tells the brokers that a device's credential changed. */
export interface SessionControl {
  /** How many broker processes heard it (0: none listening, e.g. a stock Mosquitto). */
  credentialChanged(deviceId: string): Promise<number>;
}

/**
 * Over Redis pub/sub, which Outpost's brokers subscribe to (broker/credential-watch.ts):
 * each ends the device's sessions that authenticated with a credential
 * record that is no longer the current one. A broker that missed the message
 * (Redis away at that moment) re-checks every live session when it
 * resubscribes.
 */
export class RedisSessionControl implements SessionControl {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  async credentialChanged(deviceId: string): Promise<number> {
    return this.redis.publish(credentialChannel(this.keyPrefix), deviceId);
  }
}
