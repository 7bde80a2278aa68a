import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerConfigFromFlags } from '../../controller/main.js';
import { MIN_SECRET_LENGTH } from '../../shared/device-credentials.js';
import { redactUrlFields } from '../../shared/logger.js';
import { redactUrl } from '../../shared/redact-url.js';
import { readSecretFile, secretFileWarning, type SecretFileWarning } from '../../shared/secret-input.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

describe('URL redaction', () => {
  it.each([
    ['redis://:hunter2@redis:6379/0', 'redis://:***@redis:6379/0'],
    ['rediss://default:hunter2@redis.example.com', 'rediss://default:***@redis.example.com'],
    ['mqtt://svc:outpost:p4ss@broker:1883', 'mqtt://svc:***@broker:1883'],
    ['mqtts://user:p@ss@broker', 'mqtts://user:***@broker'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['mqtt://user@broker:1883', 'mqtt://user@broker:1883'],
    ['connect to redis://:x@a:1 failed, then mqtt://u:y@b', 'connect to redis://:***@a:1 failed, then mqtt://u:***@b'],
    ['not a url', 'not a url'],
  ])('%s → %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('masks URL passwords in every top-level field of a log call, whatever the call site passed', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = pino({ formatters: { log: redactUrlFields } }, sink);
    logger.info({ broker: 'mqtt://svc:field-secret@b:1883', redis: 'redis://:other-secret@r:6379', n: 1 }, 'hello');
    const all = lines.join('');
    expect(all).not.toMatch(/field-secret|other-secret/);
    expect(all).toContain('"broker":"mqtt://svc:***@b:1883"');
    expect(all).toContain('"redis":"redis://:***@r:6379"');
    const untouched = { a: 'plain', b: 2 };
    expect(redactUrlFields(untouched)).toBe(untouched);
  });
});

describe('secret files', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir('secret-files');
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it.each([
    [0o600, null],
    [0o400, null],
    [0o640, '0640'],
    [0o604, '0604'],
    [0o644, '0644'],
  ])('mode %o → warning %s', async (mode, expected) => {
    const file = join(dir.path, `s-${mode.toString(8)}`);
    await writeFile(file, ' s3cret \n');
    await chmod(file, mode);
    expect(secretFileWarning(file)).toEqual(expected === null ? null : { file, mode: expected });
    expect(secretFileWarning(file, 'win32')).toBeNull();
    const warnings: SecretFileWarning[] = [];
    expect(readSecretFile(file, warnings)).toBe('s3cret');
    expect(warnings).toHaveLength(expected === null ? 0 : 1);
  });

  it('the controller takes its admin token from a file or the environment, never a flag', async () => {
    const file = join(dir.path, 'admin-token');
    await writeFile(file, `${'a'.repeat(32)}\n`, { mode: 0o644 });
    const base = { REDIS_URL: 'redis://127.0.0.1:6379', OUTPOST_BROKER_URL: 'mqtt://127.0.0.1:1883', OUTPOST_SERVICE_PASSWORD: 'p'.repeat(24) };
    const warnings: SecretFileWarning[] = [];
    const config = controllerConfigFromFlags({ adminTokenFile: file }, base, warnings);
    expect(config.adminTokens).toEqual(['a'.repeat(32)]);
    expect(warnings).toEqual([{ file, mode: '0644' }]);
    expect(controllerConfigFromFlags({}, { ...base, OUTPOST_ADMIN_TOKEN: 'b'.repeat(32) }).adminTokens).toEqual(['b'.repeat(32)]);
    expect(() => controllerConfigFromFlags({ adminToken: 'c'.repeat(32) }, base)).toThrow(/--admin-token is not accepted.*--admin-token-file FILE or env OUTPOST_ADMIN_TOKEN/);
    expect(() => controllerConfigFromFlags({ servicePassword: 'c'.repeat(32), adminTokenFile: file }, base)).toThrow(/--service-password is not accepted/);
    expect(controllerConfigFromFlags({ adminTokenFile: file, auditMaxEntries: '500' }, base).auditMaxEntries).toBe(500);
  });

  it('human-chosen device secrets need at least 32 characters', () => {
    expect(MIN_SECRET_LENGTH).toBe(32);
  });
});
