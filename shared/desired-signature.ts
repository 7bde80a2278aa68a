import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { jcs } from './jcs.js';

/**
 * Signed desired documents (DD-026, docs/protocol.md §6.2.1).
 *
 * The signature covers the RFC 8785 canonical form of the document exactly
 * as published (the JSON object, before any receiver fills in defaults),
 * without its `signature` member: deviceId, version, issuedAt, expiresAt,
 * workloads, registry credentials, trust — everything. Ed25519 (node:crypto).
 * A document may carry several signatures (one per key while a key rotation
 * is under way); it is valid when one of them verifies with a trusted key.
 */

export const SIGNATURE_ALG = 'ed25519';

/** A public key as documents and trust files carry it. */
export interface TrustedKey {
  keyId: string;
  /** The raw 32-byte Ed25519 public key, base64url. */
  publicKey: string;
}

export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
}

export interface DocSignature {
  alg: string;
  keyId: string;
  value: string;
}

/** `ed25519:` + the first 16 hex digits of SHA-256 over the raw public key. */
export function keyIdOf(rawPublicKey: string): string {
  return `${SIGNATURE_ALG}:${createHash('sha256').update(Buffer.from(rawPublicKey, 'base64url')).digest('hex').slice(0, 16)}`;
}

export function trustedKeyOf(key: KeyObject): TrustedKey {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return { keyId: keyIdOf(jwk.x), publicKey: jwk.x };
}

export function publicKeyOf(trusted: TrustedKey): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: trusted.publicKey }, format: 'jwk' });
}

/** The bytes a signature covers: the canonical form of the document without `signature`. */
export function signingPayload(doc: Readonly<Record<string, unknown>>, canonical: (value: unknown) => string = jcs): Buffer {
  const { signature: _signature, ...rest } = doc;
  return Buffer.from(canonical(rest), 'utf8');
}

/**
 * The document with `signature` set: one entry per key, a single object for one key.
 * `canonical` must produce RFC 8785 (default: jcs); a batch passes a memoizing one (shared/jcs-memo.ts).
 */
export function signDocument<T extends Record<string, unknown>>(doc: T, keys: readonly SigningKey[], canonical: (value: unknown) => string = jcs): T & { signature: DocSignature | DocSignature[] } {
  if (keys.length === 0) throw new Error('no signing key');
  const payload = signingPayload(doc, canonical);
  const signatures = keys.map((k) => ({ alg: SIGNATURE_ALG, keyId: k.keyId, value: sign(null, payload, k.privateKey).toString('base64url') }));
  return { ...doc, signature: signatures.length === 1 ? (signatures[0] as DocSignature) : signatures };
}

export type Verification =
  | { ok: true; keyId: string }
  | { ok: false; code: 'DESIRED_UNSIGNED' | 'DESIRED_SIGNATURE' | 'DESIRED_EXPIRED'; reason: string };

/**
 * Checks a document as received (`raw`: the parsed JSON, untouched): a
 * signature by a trusted key over its canonical form, and an `expiresAt`
 * that has not passed.
 */
export function verifyDocument(raw: unknown, trusted: readonly TrustedKey[], nowMs: number): Verification {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, code: 'DESIRED_UNSIGNED', reason: 'not a JSON object' };
  const doc = raw as Record<string, unknown>;
  const given = doc.signature;
  const signatures = (Array.isArray(given) ? given : given ? [given] : []) as Partial<DocSignature>[];
  if (signatures.length === 0) return { ok: false, code: 'DESIRED_UNSIGNED', reason: 'the document is not signed, and this agent accepts signed documents only' };
  const byId = new Map(trusted.map((k) => [k.keyId, k]));
  const known = signatures.filter((s) => s.alg === SIGNATURE_ALG && typeof s.keyId === 'string' && byId.has(s.keyId));
  if (known.length === 0) {
    const ids = signatures.map((s) => String(s.keyId)).join(', ');
    return { ok: false, code: 'DESIRED_SIGNATURE', reason: `signed by an unknown key (${ids}); this agent trusts ${[...byId.keys()].join(', ') || 'no key'}` };
  }
  const payload = signingPayload(doc);
  const good = known.find((s) => {
    const key = byId.get(s.keyId as string) as TrustedKey;
    try {
      return typeof s.value === 'string' && verify(null, payload, publicKeyOf(key), Buffer.from(s.value, 'base64url'));
    } catch {
      return false;
    }
  });
  if (!good) return { ok: false, code: 'DESIRED_SIGNATURE', reason: 'the signature does not match the document (altered in transit, or forged)' };
  const expiresAt = typeof doc.expiresAt === 'string' ? Date.parse(doc.expiresAt) : Number.NaN;
  if (!Number.isFinite(expiresAt)) return { ok: false, code: 'DESIRED_EXPIRED', reason: 'a signed document must say when it expires (expiresAt)' };
  if (expiresAt <= nowMs) return { ok: false, code: 'DESIRED_EXPIRED', reason: `the document expired at ${new Date(expiresAt).toISOString()}` };
  return { ok: true, keyId: good.keyId as string };
}
