import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DocumentSigner } from '../../controller/signing/document-signer.js';
import { signBatch } from '../../controller/signing/sign-batch.js';
import { SignWorkerPool } from '../../controller/signing/sign-worker-pool.js';
import type { SigningKeys } from '../../controller/signing/signing-keys.js';
import { trustedKeyOf, verifyDocument } from '../../shared/desired-signature.js';
import { silentLogger } from '../../shared/logger.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/** The compiled worker (the controller runs from dist/; tests run sources, where the pool reports itself unavailable). */
const WORKER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'controller', 'signing', 'sign-worker.js');

const { privateKey } = generateKeyPairSync('ed25519');
const trusted = trustedKeyOf(privateKey);
const signers = [{ keyId: trusted.keyId, privateKey }];
const keys = { snapshot: async () => ({ signers, trustSet: [trusted] }) } as unknown as SigningKeys;
const stored = Array.from({ length: 50 }, (_, i) =>
  JSON.stringify({ protocol: 1, deviceId: `w-${i}`, version: i + 1, issuedAt: '2026-01-01T00:00:00.000Z', workloads: { 'app-web': { image: 'reg/app:1' } }, provenance: {}, signature: null }),
);

describe('signing batches in a worker thread (DD-033)', () => {
  const pools: SignWorkerPool[] = [];
  const dirs: TempDir[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.close();
    for (const d of dirs.splice(0)) await d.remove();
  });

  it('signs exactly as inline signing does, and every document verifies', async () => {
    const pool = new SignWorkerPool(silentLogger(), WORKER);
    pools.push(pool);
    expect(pool.available).toBe(true);
    const input = { stored, signers, trustSet: [trusted], expiresAt: '2030-01-01T00:00:00.000Z' };
    const fromWorker = await pool.sign(input);
    expect(fromWorker).toEqual(signBatch(input));
    for (const p of fromWorker) expect(verifyDocument(JSON.parse(p), [trusted], Date.parse('2029-01-01T00:00:00.000Z'))).toEqual({ ok: true, keyId: trusted.keyId });
  });

  it('a worker that dies is answered by inline signing, and the next batch starts a new worker', async () => {
    const dir = await makeTempDir('sign-worker');
    dirs.push(dir);
    const dying = join(dir.path, 'dying-worker.mjs');
    await writeFile(dying, 'process.exit(3);\n');
    const pool = new SignWorkerPool(silentLogger(), dying);
    pools.push(pool);
    const signer = new DocumentSigner(keys, 60_000, () => Date.parse('2029-01-01T00:00:00.000Z'), { pool, logger: silentLogger() });
    const signed = await signer.signMany(stored);
    expect(signed).toHaveLength(stored.length);
    for (const s of signed) expect(verifyDocument(JSON.parse(s.payload), [trusted], Date.parse('2029-01-01T00:00:00.000Z')).ok).toBe(true);
    await expect(pool.sign({ stored, signers, trustSet: [trusted], expiresAt: '2030-01-01T00:00:00.000Z' })).rejects.toThrow(/exited with code 3/);
  });

  it('a closed pool refuses work', async () => {
    const pool = new SignWorkerPool(silentLogger(), WORKER);
    await pool.close();
    await pool.close();
    await expect(pool.sign({ stored, signers, trustSet: [trusted], expiresAt: '2030-01-01T00:00:00.000Z' })).rejects.toThrow(/closed/);
  });
});
