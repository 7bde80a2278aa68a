import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/client/api-client.js';
import { parseControllerConfig } from '../../controller/config.js';
import { runControlPlane, type RunningControlPlane } from '../../controller/run-control-plane.js';
import { silentLogger } from '../../shared/logger.js';
import { CLI, startAgent } from '../helpers/agent-process.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { makeTestPki, type CertFiles, type TestPki } from '../helpers/certs.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { startMosquittoDynsecServer, type MosquittoDynsecServer } from '../helpers/mosquitto-dynsec.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, desiredDoc, type TestController } from '../helpers/test-controller.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 9, test 1 (DD-023): Outpost's broker serves MQTT over TLS beside plain
 * TCP, with device certificates from a CA made by `openssl` here. An agent
 * converges over mqtts:// with a certificate alone and with a password alone;
 * a certificate for another id, an expired one and one from another CA are
 * refused with a coded log line; the agent refuses plain MQTT to an address
 * that is not this machine before it connects anywhere.
 */
// Outpost's broker's own TLS flags, refusal codes and log lines: Mosquitto's TLS is tested below.
describe.skipIf(testBrokerKind() === 'mosquitto-dynsec')('MQTT over TLS and mutual TLS', () => {
  let pki: TestPki;
  let broker: BrokerFixture;
  let tlsUrl: string;
  let ca: Buffer;
  let controller: TestController;
  let dir: TempDir;
  const agents: ManagedProcess[] = [];
  const devices: string[] = [];
  dumpOnFailure((): Record<string, string> => ({ broker: broker?.output() ?? '', ...Object.fromEntries(agents.map((a) => [a.name, a.output()])) }));

  beforeAll(async () => {
    pki = await makeTestPki();
    const tlsPort = await freePort();
    broker = await startAedesFixture({
      extraArgs: ['--tls-port', String(tlsPort), '--tls-cert', pki.server.cert, '--tls-key', pki.server.key, '--tls-client-ca', pki.ca.cert],
    });
    tlsUrl = `mqtts://127.0.0.1:${tlsPort}`;
    ca = await readFile(pki.ca.cert);
    // The service identity keeps its password, over TLS too.
    controller = await connectTestController(tlsUrl, { ...broker.serviceAuth, ca });
    dir = await makeTempDir('tls');
  });

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    for (const id of devices) await removeDeviceContainers(id);
    await controller?.close();
    await broker?.stop();
    await dir?.remove();
    await pki?.remove();
  });

  const newDevice = (prefix: string): string => {
    const id = `${prefix}-${randomBytes(3).toString('hex')}`;
    devices.push(id);
    return id;
  };

  const tlsArgs = (cert?: CertFiles): string[] => ['--ca', pki.ca.cert, ...(cert ? ['--cert', cert.cert, '--key', cert.key] : [])];

  /** One MQTT.js CONNECT as the device over TLS; resolves with the CONNACK return code (0: accepted). */
  async function connackOf(deviceId: string, options: { cert?: CertFiles; password?: string }): Promise<number> {
    const client = mqtt.connect(tlsUrl, {
      clientId: deviceId,
      username: deviceId,
      ...(options.password ? { password: options.password } : {}),
      ...(options.cert ? { cert: await readFile(options.cert.cert), key: await readFile(options.cert.key) } : {}),
      ca,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
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

  /** The broker's refusal lines for this client with this code and reason. */
  const refusalLines = (deviceId: string, code: string, reason: RegExp): string[] =>
    broker
      .output()
      .split('\n')
      .filter((line) => line.includes('"authentication refused"') && line.includes(`"clientId":"${deviceId}"`) && line.includes(`"code":"${code}"`) && reason.test(line));

  async function convergesWith(deviceId: string, agentOptions: { secret: string; extraArgs: string[] }): Promise<void> {
    const watch = await controller.watch(deviceId);
    const stateDir = await makeTempDir('tls-agent');
    const agent = await startAgent({
      deviceId,
      brokerUrl: tlsUrl,
      secret: agentOptions.secret,
      stateDir: stateDir.path,
      extraArgs: agentOptions.extraArgs,
      // No secret in the environment either, when the certificate is meant to be the only proof.
      env: agentOptions.secret ? {} : { OUTPOST_DEVICE_SECRET: undefined },
    });
    agents.push(agent);
    await controller.publishDesired(deviceId, desiredDoc(deviceId, 1, { web: { image: TEST_IMAGE, env: { V: '1' } } }));
    const report = await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 1, 60_000, 'converged at v1');
    expect(report.workloads.web?.state).toBe('running');
    expect((await deviceContainers(deviceId)).map((c) => c.state)).toEqual(['running']);
    expect(agent.output()).not.toMatch(/Not authorized/);
    await agent.stop();
    await stateDir.remove();
  }

  it('an agent with only a device certificate (no secret) converges over mqtts://', async () => {
    const id = newDevice('mtls');
    await broker.enroll(id); // enrolled, but the agent never learns the secret
    await convergesWith(id, { secret: '', extraArgs: tlsArgs(await pki.ca.device(id)) });
  });

  it('an agent with the CA and its password (no certificate) converges over mqtts://', async () => {
    const id = newDevice('tlspw');
    const secret = await broker.enroll(id);
    await convergesWith(id, { secret, extraArgs: tlsArgs() });
  });

  it('a certificate naming the device in a DNS or URI SAN authenticates it; a certificate and the right password together too', async () => {
    const id = newDevice('san');
    const secret = await broker.enroll(id);
    expect(await connackOf(id, { cert: await pki.ca.device(id, { nameIn: 'dns' }) })).toBe(0);
    expect(await connackOf(id, { cert: await pki.ca.device(id, { nameIn: 'uri' }) })).toBe(0);
    expect(await connackOf(id, { cert: await pki.ca.device(id), password: secret })).toBe(0);
  });

  it('refuses a certificate for another id, an expired one and one from another CA (return code 5, coded log line), even with the right password', async () => {
    const id = newDevice('refused');
    const secret = await broker.enroll(id);
    const other = newDevice('other');
    await broker.enroll(other);
    const cases: Array<[string, CertFiles, string, RegExp]> = [
      ['another id', await pki.ca.device(other), 'AUTH_CERT_MISMATCH', new RegExp(`client certificate is for ${other}, not ${id}`)],
      ['expired', await pki.ca.device(id, { expired: true }), 'AUTH_CERT_INVALID', /CERT_HAS_EXPIRED/],
      ['another CA', await pki.otherCa.device(id), 'AUTH_CERT_INVALID', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/],
    ];
    for (const [name, cert, code, reason] of cases) {
      expect(await connackOf(id, { cert }), name).toBe(5);
      expect(await connackOf(id, { cert, password: secret }), `${name} + password`).toBe(5);
      // One coded line per refused CONNECT, naming the reason.
      await waitFor(() => refusalLines(id, code, reason).length === 2, { timeoutMs: 10_000, description: `two ${code} lines for ${name}` });
    }
    // No certificate and no password over TLS: refused too. The password alone still works.
    expect(await connackOf(id, {})).toBe(5);
    expect(await connackOf(id, { password: secret })).toBe(0);
    // A right certificate for a device without a credential (never enrolled, or revoked) is refused.
    const unknown = newDevice('unenrolled');
    expect(await connackOf(unknown, { cert: await pki.ca.device(unknown) })).toBe(5);
    await waitFor(() => refusalLines(unknown, 'AUTH_BAD_CREDENTIALS', /not enrolled/).length === 1, { timeoutMs: 10_000, description: 'not enrolled' });
  });

  it("an agent holding another device's certificate is refused on every attempt and never connects", async () => {
    const id = newDevice('wrongcert');
    await broker.enroll(id);
    const other = newDevice('owner');
    await broker.enroll(other);
    const stateDir = await makeTempDir('tls-agent');
    const agent = await startAgent({
      deviceId: id,
      brokerUrl: tlsUrl,
      secret: '',
      stateDir: stateDir.path,
      extraArgs: tlsArgs(await pki.ca.device(other)),
      env: { OUTPOST_DEVICE_SECRET: undefined },
    });
    agents.push(agent);
    // It keeps trying with back-off (DD-004), refused each time.
    await waitFor(() => refusalLines(id, 'AUTH_CERT_MISMATCH', new RegExp(`is for ${other}, not ${id}`)).length >= 2, {
      timeoutMs: 20_000,
      description: 'two refused attempts',
    });
    await agent.waitForLine(/"err":"Connection refused: Not authorized".*"msg":"mqtt error"/, 10_000);
    expect(agent.output()).not.toMatch(/"msg":"connected"/);
    await agent.stop();
    await stateDir.remove();
  });

  it('the agent refuses mqtt:// and tcp:// to an address that is not this machine, before connecting anywhere', async () => {
    const stateDir = await makeTempDir('tls-agent');
    try {
      // TEST-NET addresses (RFC 5737): nothing is sent, the agent stops at its configuration.
      for (const url of ['mqtt://192.0.2.10:1883', 'tcp://198.51.100.7:1883']) {
        const agent = spawnProcess(process.execPath, {
          name: `agent ${url}`,
          args: [CLI, 'agent', '--device', 'plain-dev', '--broker', url, '--state-dir', stateDir.path, '--accept-unsigned'],
          env: { OUTPOST_DEVICE_SECRET: 'a-secret-a-secret-a-secret' },
        });
        const exit = await agent.waitForExit(20_000);
        expect(exit.code, agent.output()).toBe(2);
        const output = agent.output();
        expect(output).toMatch(/refusing (mqtt|tcp):\/\/ to (192\.0\.2\.10|198\.51\.100\.7), which is not this machine/);
        expect(output).toMatch(/device secret and every desired document .* would cross the network unencrypted/);
        expect(output).toMatch(/--insecure-plaintext/);
        expect(output).not.toMatch(/agent started/);
      }
    } finally {
      await stateDir.remove();
    }
  });
});

