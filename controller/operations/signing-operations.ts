import type { DesiredPublisher } from '../desired-state/desired-publisher.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import { markUnpublished } from '../signing/expiry-refresher.js';
import type { SigningKeys, SigningKeysView } from '../signing/signing-keys.js';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { deliveryOf, type Delivery } from './delivery.js';

export interface SigningOperationsDeps {
  redis: Redis;
  keys: Keys;
  devices: DeviceStore;
  signingKeys: SigningKeys;
  publisher: Pick<DesiredPublisher, 'settle'>;
  logger: Logger;
}

/**
 * The desired-document signing keys (DD-026): show them (the trust file a
 * device is enrolled with), and rotate them without re-enrolment. Both
 * rotation steps re-sign every device's current document (same versions),
 * so the new trust set reaches every device that is listening.
 */
export class SigningOperations {
  constructor(private readonly deps: SigningOperationsDeps) {}

  view(): Promise<SigningKeysView> {
    return this.deps.signingKeys.view();
  }

  async rotate(): Promise<{ keys: SigningKeysView; delivery: Delivery }> {
    const keys = await this.deps.signingKeys.rotate();
    this.deps.logger.info({ active: keys.active.keyId, next: keys.next?.keyId }, 'signing key rotation started');
    return { keys, delivery: await this.resignAll() };
  }

  async finish(): Promise<{ keys: SigningKeysView; delivery: Delivery }> {
    const keys = await this.deps.signingKeys.finish();
    this.deps.logger.info({ active: keys.active.keyId }, 'signing key rotation finished');
    return { keys, delivery: await this.resignAll() };
  }

  private async resignAll(): Promise<Delivery> {
    const ids = await this.deps.devices.ids();
    const published = new Set(await this.publishedIds(ids));
    await markUnpublished(this.deps.redis, this.deps.keys, [...published]);
    return deliveryOf(await this.deps.publisher.settle([...published]));
  }

  /** Devices that have a stored document (the others have nothing to re-sign). */
  private async publishedIds(ids: readonly string[]): Promise<string[]> {
    const pipeline = this.deps.redis.pipeline();
    for (const id of ids) pipeline.hexists(this.deps.keys.desired(id), 'doc');
    const rows = (await pipeline.exec()) ?? [];
    return ids.filter((_, i) => rows[i]?.[1] === 1);
  }
}
