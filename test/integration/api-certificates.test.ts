import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IssuedDeviceCertificate } from '../../controller/http/certificate-schemas.js';
import { createCa } from '../../controller/pki/create-ca.js';
import { crypto, x509 } from '../../controller/pki/x509.js';
import { errorOf, freshId, startApi, type ApiRig } from '../helpers/api.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/**
 * POST /v1/devices/{id}/certificate (DD-027): a controller with a device CA
 * issues certificates naming enrolled devices, with a generated key (returned
 * once, never stored or audited) or for a request made on the device; one
 * without a CA says so with its own code.
 */
describe('API: device certificates', () => {
  let dir: TempDir;
  let api: ApiRig;
  let caCert: X509Certificate;

  beforeAll(async () => {
    dir = await makeTempDir('api-certs');
    const ca = await createCa({ commonName: 'api test CA', now: new Date() });
    const certFile = join(dir.path, 'ca.pem');
    const keyFile = join(dir.path, 'ca-key.pem');
    await writeFile(certFile, ca.certPem);
    await writeFile(keyFile, ca.keyPem, { mode: 0o600 });
    caCert = new X509Certificate(ca.certPem);
    api = await startApi({ controller: { deviceCaCertFile: certFile, deviceCaKeyFile: keyFile } });
  });
  afterAll(async () => {
    await api?.close();
    await dir?.remove();
  });

  async function enrol(): Promise<string> {
    const id = freshId('cert');
    const res = await api.call('POST', '/v1/devices', { id });
    expect(res.status, res.raw.body).toBe(201);
    return id;
  }

  it('issues a certificate and a key for an enrolled device; the key is in the answer only', async () => {
    const id = await enrol();
    const res = await api.call('POST', `/v1/devices/${id}/certificate`, { validityDays: 90 });
    expect(res.status, res.raw.body).toBe(201);
    const body = IssuedDeviceCertificate.parse(res.body);
    const cert = new X509Certificate(body.certificate);
    expect(cert.subject).toBe(`CN=${id}`);
    expect(cert.subjectAltName).toBe(`DNS:${id}`);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(new X509Certificate(body.ca).fingerprint256).toBe(caCert.fingerprint256);
    expect(Date.parse(body.notAfter) - Date.now()).toBeGreaterThan(89 * 86_400_000);
    expect(Date.parse(body.notAfter) - Date.now()).toBeLessThanOrEqual(90 * 86_400_000);
    const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
    expect(spki(cert.publicKey).equals(spki(createPublicKey(createPrivateKey(body.key ?? ''))))).toBe(true);

    // Neither Redis nor the audit log holds the key.
    const keyBody = (body.key ?? '').split('\n')[1] ?? 'none';
    const redis = api.rig.controller.redis;
    for (const k of await redis.keys('*')) {
      if ((await redis.type(k)) === 'string') expect(await redis.get(k), k).not.toContain(keyBody);
    }
    const audit = (await api.call('GET', '/v1/audit?limit=5')).body as { entries: { route: string; statusCode: number; params: Record<string, string> }[] };
    const entry = audit.entries.find((e) => e.route === '/v1/devices/:id/certificate' && e.params.id === id);
    expect(entry?.statusCode).toBe(201);
    expect(JSON.stringify(audit)).not.toContain(keyBody);
  });

  it('signs a request made on the device: its public key, the device id as subject, no key returned', async () => {
    const id = await enrol();
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=someone-else', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } }, crypto);
    const res = await api.call('POST', `/v1/devices/${id}/certificate`, { csr: csr.toString('pem') });
    expect(res.status, res.raw.body).toBe(201);
    const body = IssuedDeviceCertificate.parse(res.body);
    expect(body.key).toBeNull();
    const cert = new X509Certificate(body.certificate);
    expect(cert.subject).toBe(`CN=${id}`);
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey)))).toBe(true);
  });

  it('refuses devices that are not enrolled, bad requests and bad validity', async () => {
    const missing = await api.call('POST', `/v1/devices/${freshId('nobody')}/certificate`, {});
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('DEVICE_NOT_FOUND');
    const id = await enrol();
    const notPem = await api.call('POST', `/v1/devices/${id}/certificate`, { csr: 'hello' });
    expect(notPem.status).toBe(400);
    expect(errorOf(notPem).message).toContain('body.csr: csr must be a PEM certificate request');
    const garbage = await api.call('POST', `/v1/devices/${id}/certificate`, { csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' });
    expect(garbage.status).toBe(400);
    expect(errorOf(garbage)).toMatchObject({ code: 'REQUEST_INVALID' });
    expect(errorOf(garbage).message).toMatch(/^csr: /);
    const days = await api.call('POST', `/v1/devices/${id}/certificate`, { validityDays: 0 });
    expect(days.status).toBe(400);
    expect(errorOf(days).message).toContain('body.validityDays');
  });

  it('a controller without a device CA answers 409 DEVICE_CA_NOT_CONFIGURED', async () => {
    const plain = await startApi();
    try {
      const id = freshId('no-ca');
      expect((await plain.call('POST', '/v1/devices', { id })).status).toBe(201);
      const res = await plain.call('POST', `/v1/devices/${id}/certificate`, {});
      expect(res.status).toBe(409);
      expect(errorOf(res).code).toBe('DEVICE_CA_NOT_CONFIGURED');
      expect(errorOf(res).message).toContain('--device-ca-cert');
    } finally {
      await plain.close();
    }
  });
});
