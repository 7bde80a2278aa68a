import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type webcrypto } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../../controller/pki/create-ca.js';
import { CertificateRequestError, issueDeviceCert } from '../../controller/pki/issue-device-cert.js';
import { issueServerCert } from '../../controller/pki/issue-server-cert.js';
import { loadIssuer, type Issuer } from '../../controller/pki/issuer.js';
import { crypto, x509, type CertificatePem } from '../../controller/pki/x509.js';

const NOW = new Date('2030-06-01T12:00:00Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** Every certificate in a PEM text, parsed by node:crypto (OpenSSL), not by the library that wrote it. */
function certificatesOf(pem: string): X509Certificate[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
}
function only(pem: string): X509Certificate {
  const [first, ...rest] = certificatesOf(pem);
  expect(rest).toHaveLength(0);
  if (!first) throw new Error('no certificate');
  return first;
}
const p256 = (keyPem: string): string | undefined => createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve;
const keyMatches = (cert: X509Certificate, keyPem: string): boolean =>
  cert.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' }));

/** A PEM PKCS#10 request for a new key of the given algorithm, made the way a device would. */
async function requestFor(algorithm: RsaHashedKeyGenParams | EcKeyGenParams, signing: object, subject = 'CN=whatever-the-device-says'): Promise<{ pem: string; spki: Buffer }> {
  const keys = (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys, signingAlgorithm: signing as Algorithm }, crypto);
  return { pem: csr.toString('pem'), spki: Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey)) };
}
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;

