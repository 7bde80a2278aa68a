import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  BACKDATE_MS,
  DAY_MS,
  crypto,
  importSigningKey,
  newSerialNumber,
  pemCertificates,
  pemOf,
  x509,
  type CertificatePem,
  type SigningKey,
} from './x509.js';

/** A CA ready to sign: its certificate, the chain above it (for intermediates) and its key. */
export interface Issuer {
  readonly certificate: x509.X509Certificate;
  /** Certificates that go after a leaf it signs: itself and its parents, unless self-signed (a root is the trust anchor, never sent). */
  readonly chain: readonly x509.X509Certificate[];
  /** Every certificate of the CA file: what a client is given to trust. */
  readonly certificates: readonly x509.X509Certificate[];
  readonly signingKey: SigningKey;
}

/**
 * A CA from PEM: the first certificate is the CA itself, any after it its
 * chain; the key must be the CA's. Refuses a certificate that is not a CA
 * (basicConstraints CA:TRUE) or a key that does not belong to it, so a
 * misconfiguration fails at start, not at the first device.
 */
export async function loadIssuer(ca: CertificatePem): Promise<Issuer> {
  const certificates = pemCertificates(ca.certPem);
  const [certificate] = certificates;
  if (certificate === undefined) throw new Error('the CA file holds no PEM certificate');
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) throw new Error(`the certificate ${certificate.subject} is not a CA (basicConstraints CA:TRUE is missing)`);
  const keySpki = createPublicKey(createPrivateKey(ca.keyPem)).export({ type: 'spki', format: 'der' });
  if (!Buffer.from(certificate.publicKey.rawData).equals(keySpki)) throw new Error(`the CA key does not belong to the CA certificate ${certificate.subject}`);
  const chain: x509.X509Certificate[] = [];
  for (const c of certificates) if (!(await c.isSelfSigned(crypto))) chain.push(c);
  return { certificate, chain, certificates, signingKey: await importSigningKey(ca.keyPem) };
}

export interface LeafParams {
  /** Subject common name. */
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly usage: 'serverAuth' | 'clientAuth';
  readonly publicKey: x509.PublicKeyType;
  readonly now: Date;
  readonly validityDays: number;
}

export interface SignedLeaf {
  /** The leaf, then the issuer's chain (nothing more for a root CA). */
  readonly certPem: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * An end-entity certificate: CA:FALSE, digitalSignature (plus
 * keyEncipherment for RSA keys, which TLS 1.2 RSA key exchange needs), one
 * extended key usage, key identifiers, and subject alternative names.
 */
export async function signLeaf(issuer: Issuer, params: LeafParams): Promise<SignedLeaf> {
  const notBefore = new Date(params.now.getTime() - BACKDATE_MS);
  const notAfter = new Date(params.now.getTime() + params.validityDays * DAY_MS);
  // A leaf must never outlive its CA: verifiers refuse the chain once the CA expired anyway.
  const capped = notAfter > issuer.certificate.notAfter ? issuer.certificate.notAfter : notAfter;
  const publicKey = params.publicKey instanceof x509.PublicKey ? params.publicKey : await x509.PublicKey.create(params.publicKey, crypto);
  const rsa = publicKey.algorithm.name.startsWith('RSA');
  const usages = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const names: x509.JsonGeneralName[] = [
    ...params.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...params.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  const serialNumber = newSerialNumber();
  const leaf = await x509.X509CertificateGenerator.create(
    {
      serialNumber,
      subject: [{ CN: [params.commonName] }],
      issuer: issuer.certificate.subjectName,
      notBefore,
      notAfter: capped,
      publicKey,
      signingKey: issuer.signingKey.key,
      signingAlgorithm: issuer.signingKey.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(usages, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage[params.usage]], false),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: pemOf([leaf, ...issuer.chain]), serialNumber: leaf.serialNumber, notBefore, notAfter: capped };
}
