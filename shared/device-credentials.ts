import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isDeviceId, type DeviceId } from '../../shared/device-id.js';

/** Bytes of randomness in an issued secret (base64url: 43 characters). */
export const SECRET_BYTES = 32;
/**
 * Shortest secret `set()` accepts. The fast hash below is only sound for
 * high-entropy secrets; 16 random base64url characters are ~96 bits.
 */
export const MIN_SECRET_LENGTH = 16;
export const MAX_SECRET_LENGTH = 1024;

const SALT_BYTES = 16;
const RECORD = /^v1\$([0-9a-f]{32})\$([0-9a-f]{64})$/;

/**
 * Per-device MQTT passwords, stored in Redis as `v1$<salt hex>$<HMAC-SHA256(salt, secret) hex>`.
 *
 * Why a fast keyed hash and not bcrypt/scrypt/argon2: these secrets are
 * random 256-bit tokens, not human passwords, so there is nothing for a slow
 * KDF to protect against a leaked hash (brute force of 2^256 is infeasible at
 * any speed). A slow KDF would instead cost ~50-100 ms of broker CPU per
 * CONNECT: a reconnect storm of a few thousand devices after a broker restart
 * would pin the event loop for minutes. The per-record salt keeps identical
 * secrets from producing identical records.
 *
 * The controller reuses this class to enroll devices.
 */
export class DeviceCredentials {
  readonly #redis: Redis;
  readonly #keyPrefix: string;

  constructor(redis: Redis, keyPrefix: string) {
    this.#redis = redis;
    this.#keyPrefix = keyPrefix;
  }

  /** Creates (or replaces) the device's secret; the only time the secret is ever visible. */
  async issue(deviceId: DeviceId): Promise<string> {
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    await this.set(deviceId, secret);
    return secret;
  }

  async set(deviceId: DeviceId, secret: string): Promise<void> {
    const key = this.#key(deviceId);
    if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
      throw new RangeError(`device secret must be ${MIN_SECRET_LENGTH}-${MAX_SECRET_LENGTH} characters`);
    }
    const salt = randomBytes(SALT_BYTES);
    await this.#redis.set(key, `v1$${salt.toString('hex')}$${digest(salt, secret).toString('hex')}`);
  }

  /** Constant-time check. False for unknown devices and malformed records; Redis failures reject. */
  async verify(deviceId: DeviceId, secret: string | Buffer): Promise<boolean> {
    if (!isDeviceId(deviceId)) return false;
    const record = await this.#redis.get(this.#key(deviceId));
    const match = record === null ? null : RECORD.exec(record);
    // Hash even when there is no record, so an unknown device id costs the
    // same as a wrong secret and timing does not reveal which ids exist.
    const salt = match?.[1] !== undefined ? Buffer.from(match[1], 'hex') : Buffer.alloc(SALT_BYTES);
    const expected = match?.[2] !== undefined ? Buffer.from(match[2], 'hex') : Buffer.alloc(32);
    const actual = digest(salt, secret);
    return timingSafeEqual(actual, expected) && match !== null;
  }

  /** True if a credential was removed. */
  async revoke(deviceId: DeviceId): Promise<boolean> {
    return (await this.#redis.del(this.#key(deviceId))) > 0;
  }

  async exists(deviceId: DeviceId): Promise<boolean> {
    return (await this.#redis.exists(this.#key(deviceId))) > 0;
  }

  #key(deviceId: DeviceId): string {
    if (!isDeviceId(deviceId)) throw new TypeError(`invalid device id: ${JSON.stringify(deviceId)}`);
    return `${this.#keyPrefix}cred:${deviceId}`;
  }
}

function digest(salt: Buffer, secret: string | Buffer): Buffer {
  return createHmac('sha256', salt).update(secret).digest();
}
