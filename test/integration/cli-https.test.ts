import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli-run.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { startBrokerRig, type BrokerRig } from '../helpers/controller-process.js';
import { startInProcessControlPlane, type InProcessControlPlane } from '../helpers/controller-in-process.js';

/**
 * Issue 9 (DD-023): the API serves HTTPS with a certificate from the
 * operator's CA; the CLI trusts it with --ca (or OUTPOST_CA), refuses it
 * without, and refuses to send its token over plain HTTP to another machine
 * before it opens a connection.
 */
describe('CLI and API over HTTPS', () => {
  let pki: TestPki;
  let rig: BrokerRig;
  let cp: InProcessControlPlane;

  beforeAll(async () => {
    pki = await makeTestPki();
    rig = await startBrokerRig();
    cp = await startInProcessControlPlane(rig, { controller: { apiTlsCertFile: pki.server.cert, apiTlsKeyFile: pki.server.key } });
  });

  afterAll(async () => {
    await cp?.close();
    await rig?.close();
    await pki?.remove();
  });

  const api = () => ({ url: cp.running.apiUrl, token: rig.adminToken });

  it('the API listens on https://; the CLI with --ca enrols a device and lists it', async () => {
    expect(cp.running.apiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const id = `https-${randomBytes(3).toString('hex')}`;
    const secretFile = join(pki.dir, `${id}.secret`);
    const added = await runCli(['device', 'add', id, '--ca', pki.ca.cert, '--secret-file', secretFile], api());
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect((await readFile(secretFile, 'utf8')).trim().length).toBeGreaterThanOrEqual(16);
    const listed = await runCli(['device', 'ls', '--ca', pki.ca.cert, '--json'], api());
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { devices: { id: string }[] }).devices.map((d) => d.id)).toContain(id);
    // Also by host name: the certificate names localhost too.
    const byName = await runCli(['device', 'ls', '--ca', pki.ca.cert, '--api', cp.running.apiUrl.replace('127.0.0.1', 'localhost')], api());
    expect(byName.code).toBe(0);
  });

  it('without --ca, or with another CA, the CLI does not trust the API and says what to do', async () => {
    for (const args of [[], ['--ca', pki.otherCa.cert]]) {
      const r = await runCli(['device', 'ls', ...args], api());
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/certificate this client does not trust \([A-Z_]+\): give the CA that signed it with --ca or OUTPOST_CA \(API_CERT_UNTRUSTED\)/);
    }
    const missing = await runCli(['device', 'ls', '--ca', join(pki.dir, 'nope.pem')], api());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/CA_FILE_UNREADABLE/);
  });

  it('refuses to send the token over http:// to a host that is not this machine, before connecting', async () => {
    // TEST-NET-1 (RFC 5737): refused before any connection is opened, so nothing is sent.
    const started = Date.now();
    const r = await runCli(['device', 'ls'], { url: 'http://192.0.2.10:8080', token: rig.adminToken });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing http:\/\/ to 192\.0\.2\.10, which is not this machine: the API token would cross the network unencrypted/);
    expect(r.stderr).toMatch(/--insecure-plaintext .*\(PLAINTEXT_REFUSED\)/);
    // No connection attempt: far quicker than any connect timeout.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
