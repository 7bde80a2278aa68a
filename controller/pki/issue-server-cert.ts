import { isIP } from 'node:net';
import { signLeaf, type Issuer, type SignedLeaf } from './issuer.js';
import { newKeyPair, privateKeyPem } from './x509.js';

export interface ServerCertParams {
  /** Host names and IP addresses clients connect to; the first is also the subject CN. */
  readonly names: readonly string[];
  readonly now: Date;
  /** Default 825 days, the longest validity the strictest TLS clients (Apple's) accept. */
  readonly validityDays?: number;
}

export const SERVER_CERT_VALIDITY_DAYS = 825;

export type IssuedCertificate = SignedLeaf & { readonly keyPem: string };

/**
 * A TLS server certificate (broker, API) with a new ECDSA P-256 key:
 * extendedKeyUsage serverAuth only, so the broker refuses it as a device
 * certificate (INVALID_PURPOSE, DD-023), and each name as a DNS or IP
 * subject alternative name.
 */
export async function issueServerCert(issuer: Issuer, params: ServerCertParams): Promise<IssuedCertificate> {
  const names = [...new Set(params.names.map((n) => n.trim()).filter((n) => n !== ''))];
  const [first] = names;
  if (first === undefined) throw new Error('a server certificate needs at least one name');
  const keys = await newKeyPair();
  const signed = await signLeaf(issuer, {
    commonName: first,
    dnsNames: names.filter((n) => isIP(n) === 0),
    ipAddresses: names.filter((n) => isIP(n) !== 0),
    usage: 'serverAuth',
    publicKey: keys.publicKey,
    now: params.now,
    validityDays: params.validityDays ?? SERVER_CERT_VALIDITY_DAYS,
  });
  return { ...signed, keyPem: await privateKeyPem(keys.privateKey) };
}
