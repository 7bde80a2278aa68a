import { signDocument } from '../../shared/desired-signature.js';
import { memoJcs } from '../../shared/jcs-memo.js';
import type { SigningKeys } from './signing-keys.js';

/**
 * Signs a stored desired document at the moment it is published (DD-026):
 * a fresh `expiresAt` (now + validity), the keys devices should trust, and
 * one signature per signing key. The stored document stays unsigned; every
 * publish of the same version (a re-send, a refresh before expiry, a key
 * rotation) carries the same content with new validity metadata.
 */
export class DocumentSigner {
  constructor(
    private readonly keys: SigningKeys,
    private readonly validityMs: number,
    private readonly now: () => number,
  ) {}

  async sign(stored: string): Promise<{ payload: string; expiresAtMs: number }> {
    const [signed] = await this.signMany([stored]);
    if (!signed) throw new Error('signMany returned nothing');
    return signed;
  }

  /** Signs a batch with one read of the keys: every document of the batch carries the same keys and expiry. */
  async signMany(stored: readonly string[]): Promise<{ payload: string; expiresAtMs: number }[]> {
    if (stored.length === 0) return [];
    const { signers, trustSet } = await this.keys.snapshot();
    const expiresAtMs = this.now() + this.validityMs;
    const expiresAt = new Date(expiresAtMs).toISOString();
    // Workloads, provenance and trust repeat across a batch: canonicalized once each (DD-033).
    const canonical = memoJcs();
    return stored.map((s) => {
      const doc = JSON.parse(s) as Record<string, unknown>;
      delete doc.signature;
      doc.expiresAt = expiresAt;
      doc.trust = { keys: trustSet };
      return { payload: JSON.stringify(signDocument(doc, signers, canonical)), expiresAtMs };
    });
  }
}
