import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { classifyDesired, type InboxContext } from '../../agent/mqtt/desired-inbox.js';
import { devicePolicy } from '../../agent/policy/device-policy.js';
import { parseTrustFile } from '../../agent/state/trust-store.js';
import { fakeHostFs } from '../helpers/fake-host-fs.js';
import { signDocument, trustedKeyOf, verifyDocument, type SigningKey, type TrustedKey } from '../../shared/desired-signature.js';
import { jcs } from '../../shared/jcs.js';

function keyPair(): { signer: SigningKey; trusted: TrustedKey; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const trusted = trustedKeyOf(publicKey);
  return { signer: { keyId: trusted.keyId, privateKey }, trusted, pem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

const NOW = Date.parse('2026-11-30T12:00:00Z');
const A = keyPair();
const B = keyPair();

function doc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    protocol: 1,
    deviceId: 'kiosk-a',
    version: 4,
    issuedAt: '2026-11-30T11:00:00.000Z',
    expiresAt: '2026-12-07T11:00:00.000Z',
    workloads: { web: { image: 'busybox:1', env: { GREETING: 'hello' } } },
    provenance: {},
    ...over,
  };
}

describe('RFC 8785 canonical JSON', () => {
  it('sorts members by UTF-16 code units, integer-like names included, with no whitespace', () => {
    expect(jcs({ b: 1, a: [true, null, 'x'], 10: 'ten', 9: 'nine', '€': 1, '\r': 2, é: 3 })).toBe('{"\\r":2,"10":"ten","9":"nine","a":[true,null,"x"],"b":1,"é":3,"€":1}');
  });

  it('serializes numbers and strings as ECMAScript does (RFC 8785 §3.2.2)', () => {
    expect(jcs({ n: [1e21, 0.1, -0, 100, 1.5e-7], s: 'line\nbreak "quoted" \u2028' })).toBe('{"n":[1e+21,0.1,0,100,1.5e-7],"s":"line\\nbreak \\"quoted\\" \u2028"}');
  });

  it('refuses what JSON cannot carry', () => {
    expect(() => jcs({ n: Number.NaN })).toThrow(/finite/);
  });
});

describe('signed desired documents', () => {
  const signed = signDocument(doc(), [A.signer]);

  it('verifies, whatever the member order of the JSON that carried it', () => {
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(signed).reverse()))) as unknown;
    expect(verifyDocument(reordered, [A.trusted], NOW)).toEqual({ ok: true, keyId: A.trusted.keyId });
  });

  const refusals: [string, unknown, readonly TrustedKey[], string][] = [
    ['a tampered byte', JSON.parse(JSON.stringify(signed).replace('hello', 'hellp')), [A.trusted], 'DESIRED_SIGNATURE'],
    ['a tampered version (a huge one, to freeze the device)', { ...signed, version: Number.MAX_SAFE_INTEGER }, [A.trusted], 'DESIRED_SIGNATURE'],
    ['signed by a key the device does not trust', signDocument(doc(), [B.signer]), [A.trusted], 'DESIRED_SIGNATURE'],
    ['unsigned', doc(), [A.trusted], 'DESIRED_UNSIGNED'],
    ['expired', signDocument(doc({ expiresAt: '2026-11-30T11:59:59.000Z' }), [A.signer]), [A.trusted], 'DESIRED_EXPIRED'],
    ['without an expiry', signDocument(doc({ expiresAt: undefined }), [A.signer]), [A.trusted], 'DESIRED_EXPIRED'],
    ['a signature of the wrong shape', { ...doc(), signature: { alg: 'ed25519', keyId: A.trusted.keyId, value: '!!' } }, [A.trusted], 'DESIRED_SIGNATURE'],
  ];
  it.each(refusals)('refuses %s', (_name, raw, trusted, code) => {
    const v = verifyDocument(raw, trusted, NOW);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.code).toBe(code);
  });

  it('accepts a document signed by two keys when the device trusts either (a key rotation under way)', () => {
    const both = signDocument(doc(), [A.signer, B.signer]);
    expect(Array.isArray(both.signature)).toBe(true);
    expect(verifyDocument(both, [B.trusted], NOW)).toEqual({ ok: true, keyId: B.trusted.keyId });
    expect(verifyDocument(both, [A.trusted], NOW)).toEqual({ ok: true, keyId: A.trusted.keyId });
  });

  it('reads trust files as PEM (one or more keys) or JSON', () => {
    expect(parseTrustFile(`${A.pem}\n${B.pem}`)).toEqual([A.trusted, B.trusted]);
    expect(parseTrustFile(JSON.stringify({ keys: [B.trusted] }))).toEqual([B.trusted]);
    expect(() => parseTrustFile('nonsense')).toThrow(/no PEM public key/);
  });
});

describe('the agent inbox with signatures required', () => {
  const ctx = (over: Partial<InboxContext> = {}): InboxContext => ({
    deviceId: 'kiosk-a',
    highestVersion: 3,
    maxBytes: 64 * 1024,
    policy: {
      rules: devicePolicy({ allowedHostPaths: [], stateDir: '/var/lib/outpost', secretFiles: [], allowedCapabilities: [], allowedVolumes: [] }),
      fs: fakeHostFs({}),
    },
    signatures: { mode: 'required', trusted: [A.trusted], nowMs: NOW },
    ...over,
  });
  const buf = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

  const table: [string, unknown, Partial<ReturnType<typeof classifyDesired>>][] = [
    ['a newer signed document → accepted', signDocument(doc(), [A.signer]), { kind: 'accept' }],
    ['tampered → rejected', JSON.parse(JSON.stringify(signDocument(doc(), [A.signer])).replace('hello', 'HELLO')), { kind: 'reject', code: 'DESIRED_SIGNATURE' }],
    ['another device, validly signed → rejected as such', signDocument(doc({ deviceId: 'kiosk-b' }), [A.signer]), { kind: 'reject', code: 'DESIRED_WRONG_DEVICE' }],
    ['expired → rejected', signDocument(doc({ expiresAt: '2026-11-01T00:00:00.000Z' }), [A.signer]), { kind: 'reject', code: 'DESIRED_EXPIRED' }],
    ['an older version (a replay) → ignored', signDocument(doc({ version: 2 }), [A.signer]), { kind: 'ignore', code: 'DESIRED_OUTDATED' }],
    ['an unknown key → rejected', signDocument(doc(), [B.signer]), { kind: 'reject', code: 'DESIRED_SIGNATURE' }],
    ['unsigned → rejected', doc(), { kind: 'reject', code: 'DESIRED_UNSIGNED' }],
    ['the held version, forged → ignored, nothing taken', { ...signDocument(doc({ version: 3 }), [A.signer]), registryAuth: { 'evil.example': { username: 'u', password: 'p' } } }, { kind: 'ignore', code: 'DESIRED_SIGNATURE' }],
  ];
  it.each(table)('%s', (_name, payload, expected) => {
    expect(classifyDesired(buf(payload), ctx())).toMatchObject(expected);
  });

  it('a re-signed copy of the held version brings its later expiry and the announced keys', () => {
    const trust = { keys: [A.trusted, B.trusted] };
    const v = classifyDesired(buf(signDocument(doc({ version: 3, trust, expiresAt: '2026-12-24T00:00:00.000Z' }), [A.signer])), ctx());
    expect(v).toMatchObject({ kind: 'refresh', version: 3, expiresAt: '2026-12-24T00:00:00.000Z', trust: trust.keys });
  });
});
