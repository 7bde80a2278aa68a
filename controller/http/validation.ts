import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';

/** The part of a request a schema validates, as clients name it in messages. */
const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

export interface RequestIssue {
  /** body, query, path or header. */
  in: string;
  path: (string | number)[];
  message: string;
}

/**
 * A request that failed its zod schema. Keeps zod's issues (with real paths,
 * which matter for label keys containing `/`) instead of fastify's
 * JSON-pointer flattening.
 */
export class RequestValidationError extends Error {
  readonly statusCode = 400;
  readonly code = 'FST_ERR_VALIDATION';
  readonly issues: RequestIssue[];

  constructor(issues: RequestIssue[]) {
    super(`invalid request: ${issues.map(formatRequestIssue).join('; ')}`);
    this.name = 'RequestValidationError';
    this.issues = issues;
  }
}

/** Validates with zod and keeps the issues; replaces fastify-type-provider-zod's validatorCompiler. */
export const validatorCompiler: FastifySchemaCompiler<z.core.$ZodType> =
  ({ schema, httpPart }) => {
    const part = PART_NAMES[httpPart ?? ''] ?? httpPart ?? 'request';
    return (data) => {
      const result = z.safeParse(schema, data);
      if (result.success) return { value: result.data };
      // An absent body reaches the schema as null or undefined; say so plainly.
      if (part === 'body' && (data === null || data === undefined)) {
        return { error: new RequestValidationError([{ in: part, path: [], message: 'a JSON body is required' }]) };
      }
      return { error: new RequestValidationError(result.error.issues.flatMap((i) => describeIssue(part, i))) };
    };
  };

export function formatRequestIssue(i: RequestIssue): string {
  return `${[i.in, ...i.path].join('.')}: ${i.message}`;
}

/** One zod issue → what a person needs: the field and what is wrong with it. */
function describeIssue(part: string, issue: z.core.$ZodIssue): RequestIssue[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({ in: part, path: [...path, k], message: 'unknown field' }));
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? issue.message;
      return [{ in: part, path, message: `invalid key: ${inner}` }];
    }
    case 'invalid_union': {
      // Discriminated unions without a matching tag carry no branches: zod's message names the options.
      const branches = issue.errors.map((branch) => branch[0]?.message).filter((m): m is string => !!m);
      return [{ in: part, path, message: branches.length ? [...new Set(branches)].join(' or ') : issue.message }];
    }
    default:
      return [{ in: part, path, message: issue.message }];
  }
}
