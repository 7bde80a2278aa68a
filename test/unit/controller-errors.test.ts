import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_ERRORS, ControllerError, isControllerError, type ApiErrorCode } from '../../controller/errors.js';
import { toErrorResponse } from '../../controller/http/errors.js';

/**
 * The API's error codes and their HTTP statuses are a contract with clients
 * (the CLI and scripts branch on them). Written out by hand on purpose:
 * renaming, removing or adding a code, or changing its status, must fail here
 * and be a deliberate API change (update docs/api.md, "Error codes", too).
 */
const PINNED: Record<ApiErrorCode, number> = {
  REQUEST_INVALID: 400,
  SELECTOR_INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  DEVICE_NOT_FOUND: 404,
  RELEASE_NOT_FOUND: 404,
  DEPLOYMENT_NOT_FOUND: 404,
  COMMAND_NOT_FOUND: 404,
  ROLLOUT_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  REGISTRY_CREDENTIAL_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  DEVICE_EXISTS: 409,
  DEVICE_DECOMMISSIONING: 409,
  RELEASE_CONFLICT: 409,
  DEPLOYMENT_EXISTS: 409,
  ROLLOUT_EXISTS: 409,
  ROLLOUT_PHASE_CONFLICT: 409,
  TOKEN_EXISTS: 409,
  DEVICE_CA_NOT_CONFIGURED: 409,
  REGISTRY_CREDENTIALS_KEY_MISSING: 409,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

describe('API error catalogue', () => {
  it('is pinned: code → HTTP status', () => {
    expect({ ...API_ERRORS }).toEqual(PINNED);
  });

  it('is documented in docs/api.md with the same statuses', () => {
    const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const rows = Object.fromEntries([...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
    expect(rows).toEqual(PINNED);
  });
});

describe('ControllerError', () => {
  it('takes its status from the catalogue and keeps details and cause', () => {
    const cause = new Error('underlying');
    const err = new ControllerError('RELEASE_CONFLICT', 'web@1 exists', { cause, details: { digest: 'abc' } });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ControllerError');
    expect(err.status).toBe(409);
    expect(err.details).toEqual({ digest: 'abc' });
    expect(err.cause).toBe(cause);
    expect(isControllerError(err)).toBe(true);
    expect(isControllerError(new Error('x'))).toBe(false);
  });

  it('becomes the documented error body with its status', () => {
    for (const code of Object.keys(PINNED) as ApiErrorCode[]) {
      const res = toErrorResponse(new ControllerError(code, `about ${code}`), 1024);
      expect(res.status).toBe(PINNED[code]);
      expect(res.body).toEqual({ error: { code, message: `about ${code}` } });
      expect(res.internal).toBe(PINNED[code] >= 500);
    }
  });

  it('turns anything unexpected into a generic 500 that does not leak the cause', () => {
    const res = toErrorResponse(new Error('redis password is hunter2'), 1024);
    expect(res).toEqual({
      status: 500,
      body: { error: { code: 'INTERNAL', message: 'internal error; the controller log has the details' } },
      internal: true,
    });
    expect(toErrorResponse('a string', 1024).status).toBe(500);
  });

  it('answers 503 UNAVAILABLE when ioredis gave up because Redis is unreachable', () => {
    const gaveUp = Object.assign(new Error('Reached the max retries per request limit (which is 3).'), { name: 'MaxRetriesPerRequestError' });
    expect(toErrorResponse(gaveUp, 1024)).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });
    expect(toErrorResponse(new Error('Connection is closed.'), 1024).status).toBe(503);
  });
});
