import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../controller/errors.js';
import { ErrorBody } from '../../controller/http/schemas.js';
import { startApi, STREAMING_ROUTES, type ApiRig } from '../helpers/api.js';
import { captureLogs } from '../helpers/log-capture.js';
import { bodyArbs, type KnownEntities } from './arbitraries/api.js';
import { mutated } from './arbitraries/mutate.js';
import { deviceIdArb } from './arbitraries/protocol.js';
import { runs } from './arbitraries/settings.js';

/**
 * Every route of the controller API, taken from its own /openapi.json, with
 * random and structurally near-valid bodies, path parameters, query strings,
 * content types and credentials, through fastify's inject() on a real
 * control plane (Redis, broker, controller): every answer is a 2xx, or a 4xx
 * with the error body its code promises; never a 5xx, and the API keeps
 * serving afterwards.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Route {
  method: Method;
  path: string;
  operationId: string;
  params: string[];
  hasBody: boolean;
}

interface Request {
  route: Route;
  params: Record<string, string>;
  query: string;
  body: { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'text'; text: string; contentType: string };
  auth: 'admin' | 'viewer' | 'wrong' | 'none';
}

const KNOWN: KnownEntities = { devices: ['fz-dev-1', 'fz-dev-2', 'fz-dev-3'], app: 'fz-app', version: '1.0', workload: 'fz-app-web' };

/** Path segments that are not ids at all: encodings, traversal, lengths and characters routes must refuse cleanly. */
const hostileSegmentArb = fc.constantFrom('UPPER', '..', '.', '%00', '%E0%A4%A', '%2F', '%25', 'a'.repeat(300), '%C3%A9t%C3%A9', '%20', '-', 'null', 'undefined', '__proto__', 'constructor');

