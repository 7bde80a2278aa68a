import type { z } from 'zod';
import type { ErrorCode } from './errors.js';

export type Decoded<T> = { ok: true; value: T; raw: unknown } | { ok: false; code: ErrorCode; reason: string; raw: unknown };

export interface DecodeCodes {
  tooLarge: ErrorCode;
  invalidJson: ErrorCode;
  schema: ErrorCode;
}

/**
 * Bytes → validated message, never throwing: size limit, JSON, then zod.
 * `raw` is whatever JSON parsed (or undefined), so callers can still read a
 * version number out of a rejected document for their report, and verify a
 * signature over exactly what was sent (before zod filled in defaults).
 */
export function decodeJson<S extends z.ZodType>(
  payload: Buffer | string,
  schema: S,
  maxBytes: number,
  codes: DecodeCodes,
): Decoded<z.infer<S>> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > maxBytes) {
    return { ok: false, code: codes.tooLarge, reason: `payload is ${size} bytes, limit is ${maxBytes}`, raw: undefined };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    return { ok: false, code: codes.invalidJson, reason: `invalid JSON: ${(err as Error).message}`, raw: undefined };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, code: codes.schema, reason: formatIssues(parsed.error.issues), raw };
  }
  return { ok: true, value: parsed.data, raw };
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], max = 5): string {
  const parts = issues.slice(0, max).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  if (issues.length > max) parts.push(`… and ${issues.length - max} more`);
  return parts.join('; ');
}
