import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ControllerError } from '../errors.js';

export type AuthOutcome = 'ok' | 'missing' | 'not-bearer' | 'wrong-token';

const MESSAGES: Record<Exclude<AuthOutcome, 'ok'>, string> = {
  missing: 'missing Authorization header; send "Authorization: Bearer <admin token>"',
  'not-bearer': 'Authorization header is not a bearer token; send "Authorization: Bearer <admin token>"',
  'wrong-token': 'the bearer token is not valid',
};

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Checks an Authorization header against every admin token. Tokens are
 * compared as sha256 digests with timingSafeEqual, so neither the position of
 * the first differing byte nor the token length shows in the timing, and
 * every token is compared (no early exit on a match).
 */
export function createTokenVerifier(tokens: readonly string[]): (authorization: string | undefined) => AuthOutcome {
  if (tokens.length === 0) throw new Error('the API needs at least one admin token');
  const digests = tokens.map(digest);
  return (authorization) => {
    if (authorization === undefined || authorization.trim() === '') return 'missing';
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!m?.[1]) return 'not-bearer';
    const presented = digest(m[1]);
    let ok = false;
    for (const d of digests) if (timingSafeEqual(presented, d)) ok = true;
    return ok ? 'ok' : 'wrong-token';
  };
}

/** Routes anyone may read: liveness and the API description. */
export function isPublicRoute(method: string, routeUrl: string | undefined): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (routeUrl === undefined) return false;
  return routeUrl === '/healthz' || routeUrl === '/openapi.json' || routeUrl === '/docs' || routeUrl.startsWith('/docs/');
}

/**
 * Bearer authentication on every route, unknown ones included, except the
 * public ones: a route added later is protected unless listed above.
 */
export function installAuth(app: FastifyInstance, tokens: readonly string[]): void {
  const verify = createTokenVerifier(tokens);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (isPublicRoute(request.method, request.routeOptions.url)) return;
    const outcome = verify(request.headers.authorization);
    if (outcome !== 'ok') throw new ControllerError('UNAUTHORIZED', MESSAGES[outcome]);
  });
}
