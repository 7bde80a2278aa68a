import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_BODY_LIMIT_BYTES } from '../../controller/http/build-api.js';
import { ErrorBody } from '../../controller/http/schemas.js';
import { errorOf, freshId, startApi, type ApiRig, type Method } from '../helpers/api.js';

/** Every protected route, with a body that would be valid; ids need not exist (auth comes first). */
const PROTECTED: { method: Method; url: string; body?: unknown }[] = [
  { method: 'POST', url: '/v1/devices', body: { id: 'auth-probe' } },
  { method: 'GET', url: '/v1/devices' },
  { method: 'GET', url: '/v1/devices/auth-probe' },
  { method: 'DELETE', url: '/v1/devices/auth-probe' },
  { method: 'POST', url: '/v1/devices/auth-probe/secret', body: {} },
  { method: 'POST', url: '/v1/devices/auth-probe/certificate', body: {} },
  { method: 'PATCH', url: '/v1/devices/auth-probe/labels', body: { set: { a: 'b' } } },
  { method: 'PATCH', url: '/v1/devices/auth-probe/overrides', body: { env: { A: 'b' } } },
  { method: 'PUT', url: '/v1/devices/auth-probe/pins/web', body: { version: '1.0.0' } },
  { method: 'DELETE', url: '/v1/devices/auth-probe/pins/web' },
  { method: 'GET', url: '/v1/devices/auth-probe/desired' },
  { method: 'GET', url: '/v1/devices/auth-probe/reported' },
  { method: 'GET', url: '/v1/devices/auth-probe/events' },
  { method: 'POST', url: '/v1/devices/auth-probe/commands', body: { type: 'ping' } },
  { method: 'GET', url: '/v1/devices/auth-probe/commands/c-1' },
  { method: 'GET', url: '/v1/devices/auth-probe/telemetry' },
  { method: 'POST', url: '/v1/releases', body: { app: 'web', version: '1.0.0', workloads: { main: { image: 'busybox:1' } } } },
  { method: 'GET', url: '/v1/releases' },
  { method: 'GET', url: '/v1/releases/web/1.0.0' },
  { method: 'POST', url: '/v1/deployments', body: { app: 'web', version: '1.0.0', target: { kind: 'selector', selector: 'a=b' } } },
  { method: 'GET', url: '/v1/deployments' },
  { method: 'GET', url: '/v1/deployments/dep-1' },
  { method: 'DELETE', url: '/v1/deployments/dep-1' },
  { method: 'GET', url: '/v1/fleet' },
  { method: 'GET', url: '/v1/changes' },
  { method: 'POST', url: '/v1/rollouts', body: { app: 'web', toVersion: '1.0.0', target: { kind: 'selector', selector: 'a=b' }, waves: { kind: 'sizes', sizes: ['100%'] } } },
  { method: 'GET', url: '/v1/rollouts' },
  { method: 'GET', url: '/v1/rollouts/ro-1' },
  ...(['pause', 'resume', 'abort', 'rollback', 'advance'] as const).map((op) => ({ method: 'POST' as const, url: `/v1/rollouts/ro-1/${op}` })),
  { method: 'POST', url: '/v1/tokens', body: { name: 'probe', role: 'viewer' } },
  { method: 'GET', url: '/v1/tokens' },
  { method: 'DELETE', url: '/v1/tokens/0123456789ab' },
  { method: 'GET', url: '/v1/audit' },
  { method: 'GET', url: '/v1/signing-keys' },
  { method: 'POST', url: '/v1/signing-keys/rotate' },
  { method: 'POST', url: '/v1/signing-keys/finish' },
  { method: 'PUT', url: '/v1/registry-credentials/reg.example', body: { username: 'u', password: 'p' } },
  { method: 'GET', url: '/v1/registry-credentials' },
  { method: 'DELETE', url: '/v1/registry-credentials/reg.example' },
  { method: 'GET', url: '/v1/no-such-route' },
];

/** Not /v1 routes, and not in the OpenAPI document, but behind a token all the same (only /healthz is public). */
const PROTECTED_META = ['/openapi.json', '/docs', '/docs/json', '/docs/static/swagger-ui.css'];

