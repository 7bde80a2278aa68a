import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { errorMessage } from '../../shared/errors.js';
import { trustedKeyOf, type SigningKey, type TrustedKey } from '../../shared/desired-signature.js';
import type { Logger } from '../../shared/logger.js';
import type { Keys } from '../registry/keys.js';

/** A signing key with its public half, as the API shows it. */
export interface PublicSigningKey extends TrustedKey {
  pem: string;
}

export interface SigningKeysView {
  active: PublicSigningKey;
  /** The key a rotation under way moves to: documents are signed by both meanwhile. */
  next: PublicSigningKey | null;
}

interface Loaded {
  active: SigningKey & { trusted: TrustedKey; pem: string };
  next: (SigningKey & { trusted: TrustedKey; pem: string }) | null;
  at: number;
}

/**
 * The controller's Ed25519 keys for desired documents (DD-026), shared by
 * every controller process through Redis (which holds the registry anyway:
 * whoever can write it can already change what devices run). The first start
 * generates the active key, or imports the one in `--signing-key-file`
 * (created there with mode 0600 when the file does not exist).
 *
 * Rotation without re-enrolment: `rotate()` adds a next key; documents are
 * then signed by both and announce both as trusted, so every device that
 * hears one persists the new key. `finish()` makes the next key the only
 * one. A device that heard nothing during the whole rotation must be given
 * the new key again (its trust file).
 */
export class SigningKeys {
  private loaded: Loaded | null = null;
  /** A reload under way: concurrent callers share it (a deploy signs hundreds of documents at once). */
  private reloading: Promise<Loaded> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly opts: { keyFile?: string; logger: Logger; cacheMs?: number; now?: () => number },
  ) {}

  /** Makes sure an active key exists (importing or generating it). */
  async init(): Promise<void> {
    const fromFile = this.opts.keyFile ? await loadOrCreateKeyFile(this.opts.keyFile, this.opts.logger) : null;
    const pem = fromFile ?? newPrivateKeyPem();
    const created = await this.redis.hsetnx(this.keys.signingKeys(), 'active', pem);
    if (created === 1) this.opts.logger.info({ keyId: trustedKeyOf(createPublicKey(pem)).keyId, from: fromFile ? 'file' : 'generated' }, 'signing key installed');
    else if (fromFile) {
      const stored = await this.redis.hget(this.keys.signingKeys(), 'active');
      if (stored && trustedKeyOf(createPublicKey(stored)).keyId !== trustedKeyOf(createPublicKey(fromFile)).keyId) {
        this.opts.logger.warn('the signing key in Redis differs from --signing-key-file (rotated since?): using the one in Redis');
      }
    }
    await this.reload();
  }

  /** Signers and trust set from one read of the keys: what one batch of documents is signed with. */
  async snapshot(): Promise<{ signers: SigningKey[]; trustSet: TrustedKey[] }> {
    const k = await this.current();
    return { signers: k.next ? [k.active, k.next] : [k.active], trustSet: k.next ? [k.active.trusted, k.next.trusted] : [k.active.trusted] };
  }

  /** The keys every document is signed with now: the active one, and the next one during a rotation. */
  async signers(): Promise<SigningKey[]> {
    const k = await this.current();
    return k.next ? [k.active, k.next] : [k.active];
  }

  /** The keys documents tell devices to trust. */
  async trustSet(): Promise<TrustedKey[]> {
    const k = await this.current();
    return k.next ? [k.active.trusted, k.next.trusted] : [k.active.trusted];
  }

  async view(): Promise<SigningKeysView> {
    const k = await this.current();
    return { active: publicView(k.active.privateKey), next: k.next ? publicView(k.next.privateKey) : null };
  }

  /** Starts a rotation (idempotent while one is under way). */
  async rotate(): Promise<SigningKeysView> {
    await this.redis.hsetnx(this.keys.signingKeys(), 'next', newPrivateKeyPem());
    await this.reload();
    return this.view();
  }

  /** Ends a rotation: the next key becomes the only one. A no-op without a rotation. */
  async finish(): Promise<SigningKeysView> {
    // One script: two controllers finishing at once cannot lose the key.
    await this.redis.eval(
      `local n = redis.call('HGET', KEYS[1], 'next')
       if n then redis.call('HSET', KEYS[1], 'active', n); redis.call('HDEL', KEYS[1], 'next') end
       return 1`,
      1,
      this.keys.signingKeys(),
    );
    await this.reload();
    return this.view();
  }

  private async current(): Promise<Loaded> {
    const now = (this.opts.now ?? Date.now)();
    if (this.loaded && now - this.loaded.at < (this.opts.cacheMs ?? 2000)) return this.loaded;
    return this.reload();
  }

  private reload(): Promise<Loaded> {
    this.reloading ??= this.read().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async read(): Promise<Loaded> {
    const [active, next] = await this.redis.hmget(this.keys.signingKeys(), 'active', 'next');
    if (!active) throw new Error('no signing key: init() was not run');
    // Parsing a PEM costs ~0.2 ms: an unchanged key keeps its parsed form.
    const previous = this.loaded;
    const load = (pem: string): Loaded['active'] => {
      const same = [previous?.active, previous?.next].find((k) => k?.pem === pem);
      if (same) return same;
      const privateKey = createPrivateKey(pem);
      const trusted = trustedKeyOf(createPublicKey(privateKey));
      return { keyId: trusted.keyId, privateKey, trusted, pem };
    };
    this.loaded = { active: load(active), next: next ? load(next) : null, at: (this.opts.now ?? Date.now)() };
    return this.loaded;
  }
}

function newPrivateKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function publicView(privateKey: KeyObject): PublicSigningKey {
  const publicKey = createPublicKey(privateKey);
  return { ...trustedKeyOf(publicKey), pem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

/** The key in `file`, created (mode 0600) when the file does not exist. */
async function loadOrCreateKeyFile(file: string, logger: Logger): Promise<string> {
  if (!existsSync(file)) {
    const pem = newPrivateKeyPem();
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' }).catch(async (err: unknown) => {
      // Created meanwhile by another process: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    });
    logger.info({ file }, 'signing key generated');
  }
  const pem = await readFile(file, 'utf8');
  try {
    createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${file} does not hold a usable private key: ${errorMessage(err)}`, { cause: err });
  }
  return pem;
}