describe('private CA (DD-027)', () => {
  let ca: CertificatePem;
  let caCert: X509Certificate;
  let issuer: Issuer;

  beforeAll(async () => {
    ca = await createCa({ commonName: 'Outpost CA test-host 1a2b', now: NOW });
    caCert = only(ca.certPem);
    issuer = await loadIssuer(ca);
  });

  it('creates a self-signed P-256 CA, valid for ten years from an hour ago, that signs leaves only', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=Outpost CA test-host 1a2b\nO=Outpost');
    expect(caCert.issuer).toBe(caCert.subject);
    expect(caCert.checkIssued(caCert)).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(new Date(caCert.validFrom).getTime()).toBe(NOW.getTime() - HOUR);
    expect(new Date(caCert.validTo).getTime()).toBe(NOW.getTime() + 3650 * DAY);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(p256(ca.keyPem)).toBe('prime256v1');
    expect(keyMatches(caCert, ca.keyPem)).toBe(true);
    const text = new x509.X509Certificate(ca.certPem);
    expect(text.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: true, pathLength: 0, critical: true });
    expect(text.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  });

  it('issues a server certificate: chains to the CA, names as DNS and IP SANs, serverAuth only, 825 days', async () => {
    const issued = await issueServerCert(issuer, { names: ['localhost', '127.0.0.1', '::1', 'broker.example.com', 'localhost'], now: NOW });
    const cert = only(issued.certPem);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.subjectAltName).toBe('DNS:localhost, DNS:broker.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.checkHost('broker.example.com')).toBe('broker.example.com');
    expect(cert.checkHost('other.example.com')).toBeUndefined();
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(new Date(cert.validFrom).getTime()).toBe(NOW.getTime() - HOUR);
    expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + 825 * DAY);
    expect(issued.notAfter.getTime()).toBe(NOW.getTime() + 825 * DAY);
    expect(p256(issued.keyPem)).toBe('prime256v1');
    expect(keyMatches(cert, issued.keyPem)).toBe(true);
    await expect(issueServerCert(issuer, { names: [' '], now: NOW })).rejects.toThrow(/at least one name/);
  });

  it('issues a device certificate: CN and DNS SAN are the device id, clientAuth only, its own new key', async () => {
    const issued = await issueDeviceCert(issuer, { deviceId: 'kiosk_a.1', now: NOW, validityDays: 30 });
    const cert = only(issued.certPem);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subject).toBe('CN=kiosk_a.1');
    expect(cert.subjectAltName).toBe('DNS:kiosk_a.1');
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.ca).toBe(false);
    expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + 30 * DAY);
    expect(cert.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(issued.serialNumber.replace(/^0+/, ''));
    expect(issued.keyPem).not.toBeNull();
    expect(keyMatches(cert, issued.keyPem ?? '')).toBe(true);
    const again = await issueDeviceCert(issuer, { deviceId: 'kiosk_a.1', now: NOW });
    expect(again.serialNumber).not.toBe(issued.serialNumber);
    expect(new Date(only(again.certPem).validTo).getTime()).toBe(NOW.getTime() + 825 * DAY);
  });

  it('never issues beyond the CA’s own expiry', async () => {
    const shortCa = await loadIssuer(await createCa({ commonName: 'short-lived', now: NOW, validityDays: 10 }));
    const issued = await issueDeviceCert(shortCa, { deviceId: 'd1', now: NOW });
    expect(issued.notAfter.getTime()).toBe(NOW.getTime() + 10 * DAY);
  });

  it('signs a certificate request with its public key and the device id as subject, returning no key', async () => {
    const request = await requestFor({ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' });
    const issued = await issueDeviceCert(issuer, { deviceId: 'sensor-7', now: NOW, csrPem: request.pem });
    expect(issued.keyPem).toBeNull();
    const cert = only(issued.certPem);
    expect(cert.subject).toBe('CN=sensor-7');
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(request.spki)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
  });

  it('refuses a request that is not one, is signed by another key, or has a weak key', async () => {
    await expect(issueDeviceCert(issuer, { deviceId: 'd1', now: NOW, csrPem: 'hello' })).rejects.toThrow(CertificateRequestError);
    const good = await requestFor({ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' });
    const forged = tampered(good.pem);
    await expect(issueDeviceCert(issuer, { deviceId: 'd1', now: NOW, csrPem: forged })).rejects.toThrow(/not signed by its own key/);
    const weak = await requestFor(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      { name: 'RSASSA-PKCS1-v1_5' },
    );
    await expect(issueDeviceCert(issuer, { deviceId: 'd1', now: NOW, csrPem: weak.pem })).rejects.toThrow(/at least 2048 bits/);
  });

  it('loads a CA key in any PEM form OpenSSL writes, and refuses a key or certificate that does not fit', async () => {
    const sec1 = createPrivateKey(ca.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
    expect(sec1).toMatch(/BEGIN EC PRIVATE KEY/);
    const fromSec1 = await loadIssuer({ certPem: ca.certPem, keyPem: sec1 });
    expect(only((await issueDeviceCert(fromSec1, { deviceId: 'd1', now: NOW })).certPem).verify(caCert.publicKey)).toBe(true);

    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(loadIssuer({ certPem: ca.certPem, keyPem: otherKey })).rejects.toThrow(/does not belong to the CA certificate/);
    const server = await issueServerCert(issuer, { names: ['localhost'], now: NOW });
    await expect(loadIssuer({ certPem: server.certPem, keyPem: server.keyPem })).rejects.toThrow(/is not a CA/);
    await expect(loadIssuer({ certPem: 'nothing', keyPem: ca.keyPem })).rejects.toThrow(/no PEM certificate/);
    const ed25519 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(import('../../controller/pki/x509.js').then((m) => m.importSigningKey(ed25519))).rejects.toThrow(/unsupported key type ed25519/);
  });

  it('an intermediate CA with an RSA key (bring your own): leaves carry the intermediate, and verify up to the root', async () => {
    const rootKeys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const rsa = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
    const midKeys = (await crypto.subtle.generateKey(rsa, true, ['sign', 'verify'])) as CryptoKeyPair;
    const now = new Date();
    const root = await x509.X509CertificateGenerator.createSelfSigned(
      { name: 'CN=Company root', notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 30 * DAY), keys: rootKeys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
        extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)] },
      crypto,
    );
    const mid = await x509.X509CertificateGenerator.create(
      { subject: 'CN=Company devices', issuer: root.subject, notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 20 * DAY), publicKey: midKeys.publicKey,
        signingKey: rootKeys.privateKey, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
        extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)] },
      crypto,
    );
    const midKeyPem = x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', midKeys.privateKey), 'PRIVATE KEY');
    const caFile = `${mid.toString('pem')}
${root.toString('pem')}
`;
    const company = await loadIssuer({ certPem: caFile, keyPem: midKeyPem });
    expect(company.chain.map((c) => c.subject)).toEqual(['CN=Company devices']);

    const server = await issueServerCert(company, { names: ['localhost', '127.0.0.1'], now, validityDays: 90 });
    const [leaf, intermediate, ...more] = certificatesOf(server.certPem);
    expect(more).toHaveLength(0);
    const rootCert = new X509Certificate(root.toString('pem'));
    expect(leaf?.verify(intermediate?.publicKey ?? rootCert.publicKey)).toBe(true);
    expect(intermediate?.verify(rootCert.publicKey)).toBe(true);
    // Capped at the intermediate's expiry, not the requested 90 days.
    expect(server.notAfter.getTime()).toBe(mid.notAfter.getTime());

    const device = await issueDeviceCert(company, { deviceId: 'kiosk-b', now });
    const tls = createServer({ cert: server.certPem, key: server.keyPem, ca: caFile, requestCert: true, rejectUnauthorized: false });
    const accepted = once(tls, 'secureConnection') as Promise<[TLSSocket]>;
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
    const address = tls.address();
    const client = connect({ host: '127.0.0.1', port: typeof address === 'object' && address ? address.port : 0, ca: root.toString('pem'), cert: device.certPem, key: device.keyPem ?? '' });
    try {
      await once(client, 'secureConnect');
      expect(client.authorized).toBe(true);
      const [peer] = await accepted;
      expect(peer.authorized).toBe(true);
    } finally {
      client.destroy();
      tls.close();
    }
  });

  it('a TLS handshake with the server and device certificates verifies both ways (OpenSSL, as the broker and agents use it)', async () => {
    const now = new Date();
    const liveCa = await createCa({ commonName: 'live', now });
    const liveIssuer = await loadIssuer(liveCa);
    const server = await issueServerCert(liveIssuer, { names: ['localhost', '127.0.0.1'], now });
    const device = await issueDeviceCert(liveIssuer, { deviceId: 'kiosk-a', now });
    const tls = createServer({ cert: server.certPem, key: server.keyPem, ca: liveCa.certPem, requestCert: true, rejectUnauthorized: false });
    const accepted = once(tls, 'secureConnection') as Promise<[TLSSocket]>;
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
    const address = tls.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const client = connect({ host: '127.0.0.1', port, ca: liveCa.certPem, cert: device.certPem, key: device.keyPem ?? '', servername: 'localhost' });
    try {
      await once(client, 'secureConnect');
      expect(client.authorized).toBe(true);
      const [peer] = await accepted;
      expect(peer.authorized).toBe(true);
      expect(peer.getPeerCertificate().subject.CN).toBe('kiosk-a');
    } finally {
      client.destroy();
      tls.close();
    }
  });
});

/** The request with one letter of its subject changed: still well-formed, but its signature no longer covers it. */
function tampered(pem: string): string {
  const raw = Buffer.from(new x509.Pkcs10CertificateRequest(pem).rawData);
  const at = raw.indexOf('whatever');
  raw[at] = 'x'.charCodeAt(0);
  return x509.PemConverter.encode(raw, 'CERTIFICATE REQUEST');
}
