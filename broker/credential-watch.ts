import type { Redis } from 'ioredis';
import { credentialChannel, type DeviceCredentials } from '../shared/device-credentials.js';
import { isDeviceId } from '../shared/device-id.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { IdentityRegistry } from './auth/identity.js';

/** The part of an aedes client the watch needs. */
export interface ClosableClient {
  readonly id: string;
  close(done?: () => void): void;
}

export interface CredentialWatchDeps {
  /** A connection of its own: SUBSCRIBE puts it in subscriber mode. Closed by close(). */
  subscriber: Redis;
  keyPrefix: string;
  credentials: Pick<DeviceCredentials, 'record'>;
  identities: IdentityRegistry;
  /** The live client with this id on this broker, if any. */
  clientOf: (clientId: string) => ClosableClient | undefined;
  /** Every live client on this broker. */
  allClients: () => Iterable<ClosableClient>;
  logger: Logger;
}

/**
 * Ends device sessions whose credential is no longer current (DD-022): the
 * controller announces a rotated or revoked credential on a Redis channel;
 * each broker process closes that device's connection if it authenticated
 * with an older record. A session already on the new secret stays. A broker
 * that was cut off from Redis may have missed announcements, so on every
 * resubscribe it re-checks all its live device sessions.
 */
export class CredentialWatch {
  private started = false;

  constructor(private readonly deps: CredentialWatchDeps) {}

  async start(): Promise<void> {
    const { subscriber, logger } = this.deps;
    const channel = credentialChannel(this.deps.keyPrefix);
    subscriber.on('message', (ch: string, message: string) => {
      if (ch !== channel || !isDeviceId(message)) return;
      this.revalidate(message).catch((err: unknown) => logger.warn({ deviceId: message, err: errorMessage(err) }, 'credential check failed'));
    });
    subscriber.on('ready', () => {
      // ioredis resubscribes by itself; what was announced meanwhile is re-checked here.
      if (!this.started) return;
      this.revalidateAll().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'credential re-check failed'));
    });
    await subscriber.subscribe(channel);
    this.started = true;
  }

  /** Closes the device's session on this broker unless it authenticated with the current record. */
  async revalidate(deviceId: string): Promise<boolean> {
    const client = this.deps.clientOf(deviceId);
    if (!client) return false;
    const identity = this.deps.identities.get(client);
    if (identity?.kind !== 'device') return false;
    const current = await this.deps.credentials.record(deviceId);
    if (current !== null && current === identity.credentialRecord) return false;
    this.deps.logger.info({ deviceId, revoked: current === null }, 'session ended: its credential was rotated or revoked');
    client.close();
    return true;
  }

  async revalidateAll(): Promise<number> {
    let closed = 0;
    for (const client of [...this.deps.allClients()]) {
      if (isDeviceId(client.id) && (await this.revalidate(client.id))) closed++;
    }
    return closed;
  }

  close(): void {
    this.deps.subscriber.disconnect();
  }
}