/**
 * The same on Mosquitto with dynamic security (DD-030): one listener with TLS
 * and passwords, one with mutual TLS where the certificate's CN is the
 * username (`use_identity_as_username`). The controller and its broker-admin
 * connection use mqtts:// with the CA (--broker-ca); an agent converges over
 * either listener. Mosquitto's differences (no client-id binding, an unknown
 * certificate connects with no access) are pinned in
 * test/integration/mosquitto-dynsec-mtls.test.ts.
 */
describe.runIf(testBrokerKind() === 'mosquitto-dynsec')('MQTT over TLS and mutual TLS on Mosquitto', () => {
  let pki: TestPki;
  let mosquitto: MosquittoDynsecServer;
  let redis: RedisServer;
  let plane: RunningControlPlane;
  let api: ApiClient;
  let tlsUrl: string;
  let mtlsUrl: string;
  let observer: TestController;
  let dir: TempDir;
  const agents: ManagedProcess[] = [];
  const devices: string[] = [];
  dumpOnFailure((): Record<string, string> => ({ mosquitto: mosquitto?.server.output() ?? '', ...Object.fromEntries(agents.map((a) => [a.name, a.output()])) }));

  beforeAll(async () => {
    pki = await makeTestPki();
    const [tlsPort, mtlsPort] = [await freePort(), await freePort()];
    const tls = [`cafile ${pki.ca.cert}`, `certfile ${pki.server.cert}`, `keyfile ${pki.server.key}`];
    mosquitto = await startMosquittoDynsecServer({
      extraConfig: [
        `listener ${tlsPort} 127.0.0.1`,
        ...tls,
        `listener ${mtlsPort} 127.0.0.1`,
        ...tls,
        'require_certificate true',
        'use_identity_as_username true',
      ],
    });
    tlsUrl = `mqtts://127.0.0.1:${tlsPort}`;
    mtlsUrl = `mqtts://127.0.0.1:${mtlsPort}`;
    redis = await startRedis();
    const adminToken = randomBytes(16).toString('hex');
    plane = await runControlPlane(
      parseControllerConfig({
        redisUrl: redis.url,
        brokerUrl: tlsUrl,
        brokerCaFile: pki.ca.cert,
        servicePassword: mosquitto.service.password,
        adminTokens: [adminToken],
        apiPort: 0,
        antiEntropyIntervalSeconds: 0,
        brokerAdmin: 'mosquitto-dynsec',
        brokerAdminUsername: mosquitto.admin.username,
        brokerAdminPassword: mosquitto.admin.password,
      }),
      silentLogger(),
      {},
    );
    api = new ApiClient({ baseUrl: plane.apiUrl, token: adminToken, retryDelayMs: 200 });
    observer = await connectTestController(tlsUrl, { ...mosquitto.service, ca: await readFile(pki.ca.cert) });
    dir = await makeTempDir('tls-mosquitto');
    await api.createRelease({ app: 'tlsapp', version: '1', workloads: { web: { image: TEST_IMAGE, env: { V: '1' } } } });
  });

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    for (const id of devices) await removeDeviceContainers(id);
    await observer?.close();
    await plane?.close();
    await redis?.stop();
    await mosquitto?.stop();
    await dir?.remove();
    await pki?.remove();
  });

  async function enrolAndConverge(prefix: string, url: string, withSecret: boolean): Promise<void> {
    const id = `${prefix}-${randomBytes(3).toString('hex')}`;
    devices.push(id);
    const { secret } = await api.addDevice({ id, labels: {} });
    const watch = await observer.watch(id);
    const cert = withSecret ? undefined : await pki.ca.device(id);
    const agent = await startAgent({
      deviceId: id,
      brokerUrl: url,
      secret: withSecret ? secret : '',
      stateDir: join(dir.path, id),
      extraArgs: ['--ca', pki.ca.cert, ...(cert ? ['--cert', cert.cert, '--key', cert.key] : [])],
      env: withSecret ? {} : { OUTPOST_DEVICE_SECRET: undefined },
    });
    agents.push(agent);
    await api.createDeployment({ id: `dep-${id}`, app: 'tlsapp', version: '1', target: { kind: 'devices', devices: [id] } });
    await watch.waitForReport((r) => r.phase === 'converged' && (r.desired.appliedVersion ?? 0) >= 1, 60_000, `${id} converged`);
    expect((await deviceContainers(id)).map((c) => c.state)).toEqual(['running']);
    await waitFor(async () => (await api.getDevice(id)).inSync, { timeoutMs: 20_000, description: `${id} in sync` });
  }

  it('the controller (service and broker admin) works over mqtts://, and an agent with its password converges over it', async () => {
    await enrolAndConverge('mq-tlspw', tlsUrl, true);
  });

  it('an agent with only a device certificate (no secret) converges over the mutual-TLS listener', async () => {
    await enrolAndConverge('mq-mtls', mtlsUrl, false);
  });

  it('refuses a wrong password over TLS, and on the mutual-TLS listener a certificate from another CA or none at all', async () => {
    const id = `mq-refused-${randomBytes(3).toString('hex')}`;
    devices.push(id);
    await api.addDevice({ id, labels: {} });
    const ca = await readFile(pki.ca.cert);
    const base = { clientId: id, username: id, ca, clean: true, protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 5000 };
    await expect(mqtt.connectAsync(tlsUrl, { ...base, password: 'not-the-secret-at-all' })).rejects.toThrow(/Not authorized|Bad username or password/i);
    const foreign = await pki.otherCa.device(id);
    await expect(mqtt.connectAsync(mtlsUrl, { ...base, cert: await readFile(foreign.cert), key: await readFile(foreign.key) })).rejects.toThrow();
    await expect(mqtt.connectAsync(mtlsUrl, base)).rejects.toThrow();
  });
});
