/**
 * Errors of the broker-credentials port (a broker's own admin API, e.g.
 * Mosquitto's dynamic security). Controller-internal: they never travel to
 * devices, so they are not part of the protocol's catalogue
 * (shared/errors.ts). A test pins this table.
 */
export const BROKER_ADMIN_ERRORS = {
  /** No answer to a command within the time-out (the broker is slow, or the admin connection dropped). */
  BROKER_ADMIN_TIMEOUT: { retryable: true, summary: 'the broker did not answer an admin command in time' },
  /** The admin connection is down: nothing was sent. */
  BROKER_ADMIN_UNAVAILABLE: { retryable: true, summary: 'the broker admin connection is not up' },
  /** The broker answered the command with an error. */
  BROKER_ADMIN_REFUSED: { retryable: false, summary: 'the broker refused an admin command' },
  /** The answer did not match the documented response format. */
  BROKER_ADMIN_BAD_RESPONSE: { retryable: false, summary: 'the broker answered an admin command with something unexpected' },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

export type BrokerAdminErrorCode = keyof typeof BROKER_ADMIN_ERRORS;

export class BrokerAdminError extends Error {
  readonly code: BrokerAdminErrorCode;
  readonly retryable: boolean;
  /** The broker's own error text, for BROKER_ADMIN_REFUSED. */
  readonly brokerError: string | undefined;

  constructor(code: BrokerAdminErrorCode, message: string, options: { cause?: unknown; brokerError?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BrokerAdminError';
    this.code = code;
    this.retryable = BROKER_ADMIN_ERRORS[code].retryable;
    this.brokerError = options.brokerError;
  }
}

export function isBrokerAdminError(err: unknown): err is BrokerAdminError {
  return err instanceof BrokerAdminError;
}
