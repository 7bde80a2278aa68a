import { BACKDATE_MS, DAY_MS, crypto, newKeyPair, newSerialNumber, pemOf, privateKeyPem, x509, type CertificatePem } from './x509.js';

export interface CreateCaParams {
  /** Subject CN; make it unique per CA (two CAs with one name confuse chain building). */
  readonly commonName: string;
  readonly now: Date;
  /** Default 3650 (ten years): devices hold this certificate for as long as they trust the broker. */
  readonly validityDays?: number;
}

export const CA_VALIDITY_DAYS = 3650;

/**
 * A self-signed root CA with an ECDSA P-256 key (DD-027): CA:TRUE with path
 * length 0 (it signs leaves only), keyCertSign and cRLSign, a subject key
 * identifier. Returns PEM only; where it is stored is the caller's business.
 */
export async function createCa(params: CreateCaParams): Promise<CertificatePem> {
  const keys = await newKeyPair();
  const notBefore = new Date(params.now.getTime() - BACKDATE_MS);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: newSerialNumber(),
      name: [{ CN: [params.commonName] }, { O: ['Outpost'] }],
      notBefore,
      notAfter: new Date(params.now.getTime() + (params.validityDays ?? CA_VALIDITY_DAYS) * DAY_MS),
      keys: { publicKey: keys.publicKey, privateKey: keys.privateKey },
      signingAlgorithm: keys.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: pemOf([certificate]), keyPem: await privateKeyPem(keys.privateKey) };
}