/** Bad input for every endpoint: [method, url, body, the field the message must name, code]. */
const BAD_INPUT: [Method, string, unknown, string, string?][] = [
  ['POST', '/v1/devices', { id: 'Bad_ID!' }, 'body.id: device id must match'],
  ['PUT', '/v1/registry-credentials/https:%2F%2Freg.example', { username: 'u', password: 'p' }, 'path.host: a registry is host[:port]'],
  ['PUT', '/v1/registry-credentials/reg.example', { username: 'u' }, 'body.password:'],
  ['PUT', '/v1/registry-credentials/reg.example', { username: '', password: 'p' }, 'body.username:'],
  ['POST', '/v1/devices', { id: 'ok-id', colour: 'red' }, 'body.colour: unknown field'],
  ['POST', '/v1/devices', { id: 'ok-id', labels: { 'Bad Key': 'v' } }, 'body.labels.Bad Key: invalid key: label keys'],
  ['POST', '/v1/devices', { labels: {} }, 'body.id:'],
  ['GET', '/v1/devices?selector=site%20in%20(a', undefined, 'unbalanced', 'SELECTOR_INVALID'],
  ['GET', '/v1/devices?selector=%3Dx', undefined, 'cannot parse selector requirement', 'SELECTOR_INVALID'],
  ['GET', '/v1/devices?colour=red', undefined, 'query.colour: unknown field'],
  ['GET', '/v1/devices/UPPER', undefined, 'path.id: device id must match'],
  ['DELETE', '/v1/devices/no%2Fslash', undefined, 'path.id: device id must match'],
  ['PATCH', '/v1/devices/d1/labels', { set: { k: 'bad value!' } }, 'body.set.k: label values'],
  ['PATCH', '/v1/devices/d1/labels', { remove: 'k' }, 'body.remove: Invalid input: expected array'],
  ['PATCH', '/v1/devices/d1/labels', { add: { k: 'v' } }, 'body.add: unknown field'],
  ['PATCH', '/v1/devices/d1/overrides', { env: { '1BAD': 'x' } }, 'body.env.1BAD: invalid key: env names'],
  ['PATCH', '/v1/devices/d1/overrides', { env: { GOOD: 5 } }, 'body.env.GOOD: Invalid input'],
  ['PATCH', '/v1/devices/d1/overrides', { workloadEnv: { 'Bad!': { A: 'b' } } }, 'body.workloadEnv.Bad!: invalid key'],
  ['PUT', '/v1/devices/d1/pins/Bad_App', { version: '1.0.0' }, 'path.app: app names'],
  ['PUT', '/v1/devices/d1/pins/web', {}, 'body.version: Invalid input'],
  ['PUT', '/v1/devices/d1/pins/web', undefined, 'body: a JSON body is required'],
  ['PUT', '/v1/devices/d1/pins/web', { version: 'not a version' }, 'body.version: release versions'],
  ['DELETE', '/v1/devices/d1/pins/-web', undefined, 'path.app: app names'],
  ['GET', '/v1/devices/d1/desired?x=1', undefined, 'query.x: unknown field'],
  ['GET', '/v1/devices/Nope/reported', undefined, 'path.id: device id must match'],
  ['GET', '/v1/devices/d1/events?limit=0', undefined, 'query.limit: Too small'],
  ['GET', '/v1/devices/d1/events?limit=201', undefined, 'query.limit: Too big'],
  ['GET', '/v1/devices/d1/events?limit=lots', undefined, 'query.limit: Invalid input: expected number'],
  ['POST', '/v1/devices/d1/commands', { type: 'reboot' }, 'body.type: Invalid option'],
  ['POST', '/v1/devices/d1/commands', { type: 'restart' }, 'body.workload: restart and logs need a workload'],
  ['POST', '/v1/devices/d1/commands', { type: 'ping', tail: 5 }, 'body.tail: tail is only for logs'],
  ['POST', '/v1/devices/d1/commands', { type: 'ping', waitSeconds: 61 }, 'body.waitSeconds: Too big'],
  ['POST', '/v1/devices/d1/commands', { type: 'ping', ttlSeconds: 0 }, 'body.ttlSeconds: Too small'],
  ['POST', '/v1/devices/d1/commands', { type: 'logs', workload: 'Web', tail: 5 }, 'body.workload: workload name must match'],
  ['GET', '/v1/devices/d1/commands/bad%20id', undefined, 'path.commandId: command ids'],
  ['GET', '/v1/devices/d1/telemetry?x=1', undefined, 'query.x: unknown field'],
  ['POST', '/v1/devices/d1/certificate', { csr: 'not a request' }, 'body.csr: csr must be a PEM certificate request'],
  ['POST', '/v1/devices/d1/certificate', { validityDays: 3651 }, 'body.validityDays: Too big'],
  ['POST', '/v1/devices/Bad!/certificate', {}, 'path.id: device id must match'],
  ['POST', '/v1/releases', { app: 'web', version: '1', workloads: { main: { image: 'Not An Image' } } }, 'body.workloads.main.image: image must be a Docker reference'],
  ['POST', '/v1/releases', { app: 'web', version: '1', workloads: { main: { image: 'busybox', restart: 'sometimes' } } }, 'body.workloads.main.restart: Invalid option'],
  ['POST', '/v1/releases', { app: 'web', version: '1', workloads: { main: { image: 'busybox', memory: '1g' } } }, 'body.workloads.main.memory: unknown field'],
  ['POST', '/v1/releases', { app: 'web', version: '1', workloads: { main: { image: 'busybox', volumes: [{ type: 'nfs', target: '/x' }] } } }, 'body.workloads.main.volumes.0.type: Invalid discriminator value'],
  ['POST', '/v1/releases', { app: 'web', version: '1', workloads: { main: { image: 'busybox', ports: [{ container: 80, host: 70000 }] } } }, 'body.workloads.main.ports.0.host: Too big'],
  ['POST', '/v1/releases', { app: 'web', version: '1', workloads: {} }, 'body.workloads: a release needs at least one workload'],
  ['POST', '/v1/releases', { app: 'Web', version: '1', workloads: { main: { image: 'busybox' } } }, 'body.app: app names'],
  ['GET', '/v1/releases?app=Web', undefined, 'query.app: app names'],
  ['GET', '/v1/releases/web/bad%20version', undefined, 'path.version: release versions'],
  ['POST', '/v1/deployments', { app: 'web', version: '1', target: { kind: 'everyone' } }, 'body.target.kind: Invalid discriminator value'],
  ['POST', '/v1/deployments', { app: 'web', version: '1', target: { kind: 'devices', devices: ['OK', 'fine'] } }, 'body.target.devices.0: device id must match'],
  ['POST', '/v1/deployments', { app: 'web', version: '1', target: { kind: 'selector', selector: 'a=b' }, priority: 1.5 }, 'body.priority: Invalid input: expected int'],
  ['POST', '/v1/deployments', { app: 'web', version: '1' }, 'body.target: Invalid input'],
  ['POST', '/v1/deployments', { app: 'web', version: '1', target: { kind: 'selector', selector: 'a in b' } }, 'cannot parse selector requirement', 'SELECTOR_INVALID'],
  ['GET', '/v1/deployments/Dep_1', undefined, 'path.id: deployment ids'],
  ['DELETE', '/v1/deployments/dep_1', undefined, 'path.id: deployment ids'],
  ['GET', '/v1/deployments?all=1', undefined, 'query.all: unknown field'],
  ['GET', '/v1/fleet?x=1', undefined, 'query.x: unknown field'],
  ['POST', '/v1/rollouts', { app: 'web', toVersion: '1', target: { kind: 'selector', selector: 'a=b' }, waves: { kind: 'sizes', sizes: ['0%'] } }, 'body.waves.sizes.0: wave percentages must be between 1% and 100%'],
  ['POST', '/v1/rollouts', { app: 'web', toVersion: '1', target: { kind: 'selector', selector: 'a=b' }, waves: { kind: 'sizes', sizes: [1] }, maxFailurePct: 101 }, 'body.maxFailurePct: Too big'],
  ['POST', '/v1/rollouts', { app: 'web', toVersion: '1', target: { kind: 'selector', selector: 'a=b' }, waves: { kind: 'sizes', sizes: [1] }, window: { cron: '0 2 * * *', durationMinutes: 60, timezone: 'Mars/Olympus' } }, 'body.window.timezone: unknown IANA timezone'],
  ['POST', '/v1/rollouts/Bad_Id/pause', undefined, 'path.id: rollout ids'],
];

