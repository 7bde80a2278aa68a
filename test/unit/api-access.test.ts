import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { issueToken, parseToken, secretMatches, tokenDigest } from '../../controller/access/api-token.js';
import { auditEntryOf, errorCodeOf, REDACTED, summarizeBody } from '../../controller/access/audit-entry.js';
import { roleAllows, ROLES, type RouteAccess } from '../../controller/access/roles.js';
import { createAuthenticator } from '../../controller/http/auth.js';
import { trackRouteAccess, withAccess } from '../../controller/http/route-access.js';

describe('API token format', () => {
  it('is opt_<12 hex id>_<43 base64url secret>, and only the sha256 of the secret is kept', () => {
    const t = issueToken();
    expect(t.token).toMatch(/^opt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const parsed = parseToken(t.token);
    expect(parsed?.id).toBe(t.id);
    expect(t.digest).toBe(tokenDigest(parsed?.secret ?? ''));
    expect(t.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(t.token).not.toContain(t.digest);
  });

  it('draws every token fresh', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => issueToken().token));
    expect(tokens.size).toBe(50);
  });

  it('takes ids and secrets from the injected randomness', () => {
    const random = (size: number): Buffer => Buffer.alloc(size, 0xab);
    const t = issueToken(random);
    expect(t.id).toBe('abababababab');
    expect(t.token).toBe(`opt_abababababab_${Buffer.alloc(32, 0xab).toString('base64url')}`);
  });

  it.each([
    ['', null],
    ['opt_', null],
    ['a'.repeat(32), null],
    [`opt_ABABABABABAB_${'a'.repeat(43)}`, null],
    [`opt_abababababab_${'a'.repeat(42)}`, null],
    [`opt_abababababab_${'a'.repeat(44)}`, null],
    [`opt_abababababab_${'a'.repeat(42)}!`, null],
    [`opt_abababababab_${'a-_'.repeat(14)}b`, { id: 'abababababab', secret: `${'a-_'.repeat(14)}b` }],
  ])('parses %j as %j', (text, expected) => {
    expect(parseToken(text)).toEqual(expected);
  });

  it('matches a secret against its digest only, and never a malformed digest', () => {
    const t = issueToken();
    const secret = parseToken(t.token)?.secret ?? '';
    expect(secretMatches(secret, t.digest)).toBe(true);
    expect(secretMatches(`${secret.slice(0, -1)}x`, t.digest)).toBe(false);
    expect(secretMatches(secret, t.digest.toUpperCase())).toBe(false);
    expect(secretMatches(secret, '')).toBe(false);
    expect(secretMatches(secret, '0'.repeat(64))).toBe(false);
  });
});

describe('role table', () => {
  /** Weakest first; a role may call what it or any weaker one may. Pinned: changing it is an access change (DD-025). */
  const TABLE: [RouteAccess, Record<(typeof ROLES)[number], boolean>][] = [
    ['public', { viewer: true, operator: true, admin: true }],
    ['viewer', { viewer: true, operator: true, admin: true }],
    ['operator', { viewer: false, operator: true, admin: true }],
    ['admin', { viewer: false, operator: false, admin: true }],
  ];

  it.each(TABLE)('a route for %s', (needed, byRole) => {
    for (const role of ROLES) expect(roleAllows(role, needed), `${role} → ${needed}`).toBe(byRole[role]);
  });

  it('has exactly three roles', () => {
    expect([...ROLES]).toEqual(['viewer', 'operator', 'admin']);
  });
});

