// @peculiar/x509 resolves its algorithms through tsyringe, which needs the
// Reflect metadata API before the library is evaluated: keep this import first.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * The X.509 toolkit of the private CA (DD-027): pure JavaScript over Node's
 * WebCrypto, so `outpost up` needs no openssl binary. Only this folder
 * imports @peculiar/x509, and only the controller and `outpost up` import
 * this folder (the agent never loads it).
 */
export { x509 };

/** Passed to every @peculiar/x509 call instead of setting its global provider. */
export const crypto = webcrypto;
type CryptoKey = webcrypto.CryptoKey;

/** A certificate and its private key, both PEM; the key is PKCS#8 ("PRIVATE KEY"). */
export interface CertificatePem {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A signing key as WebCrypto wants it, with the algorithm certificates are signed with. */
export interface SigningKey {
  readonly key: CryptoKey;
  readonly algorithm: { name: string; hash: string };
}

/** New certificates get ECDSA P-256 keys: every TLS stack devices use (OpenSSL, mbedTLS, Node, Mosquitto) takes them. */
const NEW_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const NEW_KEY_SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** Clocks of devices and servers disagree: a certificate is valid from an hour before it was made. */
export const BACKDATE_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export async function newKeyPair(): Promise<{ publicKey: CryptoKey; privateKey: CryptoKey; algorithm: SigningKey['algorithm'] }> {
  const pair = (await crypto.subtle.generateKey(NEW_KEY, true, ['sign', 'verify'])) as { publicKey: CryptoKey; privateKey: CryptoKey };
  return { ...pair, algorithm: NEW_KEY_SIGNING };
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/**
 * A PEM private key in any form OpenSSL writes (PKCS#8, SEC1 "EC PRIVATE
 * KEY", PKCS#1 "RSA PRIVATE KEY") as a WebCrypto signing key. EC keys on
 * P-256 or P-384 and RSA keys of at least 2048 bits; anything else is refused.
 */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  const keyObject = createPrivateKey(pem);
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const { algorithm, importParams } = signingAlgorithmOf(keyObject);
  const key = await crypto.subtle.importKey('pkcs8', der, importParams, false, ['sign']);
  return { key, algorithm };
}

function signingAlgorithmOf(keyObject: KeyObject): { algorithm: SigningKey['algorithm']; importParams: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams } {
  const details = keyObject.asymmetricKeyDetails ?? {};
  if (keyObject.asymmetricKeyType === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384' }[details.namedCurve ?? ''];
    if (curve === undefined) throw new Error(`unsupported EC curve ${details.namedCurve ?? '(unknown)'}: use P-256 or P-384`);
    return { algorithm: { name: 'ECDSA', hash: curve === 'P-256' ? 'SHA-256' : 'SHA-384' }, importParams: { name: 'ECDSA', namedCurve: curve } };
  }
  if (keyObject.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) throw new Error('RSA keys must have at least 2048 bits');
    const params = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { algorithm: params, importParams: params };
  }
  throw new Error(`unsupported key type ${keyObject.asymmetricKeyType ?? '(unknown)'}: use an EC (P-256, P-384) or RSA key`);
}

/** Refuses a public key (from a CSR) that is not EC P-256/P-384 or RSA ≥ 2048 bits, with the reason. */
export function checkPublicKey(spki: ArrayBuffer): void {
  const keyObject = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  const details = keyObject.asymmetricKeyDetails ?? {};
  if (keyObject.asymmetricKeyType === 'ec' && (details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1')) return;
  if (keyObject.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) return;
  throw new Error(`unsupported key in the request (${keyObject.asymmetricKeyType ?? 'unknown'}${details.namedCurve ? ` ${details.namedCurve}` : ''}): use EC P-256 or P-384, or RSA of at least 2048 bits`);
}

/** A random positive 128-bit serial number (RFC 5280 §4.1.2.2: at most 20 octets, positive, unique per CA). */
export function newSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** Every certificate in a PEM text, in order. */
export function pemCertificates(pem: string): x509.X509Certificate[] {
  return x509.PemConverter.decodeWithHeaders(pem)
    .filter((block) => block.type === 'CERTIFICATE')
    .map((block) => new x509.X509Certificate(block.rawData));
}

/** PEM text of certificates, one after the other. */
export function pemOf(certificates: readonly x509.X509Certificate[]): string {
  return certificates.map((c) => `${c.toString('pem').trim()}\n`).join('');
}
