import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CONFIG_ADMIN_NAME, roleAllows, type Principal } from '../access/roles.js';
import type { TokenStore } from '../access/token-store.js';
import { ControllerError } from '../errors.js';

export type AuthOutcome = 'ok' | 'missing' | 'not-bearer' | 'wrong-token';
type Failure = Exclude<AuthOutcome, 'ok'>;

const MESSAGES: Record<Failure, string> = {
  missing: 'missing Authorization header; send "Authorization: Bearer <API token>"',
  'not-bearer': 'Authorization header is not a bearer token; send "Authorization: Bearer <API token>"',
  'wrong-token': 'the bearer token is not valid (wrong, or revoked)',
};

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header (any case of the scheme), or why there is none. */
export function parseBearer(authorization: string | undefined): { token: string } | { failure: 'missing' | 'not-bearer' } {
  if (authorization === undefined || authorization.trim() === '') return { failure: 'missing' };
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m?.[1] ? { token: m[1] } : { failure: 'not-bearer' };
}

/**
 * Matches a token against the configuration admin tokens. Tokens are
 * compared as sha256 digests with timingSafeEqual, so neither the position
 * of the first differing byte nor the token length shows in the timing,
 * and every token is compared (no early exit on a match).
 */
export function createTokenMatcher(tokens: readonly string[]): (token: string) => boolean {
  if (tokens.length === 0) throw new Error('the API needs at least one admin token');
  const digests = tokens.map(digest);
  return (token) => {
    const presented = digest(token);
    let ok = false;
    for (const d of digests) if (timingSafeEqual(presented, d)) ok = true;
    return ok;
  };
}

/** Checks an Authorization header against the configuration admin tokens only. */
export function createTokenVerifier(tokens: readonly string[]): (authorization: string | undefined) => AuthOutcome {
  const matches = createTokenMatcher(tokens);
  return (authorization) => {
    const bearer = parseBearer(authorization);
    if ('failure' in bearer) return bearer.failure;
    return matches(bearer.token) ? 'ok' : 'wrong-token';
  };
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: Failure };

/**
 * Who an Authorization header stands for: a configuration admin token (role
 * admin, no Redis involved: the bootstrap that works whatever the token
 * store holds), else a live API token from the store (one Redis read, so a
 * revocation takes effect on the next request).
 */
export function createAuthenticator(opts: { adminTokens: readonly string[]; tokens: Pick<TokenStore, 'authenticate'> }): (authorization: string | undefined) => Promise<AuthResult> {
  const isAdminToken = createTokenMatcher(opts.adminTokens);
  return async (authorization) => {
    const bearer = parseBearer(authorization);
    if ('failure' in bearer) return { ok: false, reason: bearer.failure };
    if (isAdminToken(bearer.token)) return { ok: true, principal: { tokenId: null, name: CONFIG_ADMIN_NAME, role: 'admin' } };
    const principal = await opts.tokens.authenticate(bearer.token);
    return principal ? { ok: true, principal } : { ok: false, reason: 'wrong-token' };
  };
}

function describePrincipal(p: Principal): string {
  return p.tokenId === null ? 'the configuration admin token' : `token ${p.name} (${p.tokenId})`;
}

/**
 * Authentication and roles on every route (DD-025). Each route declares its
 * access (route-access.ts); `public` routes need nothing, every other one a
 * valid token whose role is at least the declared one: 401 UNAUTHORIZED
 * without a valid token, 403 FORBIDDEN with a too weak one. Unknown routes
 * are behind authentication too (401 without a token, 404 with one).
 */
export function installAuth(app: FastifyInstance, opts: { adminTokens: readonly string[]; tokens: Pick<TokenStore, 'authenticate'> }): void {
  const authenticate = createAuthenticator(opts);
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const access = request.routeOptions.config.access;
    if (access === 'public') return;
    const result = await authenticate(request.headers.authorization);
    if (!result.ok) {
      request.log.info({ reason: result.reason, method: request.method, url: request.url, ip: request.ip }, 'authentication failed');
      throw new ControllerError('UNAUTHORIZED', MESSAGES[result.reason]);
    }
    const principal = result.principal;
    request.principal = principal;
    const route = request.routeOptions.url;
    if (route === undefined) return;
    // Fail closed: buildApi refuses routes without a declared access, but a missing one would mean admin.
    const needed = access ?? 'admin';
    if (!roleAllows(principal.role, needed)) {
      throw new ControllerError('FORBIDDEN', `${describePrincipal(principal)} has role ${principal.role}; ${request.method} ${route} needs ${needed}`, {
        details: { role: principal.role, required: needed },
      });
    }
  });
}
