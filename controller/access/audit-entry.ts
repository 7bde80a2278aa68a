import { z } from 'zod';
import { Timestamp } from '../../shared/schemas/common.js';
import { Role, type Principal } from './roles.js';

/** One mutating API call, as the audit log keeps it (DD-025). */
export const AuditEntry = z.strictObject({
  seq: z.number().int().min(1).describe('Position in the log: increases by one per entry; page with ?before='),
  at: Timestamp.describe('When the answer was sent'),
  requestId: z.string().describe('The x-request-id header of the answer, also in the controller log as reqId'),
  actor: z.strictObject({
    tokenId: z.string().nullable().describe('null for the admin token from the controller configuration'),
    name: z.string().describe('Token name, or config-admin'),
    role: Role,
  }),
  method: z.string(),
  route: z.string().nullable().describe('Route pattern, e.g. /v1/devices/:id; null for an unknown route'),
  url: z.string().describe('Path and query as requested (at most 512 characters)'),
  params: z.record(z.string(), z.string()).describe('Path parameters of the route'),
  statusCode: z.number().int(),
  outcome: z.enum(['ok', 'error']),
  errorCode: z.string().nullable().describe('The API error code when outcome is error'),
  durationMs: z.number().min(0),
  body: z.unknown().describe('The request body with secrets and env values replaced by "[redacted]", cut to a bounded size; null without one'),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** What is stored: everything but seq, which is the entry's score in the log. */
export const StoredAuditEntry = AuditEntry.omit({ seq: true });
export type StoredAuditEntry = z.infer<typeof StoredAuditEntry>;

export const REDACTED = '[redacted]';
/** Field names whose values are credentials, at any depth. */
const SECRET_KEY = /secret|token|password|passphrase|credential|auth/i;
/** Field names whose values are environment maps: names kept, values redacted (they often hold credentials). */
const ENV_KEY = /^(env|workloadEnv)$/;
const MAX_DEPTH = 6;
const MAX_ARRAY = 20;
const MAX_STRING = 200;
const MAX_BODY_CHARS = 4096;
const MAX_URL = 512;

function summarize(value: unknown, depth: number, redactLeaves: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') {
    if (redactLeaves) return REDACTED;
    return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return redactLeaves ? REDACTED : value;
  if (depth >= MAX_DEPTH) return '…';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ARRAY).map((v) => summarize(v, depth + 1, redactLeaves));
    return value.length > MAX_ARRAY ? [...items, `… ${value.length - MAX_ARRAY} more`] : items;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) ? REDACTED : summarize(v, depth + 1, redactLeaves || ENV_KEY.test(k));
    }
    return out;
  }
  return String(value);
}

/**
 * A request body as the audit log may keep it: credentials (device secrets,
 * passwords, tokens, registry auth) and env values replaced by "[redacted]",
 * long strings and arrays cut, and a body still too large reduced to its
 * top-level field names.
 */
export function summarizeBody(body: unknown): unknown {
  const summary = summarize(body, 0, false);
  if (JSON.stringify(summary).length <= MAX_BODY_CHARS) return summary;
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? { truncated: true, fields: Object.keys(body).slice(0, 50) } : { truncated: true };
}

/** The API error code in an error answer's JSON body, if it has one. */
export function errorCodeOf(payload: unknown): string | null {
  if (typeof payload !== 'string') return null;
  try {
    const code = (JSON.parse(payload) as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}

export interface AuditFacts {
  principal: Principal;
  at: Date;
  requestId: string;
  method: string;
  route: string | null;
  url: string;
  params: unknown;
  statusCode: number;
  /** The answer's body as sent (a JSON string for API answers). */
  payload: unknown;
  body: unknown;
  durationMs: number;
}

/** The entry for one answered request: pure, so what is kept (and what never is) is unit-tested. */
export function auditEntryOf(f: AuditFacts): StoredAuditEntry {
  const params: Record<string, string> = {};
  if (f.params !== null && typeof f.params === 'object') for (const [k, v] of Object.entries(f.params)) params[k] = String(v);
  const failed = f.statusCode >= 400;
  return {
    at: f.at.toISOString(),
    requestId: f.requestId,
    actor: { tokenId: f.principal.tokenId, name: f.principal.name, role: f.principal.role },
    method: f.method,
    route: f.route,
    url: f.url.length > MAX_URL ? `${f.url.slice(0, MAX_URL)}…` : f.url,
    params,
    statusCode: f.statusCode,
    outcome: failed ? 'error' : 'ok',
    errorCode: failed ? (errorCodeOf(f.payload) ?? `HTTP_${f.statusCode}`) : null,
    durationMs: Math.round(f.durationMs * 10) / 10,
    body: f.body === undefined ? null : summarizeBody(f.body),
  };
}
