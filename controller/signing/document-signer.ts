import { signDocument } from '../../shared/desired-signature.js';
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
    const doc = JSON.parse(stored) as Record<string, unknown>;
    delete doc.signature;
    const expiresAtMs = this.now() + this.validityMs;
    doc.expiresAt = new Date(expiresAtMs).toISOString();
    doc.trust = { keys: await this.keys.trustSet() };
    return { payload: JSON.stringify(signDocument(doc, await this.keys.signers())), expiresAtMs };
  }
}
