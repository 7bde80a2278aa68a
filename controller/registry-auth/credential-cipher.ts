import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Registry passwords at rest (DD-041): AES-256-GCM, a random 96-bit nonce
 * per value, the registry host as additional authenticated data (a value
 * copied to another host's record does not open there). A sealed value is
 * one string: `v1.<key id>.<base64url(nonce | ciphertext | tag)>`; the key id
 * (first 8 hex of SHA-256 of the key) tells "another key" from "tampered".
 */
export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SEALED = /^v1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)$/;

export type CipherErrorCode = 'CREDENTIAL_WRONG_KEY' | 'CREDENTIAL_TAMPERED' | 'CREDENTIAL_MALFORMED';

/** A sealed value that does not open; the message never holds the value. Terminal: the operator must fix the key or log in again. */
export class CredentialCipherError extends Error {
  constructor(
    readonly code: CipherErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CredentialCipherError';
  }
}

export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export class CredentialCipher {
  readonly keyId: string;

  constructor(
    private readonly key: Buffer,
    private readonly random: (size: number) => Buffer = randomBytes,
  ) {
    if (key.length !== KEY_BYTES) throw new Error(`a registry-credentials key is ${KEY_BYTES} bytes, got ${key.length}`);
    this.keyId = keyIdOf(key);
  }

  seal(host: string, plaintext: string): string {
    const nonce = this.random(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(host, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${this.keyId}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  open(host: string, sealed: string): string {
    const m = SEALED.exec(sealed);
    const raw = m?.[2] === undefined ? null : Buffer.from(m[2], 'base64url');
    if (!m || !raw || raw.length < NONCE_BYTES + TAG_BYTES) {
      throw new CredentialCipherError('CREDENTIAL_MALFORMED', `the stored credentials of ${host} are not a sealed value`);
    }
    if (m[1] !== this.keyId) {
      throw new CredentialCipherError(
        'CREDENTIAL_WRONG_KEY',
        `the stored credentials of ${host} were sealed with another key (id ${m[1] ?? '?'}; this controller has ${this.keyId}): restore that key file, or run registry-login ${host} again`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(host, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new CredentialCipherError('CREDENTIAL_TAMPERED', `the stored credentials of ${host} fail authentication (altered in Redis, or moved from another host): run registry-login ${host} again`, {
        cause: err,
      });
    }
  }
}
