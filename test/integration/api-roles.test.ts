import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreatedToken } from '../../controller/http/access-schemas.js';
import { errorOf, freshId, startApi, STREAMING_ROUTES, type ApiResponse, type ApiRig, type Method } from '../helpers/api.js';

type Access = 'public' | 'viewer' | 'operator' | 'admin';

/**
 * The role each route needs (DD-025), written out by hand on purpose: giving
 * a route another role, or adding one, must fail here and be a deliberate
 * access change (update docs/api.md, "Roles", too).
 */
const ROLE_TABLE: Record<string, Access> = {
  'GET /healthz': 'public',
  'POST /v1/devices': 'admin',
  'GET /v1/devices': 'viewer',
  'GET /v1/devices/{id}': 'viewer',
  'DELETE /v1/devices/{id}': 'admin',
  'POST /v1/devices/{id}/secret': 'admin',
  'POST /v1/devices/{id}/certificate': 'admin',
  'PATCH /v1/devices/{id}/labels': 'operator',
  'PATCH /v1/devices/{id}/overrides': 'operator',
  'PUT /v1/devices/{id}/pins/{app}': 'operator',
  'DELETE /v1/devices/{id}/pins/{app}': 'operator',
  'GET /v1/devices/{id}/desired': 'viewer',
  'GET /v1/devices/{id}/reported': 'viewer',
  'GET /v1/devices/{id}/events': 'viewer',
  'POST /v1/devices/{id}/commands': 'operator',
  'GET /v1/devices/{id}/commands/{commandId}': 'viewer',
  'GET /v1/devices/{id}/telemetry': 'viewer',
  'POST /v1/releases': 'operator',
  'GET /v1/releases': 'viewer',
  'GET /v1/releases/{app}/{version}': 'viewer',
  'POST /v1/deployments': 'operator',
  'GET /v1/deployments': 'viewer',
  'GET /v1/deployments/{id}': 'viewer',
  'DELETE /v1/deployments/{id}': 'operator',
  'GET /v1/fleet': 'viewer',
  'GET /v1/changes': 'viewer',
  'POST /v1/rollouts': 'operator',
  'GET /v1/rollouts': 'viewer',
  'GET /v1/rollouts/{id}': 'viewer',
  'POST /v1/rollouts/{id}/pause': 'operator',
  'POST /v1/rollouts/{id}/resume': 'operator',
  'POST /v1/rollouts/{id}/abort': 'operator',
  'POST /v1/rollouts/{id}/rollback': 'operator',
  'POST /v1/rollouts/{id}/advance': 'operator',
  'POST /v1/tokens': 'admin',
  'GET /v1/tokens': 'admin',
  'DELETE /v1/tokens/{id}': 'admin',
  'GET /v1/audit': 'admin',
  'PUT /v1/registry-credentials/{host}': 'admin',
  'GET /v1/registry-credentials': 'admin',
  'DELETE /v1/registry-credentials/{host}': 'admin',
  'GET /v1/signing-keys': 'viewer',
  'POST /v1/signing-keys/rotate': 'admin',
  'POST /v1/signing-keys/finish': 'admin',
};

interface Operation {
  method: Method;
  /** OpenAPI path, e.g. /v1/devices/{id}. */
  path: string;
  access: Access;
}

/** A concrete URL for an OpenAPI path: probe values that pass the path schemas (they need not exist). */
function concrete(path: string): string {
  const value = (name: string): string =>
    name === 'app' ? 'web' : name === 'version' ? '1.0.0' : name === 'commandId' ? 'c-1' : path.startsWith('/v1/tokens') ? '0123456789ab' : 'probe-1';
  return path.replace(/\{(\w+)\}/g, (_, name: string) => value(name));
}

interface AuditEntryView {
  seq: number;
  requestId: string;
  actor: { tokenId: string | null; name: string; role: string };
  method: string;
  route: string | null;
  url: string;
  params: Record<string, string>;
  statusCode: number;
  outcome: string;
  errorCode: string | null;
  body: unknown;
}

