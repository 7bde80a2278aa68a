import { z } from 'zod';
import type { ApiClient } from './api-client.js';

/**
 * The token and audit routes (DD-025), as the CLI needs them. Loose objects
 * like the rest of the client's answers: `--json` prints the whole answer and
 * a newer API adding fields never breaks an older CLI.
 */
export const ApiTokenBody = z.looseObject({
  id: z.string(),
  name: z.string(),
  role: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  lastUsedAt: z.string().nullable(),
});
export type ApiTokenBody = z.infer<typeof ApiTokenBody>;

export const AuditEntryBody = z.looseObject({
  seq: z.number(),
  at: z.string(),
  requestId: z.string(),
  actor: z.looseObject({ tokenId: z.string().nullable(), name: z.string(), role: z.string() }),
  method: z.string(),
  route: z.string().nullable(),
  url: z.string(),
  params: z.record(z.string(), z.string()),
  statusCode: z.number(),
  outcome: z.string(),
  errorCode: z.string().nullable(),
  durationMs: z.number(),
  body: z.unknown(),
});
export type AuditEntryBody = z.infer<typeof AuditEntryBody>;

const seg = encodeURIComponent;

/** Not retried: the secret is made by the API, so a repeat would be a second token. */
export async function createToken(client: ApiClient, input: { name: string; role: string }): Promise<{ token: ApiTokenBody; secret: string }> {
  return (await client.request('POST', '/v1/tokens', z.looseObject({ token: ApiTokenBody, secret: z.string() }), { body: input })).body;
}

export async function listTokens(client: ApiClient): Promise<ApiTokenBody[]> {
  return (await client.request('GET', '/v1/tokens', z.looseObject({ tokens: z.array(ApiTokenBody) }))).body.tokens;
}

export async function revokeToken(client: ApiClient, id: string): Promise<ApiTokenBody> {
  return (await client.request('DELETE', `/v1/tokens/${seg(id)}`, z.looseObject({ token: ApiTokenBody }))).body.token;
}

export async function listAudit(client: ApiClient, query: { limit?: number; before?: number }): Promise<{ entries: AuditEntryBody[]; nextBefore: number | null }> {
  const answer = z.looseObject({ entries: z.array(AuditEntryBody), nextBefore: z.number().nullable() });
  return (await client.request('GET', '/v1/audit', answer, { query })).body;
}
