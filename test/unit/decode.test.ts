import { describe, it, expect } from 'vitest';
import { z } from 'zod';
import { decodeJson, formatIssues, type DecodeCodes } from '../../shared/decode.js';
import { LIMITS } from '../../shared/limits.js';
import { DesiredState } from '../../shared/schemas/index.js';

const CODES: DecodeCodes = { tooLarge: 'DESIRED_TOO_LARGE', invalidJson: 'DESIRED_INVALID_JSON', schema: 'DESIRED_SCHEMA' };
const GOOD = {
  protocol: 1,
  deviceId: 'dev-1',
  version: 3,
  issuedAt: '2026-11-23T19:33:02.000Z',
  workloads: { web: { image: 'busybox:1.36' } },
};

describe('decodeJson', () => {
  it('decodes a valid document, from a Buffer or a string, with defaults applied', () => {
    for (const payload of [Buffer.from(JSON.stringify(GOOD)), JSON.stringify(GOOD)]) {
      const result = decodeJson(payload, DesiredState, 1024, CODES);
      expect(result.ok).toBe(true);
      if (result.ok) {
        expect(result.value.version).toBe(3);
        expect(result.value.workloads.web?.restart).toBe('unless-stopped');
      }
    }
  });

  it('refuses a payload over the limit before parsing it, counting bytes not characters', () => {
    const text = JSON.stringify({ s: 'é'.repeat(10) }); // 18 chars, 28 bytes
    const limit = Buffer.byteLength(text) - 1;
    const result = decodeJson(text, z.unknown(), limit, CODES);
    expect(result).toEqual({
      ok: false,
      code: 'DESIRED_TOO_LARGE',
      reason: `payload is ${limit + 1} bytes, limit is ${limit}`,
      raw: undefined,
    });
    expect(decodeJson(text, z.unknown(), limit + 1, CODES).ok).toBe(true);
    // Not even JSON: the size check comes first.
    expect(decodeJson('{'.repeat(100), z.unknown(), 10, CODES)).toMatchObject({ ok: false, code: 'DESIRED_TOO_LARGE' });
  });

  it('refuses a "__proto__" key anywhere, which the schema would otherwise drop without a word', () => {
    const doc = { ...GOOD, workloads: { web: { image: 'busybox:1.36', env: JSON.parse('{"__proto__":"x","A":"1"}') as unknown } } };
    const result = decodeJson(JSON.stringify(doc), DesiredState, 1024, CODES);
    expect(result).toMatchObject({ ok: false, code: 'DESIRED_SCHEMA', reason: 'workloads.web.env.__proto__: "__proto__" is not allowed as a key' });
    // Escaped, it is the same key once parsed.
    expect(decodeJson('{"\\u005f_proto__":{}}', z.unknown(), 1024, CODES)).toMatchObject({ ok: false, code: 'DESIRED_SCHEMA' });
    // As a value it is only a string.
    expect(decodeJson('{"a":"__proto__"}', z.unknown(), 1024, CODES).ok).toBe(true);
    // However deep it sits.
    const deep = `${'{"a":['.repeat(10)}{"__proto__":1}${']}'.repeat(10)}`;
    expect(decodeJson(deep, z.unknown(), 1024, CODES)).toMatchObject({ ok: false, code: 'DESIRED_SCHEMA', reason: 'a.0.a.0.a.0.….a.0.a.0.__proto__: "__proto__" is not allowed as a key' });
    expect(decodeJson(deep.replace('__proto__', 'x'), z.unknown(), 1024, CODES).ok).toBe(true);
  });

  it(`refuses nesting deeper than ${LIMITS.jsonMaxDepth} levels, which JSON.parse takes but JSON.stringify (and every recursive walk) cannot`, () => {
    const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(decodeJson(nested(LIMITS.jsonMaxDepth), z.unknown(), 1 << 20, CODES).ok).toBe(true);
    expect(decodeJson(nested(LIMITS.jsonMaxDepth + 1), z.unknown(), 1 << 20, CODES)).toMatchObject({ ok: false, code: 'DESIRED_SCHEMA', reason: expect.stringMatching(/nested deeper than 64 levels$/) });
    // Far deeper than the call stack goes: still a verdict, not a RangeError.
    expect(decodeJson(`{"data":${nested(100_000)}}`, z.unknown(), 1 << 20, CODES)).toMatchObject({ ok: false, reason: expect.stringMatching(/^data\.0\.0\.0\.0\.0\.….*nested deeper/) });
  });

  it.each(['', '{', '{"a":1,}', 'undefined', "{'a':1}", '\uFEFF{}'])('reports invalid JSON %j', (payload) => {
    const result = decodeJson(payload, DesiredState, 1024, CODES);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe('DESIRED_INVALID_JSON');
      expect(result.reason).toMatch(/^invalid JSON: /);
      expect(result.raw).toBeUndefined();
    }
  });

  it('reports schema errors readably and keeps the raw document', () => {
    const bad = { ...GOOD, version: 1.5, extra: true };
    const result = decodeJson(JSON.stringify(bad), DesiredState, 1024, CODES);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe('DESIRED_SCHEMA');
      expect(result.reason).toMatch(/(^|; )version: /);
      expect(result.reason).toMatch(/extra/);
      expect(result.raw).toEqual(bad);
    }
  });

  it('names nested paths and the root', () => {
    const nested = decodeJson(JSON.stringify({ ...GOOD, workloads: { web: { image: 'Bad Image' } } }), DesiredState, 1024, CODES);
    expect(nested.ok ? '' : nested.reason).toMatch(/^workloads\.web\.image: /);
    const root = decodeJson('[]', DesiredState, 1024, CODES);
    expect(root.ok ? '' : root.reason).toMatch(/^\(root\): /);
  });
});

describe('formatIssues', () => {
  it('lists at most max issues and counts the rest', () => {
    const schema = z.strictObject({ a: z.string(), b: z.string(), c: z.string() });
    const result = schema.safeParse({});
    expect(result.success).toBe(false);
    const text = formatIssues(result.error?.issues ?? [], 2);
    expect(text.split('; ')).toHaveLength(3);
    expect(text).toMatch(/^a: .*; b: .*; … and 1 more$/);
  });
});
