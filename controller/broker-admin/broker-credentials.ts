import type { Redis } from 'ioredis';
import { credentialRecord } from '../../shared/device-credentials.js';
import type { Keys } from '../registry/keys.js';
import type { SessionControl } from '../mqtt/session-control.js';

/**
 * The broker-credentials port (DD-030): how device credentials reach the
 * broker. The registry stays the truth: a device may connect while its
 * credential record (`<prefix>cred:<id>`) exists. An adapter makes its broker
 * agree, after every registry write and again in a repair pass, so a crash or
 * an unreachable broker between the two only delays it.
 *
 * - `outpost` (RedisBrokerCredentials): Outpost's broker reads the record
 *   from Redis on CONNECT; changes are announced on a Redis channel.
 * - `mosquitto-dynsec` (DynsecBrokerCredentials): Mosquitto keeps its own
 *   clients and roles, managed through its dynamic-security plugin.
 */
export interface BrokerCredentials extends SessionControl {
  readonly kind: 'outpost' | 'mosquitto-dynsec';
  /**
   * The registry must keep each new secret itself (not only its hash) until
   * the adapter has applied it: the broker's admin API takes plaintext.
   */
  readonly keepsPendingSecret: boolean;
  /**
   * Makes the broker agree with the registry for one device (create, change
   * or delete its client), then ends its sessions on an older credential.
   * How many brokers heard it; 0 when it could not be applied now (it stays
   * pending for the repair pass).
   */
  credentialChanged(deviceId: string): Promise<number>;
  /** A throwaway secret the controller connects with to purge the device's session (mqtt/purge-session.ts). */
  setPurgeSecret(deviceId: string, secret: string): Promise<void>;
  /** Removes the credential: the record, and the broker's client where it keeps one. */
  revoke(deviceId: string): Promise<void>;
  /** Connects the admin side and runs the first repair pass (bounded by `waitMs`); no-op for Outpost's broker. */
  start(waitMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Outpost's own broker: the record in Redis is what it checks; no copy to keep in step. */
export class RedisBrokerCredentials implements BrokerCredentials {
  readonly kind = 'outpost';
  readonly keepsPendingSecret = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly sessions: SessionControl,
  ) {}

  credentialChanged(deviceId: string): Promise<number> {
    return this.sessions.credentialChanged(deviceId);
  }

  async setPurgeSecret(deviceId: string, secret: string): Promise<void> {
    await this.redis.set(this.keys.credential(deviceId), credentialRecord(secret));
  }

  async revoke(deviceId: string): Promise<void> {
    await this.redis.del(this.keys.credential(deviceId));
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}
