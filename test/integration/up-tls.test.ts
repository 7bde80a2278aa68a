import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { crypto, x509 } from '../../controller/pki/x509.js';
import { CLI } from '../helpers/agent-process.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { freePort } from '../helpers/free-port.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { parsePromText, sampleValue, valuesBy } from '../helpers/prom-text.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** Permission bits of a file, e.g. 0o600. */
const modeOf = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;

/**
 * Addresses a TCP port is listened on, from /proc/net/tcp{,6}: which
 * interfaces a server accepts connections on, without sending a packet.
 */
async function listenAddresses(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [addr = '', portHex = ''] = (cols[1] ?? '').split(':');
      if (cols[3] !== '0A' || Number.parseInt(portHex, 16) !== port) continue;
      if (!v6) out.push((addr.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)).join('.'));
      else out.push(/^0+$/.test(addr) ? '::' : addr === '00000000000000000000000001000000' ? '::1' : `v6:${addr}`);
    }
  }
  return out.sort();
}

/** One MQTT CONNECT as a device over TLS; resolves with the CONNACK return code (0: accepted). */
async function connackOf(url: string, deviceId: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer; servername?: string }): Promise<number> {
  const client = mqtt.connect(url, { clientId: deviceId, username: deviceId, ...tls, clean: true, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
  try {
    return await new Promise<number>((resolve, reject) => {
      client.once('connect', () => resolve(0));
      client.once('error', (err) => {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number') resolve(code);
        else reject(err);
      });
    });
  } finally {
    await client.endAsync(true);
  }
}

/**
 * Issue 9 (DD-027): `outpost up` is secure with zero set-up. In a fresh data
 * directory it creates a private CA and a broker certificate, serves MQTT
 * over TLS on every interface while plain MQTT and its Redis (with a
 * generated password) stay on loopback, and `device add --cert-out` issues
 * a certificate a device connects with. A restart keeps the CA, renews the
 * broker certificate for a new name, and gives an older data dir (no Redis
 * password yet) one without losing its data.
 */
describe('outpost up: its own CA, MQTT over TLS, a Redis with a password', () => {
  let dir: TempDir;
  let up: ManagedProcess | undefined;
  const deviceId = `tls-up-${Math.random().toString(36).slice(2, 8)}`;
  const ports = { tls: 0, redis: 0, api: 0, plain: 0 };
  dumpOnFailure((): Record<string, string> => (up ? { up: up.output() } : {}));

  afterAll(async () => {
    await up?.stop();
    await dir?.remove();
  });

  const dataFile = (name: string): string => join(dir.path, '.outpost', name);
  const outpost = async (...args: string[]): Promise<string> =>
    (await run(process.execPath, [CLI, ...args], { cwd: dir.path, env: { PATH: process.env.PATH, OUTPOST_API: `http://127.0.0.1:${ports.api}` } })).stdout;

  async function startUp(extraArgs: string[]): Promise<ManagedProcess> {
    const proc = spawnProcess(process.execPath, {
      name: 'outpost up',
      args: [CLI, 'up', '--port', '0', '--tls-port', String(ports.tls), '--redis-port', String(ports.redis), '--api-port', String(ports.api), ...extraArgs],
      env: { REDIS_URL: undefined, OUTPOST_SERVICE_PASSWORD: undefined, OUTPOST_ADMIN_TOKEN: undefined, OUTPOST_TLS_SANS: undefined },
      cwd: dir.path,
      bufferLines: 400,
    });
    up = proc;
    await proc.waitForLine(/outpost is up/, 30_000);
    const listening = JSON.parse((await proc.waitForLine(/"broker listening"/, 1000)).replace(/^out\|/, '')) as { port: number; tlsPort: number };
    ports.plain = listening.port;
    expect(listening.tlsPort).toBe(ports.tls);
    return proc;
  }

  it('creates the CA and certificates (keys 0600), listens for TLS everywhere and for plain MQTT and Redis on loopback only, and issues device certificates', async () => {
    dir = await makeTempDir('up-tls');
    [ports.tls, ports.redis, ports.api] = [await freePort(), await freePort(), await freePort()];
    const proc = await startUp(['--tls-san', 'edge.example.test']);

    for (const key of ['ca-key.pem', 'server-key.pem', 'redis-password', 'admin-token', 'service-password', 'registry-credentials.key', 'broker-store.key']) expect(await modeOf(dataFile(key)), key).toBe(0o600);
    for (const cert of ['ca.pem', 'server.pem']) expect(await modeOf(dataFile(cert)), cert).toBe(0o644);
    expect(await modeOf(join(dir.path, '.outpost'))).toBe(0o700);
    // DD-047: its broker seals what it stores in Redis with that key.
    expect(proc.output()).toMatch(/"msg":"broker store key generated"[\s\S]*"msg":"stored messages sealed at rest/);

    const ca = new X509Certificate(await readFile(dataFile('ca.pem')));
    const server = new X509Certificate(await readFile(dataFile('server.pem')));
    expect(ca.ca).toBe(true);
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    expect(server.keyUsage).toEqual([SERVER_AUTH]);
    for (const name of ['localhost', hostname().toLowerCase(), 'edge.example.test']) expect(server.checkHost(name), name).toBe(name);
    for (const ip of ['127.0.0.1', '::1']) expect(server.checkIP(ip), ip).toBe(ip);

    expect(await listenAddresses(ports.tls)).toEqual(['0.0.0.0']);
    expect(await listenAddresses(ports.plain)).toEqual(['127.0.0.1']);
    expect(await listenAddresses(ports.redis)).toEqual(['127.0.0.1']);

    // Redis refuses whoever does not know the password; the password is never logged.
    const password = (await readFile(dataFile('redis-password'), 'utf8')).trim();
    const anonymous = new Redis({ host: '127.0.0.1', port: ports.redis, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    anonymous.on('error', () => undefined);
    try {
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    } finally {
      anonymous.disconnect();
    }
    const authed = new Redis({ host: '127.0.0.1', port: ports.redis, password, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      expect(await authed.ping()).toBe('PONG');
      expect(await authed.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    } finally {
      authed.disconnect();
    }
    expect(proc.output()).not.toContain(password);

    // A device certificate from the CA: the key 0600, CN = device id, accepted over TLS without a password.
    expect(await outpost('device', 'add', deviceId, '--cert-out', 'certs/', '--ca-out', 'outpost-ca.pem')).toMatch(
      new RegExp(`Enrolled device ${deviceId} .*its certificate is in certs/${deviceId}\\.pem, its key in certs/${deviceId}-key\\.pem .*the CA certificate is in outpost-ca\\.pem`),
    );
    const certFile = join(dir.path, 'certs', `${deviceId}.pem`);
    const keyFile = join(dir.path, 'certs', `${deviceId}-key.pem`);
    expect(await modeOf(keyFile)).toBe(0o600);
    expect(new X509Certificate(await readFile(certFile)).subject).toBe(`CN=${deviceId}`);
    expect(await readFile(join(dir.path, 'outpost-ca.pem'), 'utf8')).toBe(await readFile(dataFile('ca.pem'), 'utf8'));
    const tls = { ca: await readFile(join(dir.path, 'outpost-ca.pem')), cert: await readFile(certFile), key: await readFile(keyFile) };
    expect(await connackOf(`mqtts://127.0.0.1:${ports.tls}`, deviceId, tls)).toBe(0);
    expect(await connackOf(`mqtts://localhost:${ports.tls}`, deviceId, tls)).toBe(0);
    // Without a certificate or a password: refused (return code 5).
    expect(await connackOf(`mqtts://127.0.0.1:${ports.tls}`, deviceId, { ca: tls.ca })).toBe(5);

    // DD-039: the API's /metrics (with a token) carries the embedded broker's metrics too, that refusal counted.
    const metricsUrl = `http://127.0.0.1:${ports.api}/metrics`;
    expect((await fetch(metricsUrl)).status).toBe(401);
    const scraped = await fetch(metricsUrl, { headers: { authorization: `Bearer ${(await readFile(dataFile('admin-token'), 'utf8')).trim()}` } });
    const families = parsePromText(await scraped.text());
    expect(valuesBy(families, 'outpost_broker_connect_refusals_total', 'reason')['not-authorized']).toBe(1);
    expect(sampleValue(families, 'outpost_broker_connected_clients')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(families, 'outpost_devices')).toBe(1);

    // A key made on the device: only its request travels, and the certificate issued for it connects.
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=anything', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } }, crypto);
    await writeFile(join(dir.path, 'device.csr'), csr.toString('pem'));
    const renewed = JSON.parse(await outpost('device', 'cert', deviceId, '--csr', 'device.csr', '--cert-out', 'certs/renewed', '--cert-days', '7', '--json')) as { certFile: string; keyFile: string | null };
    expect(renewed).toMatchObject({ certFile: 'certs/renewed.pem', keyFile: null });
    const deviceKey = x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
    expect(await connackOf(`mqtts://127.0.0.1:${ports.tls}`, deviceId, { ca: tls.ca, cert: await readFile(join(dir.path, 'certs', 'renewed.pem')), key: Buffer.from(deviceKey) })).toBe(0);
  });

  it('a restart keeps the CA and its certificates, renews the broker certificate for a new name, and gives an older data dir a Redis password', async () => {
    if (!up) throw new Error('the first test did not start outpost up');
    const caBefore = await readFile(dataFile('ca.pem'), 'utf8');
    const serverBefore = await readFile(dataFile('server.pem'), 'utf8');
    const storeKeyBefore = await readFile(dataFile('broker-store.key'), 'utf8');
    up.kill('SIGTERM');
    expect((await up.waitForExit(30_000)).code).toBe(0);
    // As a data dir from before Redis had a password.
    await rm(dataFile('redis-password'));

    await startUp(['--tls-san', 'edge.example.test', '--tls-san', '10.20.30.40']);
    expect(await readFile(dataFile('ca.pem'), 'utf8')).toBe(caBefore);
    // The same store key: what the broker sealed before still opens.
    expect(await readFile(dataFile('broker-store.key'), 'utf8')).toBe(storeKeyBefore);
    const serverAfter = await readFile(dataFile('server.pem'), 'utf8');
    expect(serverAfter).not.toBe(serverBefore);
    expect(new X509Certificate(serverAfter).checkIP('10.20.30.40')).toBe('10.20.30.40');
    expect(up.output()).toMatch(/"why":"lacks 10\.20\.30\.40".*"broker certificate issued"/);
    expect(await modeOf(dataFile('redis-password'))).toBe(0o600);

    // The registry survived (AOF), and the certificate issued before still connects.
    const devices = JSON.parse(await outpost('device', 'ls', '--json')) as { devices: { id: string }[] };
    expect(devices.devices.map((d) => d.id)).toContain(deviceId);
    const tls = {
      ca: await readFile(join(dir.path, 'outpost-ca.pem')),
      cert: await readFile(join(dir.path, 'certs', `${deviceId}.pem`)),
      key: await readFile(join(dir.path, 'certs', `${deviceId}-key.pem`)),
    };
    expect(await connackOf(`mqtts://127.0.0.1:${ports.tls}`, deviceId, tls)).toBe(0);

    // Unchanged names: the broker certificate stays as it is.
    up.kill('SIGTERM');
    expect((await up.waitForExit(30_000)).code).toBe(0);
    await startUp(['--tls-san', '10.20.30.40', '--tls-san', 'edge.example.test']);
    expect(await readFile(dataFile('server.pem'), 'utf8')).toBe(serverAfter);
  });
});
