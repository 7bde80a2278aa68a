import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * DD-047: the broker's stored packets at rest. A sealed value is
 * `0xc1 | 0x01 | key id (4 bytes) | nonce (12) | ciphertext | tag (16)`:
 * AES-256-GCM with a random 96-bit nonce per value and the value's place in
 * Redis (kind + topic / entry / client) as additional authenticated data, so
 * a value copied to another place does not open there. 0xc1 is the one byte
 * msgpack never writes, so a value stored in clear before the key was set
 * (a msgpack map) is told from a sealed one by its first byte and still read.
 */
export const STORE_KEY_BYTES = 32;
const MARK = 0xc1;
const VERSION = 0x01;
const KEY_ID_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 2 + KEY_ID_BYTES;

export type StoreSealErrorCode = 'BROKER_STORE_NO_KEY' | 'BROKER_STORE_WRONG_KEY' | 'BROKER_STORE_TAMPERED' | 'BROKER_STORE_MALFORMED';

/** A stored packet that does not open; the message never holds the value. */
export class StoreSealError extends Error {
  constructor(
    readonly code: StoreSealErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StoreSealError';
  }
}

/** First 8 hex of SHA-256 of the key: names a key in logs and in sealed values without revealing it. */
export function storeKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 2 * KEY_ID_BYTES);
}

export function isSealed(stored: Buffer): boolean {
  return stored.length > 0 && stored[0] === MARK;
}

export class PacketSeal {
  readonly keyId: string;
  readonly #keyIdBytes: Buffer;

  constructor(
    private readonly key: Buffer,
    private readonly random: (size: number) => Buffer = randomBytes,
  ) {
    if (key.length !== STORE_KEY_BYTES) throw new Error(`a broker store key is ${STORE_KEY_BYTES} bytes, got ${key.length}`);
    this.keyId = storeKeyId(key);
    this.#keyIdBytes = Buffer.from(this.keyId, 'hex');
  }

  seal(place: string, plaintext: Buffer): Buffer {
    const nonce = this.random(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(place, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([MARK, VERSION]), this.#keyIdBytes, nonce, body, cipher.getAuthTag()]);
  }

  /** Opens a value seal() wrote for the same place; throws StoreSealError otherwise. */
  open(place: string, sealed: Buffer): Buffer {
    if (!isSealed(sealed) || sealed[1] !== VERSION || sealed.length < HEADER_BYTES + NONCE_BYTES + TAG_BYTES) {
      throw new StoreSealError('BROKER_STORE_MALFORMED', `a stored ${kindOf(place)} is not a sealed value of a known version`);
    }
    const id = sealed.subarray(2, HEADER_BYTES).toString('hex');
    if (id !== this.keyId) {
      throw new StoreSealError('BROKER_STORE_WRONG_KEY', `a stored ${kindOf(place)} was sealed with another store key (id ${id}; this broker has ${this.keyId})`);
    }
    const nonce = sealed.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonce);
    decipher.setAAD(Buffer.from(place, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES + NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch (err) {
      throw new StoreSealError('BROKER_STORE_TAMPERED', `a stored ${kindOf(place)} fails authentication (altered in Redis, or moved from another place)`, { cause: err });
    }
  }
}

/** The kind part of a place (`retained\0<topic>` → retained): the rest may name a client. */
function kindOf(place: string): string {
  return place.split('\0', 1)[0] ?? 'packet';
}
