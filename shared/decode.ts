import type { z } from 'zod';
import type { ErrorCode } from './errors.js';
import { LIMITS } from './limits.js';

export type Decoded<T> = { ok: true; value: T; raw: unknown } | { ok: false; code: ErrorCode; reason: string; raw: unknown };

export interface DecodeCodes {
  tooLarge: ErrorCode;
  invalidJson: ErrorCode;
  schema: ErrorCode;
}

/**
 * Bytes → validated message, never throwing: size limit, JSON, shape (depth,
 * `__proto__` keys), then zod.
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
  const shape = checkShape(raw);
  if (shape !== null) return { ok: false, code: codes.schema, reason: shape, raw };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, code: codes.schema, reason: formatIssues(parsed.error.issues), raw };
  }
  return { ok: true, value: parsed.data, raw };
}

interface Visit {
  value: object;
  key: string;
  depth: number;
  parent: Visit | undefined;
}

/** `a.0.b` (then `last`), bounded: the reason goes into logs and reports. */
function pathOf(visit: Visit, last?: string): string {
  const path = last === undefined ? [] : [last];
  for (let at: Visit | undefined = visit; at?.parent !== undefined; at = at.parent) path.unshift(at.key);
  if (path.length === 0) return '(root)';
  return (path.length > 12 ? [...path.slice(0, 6), '…', ...path.slice(-5)] : path).join('.');
}

/**
 * What JSON may carry but no receiver can handle, before the schema sees it:
 * a `__proto__` key (zod skips it in records without an issue, so a part of
 * the document would be silently gone), and nesting deeper than
 * LIMITS.jsonMaxDepth. Iterative: JSON.parse nests deeper than the call
 * stack goes.
 */
function checkShape(root: unknown): string | null {
  if (root === null || typeof root !== 'object') return null;
  const pending: Visit[] = [{ value: root, key: '', depth: 1, parent: undefined }];
  for (let visit = pending.pop(); visit !== undefined; visit = pending.pop()) {
    if (visit.depth > LIMITS.jsonMaxDepth) return `${pathOf(visit)}: nested deeper than ${LIMITS.jsonMaxDepth} levels`;
    if (!Array.isArray(visit.value) && Object.hasOwn(visit.value, '__proto__')) return `${pathOf(visit, '__proto__')}: "__proto__" is not allowed as a key`;
    for (const [key, child] of Object.entries(visit.value)) {
      if (child !== null && typeof child === 'object') pending.push({ value: child as object, key, depth: visit.depth + 1, parent: visit });
    }
  }
  return null;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], max = 5): string {
  const parts = issues.slice(0, max).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  if (issues.length > max) parts.push(`… and ${issues.length - max} more`);
  return parts.join('; ');
}
