import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API token format (DD-025): `opt_<id>_<secret>`. The id (12 hex characters)
 * names the token in listings, the audit log and `outpost token rm`; the
 * secret is 32 random bytes (base64url, 43 characters) and only its sha256
 * is stored. Lookup is by id, then a constant-time compare of the digest.
 *
 * Why a plain sha256 and no salt or slow KDF: like device secrets (DD-007),
 * the secret is machine-generated with 256 bits of entropy, so a leaked
 * digest cannot be brute-forced, and every API request pays the check.
 */
export const TOKEN_PREFIX = 'opt_';
const ID_BYTES = 6;
const SECRET_BYTES = 32;
const FORMAT = /^opt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export const TOKEN_ID_PATTERN = /^[0-9a-f]{12}$/;

export interface IssuedToken {
  id: string;
  /** The whole bearer token, shown once. */
  token: string;
  /** sha256 of the secret part, hex: what is stored. */
  digest: string;
}

export function tokenDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A fresh token; `random` is injectable for tests. */
export function issueToken(random: (size: number) => Buffer = randomBytes): IssuedToken {
  const id = random(ID_BYTES).toString('hex');
  const secret = random(SECRET_BYTES).toString('base64url');
  return { id, token: `${TOKEN_PREFIX}${id}_${secret}`, digest: tokenDigest(secret) };
}

/** The id and secret of a well-formed token; null for anything else (e.g. a configuration admin token). */
export function parseToken(token: string): { id: string; secret: string } | null {
  const m = FORMAT.exec(token);
  return m?.[1] !== undefined && m[2] !== undefined ? { id: m[1], secret: m[2] } : null;
}

/** Constant-time comparison of a presented secret with a stored digest; a malformed digest never matches. */
export function secretMatches(secret: string, storedDigest: string): boolean {
  const wellFormed = /^[0-9a-f]{64}$/.test(storedDigest);
  const expected = wellFormed ? Buffer.from(storedDigest, 'hex') : Buffer.alloc(32);
  return timingSafeEqual(Buffer.from(tokenDigest(secret), 'hex'), expected) && wellFormed;
}
