import { signLeaf, type Issuer, type SignedLeaf } from './issuer.js';
import { checkPublicKey, crypto, newKeyPair, privateKeyPem, x509 } from './x509.js';

export interface DeviceCertParams {
  readonly deviceId: string;
  readonly now: Date;
  /** Default 825 days. */
  readonly validityDays?: number;
  /**
   * A PEM PKCS#10 request made on the device: its key never leaves the
   * device, and no key is returned. Only its public key is used; the
   * subject is the device id whatever the request asks for.
   */
  readonly csrPem?: string;
}

export const DEVICE_CERT_VALIDITY_DAYS = 825;

/** The certificate, and its new key unless the key came with a request. */
export type IssuedDeviceCertificate = SignedLeaf & { readonly keyPem: string | null };

/** Why a certificate request was refused; the message says what to fix. */
export class CertificateRequestError extends Error {
  override readonly name = 'CertificateRequestError';
}

/**
 * A device certificate (DD-023): subject CN and a DNS subject alternative
 * name equal to the device id — the broker accepts either — and
 * extendedKeyUsage clientAuth only, so it cannot serve as a server's.
 */
export async function issueDeviceCert(issuer: Issuer, params: DeviceCertParams): Promise<IssuedDeviceCertificate> {
  let publicKey: x509.PublicKeyType;
  let keyPem: string | null = null;
  if (params.csrPem !== undefined) {
    publicKey = await publicKeyOfRequest(params.csrPem);
  } else {
    const keys = await newKeyPair();
    publicKey = keys.publicKey;
    keyPem = await privateKeyPem(keys.privateKey);
  }
  const signed = await signLeaf(issuer, {
    commonName: params.deviceId,
    dnsNames: [params.deviceId],
    ipAddresses: [],
    usage: 'clientAuth',
    publicKey,
    now: params.now,
    validityDays: params.validityDays ?? DEVICE_CERT_VALIDITY_DAYS,
  });
  return { ...signed, keyPem };
}

/** The public key of a PEM certificate request whose self-signature verifies (proof the requester holds the key). */
async function publicKeyOfRequest(csrPem: string): Promise<x509.PublicKey> {
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new CertificateRequestError('csr is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)', { cause: err });
  }
  try {
    checkPublicKey(request.publicKey.rawData);
  } catch (err) {
    throw new CertificateRequestError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (!(await request.verify(crypto).catch(() => false))) throw new CertificateRequestError('the certificate request is not signed by its own key');
  return request.publicKey;
}
