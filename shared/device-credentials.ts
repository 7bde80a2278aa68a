import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isDeviceId, type DeviceId } from './device-id.js';

/**
 * The device credential record: a contract between the broker (which checks
 * it on CONNECT) and the controller (which writes it at enrolment and
 * rotation, sometimes inside a Lua script together with the device record).
 *
 * Key: `<keyPrefix>cred:<deviceId>`, a string.
 * Value: `v1$<salt hex>$<HMAC-SHA256(salt, secret) hex>`.
 *
 * Why a fast keyed hash and not bcrypt/scrypt/argon2 (DD-007): these secrets
 * are random 256-bit tokens, not human passwords, so there is nothing for a
 * slow KDF to protect against a leaked hash. A slow KDF would instead cost
 * ~50-100 ms of broker CPU per CONNECT: a reconnect storm of a few thousand
 * devices after a broker restart would pin the event loop for minutes. The
 * per-record salt keeps identical secrets from producing identical records.
 */

/** Bytes of randomness in an issued secret (base64url: 43 characters). */
export const SECRET_BYTES = 32;
/**
 * Shortest secret accepted. The fast hash is only sound for high-entropy
 * secrets; a person choosing one (`broker add-device --secret-file`, a
 * client-generated `secret` in the API) must give at least 32 characters,
 * 192 bits of base64url randomness (DD-025). Issued secrets have 43.
 */
export const MIN_SECRET_LENGTH = 32;
export const MAX_SECRET_LENGTH = 1024;

const SALT_BYTES = 16;
const RECORD = /^v1\$([0-9a-f]{32})\$([0-9a-f]{64})$/;

export function credentialKey(keyPrefix: string, deviceId: DeviceId): string {
  if (!isDeviceId(deviceId)) throw new TypeError(`invalid device id: ${JSON.stringify(deviceId)}`);
  return `${keyPrefix}cred:${deviceId}`;
}

/** A fresh random secret: printed once, never stored. */
export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

export function checkSecret(secret: string): void {
  if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
    throw new RangeError(`device secret must be ${MIN_SECRET_LENGTH}-${MAX_SECRET_LENGTH} characters`);
  }
}

/** The stored form of a secret, with a fresh salt. */
export function credentialRecord(secret: string): string {
  checkSecret(secret);
  const salt = randomBytes(SALT_BYTES);
  return `v1$${salt.toString('hex')}$${digest(salt, secret).toString('hex')}`;
}

/**
 * Constant-time check of a secret against a stored record (null: no record).
 * An absent or malformed record costs the same hash as a wrong secret, so
 * timing does not reveal which device ids exist.
 */
export function verifyRecord(record: string | null, secret: string | Buffer): boolean {
  const match = record === null ? null : RECORD.exec(record);
  const salt = match?.[1] !== undefined ? Buffer.from(match[1], 'hex') : Buffer.alloc(SALT_BYTES);
  const expected = match?.[2] !== undefined ? Buffer.from(match[2], 'hex') : Buffer.alloc(32);
  const actual = digest(salt, secret);
  return timingSafeEqual(actual, expected) && match !== null;
}

/** Per-device MQTT passwords in Redis, in the record format above. */
export class DeviceCredentials {
  readonly #redis: Redis;
  readonly #keyPrefix: string;

  constructor(redis: Redis, keyPrefix: string) {
    this.#redis = redis;
    this.#keyPrefix = keyPrefix;
  }

  /** Creates (or replaces) the device's secret; the only time the secret is ever visible. */
  async issue(deviceId: DeviceId): Promise<string> {
    const secret = newSecret();
    await this.set(deviceId, secret);
    return secret;
  }

  async set(deviceId: DeviceId, secret: string): Promise<void> {
    await this.#redis.set(credentialKey(this.#keyPrefix, deviceId), credentialRecord(secret));
  }

  /** Constant-time check. False for unknown devices and malformed records; Redis failures reject. */
  async verify(deviceId: DeviceId, secret: string | Buffer): Promise<boolean> {
    return (await this.check(deviceId, secret)) !== null;
  }

  /**
   * The record the secret matched, or null. The broker keeps it per
   * session, so a later rotation can end exactly the sessions that
   * authenticated with an older record.
   */
  async check(deviceId: DeviceId, secret: string | Buffer): Promise<string | null> {
    if (!isDeviceId(deviceId)) return null;
    const record = await this.#redis.get(credentialKey(this.#keyPrefix, deviceId));
    return verifyRecord(record, secret) ? record : null;
  }

  /** The current record of a device, or null. */
  record(deviceId: DeviceId): Promise<string | null> {
    return this.#redis.get(credentialKey(this.#keyPrefix, deviceId));
  }

  /** True if a credential was removed. */
  async revoke(deviceId: DeviceId): Promise<boolean> {
    return (await this.#redis.del(credentialKey(this.#keyPrefix, deviceId))) > 0;
  }

  async exists(deviceId: DeviceId): Promise<boolean> {
    return (await this.#redis.exists(credentialKey(this.#keyPrefix, deviceId))) > 0;
  }
}

function digest(salt: Buffer, secret: string | Buffer): Buffer {
  return createHmac('sha256', salt).update(secret).digest();
}

/**
 * Redis pub/sub channel on which the controller announces that a device's
 * credential changed (rotation, decommission). Every broker process then
 * ends that device's live sessions that authenticated with an older record.
 * Message: the device id.
 */
export function credentialChannel(keyPrefix: string): string {
  return `${keyPrefix}control:credentials`;
}
