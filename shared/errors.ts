/**
 * The error catalogue (style rule 8). Every code is either retryable (a later
 * attempt may succeed without anyone changing anything) or terminal (the
 * input must change). Codes travel in reports, events and API responses; a
 * test pins this table, so renaming a code is a protocol change.
 */
export const ERROR_CATALOGUE = {
  // desired-state intake (agent)
  DESIRED_INVALID_JSON: { retryable: false, summary: 'desired payload is not valid JSON' },
  DESIRED_SCHEMA: { retryable: false, summary: 'desired payload does not match the DesiredState schema' },
  DESIRED_WRONG_DEVICE: { retryable: false, summary: 'desired payload names another device' },
  DESIRED_TOO_LARGE: { retryable: false, summary: 'desired payload exceeds the size limit' },
  DESIRED_POLICY: { retryable: false, summary: 'desired state asks for something the agent policy forbids' },
  DESIRED_PROTOCOL: { retryable: false, summary: 'desired payload uses an unsupported protocol version' },
  DESIRED_UNSIGNED: { retryable: false, summary: 'desired payload is not signed, and the agent accepts signed documents only' },
  DESIRED_SIGNATURE: { retryable: false, summary: 'desired payload signature is invalid or by a key the agent does not trust' },
  DESIRED_EXPIRED: { retryable: false, summary: 'desired payload expired (expiresAt passed) before it arrived' },
  DESIRED_OUTDATED: { retryable: false, summary: 'desired payload is not newer than the version the agent holds (a replay or a queued duplicate): ignored' },
  // runtime (agent)
  IMAGE_PULL_FAILED: { retryable: true, summary: 'image could not be pulled' },
  IMAGE_NOT_FOUND: { retryable: true, summary: 'image does not exist in the registry' },
  REGISTRY_AUTH: { retryable: true, summary: 'registry refused the credentials' },
  IMAGE_STORAGE_FULL: { retryable: true, summary: "the container engine's storage has no space left for the image" },
  CONTAINER_CREATE_FAILED: { retryable: true, summary: 'container could not be created' },
  CONTAINER_START_FAILED: { retryable: true, summary: 'container could not be started' },
  CONTAINER_STOP_FAILED: { retryable: true, summary: 'container could not be stopped' },
  CONTAINER_REMOVE_FAILED: { retryable: true, summary: 'container could not be removed' },
  RUNTIME_UNAVAILABLE: { retryable: true, summary: 'container engine is not reachable' },
  RECONCILE_ABORTED: { retryable: true, summary: 'reconcile pass superseded by a newer desired version' },
  RECONCILE_STUCK: { retryable: true, summary: 'reconcile made no progress within its step budget' },
  STATE_WRITE_FAILED: { retryable: true, summary: 'agent state could not be written to disk' },
  UPDATE_UNHEALTHY: { retryable: false, summary: 'the new version failed its health gate and was rolled back' },
  HANDOVER_PORT_CONFLICT: { retryable: false, summary: 'hand-over would start two containers on the same host port' },
  CONTAINER_CREATE_REFUSED: { retryable: false, summary: 'the device policy refused a container create (checked again before each pass and create)' },
  // commands (agent)
  COMMAND_INVALID: { retryable: false, summary: 'command payload is not a valid Command for this device' },
  COMMAND_EXPIRED: { retryable: false, summary: 'command arrived after its expiresAt and was not executed' },
  WORKLOAD_NOT_FOUND: { retryable: false, summary: 'the device runs no container for the workload a command names' },
  // transport
  MQTT_PUBLISH_FAILED: { retryable: true, summary: 'MQTT publish was not acknowledged' },
  // broker
  AUTH_BAD_CREDENTIALS: { retryable: false, summary: 'username or password rejected' },
  AUTH_CLIENT_ID_MISMATCH: { retryable: false, summary: 'MQTT client id must equal the device id' },
  AUTH_CERT_INVALID: { retryable: false, summary: 'client certificate not verified: expired, not yet valid, or not issued by the configured CA' },
  AUTH_CERT_MISMATCH: { retryable: false, summary: 'client certificate names another identity than the username' },
  AUTH_FORBIDDEN_TOPIC: { retryable: false, summary: 'topic not permitted for this identity' },
  PAYLOAD_TOO_LARGE: { retryable: false, summary: 'payload exceeds the broker limit' },
  QOS_NOT_ALLOWED: { retryable: false, summary: 'QoS 2 is not part of the protocol; the broker refuses it' },
  CLIENT_TOO_SLOW: { retryable: true, summary: 'the client left more than the broker buffers per connection unread; the broker closed the connection' },
  // configuration
  CONFIG_INVALID: { retryable: false, summary: 'configuration is invalid' },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class OutpostError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OutpostError';
    this.code = code;
    this.retryable = ERROR_CATALOGUE[code].retryable;
    this.details = options.details;
  }
}

export function isOutpostError(err: unknown): err is OutpostError {
  return err instanceof OutpostError;
}

/** Short message for logs and reports from anything thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
