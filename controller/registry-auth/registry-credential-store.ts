import type { Redis } from 'ioredis';
import { z } from 'zod';
import { Timestamp } from '../../shared/schemas/common.js';
import { REGISTRY_HOST_PATTERN } from '../../shared/schemas/desired-state.js';
import { ControllerError } from '../errors.js';
import type { Keys } from '../registry/keys.js';
import { ALL_SCOPE, RegistryTx } from '../registry/registry-tx.js';
import type { Logger } from '../../shared/logger.js';
import type { CredentialCipher } from './credential-cipher.js';
import { loadOrCreateCredentialKey } from './key-file.js';
import { revealRegistryAuth } from './reveal-secrets.js';

export const RegistryHost = z
  .string()
  .max(255)
  .regex(REGISTRY_HOST_PATTERN, 'a registry is host[:port] as written in image references, e.g. registry.example.com:5000 (docker.io for Docker Hub)');
export const RegistryUsername = z.string().min(1).max(256);
/** Sealed, it must still fit the protocol's 4096 characters (nonce, tag, base64 and prefix included). */
export const MAX_PASSWORD_BYTES = 3000;
export const RegistryPassword = z
  .string()
  .min(1)
  .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, `at most ${MAX_PASSWORD_BYTES} bytes (UTF-8)`);

/** What the API shows of stored credentials: never the password, sealed or not. */
export const RegistryCredentialView = z.strictObject({
  host: RegistryHost,
  username: RegistryUsername,
  updatedAt: Timestamp,
});
export type RegistryCredentialView = z.infer<typeof RegistryCredentialView>;

/** The Redis record: the password sealed (credential-cipher.ts). */
const StoredCredential = RegistryCredentialView.extend({ sealed: z.string().min(1).max(8192) });
type StoredCredential = z.infer<typeof StoredCredential>;

/** One drain's view of the store: what compositions inject, and what cannot be opened (with why). */
export interface RegistryAuthSnapshot {
  /** host → username and sealed password, for hosts whose value opens with this controller's key. */
  readonly usable: ReadonlyMap<string, { username: string; sealed: string }>;
  /** host → why its stored credentials cannot be used (no key, another key, tampered). */
  readonly unusable: ReadonlyMap<string, string>;
}

export const EMPTY_REGISTRY_AUTH: RegistryAuthSnapshot = { usable: new Map(), unusable: new Map() };

export interface RegistryCredentialStoreDeps {
  redis: Redis;
  keys: Keys;
  now: () => number;
  /** The key, given directly (tests)… */
  cipher?: CredentialCipher;
  /** …or read from this file by init(), created 0600 when missing. Neither: credentials are refused (DD-041). */
  keyFile?: string;
  logger: Logger;
}

export const NO_KEY_MESSAGE =
  'this controller has no registry-credentials key: start it with --registry-credentials-key-file FILE (env OUTPOST_REGISTRY_CREDENTIALS_KEY_FILE; `outpost up` uses <data dir>/registry-credentials.key)';

/**
 * Private-registry credentials (DD-041), one Redis string per host plus a
 * host index. Every change bumps the registry generation and marks every
 * device dirty in the same atomic step (DD-021): the drain recomposes all
 * devices, and only those whose images come from the host get a new
 * document. The password is sealed before it reaches Redis and opened only
 * when a document is published (reveal-secrets.ts).
 */
export class RegistryCredentialStore {
  private cipher: CredentialCipher | null;

  constructor(private readonly deps: RegistryCredentialStoreDeps) {
    this.cipher = deps.cipher ?? null;
  }

  /** Loads (or creates) the key file; a file that holds no key fails the start. */
  async init(): Promise<void> {
    if (this.cipher === null && this.deps.keyFile !== undefined) this.cipher = await loadOrCreateCredentialKey(this.deps.keyFile, this.deps.logger);
  }

  get configured(): boolean {
    return this.cipher !== null;
  }

  /** A stored document with its registry passwords opened, for the wire only (reveal-secrets.ts). */
  reveal(payload: string): string {
    return revealRegistryAuth(payload, this.cipher);
  }

  async put(input: { host: string; username: string; password: string }): Promise<{ credential: RegistryCredentialView; created: boolean }> {
    const { redis, keys } = this.deps;
    const { cipher } = this;
    if (!cipher) throw new ControllerError('REGISTRY_CREDENTIALS_KEY_MISSING', NO_KEY_MESSAGE);
    const record: StoredCredential = {
      host: input.host,
      username: input.username,
      updatedAt: new Date(this.deps.now()).toISOString(),
      sealed: cipher.seal(input.host, input.password),
    };
    const created = (await redis.exists(keys.registryCredential(input.host))) === 0;
    await new RegistryTx(redis, keys).set(keys.registryCredential(input.host), JSON.stringify(record)).sadd(keys.registryCredentials(), input.host).dirty(ALL_SCOPE).commit();
    return { credential: viewOf(record), created };
  }

  async remove(host: string): Promise<RegistryCredentialView> {
    const { redis, keys } = this.deps;
    const raw = await redis.get(keys.registryCredential(host));
    if (raw === null) throw new ControllerError('REGISTRY_CREDENTIAL_NOT_FOUND', `no registry credentials stored for ${host} (see \`outpost registry-credentials ls\`)`);
    const committed = await new RegistryTx(redis, keys).expect(keys.registryCredential(host), raw).del(keys.registryCredential(host)).srem(keys.registryCredentials(), host).dirty(ALL_SCOPE).commit();
    if (!committed.ok) throw new ControllerError('REGISTRY_CREDENTIAL_NOT_FOUND', `the credentials of ${host} changed meanwhile; try again`);
    return viewOf(parseStored(raw));
  }

  async list(): Promise<RegistryCredentialView[]> {
    return (await this.records()).map(viewOf).sort((a, b) => a.host.localeCompare(b.host));
  }

  /** Every stored credential, each checked against the key once: a drain injects only values that open. */
  async snapshot(): Promise<RegistryAuthSnapshot> {
    const usable = new Map<string, { username: string; sealed: string }>();
    const unusable = new Map<string, string>();
    for (const r of await this.records()) {
      const { cipher } = this;
      if (!cipher) {
        unusable.set(r.host, NO_KEY_MESSAGE);
        continue;
      }
      try {
        cipher.open(r.host, r.sealed);
        usable.set(r.host, { username: r.username, sealed: r.sealed });
      } catch (err) {
        unusable.set(r.host, (err as Error).message);
      }
    }
    return { usable, unusable };
  }

  private async records(): Promise<StoredCredential[]> {
    const { redis, keys } = this.deps;
    const hosts = (await redis.smembers(keys.registryCredentials())).sort();
    if (hosts.length === 0) return [];
    const raws = await redis.mget(...hosts.map((h) => keys.registryCredential(h)));
    return raws.flatMap((raw) => (raw === null ? [] : [parseStored(raw)]));
  }
}

function parseStored(raw: string): StoredCredential {
  return StoredCredential.parse(JSON.parse(raw));
}

function viewOf(r: StoredCredential): RegistryCredentialView {
  return { host: r.host, username: r.username, updatedAt: r.updatedAt };
}
