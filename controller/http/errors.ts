import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ResponseSerializationError } from 'fastify-type-provider-zod';
import { API_ERRORS, ControllerError, type ApiErrorCode } from '../errors.js';
import type { ErrorBody } from './schemas.js';
import { RequestValidationError } from './validation.js';

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  /** Server-side failure: log the cause, never send it. */
  internal: boolean;
}

export function errorBody(code: ApiErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

function response(code: ApiErrorCode, message: string, details?: Record<string, unknown>): ErrorResponse {
  return { status: API_ERRORS[code], body: errorBody(code, message, details), internal: API_ERRORS[code] >= 500 };
}

/** Fastify's own request errors (body parsing and limits), by code. */
function fastifyRequestError(err: { code?: unknown; message: string }, bodyLimitBytes: number): ErrorResponse | null {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return response('REQUEST_INVALID', 'request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // 400, not 413: every code keeps its one status (API_ERRORS).
      return response('REQUEST_INVALID', `request body is larger than the ${bodyLimitBytes}-byte limit`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return response('REQUEST_INVALID', 'unsupported Content-Type: send the body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return response('REQUEST_INVALID', 'request body size does not match Content-Length');
    default:
      return null;
  }
}

/**
 * ioredis gave up on a command because Redis is unreachable (it retries
 * `maxRetriesPerRequest` times first). Matched by name: ioredis does not
 * export the class.
 */
function isRedisUnavailable(err: Error): boolean {
  return err.name === 'MaxRetriesPerRequestError' || err.message === 'Connection is closed.';
}

/** Anything thrown while handling a request → the status and body the client gets. */
export function toErrorResponse(err: unknown, bodyLimitBytes: number): ErrorResponse {
  if (err instanceof ControllerError) {
    return { status: err.status, body: errorBody(err.code, err.message, err.details), internal: err.status >= 500 };
  }
  if (err instanceof RequestValidationError) {
    return response('REQUEST_INVALID', err.message, { issues: err.issues });
  }
  if (err instanceof ResponseSerializationError) {
    return response('INTERNAL', 'internal error: the response did not match its schema');
  }
  if (err instanceof Error) {
    if (isRedisUnavailable(err)) return response('UNAVAILABLE', 'the controller cannot reach its Redis; retry later');
    const known = fastifyRequestError(err as Error & { code?: unknown }, bodyLimitBytes);
    if (known) return known;
    const status = (err as { statusCode?: unknown }).statusCode;
    // Other client errors fastify raises itself (e.g. a malformed request) carry safe messages.
    if (typeof status === 'number' && status >= 400 && status < 500 && String((err as { code?: unknown }).code).startsWith('FST_')) {
      return response('REQUEST_INVALID', err.message);
    }
  }
  return response('INTERNAL', 'internal error; the controller log has the details');
}

/**
 * Errors fastify answers before any route or hook runs (a path with broken
 * percent-encoding, an over-long path parameter): the fastify
 * `frameworkErrors` option, so that they too get the API's error format
 * instead of fastify's own.
 */
export function frameworkErrorHandler(opts: { bodyLimitBytes: number }): (err: Error, request: FastifyRequest, reply: FastifyReply) => void {
  return (err, request, reply) => {
    const res = toErrorResponse(err, opts.bodyLimitBytes);
    request.log.debug({ code: res.body.error.code, status: res.status }, 'request rejected');
    void reply.code(res.status).send(res.body);
  };
}

/**
 * One error format for the whole API: `{ error: { code, message, details? } }`.
 * Unknown routes are 404 ROUTE_NOT_FOUND; server-side failures are logged
 * with their cause and answered with a generic 500.
 */
export function installErrorHandling(app: FastifyInstance, opts: { bodyLimitBytes: number }): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const res = toErrorResponse(err, opts.bodyLimitBytes);
    if (res.internal) request.log.error({ err, url: request.url, method: request.method }, 'request failed');
    else request.log.debug({ code: res.body.error.code, status: res.status }, 'request rejected');
    if (res.body.error.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer realm="outpost"');
    return reply.code(res.status).send(res.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    return reply.code(404).send(errorBody('ROUTE_NOT_FOUND', `no route ${request.method} ${path} (see /openapi.json)`));
  });
}
