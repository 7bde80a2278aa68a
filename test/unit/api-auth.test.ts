import { describe, expect, it } from 'vitest';
import { createTokenVerifier, isPublicRoute } from '../../controller/http/auth.js';

describe('bearer token verifier', () => {
  const tokenA = 'a'.repeat(32);
  const tokenB = '0123456789abcdef0123456789abcdef';
  const verify = createTokenVerifier([tokenA, tokenB]);

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['   ', 'missing'],
    [`Bearer ${tokenA}`, 'ok'],
    [`Bearer ${tokenB}`, 'ok'],
    [`bearer ${tokenB}`, 'ok'],
    [`BEARER \t${tokenA}  `, 'ok'],
    [`Bearer ${tokenA}x`, 'wrong-token'],
    [`Bearer ${tokenA.slice(1)}`, 'wrong-token'],
    ['Bearer x', 'wrong-token'],
    [`Basic ${tokenA}`, 'not-bearer'],
    ['Bearer', 'not-bearer'],
    [`Bearer ${tokenA} ${tokenB}`, 'not-bearer'],
    [tokenA, 'not-bearer'],
  ])('%j → %s', (header, outcome) => {
    expect(verify(header)).toBe(outcome);
  });

  it('needs at least one token', () => {
    expect(() => createTokenVerifier([])).toThrow(/at least one admin token/);
  });
});

describe('public routes', () => {
  it.each([
    ['GET', '/healthz', true],
    ['HEAD', '/healthz', true],
    ['GET', '/openapi.json', true],
    ['GET', '/docs', true],
    ['GET', '/docs/', true],
    ['GET', '/docs/static/*', true],
    ['POST', '/healthz', false],
    ['GET', '/docsx', false],
    ['GET', '/v1/devices', false],
    ['GET', undefined, false],
  ] as const)('%s %s → %s', (method, url, expected) => {
    expect(isPublicRoute(method, url)).toBe(expected);
  });
});
