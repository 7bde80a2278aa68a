import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../controller/http/build-api.js';
import { RegistryCredentialStore } from '../../controller/registry-auth/registry-credential-store.js';
import { Keys } from '../../controller/registry/keys.js';
import { ControllerError } from '../../controller/errors.js';
import { silentLogger } from '../../shared/logger.js';
import { runCli, type CliResult } from '../helpers/cli-run.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { readRetainedDesired } from '../helpers/desired-watch.js';
import { captureLogs } from '../helpers/log-capture.js';
import { keysHolding } from '../helpers/redis-scan.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { ensureStoreKeyFile } from '../../broker/persistence/store-key.js';
import { openRetained, plantClearValue } from '../helpers/sealed-store.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { freshId } from '../helpers/api.js';


/** registry-login / logout / ls through the real CLI and API (DD-041): sealed at rest, injected where needed, never shown. */
describe('registry credentials', () => {
  let dir: TempDir;
  let rig: ControlPlaneRig;
  let app: FastifyInstance;
  let url: string;
  const captured = captureLogs();

  const api = () => ({ url, token: rig.adminToken });
  const cli = (args: readonly string[], input?: string): Promise<CliResult> => runCli(args, api(), { timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
  async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, token = rig.adminToken): Promise<{ status: number; text: string; json: unknown }> {
    const res = await app.inject({ method, url: path, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, text: res.body, json: res.body ? (JSON.parse(res.body) as unknown) : undefined };
  }
  const retained = (id: string) => readRetainedDesired(rig.brokerUrl, rig.serviceAuth, id);

  /** A device on a release pulling from `image`; returns its id once its first document is on the broker. */
  async function deviceRunning(image: string): Promise<string> {
    const id = freshId('rc');
    expect((await call('POST', '/v1/devices', { id, labels: {} })).status).toBe(201);
    const appName = freshId('app');
    expect((await call('POST', '/v1/releases', { app: appName, version: '1', workloads: { web: { image } } })).status).toBe(201);
    expect((await call('POST', '/v1/deployments', { app: appName, version: '1', target: { kind: 'devices', devices: [id] } })).status).toBe(201);
    expect((await retained(id))?.version).toBeGreaterThan(0);
    return id;
  }

  beforeAll(async () => {
    dir = await makeTempDir('regcreds');
    // DD-047: the broker seals what it stores, so the published document's password is in Redis in clear nowhere.
    await ensureStoreKeyFile(join(dir.path, 'broker-store.key'));
    rig = await startControlPlane({
      controller: { registryCredentialsKeyFile: join(dir.path, 'registry-credentials.key') },
      brokerStoreKeyFile: join(dir.path, 'broker-store.key'),
      logger: captured.logger,
    });
    app = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: captured.logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await dir?.remove();
  });

  it('registry-login injects the credentials into exactly the devices pulling from the host; the password is in no controller key, answer, audit entry or log', async () => {
    const host = `${freshId('reg')}.example:5000`;
    const password = `pw-${freshId('secret')}-Zz9`;
    const priv = await deviceRunning(`${host}/team/app:1`);
    const hub = await deviceRunning('nginx:1.25');
    const [privBefore, hubBefore] = [await retained(priv), await retained(hub)];

    const login = await cli(['registry-login', host, '--username', 'robot', '--password-stdin'], `${password}\n`);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(new RegExp(`Stored credentials for ${host.replace(/\./g, '\\.')} \\(user robot\\); \\d+ desired documents? re-published`));

    const privDoc = await retained(priv);
    expect(privDoc?.version).toBeGreaterThan(privBefore?.version ?? 0);
    expect(privDoc?.registryAuth).toEqual({ [host]: { username: 'robot', password } });
    // Signed (DD-026): the credentials are inside the signature.
    expect(privDoc?.signature).not.toBeNull();
    const hubDoc = await retained(hub);
    expect(hubDoc?.version).toBe(hubBefore?.version);
    expect(hubDoc?.registryAuth).toBeUndefined();

    const ls = await cli(['registry-credentials', 'ls', '--json']);
    expect(ls.code).toBe(0);
    expect((JSON.parse(ls.stdout) as { credentials: unknown[] }).credentials).toContainEqual({ host, username: 'robot', updatedAt: expect.any(String) });
    const table = await cli(['registry-credentials', 'ls']);
    expect(table.stdout).toContain(host);

    const view = await call('GET', `/v1/devices/${priv}/desired`);
    expect((view.json as { desired: { registryAuth: unknown } }).desired.registryAuth).toEqual({ [host]: { username: 'robot', password: '[redacted]' } });
    const audit = await call('GET', '/v1/audit?limit=50');
    const put = (audit.json as { entries: { method: string; params: Record<string, string>; body: unknown }[] }).entries.find((e) => e.method === 'PUT' && e.params.host === host);
    expect(put?.body).toEqual({ username: 'robot', password: '[redacted]' });

    for (const text of [login.stdout, ls.stdout, table.stdout, view.text, audit.text, (await call('GET', `/v1/devices/${priv}`)).text, JSON.stringify(captured.logs)]) {
      expect(text).not.toContain(password);
    }
    // The controller's records hold it sealed (DD-041), and so does the broker's retained copy of the document (DD-047).
    expect(await keysHolding(rig.redis.url, password)).toEqual([]);
    // Not blind: the same scan finds the password where it is in clear…
    const remove = await plantClearValue(rig.redis.url, `test:clear:${freshId('probe')}`, password);
    expect(await keysHolding(rig.redis.url, password)).toHaveLength(1);
    await remove();
    // …and Outpost's broker does hold the document, sealed: opened with its key, it carries the password.
    if (testBrokerKind() === 'outpost') expect(Object.values(await openRetained(rig.redis.url, join(dir.path, 'broker-store.key'))).some((doc) => doc.includes(password))).toBe(true);
    const client = new Redis(rig.redis.url);
    try {
      expect(await client.get(new Keys('outpost:').registryCredential(host))).toMatch(/"sealed":"v1\.[0-9a-f]{8}\./);
    } finally {
      client.disconnect();
    }
  });

  it('a second login rotates the password on the devices without a redeploy; logout removes it', async () => {
    const host = `${freshId('rot')}.example`;
    const priv = await deviceRunning(`${host}/app:1`);
    expect((await cli(['registry-login', host, '--username', 'robot', '--password-stdin'], 'first-pw')).code).toBe(0);
    const first = await retained(priv);
    expect(first?.registryAuth?.[host]?.password).toBe('first-pw');

    const rotated = await cli(['registry-login', host, '--username', 'robot2', '--password-stdin'], 'second-pw\n');
    expect(rotated.code, rotated.stderr).toBe(0);
    const second = await retained(priv);
    expect(second?.version).toBe((first?.version ?? 0) + 1);
    expect(second?.registryAuth).toEqual({ [host]: { username: 'robot2', password: 'second-pw' } });
    expect(second?.workloads).toEqual(first?.workloads);

    const logout = await cli(['registry-logout', host]);
    expect(logout.code, logout.stderr).toBe(0);
    expect(logout.stdout).toMatch(/^Removed credentials for /);
    const third = await retained(priv);
    expect(third?.version).toBe((second?.version ?? 0) + 1);
    expect(third?.registryAuth).toBeUndefined();

    const again = await cli(['registry-logout', host]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no registry credentials stored for .*\(REGISTRY_CREDENTIAL_NOT_FOUND\)\n$/);
  });

  it('credentials altered in Redis are left out with a clear problem, never sent', async () => {
    const host = `${freshId('tamper')}.example`;
    const priv = await deviceRunning(`${host}/app:1`);
    expect((await cli(['registry-login', host, '--username', 'robot', '--password-stdin'], 'tamper-pw')).code).toBe(0);
    const key = new Keys('outpost:').registryCredential(host);
    const client = new Redis(rig.redis.url);
    try {
      const record = JSON.parse((await client.get(key)) ?? '{}') as { sealed: string };
      const flipped = record.sealed.slice(0, -2) + (record.sealed.endsWith('AA') ? 'AB' : 'AA');
      await client.set(key, JSON.stringify({ ...record, sealed: flipped }));
    } finally {
      client.disconnect();
    }
    const result = await rig.controller.publisher.recompute([priv]);
    expect(result.problems[priv]?.join('\n')).toMatch(new RegExp(`registry credentials of ${host.replace(/\./g, '\\.')} left out: .*fail authentication.*registry-login`));
    expect((await retained(priv))?.registryAuth).toBeUndefined();
    const shown = (await call('GET', `/v1/devices/${priv}`)).json as { problems: string[] };
    expect(shown.problems.join('\n')).toMatch(/left out: .*fail authentication/);
  });

  it('bad input is a clear error and changes nothing', async () => {
    const bad = await call('PUT', '/v1/registry-credentials/https:%2F%2Freg.example', { username: 'u', password: 'p' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/REQUEST_INVALID.*host\[:port\]/);
    const noPassword = await call('PUT', '/v1/registry-credentials/reg.example', { username: 'u' });
    expect(noPassword.status).toBe(400);
    expect(noPassword.text).toMatch(/password/);
    const extra = await call('PUT', '/v1/registry-credentials/reg.example', { username: 'u', password: 'p', email: 'x' });
    expect(extra.status).toBe(400);

    const token = await call('POST', '/v1/tokens', { name: freshId('op'), role: 'operator' });
    const operator = (token.json as { secret: string }).secret;
    expect((await call('PUT', '/v1/registry-credentials/reg.example', { username: 'u', password: 'p' }, operator)).status).toBe(403);
    expect((await call('GET', '/v1/registry-credentials', undefined, operator)).status).toBe(403);

    const scheme = await cli(['registry-login', 'https://reg.example/v2/', '--username', 'u', '--password-stdin'], 'p');
    expect(scheme.code).toBe(1);
    expect(scheme.stderr).toMatch(/host\[:port\].*did you mean reg\.example\? \(USAGE\)/);
    const onCommandLine = await cli(['registry-login', 'reg.example', '--username', 'u', '--password', 'p']);
    expect(onCommandLine.stderr).toMatch(/--password is not accepted.*--password-stdin \(USAGE\)/);
    const noStdinFlag = await cli(['registry-login', 'reg.example', '--username', 'u']);
    expect(noStdinFlag.stderr).toMatch(/--password-stdin/);
    const empty = await cli(['registry-login', 'reg.example', '--username', 'u', '--password-stdin'], '\n');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/PASSWORD_EMPTY/);

    const list = (await call('GET', '/v1/registry-credentials')).json as { credentials: { host: string }[] };
    expect(list.credentials.map((c) => c.host)).not.toContain('reg.example');
  });

  it('a controller without a key file refuses to store credentials, naming the option', async () => {
    const client = new Redis(rig.redis.url);
    try {
      const store = new RegistryCredentialStore({ redis: client, keys: new Keys(`${freshId('nokey')}:`), now: Date.now, logger: silentLogger() });
      await store.init();
      const err = await store.put({ host: 'reg.example', username: 'u', password: 'p' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ControllerError);
      expect(err).toMatchObject({ code: 'REGISTRY_CREDENTIALS_KEY_MISSING', status: 409 });
      expect((err as Error).message).toMatch(/--registry-credentials-key-file/);
    } finally {
      client.disconnect();
    }
  });
});
