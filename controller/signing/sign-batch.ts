import { signDocument, type SigningKey, type TrustedKey } from '../../shared/desired-signature.js';
import { memoJcs } from '../../shared/jcs-memo.js';

/** One batch of stored documents to sign with the same keys and expiry (DD-026, DD-033). */
export interface SignBatchInput {
  stored: readonly string[];
  signers: readonly SigningKey[];
  trustSet: readonly TrustedKey[];
  expiresAt: string;
}

/**
 * The published form of each stored document: its validity, the keys to
 * trust and the signatures. Pure and synchronous, so it runs the same inline
 * and in the signing worker (sign-worker.ts).
 */
export function signBatch(input: SignBatchInput): string[] {
  // Workloads, provenance and trust repeat across a batch: canonicalized once each.
  const canonical = memoJcs();
  return input.stored.map((s) => {
    const doc = JSON.parse(s) as Record<string, unknown>;
    delete doc.signature;
    doc.expiresAt = input.expiresAt;
    doc.trust = { keys: input.trustSet };
    return JSON.stringify(signDocument(doc, input.signers, canonical));
  });
}
