import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { planRegistryAuth } from '../../controller/desired-state/registry-auth.js';
import { CredentialCipher, CredentialCipherError } from '../../controller/registry-auth/credential-cipher.js';
import { loadOrCreateCredentialKey } from '../../controller/registry-auth/key-file.js';
import { MAX_PASSWORD_BYTES, RegistryPassword, type RegistryAuthSnapshot } from '../../controller/registry-auth/registry-credential-store.js';
import { revealRegistryAuth, withoutRegistryPasswords } from '../../controller/registry-auth/reveal-secrets.js';
import { silentLogger } from '../../shared/logger.js';
import { readSecretStream } from '../../shared/secret-input.js';
import { RegistryCredentials } from '../../shared/schemas/desired-state.js';
import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const PASSWORD = 'S3cret-registry-pässword';
const cipher = (): CredentialCipher => new CredentialCipher(randomBytes(32));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(CredentialCipherError);
    expect((err as Error).message).not.toContain(PASSWORD);
    return (err as CredentialCipherError).code;
  }
}

describe('credential cipher (AES-256-GCM, AAD = host)', () => {
  it('round-trips, with a fresh nonce per value and no clear bytes in the sealed form', () => {
    const c = cipher();
    const a = c.seal('reg.example:5000', PASSWORD);
    const b = c.seal('reg.example:5000', PASSWORD);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(a).not.toContain(PASSWORD);
    expect(Buffer.from(a.split('.')[2] ?? '', 'base64url').includes(Buffer.from(PASSWORD))).toBe(false);
    expect(c.open('reg.example:5000', a)).toBe(PASSWORD);
    expect(c.open('reg.example:5000', b)).toBe(PASSWORD);
  });

  it('a changed byte is CREDENTIAL_TAMPERED, never a wrong password', () => {
    const c = cipher();
    const sealed = c.seal('reg.example', PASSWORD);
    const [v, id, body] = sealed.split('.') as [string, string, string];
    const raw = Buffer.from(body, 'base64url');
    for (const at of [0, 12, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[at] = (bad[at] ?? 0) ^ 1;
      expect(codeOf(() => c.open('reg.example', `${v}.${id}.${bad.toString('base64url')}`)), `byte ${at}`).toBe('CREDENTIAL_TAMPERED');
    }
  });

  it('a value moved to another host does not open there (AAD)', () => {
    const c = cipher();
    expect(codeOf(() => c.open('evil.example', c.seal('reg.example', PASSWORD)))).toBe('CREDENTIAL_TAMPERED');
  });

  it('another key is CREDENTIAL_WRONG_KEY, naming both key ids', () => {
    const sealed = cipher().seal('reg.example', PASSWORD);
    const other = cipher();
    expect(codeOf(() => other.open('reg.example', sealed))).toBe('CREDENTIAL_WRONG_KEY');
    expect(() => other.open('reg.example', sealed)).toThrow(other.keyId);
  });

  it('garbage is CREDENTIAL_MALFORMED', () => {
    expect(codeOf(() => cipher().open('reg.example', PASSWORD))).toBe('CREDENTIAL_MALFORMED');
    expect(codeOf(() => cipher().open('reg.example', 'v1.00000000.AA'))).toBe('CREDENTIAL_MALFORMED');
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new CredentialCipher(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('key file', () => {
  it('is created 0600 on first use and read back the same afterwards', async () => {
    const dir = await makeTempDir('regkey');
    try {
      const file = join(dir.path, 'registry-credentials.key');
      const first = await loadOrCreateCredentialKey(file, silentLogger());
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const again = await loadOrCreateCredentialKey(file, silentLogger());
      expect(again.keyId).toBe(first.keyId);
      expect(again.open('h', first.seal('h', PASSWORD))).toBe(PASSWORD);
    } finally {
      await dir.remove();
    }
  });

  it('a file that holds no key fails clearly', async () => {
    const dir = await makeTempDir('regkey');
    try {
      const file = join(dir.path, 'bad.key');
      await writeFile(file, 'not a key\n');
      await expect(loadOrCreateCredentialKey(file, silentLogger())).rejects.toThrow(/does not hold a registry-credentials key/);
      expect(await readFile(file, 'utf8')).toBe('not a key\n');
    } finally {
      await dir.remove();
    }
  });
});

describe('planRegistryAuth: which hosts a document carries', () => {
  const w = (...images: string[]): Record<string, WorkloadSpec> => Object.fromEntries(images.map((image, i) => [`w${i}`, { image } as WorkloadSpec]));
  const store = (usable: Record<string, string>, unusable: Record<string, string> = {}): RegistryAuthSnapshot => ({
    usable: new Map(Object.entries(usable).map(([h, u]) => [h, { username: u, sealed: `sealed-${h}` }])),
    unusable: new Map(Object.entries(unusable)),
  });
  const creds = store({ 'reg.example:5000': 'u1', 'ghcr.io': 'u2', 'docker.io': 'hub', 'unused.example': 'u3' });

  it.each([
    ['one private image', w('reg.example:5000/app:1'), ['reg.example:5000']],
    ['two registries, sorted', w('reg.example:5000/a:1', 'ghcr.io/org/b@sha256:' + 'a'.repeat(64)), ['ghcr.io', 'reg.example:5000']],
    ['Docker Hub short name → docker.io when stored as such', w('nginx:1.25', 'library/redis'), ['docker.io']],
    ['a registry with no stored credentials', w('quay.io/x/y:1'), []],
    ['no workloads', w(), []],
    ['the same host twice: one entry', w('ghcr.io/a:1', 'ghcr.io/b:2'), ['ghcr.io']],
  ])('%s', (_what, workloads, hosts) => {
    const plan = planRegistryAuth(workloads, 'h0', creds);
    expect(Object.keys(plan.registryAuth ?? {})).toEqual(hosts);
    for (const h of hosts) expect(plan.registryAuth?.[h]?.password).toBe(`sealed-${h}`);
    expect(plan.contentHash === 'h0').toBe(hosts.length === 0);
    expect(plan.problems).toEqual([]);
  });

  it('Docker Hub images get nothing unless docker.io is stored', () => {
    expect(planRegistryAuth(w('nginx:1'), 'h0', store({ 'ghcr.io': 'u' })).registryAuth).toBeUndefined();
  });

  it('another password (a rotation) is another hash; the same is the same', () => {
    const a = planRegistryAuth(w('ghcr.io/a:1'), 'h0', store({ 'ghcr.io': 'u' }));
    const b = planRegistryAuth(w('ghcr.io/a:1'), 'h0', { usable: new Map([['ghcr.io', { username: 'u', sealed: 'rotated' }]]), unusable: new Map() });
    expect(a.contentHash).not.toBe(b.contentHash);
    expect(planRegistryAuth(w('ghcr.io/a:1'), 'h0', store({ 'ghcr.io': 'u' })).contentHash).toBe(a.contentHash);
  });

  it('credentials that do not open are left out and named as a problem, for devices that need them only', () => {
    const s = store({}, { 'ghcr.io': 'sealed with another key' });
    expect(planRegistryAuth(w('ghcr.io/a:1'), 'h0', s)).toEqual({ registryAuth: undefined, contentHash: 'h0', problems: ['registry credentials of ghcr.io left out: sealed with another key'] });
    expect(planRegistryAuth(w('quay.io/a:1'), 'h0', s).problems).toEqual([]);
  });
});

describe('reveal and redaction', () => {
  it('opens sealed passwords for the wire, keeping member order; documents without registryAuth are the same bytes', () => {
    const c = cipher();
    const stored = JSON.stringify({ protocol: 1, version: 3, workloads: {}, registryAuth: { 'reg:5000': { username: 'u', password: c.seal('reg:5000', PASSWORD) } } });
    const wire = revealRegistryAuth(stored, c);
    expect(JSON.parse(wire)).toEqual({ protocol: 1, version: 3, workloads: {}, registryAuth: { 'reg:5000': { username: 'u', password: PASSWORD } } });
    expect(Object.keys(JSON.parse(wire) as object)).toEqual(['protocol', 'version', 'workloads', 'registryAuth']);
    const plain = '{"protocol":1,"version":3,"workloads":{}}';
    expect(revealRegistryAuth(plain, c)).toBe(plain);
  });

  it('a value that does not open throws, without the value', () => {
    const stored = JSON.stringify({ registryAuth: { reg: { username: 'u', password: cipher().seal('reg', PASSWORD) } } });
    expect(() => revealRegistryAuth(stored, cipher())).toThrow(CredentialCipherError);
    expect(() => revealRegistryAuth(stored, null)).toThrow(/no registry-credentials key/);
  });

  it('the API view never carries a password', () => {
    const doc = { version: 1, registryAuth: { reg: { username: 'u', password: 'v1.abc.def' } } };
    expect(withoutRegistryPasswords(doc)).toEqual({ version: 1, registryAuth: { reg: { username: 'u', password: '[redacted]' } } });
    const plain: { version: number; registryAuth?: Record<string, { username: string; password: string }> } = { version: 1 };
    expect(withoutRegistryPasswords(plain)).toBe(plain);
  });
});

describe('readSecretStream (--password-stdin)', () => {
  it.each([
    ['pw\n', 'pw'],
    ['pw\r\n', 'pw'],
    [' p w \n\n', ' p w \n'],
    ['', ''],
  ])('%j → %j', async (input, want) => {
    expect(await readSecretStream(Readable.from([Buffer.from(input)]))).toBe(want);
  });
});

describe('password size', () => {
  it('the longest password the API takes still fits the protocol once sealed', () => {
    const longest = 'x'.repeat(MAX_PASSWORD_BYTES);
    expect(RegistryPassword.safeParse(longest).success).toBe(true);
    expect(RegistryPassword.safeParse(`${longest}x`).success).toBe(false);
    expect(RegistryPassword.safeParse('é'.repeat(MAX_PASSWORD_BYTES / 2 + 1)).success).toBe(false);
    const sealed = cipher().seal('a-very-long-registry-host.example.com:65535', longest);
    expect(RegistryCredentials.safeParse({ 'reg.example': { username: 'u', password: sealed } }).success).toBe(true);
  });
});
