import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBrokerConfig } from '../../broker/config.js';
import { createBroker, type OutpostBroker } from '../../broker/create-broker.js';
import { ApiClient } from '../../cli/client/api-client.js';
import { fetchWithCa } from '../../cli/client/fetch-with-ca.js';
import { getSigningKeys, trustFileOf } from '../../cli/client/signing-client.js';
import { parseTrustFile } from '../../agent/state/trust-store.js';
import { verifyDocument } from '../../shared/desired-signature.js';
import { parseControllerConfig } from '../../controller/config.js';
import { runControlPlane, type RunningControlPlane } from '../../controller/run-control-plane.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { makeTestPki, type CertFiles, type TestPki } from '../helpers/certs.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);

/**
 * Issue 9, test 2 (DD-023): a device made of nothing but `mosquitto_sub` and
 * `mosquitto_pub` with --cafile/--cert/--key connects to Outpost's broker
 * over TLS — TLS only, plain TCP off — authenticated by its certificate
 * alone, receives the desired document the real controller published (the
 * controller itself connected over mqtts:// with its service password, its
 * API served over HTTPS), and its report reaches the controller.
 */
describe('a mosquitto_sub/mosquitto_pub device over mutual TLS', () => {
  const topics = new Topics();
  let pki: TestPki;
  let redis: RedisServer;
  let broker: OutpostBroker;
  let tlsPort: number;
  let plane: RunningControlPlane;
  let api: ApiClient;

  beforeAll(async () => {
    pki = await makeTestPki();
    redis = await startRedis();
    const servicePassword = randomBytes(16).toString('hex');
    const checked = checkBrokerConfig({
      host: '127.0.0.1',
      port: 'off',
      tlsPort: 0,
      tlsCertFile: pki.server.cert,
      tlsKeyFile: pki.server.key,
      tlsClientCaFile: pki.ca.cert,
      redisUrl: redis.url,
      servicePassword,
      logLevel: 'silent',
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    broker = await createBroker(checked.config, { logger: silentLogger() });
    const address = await broker.listen();
    if (address.tlsPort === undefined) throw new Error('no TLS listener');
    tlsPort = address.tlsPort;
    const adminToken = randomBytes(16).toString('hex');
    plane = await runControlPlane(
      parseControllerConfig({
        redisUrl: redis.url,
        brokerUrl: `mqtts://127.0.0.1:${tlsPort}`,
        brokerCaFile: pki.ca.cert,
        servicePassword,
        adminTokens: [adminToken],
        apiPort: 0,
        apiTlsCertFile: pki.server.cert,
        apiTlsKeyFile: pki.server.key,
        antiEntropyIntervalSeconds: 0,
      }),
      silentLogger(),
    );
    expect(plane.apiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    api = new ApiClient({ baseUrl: plane.apiUrl, token: adminToken, fetch: fetchWithCa(await readFile(pki.ca.cert)), retryDelayMs: 200 });
  });

  afterAll(async () => {
    await plane?.close();
    await broker?.close();
    await redis?.stop();
    await pki?.remove();
  });

  /** mosquitto_sub/_pub arguments of a device that proves who it is with its certificate only. */
  const deviceArgs = (deviceId: string, cert: CertFiles): string[] => [
    '-h', '127.0.0.1', '-p', String(tlsPort), '-V', 'mqttv311',
    '--cafile', pki.ca.cert, '--cert', cert.cert, '--key', cert.key,
    '-i', deviceId, '-u', deviceId, '-q', '1',
  ];

  it('receives its desired document with mosquitto_sub and reports with mosquitto_pub', async () => {
    const id = `mosq-${randomBytes(3).toString('hex')}`;
    await api.addDevice({ id });
    await api.createRelease({ app: 'tlsapp', version: '1', workloads: { web: { image: 'registry.example/tlsapp/web:1' } } });
    await api.createDeployment({ app: 'tlsapp', version: '1', target: { kind: 'devices', devices: [id] } });
    const { desired } = await api.desiredOf(id);
    expect(desired).not.toBeNull();

    const cert = await pki.ca.device(id);
    // A persistent session (-c) like an agent's; -C 1: exit after the retained document.
    const { stdout } = await run('mosquitto_sub', [...deviceArgs(id, cert), '-c', '-t', topics.desired(id), '-C', '1', '-W', '30'], { timeout: 40_000 });
    const doc = JSON.parse(stdout.trim()) as { deviceId: string; version: number; workloads: Record<string, { image: string }>; signature?: unknown };
    expect(doc.deviceId).toBe(id);
    expect(doc.version).toBe(desired?.version);
    expect(Object.keys(doc.workloads)).toEqual(Object.keys(desired?.workloads ?? {}));
    expect(Object.values(doc.workloads).map((w) => w.image)).toEqual(['registry.example/tlsapp/web:1']);
    // Signed by the controller's key (DD-026): what such a device checks before it runs anything.
    const keys = await getSigningKeys(api);
    expect(verifyDocument(JSON.parse(stdout.trim()), parseTrustFile(trustFileOf(keys)), Date.now())).toEqual({ ok: true, keyId: keys.active.keyId });

    const now = new Date().toISOString();
    const report = {
      protocol: 1,
      deviceId: id,
      reportedAt: now,
      agent: { version: 'mosquitto-clients', bootId: 'boot-1', startedAt: now },
      desired: { seenVersion: doc.version, appliedVersion: doc.version, applyingVersion: null },
      phase: 'converged',
      workloads: Object.fromEntries(
        Object.entries(doc.workloads).map(([name, w]) => [
          name,
          { state: 'running', reason: 'running', image: w.image, imageId: null, imageDigest: null, containerId: null, specHash: null },
        ]),
      ),
      errors: [],
      rejected: null,
    };
    await run('mosquitto_pub', [...deviceArgs(id, cert), '-t', topics.reported(id), '-r', '-m', JSON.stringify(report)], { timeout: 30_000 });
    const shown = await waitFor(
      async () => {
        const device = await api.getDevice(id);
        return device.reported?.desired.appliedVersion === doc.version ? device : undefined;
      },
      { timeoutMs: 15_000, description: 'the controller ingested the report' },
    );
    expect(shown.reported?.phase).toBe('converged');
  });

  it("mosquitto_sub with another device's certificate is refused and receives nothing", async () => {
    const id = `mosq-${randomBytes(3).toString('hex')}`;
    const other = `mosq-${randomBytes(3).toString('hex')}`;
    await api.addDevice({ id });
    await api.addDevice({ id: other });
    const refused = await run('mosquitto_sub', [...deviceArgs(id, await pki.ca.device(other)), '-t', topics.desired(id), '-C', '1', '-W', '10'], {
      timeout: 20_000,
    }).then(
      () => undefined,
      (err: { code?: unknown; stderr?: string; stdout?: string }) => err,
    );
    expect(refused).toBeDefined();
    expect(refused?.stdout ?? '').toBe('');
    expect(refused?.stderr ?? '').toMatch(/not authori[sz]ed/i);
  });
});
