import { createHash, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { trustedKeyOf } from '../../shared/desired-signature.js';
import { TrustedKey } from '../../shared/schemas/desired-state.js';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';

const TrustFile = z.strictObject({
  /** SHA-256 of the provisioned trust file this set was seeded from: a new file re-seeds it. */
  seededFrom: z.string(),
  keys: z.array(TrustedKey).min(1),
});

/**
 * The controller signing keys a device trusts (DD-026). Seeded from the
 * trust file given at enrolment (`--trust`: PEM public keys or JSON
 * `{keys:[…]}`); replaced, and persisted, when a document signed by a
 * trusted key announces a new set (key rotation). Replacing the provisioned
 * file (re-enrolment) starts over from it.
 */
export class TrustStore {
  private current: TrustedKey[] = [];
  private readonly path: string;

  constructor(
    stateDir: string,
    private readonly provisioned: string,
    private readonly logger: Logger,
  ) {
    this.path = join(stateDir, 'trust.json');
  }

  get keys(): readonly TrustedKey[] {
    return this.current;
  }

  /** Reads the persisted set, or seeds it from the provisioned file. Throws on an unusable trust file. */
  async load(): Promise<void> {
    const fingerprint = createHash('sha256').update(this.provisioned).digest('hex');
    const text = await readFileIfExists(this.path);
    if (text !== null) {
      try {
        const stored = TrustFile.parse(JSON.parse(text));
        if (stored.seededFrom === fingerprint) {
          this.current = stored.keys;
          return;
        }
        this.logger.info('the trust file changed since the device last ran: trusting its keys from now on');
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'persisted trusted keys are corrupt; starting over from the trust file');
      }
    }
    this.current = parseTrustFile(this.provisioned);
    await this.persist(fingerprint);
  }

  /** A verified document announced the set of keys to trust from now on. */
  async replace(keys: readonly TrustedKey[]): Promise<boolean> {
    if (keys.length === 0 || sameKeys(keys, this.current)) return false;
    this.current = [...keys];
    await this.persist(createHash('sha256').update(this.provisioned).digest('hex'));
    this.logger.info({ keys: keys.map((k) => k.keyId) }, 'trusted signing keys updated');
    return true;
  }

  private async persist(seededFrom: string): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify({ seededFrom, keys: this.current }));
  }
}

/** PEM public keys (one or more blocks) or JSON `{ "keys": [{ keyId, publicKey }] }`. */
export function parseTrustFile(text: string): TrustedKey[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const keys = z.strictObject({ keys: z.array(TrustedKey).min(1) }).parse(JSON.parse(trimmed)).keys;
    return keys;
  }
  const blocks = trimmed.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (blocks.length === 0) throw new Error('the trust file holds no PEM public key and no JSON key list');
  return blocks.map((pem) => trustedKeyOf(createPublicKey(pem)));
}

function sameKeys(a: readonly TrustedKey[], b: readonly TrustedKey[]): boolean {
  const ids = (ks: readonly TrustedKey[]) => ks.map((k) => `${k.keyId}/${k.publicKey}`).sort().join(',');
  return ids(a) === ids(b);
}