describe('controller API (property-based)', () => {
  let api: ApiRig;
  const { logger, logs } = captureLogs();
  let routes: Route[];
  let viewerToken: string;
  let tokenId: string;

  beforeAll(async () => {
    api = await startApi({ logger });
    for (const id of KNOWN.devices) expect((await api.call('POST', '/v1/devices', { id, labels: { site: 'berlin', role: 'kiosk' } })).status).toBe(201);
    expect((await api.call('POST', '/v1/releases', { app: KNOWN.app, version: KNOWN.version, workloads: { web: { image: 'busybox:1' } } })).status).toBe(201);
    expect((await api.call('POST', '/v1/deployments', { id: 'fz-dep', app: KNOWN.app, version: KNOWN.version, target: { kind: 'selector', selector: 'site=berlin' } })).status).toBe(201);
    const token = await api.call('POST', '/v1/tokens', { name: 'fz-viewer', role: 'viewer' });
    expect(token.status).toBe(201);
    viewerToken = (token.body as { secret: string }).secret;
    // Another one, for the fuzzer to revoke (the viewer's must outlive the run).
    const victim = await api.call('POST', '/v1/tokens', { name: 'fz-victim', role: 'operator' });
    expect(victim.status).toBe(201);
    tokenId = (victim.body as { token: { id: string } }).token.id;

    const spec = (await api.call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, { operationId?: string; parameters?: { in: string; name: string }[]; requestBody?: unknown }>> };
    routes = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.entries(ops).flatMap(([method, op]) =>
        op.operationId === undefined || STREAMING_ROUTES.has(`${method.toUpperCase()} ${path}`)
          ? []
          : [{
              method: method.toUpperCase() as Method,
              path,
              operationId: op.operationId,
              params: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
              hasBody: op.requestBody !== undefined,
            }],
      ),
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  function paramArb(route: Route, name: string): fc.Arbitrary<string> {
    const resource = route.path.split('/')[2];
    const known: string[] =
      name === 'app' ? [KNOWN.app]
      : name === 'version' ? [KNOWN.version]
      : name === 'commandId' ? ['c0ffee']
      : resource === 'devices' ? [...KNOWN.devices]
      : resource === 'deployments' ? ['fz-dep']
      : resource === 'tokens' ? [tokenId]
      : ['fz-rollout'];
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...known) },
      { weight: 2, arbitrary: deviceIdArb },
      { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) },
      { weight: 1, arbitrary: hostileSegmentArb },
    );
  }

  function queryArb(route: Route): fc.Arbitrary<string> {
    const pair = fc.oneof(
      fc.constantFrom('limit=5', 'limit=0', 'limit=abc', 'limit=100000', 'before=3', 'before=-1', 'selector=site%3Dberlin', 'selector=%28', 'app=fz-app', 'app=BAD', 'wipe=false', 'wipe=maybe', 'wipeTimeoutSeconds=0', 'x=1', '__proto__=1', 'limit=1&limit=2'),
      fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
    );
    // A decommission with `wipe=true` waits for the device by design: not a fuzzing target.
    return fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.array(pair, { minLength: 1, maxLength: 3 }).map((p) => `?${p.join('&')}`) }).map((q) => (route.operationId === 'deleteDevice' ? q.replace(/wipe=true/g, 'wipe=false') : q));
  }

  // Built once: arbitraries from regexes (fc.stringMatching) are costly to construct.
  const validBodies = bodyArbs(KNOWN);
  const hugeBody = `{"app":"${'x'.repeat(2_000_000)}"}`;

  function bodyArb(route: Route): fc.Arbitrary<Request['body']> {
    const valid = validBodies[route.operationId];
    const json = valid
      ? fc.oneof({ weight: 2, arbitrary: valid }, { weight: 3, arbitrary: mutated(valid) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) })
      : fc.jsonValue({ maxDepth: 3 });
    return fc.oneof(
      { weight: route.hasBody ? 8 : 1, arbitrary: json.map((value) => ({ kind: 'json' as const, value })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('{', '{"a":', '[1,2', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', 'null', '""', '{}', hugeBody)),
            fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', ''),
          )
          .map(([text, contentType]) => ({ kind: 'text' as const, text, contentType })),
      },
    );
  }

  function requestArb(): fc.Arbitrary<Request> {
    return fc.oneof(...routes.map((route) =>
      fc.record({
        route: fc.constant(route),
        params: fc.record(Object.fromEntries(route.params.map((p) => [p, paramArb(route, p)]))) as fc.Arbitrary<Record<string, string>>,
        query: queryArb(route),
        body: bodyArb(route),
        auth: fc.oneof({ weight: 6, arbitrary: fc.constant('admin' as const) }, fc.constantFrom<Request['auth']>('viewer', 'wrong', 'none')),
      }),
    ));
  }

  async function send(r: Request): Promise<{ status: number; body: string; contentType: string }> {
    const url = r.route.path.replace(/\{(\w+)\}/g, (_m, name: string) => r.params[name] ?? 'x') + r.query;
    const headers: Record<string, string> = {};
    if (r.auth === 'admin') headers.authorization = `Bearer ${api.token}`;
    if (r.auth === 'viewer') headers.authorization = `Bearer ${viewerToken}`;
    if (r.auth === 'wrong') headers.authorization = 'Bearer opt_000000000000_wrong';
    const options: InjectOptions = { method: r.route.method, url, headers };
    if (r.body.kind === 'json') {
      headers['content-type'] = 'application/json';
      options.payload = JSON.stringify(r.body.value) ?? '';
    } else if (r.body.kind === 'text') {
      if (r.body.contentType) headers['content-type'] = r.body.contentType;
      options.payload = r.body.text;
    }
    const res = await api.app.inject(options);
    return { status: res.statusCode, body: res.body, contentType: String(res.headers['content-type'] ?? '') };
  }

  it('covers every route of the API description', () => {
    expect(routes.length).toBeGreaterThan(30);
    for (const id of ['createDevice', 'createRelease', 'createDeployment', 'createRollout', 'sendCommand', 'createToken', 'patchDeviceOverrides']) {
      expect(routes.map((r) => r.operationId)).toContain(id);
    }
  });

  it.each([
    ['broken percent-encoding in a path parameter', '/v1/devices/%E0%A4%A'],
    ['a path parameter over fastify\'s length limit', `/v1/devices/${'a'.repeat(300)}`],
  ])('%s: a 400 with the API\'s error body (found by this fuzzer)', async (_name, url) => {
    const res = await api.call('GET', url);
    expect(res.status).toBe(400);
    expect(ErrorBody.parse(res.body).error.code).toBe('REQUEST_INVALID');
  });

  it('random and near-valid requests: a 2xx, or a 4xx with the coded error body of its status; never a 5xx; the API serves on afterwards', async () => {
    const logged = logs.length;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb(), async (r) => {
        const res = await send(r);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `${r.route.method} ${r.route.path}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
        if (res.status < 400) return;
        expect(res.contentType).toMatch(/^application\/json/);
        const body = ErrorBody.parse(JSON.parse(res.body));
        expect(API_ERRORS[body.error.code]).toBe(res.status);
        expect(body.error.message.length).toBeGreaterThan(0);
      }),
      runs(1500),
    );
    // Valid requests got through, not only refusals (and the other way round).
    expect([...statuses.keys()].some((s) => s < 300) && [...statuses.keys()].some((s) => s >= 400)).toBe(true);
    expect(logs.slice(logged).filter((l) => l.msg === 'request failed')).toEqual([]);

    expect((await api.call('GET', '/healthz')).status).toBe(200);
    const after = `fz-after-${randomBytes(3).toString('hex')}`;
    expect((await api.call('POST', '/v1/devices', { id: after, labels: { site: 'berlin' } })).status).toBe(201);
    const read = await api.call('GET', `/v1/devices/${after}`);
    expect(read.status).toBe(200);
    expect((read.body as { id: string }).id).toBe(after);
  });
});
