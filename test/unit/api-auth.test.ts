import { describe, expect, it } from 'vitest';
import { createTokenVerifier, parseBearer } from '../../controller/http/auth.js';

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

describe('bearer header', () => {
  it.each([
    [undefined, { failure: 'missing' }],
    ['Bearer abc', { token: 'abc' }],
    ['bearer\tabc ', { token: 'abc' }],
    ['Basic abc', { failure: 'not-bearer' }],
    ['Bearer a b', { failure: 'not-bearer' }],
  ] as const)('%j → %j', (header, expected) => {
    expect(parseBearer(header)).toEqual(expected);
  });
});
