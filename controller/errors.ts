/**
 * Control-plane errors, each with the HTTP status the API answers with and a
 * stable code clients can branch on. Pinned by test/unit/controller-errors.test.ts.
 */
export const API_ERRORS = {
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
} as const satisfies Record<string, number>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ControllerError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ApiErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ControllerError';
    this.code = code;
    this.status = API_ERRORS[code];
    this.details = options.details;
  }
}

export function isControllerError(err: unknown): err is ControllerError {
  return err instanceof ControllerError;
}
