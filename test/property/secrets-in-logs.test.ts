import { createPrivateKey, randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDocument, trustedKeyOf, type SigningKey } from '../../shared/desired-signature.js';
import { Topics } from '../../shared/topics.js';
import { startAgent } from '../helpers/agent-process.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { startControllerProcess, type ControllerProcess } from '../helpers/controller-process.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Every kind of secret through the real processes (Redis with a password,
 * `outpost broker`, `outpost controller`, `outpost agent`, all at debug
 * level), the happy path and the failure paths (wrong passwords and tokens,
 * refused documents, failed pulls with registry credentials), then every
 * line any of them wrote, the audit log, the device's events and the agent's
 * state files are searched for every secret: none may appear.
 */

/** Enough to keep every line of the run (checked below: a truncated output would hide a leak). */
const KEEP_LINES = 200_000;
const APP = 'sec';
const REG_USER = 'edge-puller';
const topics = new Topics();
const secret = (bytes = 24): string => randomBytes(bytes).toString('base64url');

describe('secrets never reach a log', () => {
  const id = `sec-${randomBytes(3).toString('hex')}`;
  const other = `${id}-b`;
  /** name → value; filled as the secrets come into being. */
  const secrets = new Map<string, string>([
    ['redis password', secret()],
    ['admin token', secret(32)],
    ['registry password', secret()],
    ['registry password of a refused document', secret()],
    ['registry password of a tampered document', secret()],
    ['wrong registry password', secret()],
    ['registry password stored with registry-login', secret()],
    ['wrong device secret', secret(32)],
    ['wrong service password', secret()],
    ['wrong API token', `opt_${randomBytes(6).toString('hex')}_${secret()}`],
    ['client-chosen device secret of a refused request', secret(32)],
  ]);
  const need = (name: string): string => {
    const value = secrets.get(name);
    if (value === undefined) throw new Error(`no secret ${name}`);
    return value;
  };

  let redis: RedisServer;
  let broker: BrokerFixture;
  let controller: ControllerProcess;
  let registry: RegistryServer;
  let dir: TempDir;
  let agent: ManagedProcess | undefined;
  const outputs = new Map<string, () => string>();
  dumpOnFailure((): Record<string, string> => Object.fromEntries([...outputs].map(([name, out]) => [name, out().split('\n').slice(-150).join('\n')])));

  async function api(method: string, path: string, body?: unknown, token = need('admin token')): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${controller.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async function ok<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const res = await api(method, path, body, token);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as T;
  }

  const device = (deviceId: string) =>
    ok<{ phase: string; inSync: boolean; reported: { phase: string; desired: { applyingVersion: number | null }; errors: { code: string }[] } | null }>('GET', `/v1/devices/${deviceId}`);

  beforeAll(async () => {
    dir = await makeTempDir('secrets');
    redis = await startRedis({ appendonly: true, password: need('redis password') });
    [broker, registry] = await Promise.all([
      startAedesFixture({ redis, extraArgs: ['--log-level', 'debug'], bufferLines: KEEP_LINES }),
      startRegistry({ htpasswd: { user: REG_USER, password: need('registry password') } }),
    ]);
    outputs.set('broker', () => broker.output());
    secrets.set('service password', broker.serviceAuth.password ?? '');
    const signingKeyFile = join(dir.path, 'signing-key.pem');
    const registryKeyFile = join(dir.path, 'registry-credentials.key');
    controller = await startControllerProcess({
      name: 'controller',
      redisUrl: redis.url,
      brokerUrl: broker.url,
      servicePassword: need('service password'),
      adminToken: need('admin token'),
      extraArgs: ['--log-level', 'debug', '--signing-key-file', signingKeyFile, '--registry-credentials-key-file', registryKeyFile],
      bufferLines: KEEP_LINES,
    });
    outputs.set('controller', () => controller.proc.output());
    secrets.set('signing key (PEM)', await readFile(signingKeyFile, 'utf8'));
    secrets.set('registry-credentials key', (await readFile(registryKeyFile, 'utf8')).trim());
  });

  afterAll(async () => {
    await agent?.stop();
    await controller?.proc.stop();
    await Promise.all([broker?.stop(), registry?.stop()]);
    await redis?.stop();
    await removeDeviceContainers(id);
    await dir?.remove();
  });

  it('a realistic session at debug level, with its failure paths: no secret appears in any output, the audit log, the device events or the agent state files', async () => {
    await realisticSession();
    await expectNoSecretAnywhere();
  });

  /** Enrolment, a deployment the device converges on, then wrong credentials, refused documents and failed pulls. */
  async function realisticSession(): Promise<void> {
    // An API token does the operator's work; the admin token enrolls.
    const created = await ok<{ secret: string }>('POST', '/v1/tokens', { name: 'ci-deploy', role: 'operator' });
    // DD-041: stored sealed, through the API, the audit log and the controller's debug log.
    await ok('PUT', `/v1/registry-credentials/${encodeURIComponent(registry.host)}`, { username: REG_USER, password: need('registry password stored with registry-login') });
    secrets.set('API token', created.secret);
    await ok('POST', '/v1/releases', { app: APP, version: '1', workloads: { main: { image: TEST_IMAGE, env: { RELEASE: '1' } } } }, need('API token'));
    secrets.set('device secret', (await ok<{ secret: string }>('POST', '/v1/devices', { id, labels: { role: 'sec' } })).secret);
    secrets.set('device secret (other device)', (await ok<{ secret: string }>('POST', '/v1/devices', { id: other })).secret);
    secrets.set('rotated device secret', (await ok<{ secret: string }>('POST', `/v1/devices/${other}/secret`, {})).secret);
    await ok('POST', '/v1/deployments', { id: `dep-${id}`, app: APP, version: '1', target: { kind: 'selector', selector: 'role=sec' } }, need('API token'));
    const trustFile = join(dir.path, 'trust.pem');
    await writeFile(trustFile, (await ok<{ active: { pem: string } }>('GET', '/v1/signing-keys')).active.pem);

    const stateDir = join(dir.path, 'state');
    agent = await startAgent({ deviceId: id, brokerUrl: broker.url, secret: need('device secret'), trustFile, stateDir, bufferLines: KEEP_LINES });
    const theAgent = agent;
    outputs.set('agent', () => theAgent.output());
    await waitFor(async () => {
      const d = await device(id);
      return d.inSync && d.phase === 'converged';
    }, { timeoutMs: 60_000, description: `${id} converged on ${APP}@1` });

    // Wrong credentials: an API token, a device secret, the service password; a refused body carrying a secret.
    expect((await api('GET', '/v1/devices', undefined, need('wrong API token'))).status).toBe(401);
    expect((await api('POST', '/v1/devices', { id: 'Not A Valid Id', secret: need('client-chosen device secret of a refused request') })).status).toBe(400);
    const impostor = await startAgent({ deviceId: other, brokerUrl: broker.url, secret: need('wrong device secret'), trustFile, stateDir: join(dir.path, 'state-other'), bufferLines: KEEP_LINES });
    outputs.set('agent with a wrong secret', () => impostor.output());
    await impostor.waitForLine(/"msg":"mqtt error"/, 20_000);
    await impostor.stop();
    await expect(
      mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0, clientId: 'svc:impostor', username: 'svc:outpost', password: need('wrong service password') }),
    ).rejects.toThrow(/not authori[sz]ed/i);

    // Documents the agent refuses, each carrying registry credentials; then two it accepts whose pulls fail.
    const pem = need('signing key (PEM)');
    const privateKey = createPrivateKey(pem);
    const key: SigningKey = { keyId: trustedKeyOf(privateKey).keyId, privateKey };
    const held = (await ok<{ desired: { version: number } }>('GET', `/v1/devices/${id}/desired`)).desired.version;
    const doc = (version: number, image: string, password: string): Record<string, unknown> => ({
      protocol: 1,
      deviceId: id,
      version,
      issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      workloads: { [`${APP}-main`]: { image } },
      registryAuth: { [registry.host]: { username: REG_USER, password } },
    });
    const service = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0, clientId: 'svc:secrets-test', username: 'svc:outpost', password: need('service password') });
    const publish = (d: unknown) => service.publishAsync(topics.desired(id), JSON.stringify(d), { qos: 1, retain: true });
    const rejected = (code: string) => theAgent.waitForLine(new RegExp(`"code":"${code}".*"msg":"desired state rejected"|"msg":"desired state rejected".*"code":"${code}"`), 20_000);
    try {
      await publish(doc(held + 10, TEST_IMAGE, need('registry password of a refused document')));
      await rejected('DESIRED_UNSIGNED');
      const signed = signDocument(doc(held + 11, TEST_IMAGE, 'placeholder-password'), [key]);
      await publish({ ...signed, registryAuth: { [registry.host]: { username: REG_USER, password: need('registry password of a tampered document') } } });
      await rejected('DESIRED_SIGNATURE');

      const failsWith = async (version: number, password: string, image: string): Promise<string> => {
        await publish(signDocument(doc(version, image, password), [key]));
        const d = await waitFor(async () => {
          const r = (await device(id)).reported;
          return r?.phase === 'failed' && r.desired.applyingVersion === version ? r : undefined;
        }, { timeoutMs: 60_000, description: `v${version} failed` });
        return d.errors.at(-1)?.code ?? '';
      };
      expect(await failsWith(held + 1, need('registry password'), `${registry.host}/private/absent:1`)).toMatch(/^IMAGE_/);
      expect(await failsWith(held + 2, need('wrong registry password'), `${registry.host}/private/absent:2`)).toMatch(/^(REGISTRY_AUTH|IMAGE_)/);
    } finally {
      await service.endAsync(true);
    }
  }

  /** Searches everything the processes wrote, shutdown included (the broker's output is read while it still runs). */
  async function expectNoSecretAnywhere(): Promise<void> {
    await agent?.stop();
    const corpus = new Map<string, string>();
    corpus.set('audit log', JSON.stringify(await ok('GET', '/v1/audit?limit=1000')));
    corpus.set('device events', JSON.stringify(await ok('GET', `/v1/devices/${id}/events?limit=200`)));
    corpus.set('device report', JSON.stringify(await ok('GET', `/v1/devices/${id}/reported`)));
    const stateDir = join(dir.path, 'state');
    for (const file of await readdir(stateDir)) if (file.endsWith('.json')) corpus.set(`agent state ${file}`, await readFile(join(stateDir, file), 'utf8'));
    await controller.proc.stop();
    for (const [name, out] of outputs) {
      const text = out();
      // A truncated output could hide a leak.
      expect(text.split('\n').length, `${name} output kept whole`).toBeLessThan(KEEP_LINES);
      corpus.set(`${name} output`, text);
    }

    // The search finds what is there: the failure paths were logged, with the device named.
    const all = [...corpus.values()].join('\n');
    for (const expected of [id, 'DESIRED_UNSIGNED', 'DESIRED_SIGNATURE', 'authentication refused', '"statusCode":401']) expect(all).toContain(expected);

    const leaks: string[] = [];
    for (const [name, value] of secrets) {
      expect(value.length, name).toBeGreaterThanOrEqual(16);
      for (const form of forms(name, value)) {
        for (const [where, text] of corpus) if (text.includes(form)) leaks.push(`${name} in ${where}`);
      }
    }
    expect(leaks).toEqual([]);
  }
});

/** The ways a secret could be written: as is, URL-encoded, and for keys and tokens the parts that are secret on their own. */
function forms(name: string, value: string): string[] {
  const out = new Set([value, encodeURIComponent(value)]);
  if (name.includes('PEM')) {
    const key = createPrivateKey(value);
    const jwk = key.export({ format: 'jwk' });
    if (typeof jwk.d === 'string') {
      out.add(jwk.d);
      out.add(Buffer.from(jwk.d, 'base64url').toString('hex'));
      out.add(Buffer.from(jwk.d, 'base64url').toString('base64'));
    }
    const body = value.split('\n').filter((l) => l && !l.startsWith('-----'));
    out.add(body.join(''));
    for (const line of body) if (line.length >= 16) out.add(line);
  }
  if (name.includes('API token')) {
    const secretPart = value.split('_').at(-1);
    if (secretPart && secretPart.length >= 16) out.add(secretPart);
  }
  return [...out];
}