describe('HTTP API: errors, auth, OpenAPI and logs', () => {
  let api: ApiRig;
  const logLines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    api = await startApi({ logger: pino({ level: 'debug' }, sink) });
  });
  afterAll(async () => {
    await api?.close();
  });

  describe('authentication', () => {
    it('answers 401 UNAUTHORIZED on every protected route without an Authorization header', async () => {
      for (const { method, url, body } of [...PROTECTED, ...PROTECTED_META.map((url) => ({ method: 'GET' as const, url, body: undefined }))]) {
        const res = await api.call(method, url, body, {});
        expect(res.status, `${method} ${url}`).toBe(401);
        expect(errorOf(res)).toEqual({ code: 'UNAUTHORIZED', message: expect.stringContaining('missing Authorization header') });
        expect(res.raw.headers['www-authenticate']).toMatch(/^Bearer /);
      }
    });

    it('answers 401 UNAUTHORIZED on every protected route with a wrong token or scheme', async () => {
      const wrong = randomBytes(16).toString('hex');
      for (const { method, url, body } of PROTECTED) {
        const res = await api.call(method, url, body, { authorization: `Bearer ${wrong}` });
        expect(res.status, `${method} ${url}`).toBe(401);
        expect(errorOf(res)).toEqual({ code: 'UNAUTHORIZED', message: 'the bearer token is not valid (wrong, or revoked)' });
      }
      const prefixOfRealToken = await api.call('GET', '/v1/fleet', undefined, { authorization: `Bearer ${api.token.slice(0, -1)}` });
      expect(errorOf(prefixOfRealToken).message).toBe('the bearer token is not valid (wrong, or revoked)');
      const basic = await api.call('GET', '/v1/fleet', undefined, { authorization: `Basic ${Buffer.from(`admin:${api.token}`).toString('base64')}` });
      expect(basic.status).toBe(401);
      expect(errorOf(basic).message).toContain('not a bearer token');
    });

    it('accepts the token with any case of the scheme; /healthz alone needs none', async () => {
      expect((await api.call('GET', '/v1/fleet', undefined, { authorization: `bearer ${api.token}` })).status).toBe(200);
      expect((await api.call('GET', '/healthz', undefined, {})).status).toBe(200);
      expect((await api.call('HEAD', '/healthz', undefined, {})).status).toBe(200);
      for (const url of PROTECTED_META) {
        const res = await api.call('GET', url);
        expect(res.status, url).toBe(200);
      }
    });

    it('gives every answer an x-request-id header, errors included', async () => {
      const ids = new Set<string>();
      for (const [url, headers] of [['/healthz', {}], ['/v1/fleet', {}], ['/v1/fleet', undefined], ['/v1/no-such-route', undefined]] as const) {
        const res = await api.call('GET', url, undefined, headers);
        const id = res.raw.headers['x-request-id'];
        expect(id, url).toMatch(/^[0-9a-f-]{36}$/);
        ids.add(String(id));
      }
      expect(ids.size).toBe(4);
    });
  });

  describe('bad input', () => {
    it.each(BAD_INPUT)('%s %s → 400 naming the field', async (method, url, body, expected, code = 'REQUEST_INVALID') => {
      const res = await api.call(method, url, body);
      expect(res.status, res.raw.body).toBe(400);
      ErrorBody.parse(res.body);
      const error = errorOf(res);
      expect(error.code).toBe(code);
      expect(error.message).toContain(expected);
    });

    it('lists every bad field in one message, with structured issues', async () => {
      const res = await api.call('POST', '/v1/devices', { id: 'BAD', labels: { 'example.com/role': 'not ok!' }, extra: true });
      expect(res.status).toBe(400);
      const error = errorOf(res);
      expect(error.message).toBe(
        'invalid request: body.id: device id must match ^[a-z0-9][a-z0-9._-]{0,62}$; ' +
          'body.labels.example.com/role: label values: up to 63 chars of A-Z a-z 0-9 . _ -, alphanumeric at both ends; ' +
          'body.extra: unknown field',
      );
      expect(error.details).toEqual({
        issues: [
          { in: 'body', path: ['id'], message: 'device id must match ^[a-z0-9][a-z0-9._-]{0,62}$' },
          { in: 'body', path: ['labels', 'example.com/role'], message: 'label values: up to 63 chars of A-Z a-z 0-9 . _ -, alphanumeric at both ends' },
          { in: 'body', path: ['extra'], message: 'unknown field' },
        ],
      });
    });

    it('refuses malformed JSON, a missing body, another content type and prototype poisoning', async () => {
      const json = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' };
      const malformed = await api.call('POST', '/v1/devices', '{"id": ', json);
      expect(malformed.status).toBe(400);
      expect(errorOf(malformed)).toEqual({ code: 'REQUEST_INVALID', message: 'request body is not valid JSON' });

      const empty = await api.call('PATCH', '/v1/devices/d1/labels', '', json);
      expect(empty.status).toBe(400);
      expect(errorOf(empty).message).toBe('invalid request: body: a JSON body is required');

      const text = await api.call('POST', '/v1/devices', 'id=x', { authorization: `Bearer ${api.token}`, 'content-type': 'text/x-whatever' });
      expect(text.status).toBe(400);
      expect(errorOf(text).message).toContain('application/json');

      const poisoned = await api.call('POST', '/v1/devices', '{"id":"proto","__proto__":{"admin":true}}', json);
      expect(poisoned.status).toBe(400);
      expect(errorOf(poisoned).code).toBe('REQUEST_INVALID');
    });

    it('refuses a body over the size limit with a clear message', async () => {
      const huge = { app: 'web', version: '1', workloads: { main: { image: 'busybox', env: { BIG: 'x'.repeat(API_BODY_LIMIT_BYTES) } } } };
      const res = await api.call('POST', '/v1/releases', huge);
      expect(res.status).toBe(400);
      expect(errorOf(res)).toEqual({ code: 'REQUEST_INVALID', message: `request body is larger than the ${API_BODY_LIMIT_BYTES}-byte limit` });
    });
  });

  it('accepts an empty body sent as application/json where a route takes none', async () => {
    const json = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' };
    const id = freshId('dev');
    expect((await api.call('POST', '/v1/devices', { id })).status).toBe(201);
    expect((await api.call('GET', '/v1/fleet', undefined, json)).status).toBe(200);
    expect((await api.call('DELETE', `/v1/devices/${id}`, '', json)).status).toBe(200);
  });

  describe('not found', () => {
    it('answers 404 ROUTE_NOT_FOUND for unknown routes and methods', async () => {
      for (const [method, url] of [
        ['GET', '/v1/no-such-route'],
        ['GET', '/v2/devices'],
        ['PUT', '/v1/fleet'],
        ['POST', '/v1/devices/d1'],
      ] as const) {
        const res = await api.call(method, url, method === 'GET' ? undefined : {});
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(errorOf(res)).toEqual({ code: 'ROUTE_NOT_FOUND', message: `no route ${method} ${url} (see /openapi.json)` });
      }
    });

    it('answers 404 with the resource code for unknown devices, releases and deployments', async () => {
      const expectations: [string, string][] = [
        [`/v1/devices/${freshId('ghost')}`, 'DEVICE_NOT_FOUND'],
        [`/v1/releases/${freshId('ghost')}/1.0.0`, 'RELEASE_NOT_FOUND'],
        [`/v1/deployments/${freshId('ghost')}`, 'DEPLOYMENT_NOT_FOUND'],
      ];
      for (const [url, code] of expectations) {
        const res = await api.call('GET', url);
        expect(res.status, url).toBe(404);
        expect(errorOf(res).code).toBe(code);
      }
    });
  });

  it('answers an unexpected failure with a generic 500 and logs the cause', async () => {
    const app = freshId('corrupt');
    // A release record that is not JSON: the store refuses to trust it.
    await api.rig.controller.redis.set(`outpost:release:${app}@1.0.0`, '{"app": "corrupt');
    const res = await api.call('GET', `/v1/releases/${app}/1.0.0`);
    expect(res.status).toBe(500);
    expect(errorOf(res)).toEqual({ code: 'INTERNAL', message: 'internal error; the controller log has the details' });
    expect(res.raw.body).not.toContain('JSON');
    const logged = logLines.map((l) => JSON.parse(l) as { msg?: string; err?: { type?: string }; url?: string }).find((l) => l.msg === 'request failed' && l.url === `/v1/releases/${app}/1.0.0`);
    expect(logged?.err?.type).toBe('SyntaxError');
  });

  describe('OpenAPI', () => {
    it('serves a JSON OpenAPI document with every route and the bearer scheme', async () => {
      const res = await api.call('GET', '/openapi.json');
      expect(res.status).toBe(200);
      expect(res.raw.headers['content-type']).toMatch(/^application\/json/);
      const doc = JSON.parse(res.raw.body) as {
        openapi: string;
        security: unknown;
        paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown>; 'x-outpost-access'?: string }>>;
        components: { securitySchemes: unknown; schemas: Record<string, unknown> };
      };
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.components.securitySchemes).toEqual({ bearerAuth: { type: 'http', scheme: 'bearer' } });
      expect(doc.security).toEqual([{ bearerAuth: [] }]);

      const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      const documented = new Set(operations);
      const expected = PROTECTED.filter((r) => r.url !== '/v1/no-such-route').map(
        (r) => `${r.method} ${r.url.replace('/auth-probe', '/{id}').replace('/pins/web', '/pins/{app}').replace('/web/1.0.0', '/{app}/{version}').replace('/dep-1', '/{id}').replace('/commands/c-1', '/commands/{commandId}').replace('/rollouts/ro-1', '/rollouts/{id}').replace('/tokens/0123456789ab', '/tokens/{id}').replace('/registry-credentials/reg.example', '/registry-credentials/{host}')}`,
      );
      expect([...documented].sort()).toEqual([...expected, 'GET /healthz'].sort());
      expect(doc.paths['/healthz']?.get?.security).toEqual([]);
      expect(doc.paths['/healthz']?.get?.['x-outpost-access']).toBe('public');
      for (const op of operations.filter((o) => o !== 'GET /healthz')) {
        const [method = '', path = ''] = op.split(' ');
        const operation = doc.paths[path]?.[method.toLowerCase()];
        expect(operation?.security, op).toBeUndefined();
        expect(Object.keys(operation?.responses ?? {}), op).toEqual(expect.arrayContaining(['401', '500']));
        // Every operation says which role it needs; those a viewer may not call document the 403.
        const access = operation?.['x-outpost-access'];
        expect(['viewer', 'operator', 'admin'], op).toContain(access);
        if (access !== 'viewer') expect(Object.keys(operation?.responses ?? {}), op).toContain('403');
      }

      // Every reference resolves, and no component is left unused.
      const refs = new Set([...res.raw.body.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]));
      expect([...refs].filter((r) => r === undefined || !(r in doc.components.schemas))).toEqual([]);
      expect(Object.keys(doc.components.schemas).sort()).toEqual([...refs].sort());
    });

    it('serves the docs page from bundled assets (no CDN)', async () => {
      const res = await api.call('GET', '/docs');
      expect(res.status).toBe(200);
      expect(res.raw.headers['content-type']).toMatch(/^text\/html/);
      const sources = [...res.raw.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
      expect(sources.length).toBeGreaterThan(0);
      for (const src of sources) {
        expect(src, src).not.toMatch(/^(https?:)?\/\//);
        expect((await api.call('GET', src)).status, src).toBe(200);
      }
    });
  });

  it('never logs the admin token or a device secret', async () => {
    const created = await api.call('POST', '/v1/devices', { id: freshId('logged') });
    const { secret } = (created.body as { secret: string });
    await api.call('GET', '/v1/fleet');
    await api.call('GET', '/v1/devices/Bad');
    await api.call('GET', '/v1/no-such-route');
    await api.call('GET', '/v1/fleet', undefined, { authorization: `Bearer ${api.token}x` });
    // Even a careless log call that passes the headers has them redacted.
    api.app.log.info({ headers: { authorization: `Bearer ${api.token}` } }, 'careless');
    const all = logLines.join('');
    expect(logLines.filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThanOrEqual(5);
    expect(all).toContain('"authorization":"[redacted]"');
    expect(all).not.toContain(api.token);
    expect(all).not.toContain(secret);
    expect(all).not.toMatch(/bearer\s+[0-9a-f]{6}/i);
  });
});