describe('API roles and audit', () => {
  let api: ApiRig;
  let operations: Operation[];

  const as = (token: string, method: Method, url: string, body?: unknown): Promise<ApiResponse> =>
    api.call(method, url, body, { authorization: `Bearer ${token}` });

  async function createToken(role: 'viewer' | 'operator' | 'admin', name = freshId(role)): Promise<{ id: string; token: string }> {
    const res = await api.call('POST', '/v1/tokens', { name, role });
    expect(res.status, res.raw.body).toBe(201);
    const created = CreatedToken.parse(res.body);
    return { id: created.token.id, token: created.secret };
  }

  async function audit(limit = 1000): Promise<AuditEntryView[]> {
    const res = await api.call('GET', `/v1/audit?limit=${limit}`);
    expect(res.status, res.raw.body).toBe(200);
    return (res.body as { entries: AuditEntryView[] }).entries;
  }

  const requestIdOf = (res: ApiResponse): string => String(res.raw.headers['x-request-id']);

  beforeAll(async () => {
    api = await startApi();
    const doc = (await api.call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, { 'x-outpost-access'?: Access }>> };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase() as Method, path, access: op['x-outpost-access'] ?? ('none' as Access) })),
    );
  });
  afterAll(async () => {
    await api?.close();
  });

  it('every route declares its role, and the roles are the documented table', () => {
    const declared = Object.fromEntries(operations.map((o) => [`${o.method} ${o.path}`, o.access]));
    expect(declared).toEqual(ROLE_TABLE);
  });

  it('a viewer cannot mutate: every POST, PUT, PATCH and DELETE answers 403 FORBIDDEN and changes nothing', async () => {
    const viewer = await createToken('viewer');
    const mutating = operations.filter((o) => o.method !== 'GET');
    expect(mutating.length).toBeGreaterThanOrEqual(20);
    for (const o of mutating) {
      const res = await as(viewer.token, o.method, concrete(o.path), o.method === 'DELETE' ? undefined : {});
      expect(res.status, `${o.method} ${o.path}: ${res.raw.body}`).toBe(403);
      const error = errorOf(res);
      expect(error.code).toBe('FORBIDDEN');
      expect(error.message).toContain(`has role viewer; ${o.method} `);
      expect(error.details).toEqual({ role: 'viewer', required: o.access });
    }
    // A refused enrolment left nothing behind.
    const id = freshId('viewer-dev');
    expect((await as(viewer.token, 'POST', '/v1/devices', { id })).status).toBe(403);
    expect((await api.call('GET', `/v1/devices/${id}`)).status).toBe(404);
  });

  it('a viewer reads every GET route, the API description included', async () => {
    const viewer = await createToken('viewer');
    for (const o of operations.filter((op) => op.method === 'GET' && op.access === 'viewer' && !STREAMING_ROUTES.has(`GET ${op.path}`))) {
      const res = await as(viewer.token, 'GET', concrete(o.path));
      expect([401, 403], `GET ${o.path}: ${res.raw.body}`).not.toContain(res.status);
    }
    for (const url of ['/openapi.json', '/docs', '/docs/json']) expect((await as(viewer.token, 'GET', url)).status, url).toBe(200);
  });

  it('an operator changes what runs, but cannot manage tokens, read the audit log, or touch device credentials', async () => {
    const operator = await createToken('operator');
    for (const o of operations.filter((op) => op.access === 'admin')) {
      const res = await as(operator.token, o.method, concrete(o.path), o.method === 'POST' ? {} : undefined);
      expect(res.status, `${o.method} ${o.path}`).toBe(403);
      expect(errorOf(res).details).toEqual({ role: 'operator', required: 'admin' });
    }
    const token = await as(operator.token, 'POST', '/v1/tokens', { name: freshId('escalate'), role: 'admin' });
    expect(errorOf(token).code).toBe('FORBIDDEN');

    const app = freshId('op');
    const release = await as(operator.token, 'POST', '/v1/releases', { app, version: '1.0.0', workloads: { main: { image: 'busybox:1' } } });
    expect(release.status, release.raw.body).toBe(201);
    const deployment = await as(operator.token, 'POST', '/v1/deployments', { app, version: '1.0.0', target: { kind: 'selector', selector: `app=${app}` } });
    expect(deployment.status, deployment.raw.body).toBe(201);
  });

  it('a revoked token is refused on the very next request', async () => {
    const operator = await createToken('operator');
    expect((await as(operator.token, 'GET', '/v1/fleet')).status).toBe(200);
    const revoked = await api.call('DELETE', `/v1/tokens/${operator.id}`);
    expect(revoked.status, revoked.raw.body).toBe(200);
    expect((revoked.body as { token: { id: string } }).token.id).toBe(operator.id);

    const next = await as(operator.token, 'GET', '/v1/fleet');
    expect(next.status).toBe(401);
    expect(errorOf(next)).toEqual({ code: 'UNAUTHORIZED', message: 'the bearer token is not valid (wrong, or revoked)' });
    const list = (await api.call('GET', '/v1/tokens')).body as { tokens: { id: string }[] };
    expect(list.tokens.map((t) => t.id)).not.toContain(operator.id);
    expect(errorOf(await api.call('DELETE', `/v1/tokens/${operator.id}`)).code).toBe('TOKEN_NOT_FOUND');

    // An admin token may revoke itself; it stops working at once too.
    const admin = await createToken('admin');
    expect((await as(admin.token, 'DELETE', `/v1/tokens/${admin.id}`)).status).toBe(200);
    expect((await as(admin.token, 'GET', '/v1/tokens')).status).toBe(401);
  });

  it('the configuration admin token keeps working whatever the token store holds; API admin tokens can do what it does', async () => {
    expect((await api.call('GET', '/v1/tokens')).status).toBe(200);
    const adminName = freshId('admin');
    const admin = await createToken('admin', adminName);
    const viewer = await as(admin.token, 'POST', '/v1/tokens', { name: freshId('by-admin'), role: 'viewer' });
    expect(viewer.status, viewer.raw.body).toBe(201);
    expect((viewer.body as { token: { createdBy: string } }).token.createdBy).toBe(adminName);
    expect((await as(admin.token, 'GET', '/v1/audit?limit=1')).status).toBe(200);
    const enrol = await as(admin.token, 'POST', '/v1/devices', { id: freshId('admin-dev') });
    expect(enrol.status, enrol.raw.body).toBe(201);
  });

  it('keeps only a hash of each token: names are unique, listings and Redis never hold the secret', async () => {
    const name = freshId('hashed');
    const t = await createToken('viewer', name);
    const secretPart = t.token.split('_').slice(2).join('_');
    const again = await api.call('POST', '/v1/tokens', { name, role: 'admin' });
    expect(again.status).toBe(409);
    expect(errorOf(again).code).toBe('TOKEN_EXISTS');

    const listed = await api.call('GET', '/v1/tokens');
    const mine = (listed.body as { tokens: Record<string, unknown>[] }).tokens.find((x) => x.id === t.id);
    expect(mine).toMatchObject({ id: t.id, name, role: 'viewer', createdBy: 'config-admin', lastUsedAt: null });
    expect(listed.raw.body).not.toContain(secretPart);

    await as(t.token, 'GET', '/v1/fleet');
    const used = await api.call('GET', '/v1/tokens');
    expect((used.body as { tokens: { id: string; lastUsedAt: string | null }[] }).tokens.find((x) => x.id === t.id)?.lastUsedAt).not.toBeNull();

    const redis = api.rig.controller.redis;
    const record = await redis.hgetall(`outpost:token:${t.id}`);
    expect(record.name).toBe(name);
    expect(JSON.stringify(record)).not.toContain(secretPart);
    expect((JSON.parse(record.record ?? '{}') as { digest?: string }).digest).toMatch(/^[0-9a-f]{64}$/);

    const bad = await api.call('POST', '/v1/tokens', { name: 'no spaces allowed', role: 'root' });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).message).toMatch(/body\.name: token names.*body\.role/);
  });

  it('every mutation appears in the audit log with who, what, the outcome and the request id; reads and anonymous calls do not', async () => {
    const operator = await createToken('operator', freshId('auditor-op'));
    const viewer = await createToken('viewer', freshId('auditor-view'));
    const id = freshId('audited');
    const deviceSecret = `chosen-${'s'.repeat(40)}`;

    const calls: { res: ApiResponse; actor: { tokenId: string | null; role: string }; method: string; route: string | null; status: number; errorCode: string | null }[] = [];
    const record = (res: ApiResponse, actor: { tokenId: string | null; role: string }, method: string, route: string | null, status: number, errorCode: string | null = null): void => {
      expect(res.status, res.raw.body).toBe(status);
      calls.push({ res, actor, method, route, status, errorCode });
    };
    const admin = { tokenId: null, role: 'admin' };
    const op = { tokenId: operator.id, role: 'operator' };
    record(await api.call('POST', '/v1/devices', { id, labels: { a: 'b' }, secret: deviceSecret }), admin, 'POST', '/v1/devices', 201);
    record(await as(operator.token, 'PATCH', `/v1/devices/${id}/labels`, { set: { c: 'd' } }), op, 'PATCH', '/v1/devices/:id/labels', 200);
    record(await as(operator.token, 'PATCH', `/v1/devices/${id}/overrides`, { env: { DB_PASSWORD: 'hunter2-hunter2' } }), op, 'PATCH', '/v1/devices/:id/overrides', 200);
    record(await as(operator.token, 'PUT', `/v1/devices/${id}/pins/web`, { version: '9.9.9' }), op, 'PUT', '/v1/devices/:id/pins/:app', 404, 'RELEASE_NOT_FOUND');
    record(await as(operator.token, 'POST', '/v1/releases', { app: 'Bad_App' }), op, 'POST', '/v1/releases', 400, 'REQUEST_INVALID');
    record(await as(viewer.token, 'DELETE', `/v1/devices/${id}`), { tokenId: viewer.id, role: 'viewer' }, 'DELETE', '/v1/devices/:id', 403, 'FORBIDDEN');
    record(await as(operator.token, 'POST', '/v1/no-such-route', {}), op, 'POST', null, 404, 'ROUTE_NOT_FOUND');
    record(await api.call('POST', `/v1/devices/${id}/secret`, {}), admin, 'POST', '/v1/devices/:id/secret', 200);
    const rotatedSecret = (calls[calls.length - 1]?.res.body as { secret: string }).secret;
    record(await api.call('DELETE', `/v1/devices/${id}`), admin, 'DELETE', '/v1/devices/:id', 200);

    const read = await as(operator.token, 'GET', `/v1/devices/${id}`);
    const anonymous = await api.call('POST', '/v1/devices', { id: freshId('anon') }, {});
    expect(anonymous.status).toBe(401);

    // Written before the answer is sent: no waiting.
    const entries = await audit();
    const byRequest = new Map(entries.map((e) => [e.requestId, e]));
    for (const c of calls) {
      const requestId = requestIdOf(c.res);
      const entry = byRequest.get(requestId);
      expect(entry, `${c.method} ${c.route} (${requestId})`).toBeDefined();
      expect(entry).toMatchObject({
        actor: { tokenId: c.actor.tokenId, role: c.actor.role },
        method: c.method,
        route: c.route,
        statusCode: c.status,
        outcome: c.status < 400 ? 'ok' : 'error',
        errorCode: c.errorCode,
      });
    }
    expect(byRequest.get(requestIdOf(calls[0]!.res))).toMatchObject({ actor: { name: 'config-admin' }, url: '/v1/devices', body: { id, labels: { a: 'b' }, secret: '[redacted]' } });
    expect(byRequest.get(requestIdOf(calls[1]!.res))).toMatchObject({ params: { id }, body: { set: { c: 'd' } } });
    expect(byRequest.get(requestIdOf(calls[2]!.res))).toMatchObject({ body: { env: { DB_PASSWORD: '[redacted]' } } });
    expect(byRequest.has(requestIdOf(read))).toBe(false);
    expect(byRequest.has(requestIdOf(anonymous))).toBe(false);

    // The log is in order, newest first, and holds no secret.
    const seqs = entries.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const all = JSON.stringify(entries);
    for (const secret of [deviceSecret, rotatedSecret, 'hunter2-hunter2', operator.token, viewer.token, api.token]) expect(all).not.toContain(secret);
  });

  it('pages the audit log with before and nextBefore', async () => {
    for (let i = 0; i < 3; i++) expect((await api.call('PATCH', '/v1/devices/no-such-dev/labels', { set: { i: String(i) } })).status).toBe(404);
    const first = await api.call('GET', '/v1/audit?limit=2');
    const page1 = first.body as { entries: AuditEntryView[]; nextBefore: number | null };
    expect(page1.entries).toHaveLength(2);
    expect(page1.nextBefore).toBe(page1.entries[1]?.seq);
    const page2 = (await api.call('GET', `/v1/audit?limit=2&before=${page1.nextBefore}`)).body as { entries: AuditEntryView[] };
    expect(page2.entries[0]?.seq).toBeLessThan(page1.entries[1]?.seq ?? 0);
    expect(errorOf(await api.call('GET', '/v1/audit?limit=0')).code).toBe('REQUEST_INVALID');
  });
});

describe('API audit log bound', () => {
  let api: ApiRig;

  beforeAll(async () => {
    api = await startApi({ controller: { auditMaxEntries: 5 } });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('keeps only the newest entries up to the configured bound', async () => {
    const requestIds: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await api.call('POST', '/v1/tokens', { name: freshId(`bound-${i}`), role: 'viewer' });
      expect(res.status).toBe(201);
      requestIds.push(String(res.raw.headers['x-request-id']));
    }
    const page = (await api.call('GET', '/v1/audit?limit=100')).body as { entries: AuditEntryView[]; nextBefore: number | null };
    expect(page.entries.map((e) => e.requestId)).toEqual(requestIds.slice(-5).reverse());
    expect(page.entries.map((e) => e.seq)).toEqual([12, 11, 10, 9, 8]);
    expect(page.nextBefore).toBeNull();
    expect(await api.rig.controller.redis.zcard('outpost:audit')).toBe(5);
  });
});
