import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { signBatch, type SignBatchInput } from './sign-batch.js';
import type { SignWorkerPool } from './sign-worker-pool.js';
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
    /** Signs batches off the event loop (DD-033); absent or failing: inline. */
    private readonly offload?: { pool: Pick<SignWorkerPool, 'sign' | 'available'>; logger: Logger },
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
    const input: SignBatchInput = { stored, signers, trustSet, expiresAt: new Date(expiresAtMs).toISOString() };
    const payloads = await this.signed(input);
    return payloads.map((payload) => ({ payload, expiresAtMs }));
  }

  private async signed(input: SignBatchInput): Promise<string[]> {
    // A single document (a decommission, a refresh) is not worth a thread hop.
    if (!this.offload?.pool.available || input.stored.length < 2) return signBatch(input);
    try {
      return await this.offload.pool.sign(input);
    } catch (err) {
      this.offload.logger.warn({ err: errorMessage(err) }, 'signing in the worker failed; signing inline');
      return signBatch(input);
    }
  }
}
