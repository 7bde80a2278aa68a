import { z } from 'zod';
import type { ApiClient } from './api-client.js';

/** The registry-credentials routes (DD-041) as the CLI needs them; loose like the rest of the client's answers. */
export const RegistryCredentialBody = z.looseObject({ host: z.string(), username: z.string(), updatedAt: z.string() });
export type RegistryCredentialBody = z.infer<typeof RegistryCredentialBody>;

const DeliveryBody = z.looseObject({ state: z.string(), published: z.number(), pending: z.number(), reason: z.string().nullable() });
const Change = z.looseObject({ credential: RegistryCredentialBody, created: z.boolean().optional(), delivery: DeliveryBody });
export type RegistryCredentialChangeBody = z.infer<typeof Change>;

const seg = encodeURIComponent;

export async function putRegistryCredential(client: ApiClient, host: string, input: { username: string; password: string }): Promise<RegistryCredentialChangeBody> {
  return (await client.request('PUT', `/v1/registry-credentials/${seg(host)}`, Change, { body: input, idempotent: true })).body;
}

export async function deleteRegistryCredential(client: ApiClient, host: string): Promise<RegistryCredentialChangeBody> {
  return (await client.request('DELETE', `/v1/registry-credentials/${seg(host)}`, Change)).body;
}

export async function listRegistryCredentials(client: ApiClient): Promise<RegistryCredentialBody[]> {
  return (await client.request('GET', '/v1/registry-credentials', z.looseObject({ credentials: z.array(RegistryCredentialBody) }))).body.credentials;
}
