import { z } from 'zod';
import type { ApiClient } from './api-client.js';
import { DeliveryBody } from './responses.js';

const PublicKeyBody = z.looseObject({ keyId: z.string(), publicKey: z.string(), pem: z.string() });
export const SigningKeysBody = z.looseObject({ active: PublicKeyBody, next: PublicKeyBody.nullable() });
export type SigningKeysBody = z.infer<typeof SigningKeysBody>;

const Changed = z.looseObject({ keys: SigningKeysBody, delivery: DeliveryBody.optional() });

/** The controller's desired-document signing keys (DD-026). */
export async function getSigningKeys(client: ApiClient): Promise<SigningKeysBody> {
  return (await client.request('GET', '/v1/signing-keys', SigningKeysBody)).body;
}

/** Starting a rotation is idempotent (one next key at a time), finishing too: both are retried. */
export async function rotateSigningKey(client: ApiClient, step: 'rotate' | 'finish') {
  return (await client.request('POST', `/v1/signing-keys/${step}`, Changed, { idempotent: true })).body;
}

/** The trust file a device is enrolled with: the PEM of every key documents are signed with now. */
export function trustFileOf(keys: SigningKeysBody): string {
  return [keys.active.pem, ...(keys.next ? [keys.next.pem] : [])].map((p) => p.trim()).join('\n') + '\n';
}
