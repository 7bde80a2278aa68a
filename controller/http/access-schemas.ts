import { z } from 'zod';
import { AuditEntry as AuditEntrySchema } from '../access/audit-entry.js';
import { Role } from '../access/roles.js';
import { ApiToken as ApiTokenSchema, TokenId, TokenName } from '../access/token-store.js';

/**
 * Request and response bodies of the token and audit routes (DD-025; kept
 * apart from schemas.ts, which holds the rest of the API, only for size).
 */
function component<S extends z.ZodType>(schema: S, id: string): S {
  return schema.meta({ id });
}

export const ApiToken = component(ApiTokenSchema.describe('An API token, without its secret'), 'ApiToken');
export const AuditEntry = component(AuditEntrySchema.describe('One mutating API call'), 'AuditEntry');

export const TokenParams = z.strictObject({ id: TokenId });
export const CreateTokenBody = z.strictObject({
  name: TokenName.describe('Who or what uses the token, e.g. ci-deploy; unique among live tokens'),
  role: Role.describe('viewer: read; operator: also releases, deployments, rollouts, commands, labels, overrides, pins; admin: everything'),
});
export const CreatedToken = z
  .strictObject({
    token: ApiToken,
    secret: z.string().describe('The bearer token (opt_<id>_<secret>). Shown once: only a hash of it is stored'),
  })
  .describe('The new token and its secret');
export const TokenList = z.strictObject({ tokens: z.array(ApiToken) }).describe('Live tokens, oldest first');
export const TokenEnvelope = z.strictObject({ token: ApiToken }).describe('The revoked token');

export const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('Newest entries first, at most this many'),
  before: z.coerce.number().int().min(1).optional().describe('Only entries with a seq below this (the nextBefore of the previous page)'),
});
export const AuditPage = z
  .strictObject({
    entries: z.array(AuditEntry),
    nextBefore: z.number().int().nullable().describe('The before of the next (older) page; null at the oldest entry kept'),
  })
  .describe('Audit entries, newest first');