describe('authenticator', () => {
  const admin = 'c'.repeat(32);
  const live = issueToken();
  const store = {
    calls: 0,
    async authenticate(bearer: string) {
      this.calls++;
      return bearer === live.token ? { tokenId: live.id, name: 'ci', role: 'operator' as const } : null;
    },
  };
  const authenticate = createAuthenticator({ adminTokens: [admin], tokens: store });

  it('knows the configuration admin token without asking the store', async () => {
    const before = store.calls;
    expect(await authenticate(`Bearer ${admin}`)).toEqual({ ok: true, principal: { tokenId: null, name: 'config-admin', role: 'admin' } });
    expect(store.calls).toBe(before);
  });

  it('asks the store for any other bearer token', async () => {
    expect(await authenticate(`bearer ${live.token}`)).toEqual({ ok: true, principal: { tokenId: live.id, name: 'ci', role: 'operator' } });
    expect(await authenticate(`Bearer ${issueToken().token}`)).toEqual({ ok: false, reason: 'wrong-token' });
  });

  it('says why there is no token', async () => {
    expect(await authenticate(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(await authenticate(`Basic ${admin}`)).toEqual({ ok: false, reason: 'not-bearer' });
  });
});

describe('audit entries', () => {
  const principal = { tokenId: '0123456789ab', name: 'ci', role: 'operator' as const };
  const facts = {
    principal,
    at: new Date('2026-01-02T03:04:05.678Z'),
    requestId: 'r-1',
    method: 'POST',
    route: '/v1/devices/:id/secret',
    url: '/v1/devices/kiosk-a/secret',
    params: { id: 'kiosk-a' },
    statusCode: 200,
    payload: '{"deviceId":"kiosk-a","secret":"s3cr3t-answer"}',
    body: { secret: 'client-chosen-secret-0123456789abcdef' },
    durationMs: 12.345,
  };

  it('records who, what, when, the outcome and the request id, never a secret', () => {
    const entry = auditEntryOf(facts);
    expect(entry).toEqual({
      at: '2026-01-02T03:04:05.678Z',
      requestId: 'r-1',
      actor: principal,
      method: 'POST',
      route: '/v1/devices/:id/secret',
      url: '/v1/devices/kiosk-a/secret',
      params: { id: 'kiosk-a' },
      statusCode: 200,
      outcome: 'ok',
      errorCode: null,
      durationMs: 12.3,
      body: { secret: REDACTED },
    });
    expect(JSON.stringify(entry)).not.toMatch(/s3cr3t|client-chosen/);
  });

  it('takes the error code from an error answer', () => {
    const entry = auditEntryOf({ ...facts, statusCode: 403, payload: '{"error":{"code":"FORBIDDEN","message":"no"}}', body: undefined });
    expect(entry).toMatchObject({ outcome: 'error', errorCode: 'FORBIDDEN', statusCode: 403, body: null });
    expect(auditEntryOf({ ...facts, statusCode: 502, payload: 'bad gateway' }).errorCode).toBe('HTTP_502');
    expect(errorCodeOf('{"error":{"code":"X"}}')).toBe('X');
    expect(errorCodeOf('not json')).toBeNull();
    expect(errorCodeOf(Buffer.from('{}'))).toBeNull();
  });

  it('redacts credentials at any depth and env values, keeping env names and removals', () => {
    const body = {
      id: 'kiosk-a',
      labels: { site: 'a' },
      env: { DB_URL: 'postgres://u:p@db', GONE: null },
      workloadEnv: { 'app-web': { API_KEY: 'k' } },
      workloads: { web: { image: 'nginx:1', env: { PASSWORD: 'x' }, registryAuth: { username: 'u', password: 'p' } } },
      password: 'p',
      Token: 't',
      name: 'ci',
      role: 'viewer',
    };
    expect(summarizeBody(body)).toEqual({
      id: 'kiosk-a',
      labels: { site: 'a' },
      env: { DB_URL: REDACTED, GONE: null },
      workloadEnv: { 'app-web': { API_KEY: REDACTED } },
      workloads: { web: { image: 'nginx:1', env: { PASSWORD: REDACTED }, registryAuth: REDACTED } },
      password: REDACTED,
      Token: REDACTED,
      name: 'ci',
      role: 'viewer',
    });
  });

  it('keeps the summary small: long strings and arrays cut, a huge body reduced to its field names', () => {
    const summary = summarizeBody({ note: 'x'.repeat(1000), list: Array.from({ length: 30 }, (_, i) => i) }) as { note: string; list: unknown[] };
    expect(summary.note.length).toBeLessThanOrEqual(201);
    expect(summary.list).toHaveLength(21);
    expect(summary.list[20]).toBe('… 10 more');
    const huge = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(100)]));
    const cut = summarizeBody(huge) as { truncated: boolean; fields: string[] };
    expect(cut.truncated).toBe(true);
    expect(cut.fields).toHaveLength(50);
    expect(JSON.stringify(summarizeBody(huge)).length).toBeLessThan(4096);
  });
});

describe('route access declarations', () => {
  it('refuse to start with a route that declares no access, naming it', async () => {
    const app = Fastify();
    const check = trackRouteAccess(app);
    app.get('/declared', { config: { access: 'viewer' } }, async () => 'ok');
    app.post('/forgotten', async () => 'oops');
    await app.register(async (plugin) => {
      withAccess(plugin, 'admin');
      plugin.get('/from-a-plugin', async () => 'ok');
    });
    expect(check).toThrow(/POST \/forgotten/);
    expect(check).not.toThrow(/declared|from-a-plugin/);
    await app.close();
  });

  it('accept an app whose every route declares one', async () => {
    const app = Fastify();
    const check = trackRouteAccess(app);
    app.get('/a', { config: { access: 'public' } }, async () => 'ok');
    app.delete('/b', { config: { access: 'operator' } }, async () => 'ok');
    expect(check).not.toThrow();
    await app.close();
  });
});
