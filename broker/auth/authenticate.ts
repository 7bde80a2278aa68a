import { disableCounterDedupe } from '../in-order-delivery.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isDeviceId } from '../../shared/device-id.js';
import { errorMessage, OutpostError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { AccessPolicy } from './access-policy.js';
import { payloadBytes, type PublishLike } from './authorize-publish.js';
import type { DeviceCredentials } from '../../shared/device-credentials.js';
import type { ClientLike, Identity, IdentityRegistry } from './identity.js';
import { clip, identityFields } from './log-fields.js';

/** CONNACK return codes of MQTT 3.1.1 (table 3.1) that authentication uses. */
export const CONNACK = {
  identifierRejected: 2,
  serverUnavailable: 3,
  notAuthorized: 5,
} as const;
export type ConnackCode = (typeof CONNACK)[keyof typeof CONNACK];

/** aedes reads `returnCode` (2-5) off the error to choose the CONNACK code. */
export class ConnackError extends OutpostError {
  readonly returnCode: ConnackCode;
  constructor(code: ErrorCode, returnCode: ConnackCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.returnCode = returnCode;
  }
}

/**
 * The will of each CONNECT, kept from `preConnect` (which sees the packet)
 * until `authenticate` (which does not) can check it against the identity.
 */
export class PendingWills {
  readonly #byClient = new WeakMap<ClientLike, PublishLike>();

  remember(client: ClientLike, will: PublishLike | null | undefined): void {
    if (will) this.#byClient.set(client, will);
    else this.#byClient.delete(client);
  }

  take(client: ClientLike): PublishLike | undefined {
    const will = this.#byClient.get(client);
    this.#byClient.delete(client);
    return will;
  }
}

export type PreConnect = (
  client: ClientLike,
  packet: { readonly will?: PublishLike | null | undefined },
  callback: (error: Error | null, success: boolean) => void,
) => void;

export function createPreConnect(wills: PendingWills): PreConnect {
  return function preConnect(client, packet, callback) {
    wills.remember(client, packet.will);
    // Before the session's subscriptions are restored, i.e. before any delivery.
    disableCounterDedupe(client);
    callback(null, true);
  };
}

export interface AuthenticateDeps {
  credentials: Pick<DeviceCredentials, 'check'>;
  policy: AccessPolicy;
  identities: IdentityRegistry;
  wills: PendingWills;
  serviceUsername: string;
  /** Absent: the service identity is disabled. */
  servicePassword: string | undefined;
  logger: Logger;
}

export type Authenticate = (
  client: ClientLike,
  username: string | undefined,
  password: Buffer | undefined,
  done: (error: ConnackError | null, success: boolean | null) => void,
) => void;

type Outcome = { ok: true; identity: Identity } | { ok: false; error: ConnackError };

function refuse(code: ErrorCode, returnCode: ConnackCode, message: string, cause?: unknown): Outcome {
  return { ok: false, error: new ConnackError(code, returnCode, message, cause === undefined ? {} : { cause }) };
}

/**
 * aedes `authenticate`. Devices: username = device id, password = its secret,
 * client id = username (so no client can take over another device's
 * session), will = its own presence topic. The service: the configured
 * username and password, and a client id that is not a device id (it could
 * otherwise take over a device's session).
 */
export function createAuthenticate(deps: AuthenticateDeps): Authenticate {
  const { credentials, policy, identities, wills, logger } = deps;
  const servicePasswordDigest =
    deps.servicePassword === undefined ? undefined : sha256(Buffer.from(deps.servicePassword, 'utf8'));

  function checkWill(identity: Identity, will: PublishLike | undefined): Outcome {
    if (!will) return { ok: true, identity };
    const decision = policy.will(identity, will.topic, payloadBytes(will.payload), will.qos ?? 0);
    return decision.ok ? { ok: true, identity } : refuse(decision.code, CONNACK.notAuthorized, `will refused: ${decision.reason}`);
  }

  function decideService(client: ClientLike, username: string, password: Buffer | undefined, will?: PublishLike): Outcome {
    if (servicePasswordDigest === undefined) {
      return refuse('AUTH_BAD_CREDENTIALS', CONNACK.notAuthorized, 'service identity is disabled');
    }
    if (isDeviceId(client.id)) {
      return refuse('AUTH_CLIENT_ID_MISMATCH', CONNACK.identifierRejected, 'service client id must not be a device id');
    }
    // Digests make the lengths equal, as timingSafeEqual requires, without
    // revealing the configured password's length.
    if (!password || !timingSafeEqual(sha256(password), servicePasswordDigest)) {
      return refuse('AUTH_BAD_CREDENTIALS', CONNACK.notAuthorized, 'bad service credentials');
    }
    return checkWill({ kind: 'service', username }, will);
  }

  async function decideDevice(
    client: ClientLike,
    username: string,
    password: Buffer | undefined,
    will?: PublishLike,
  ): Promise<Outcome> {
    if (!isDeviceId(username)) return refuse('AUTH_BAD_CREDENTIALS', CONNACK.notAuthorized, 'username is not a device id');
    // Checked before the secret, so a mismatch says nothing about it.
    if (client.id !== username) {
      return refuse('AUTH_CLIENT_ID_MISMATCH', CONNACK.identifierRejected, 'client id must equal the device id');
    }
    const willCheck = checkWill({ kind: 'device', deviceId: username }, will);
    if (!willCheck.ok) return willCheck;
    if (!password) return refuse('AUTH_BAD_CREDENTIALS', CONNACK.notAuthorized, 'password required');
    let record: string | null;
    try {
      record = await credentials.check(username, password);
    } catch (err) {
      return refuse('AUTH_BAD_CREDENTIALS', CONNACK.serverUnavailable, 'credential store unavailable', err);
    }
    if (record === null) return refuse('AUTH_BAD_CREDENTIALS', CONNACK.notAuthorized, 'bad device credentials');
    return willCheck.ok ? { ok: true, identity: { kind: 'device', deviceId: username, credentialRecord: record } } : willCheck;
  }

  async function decide(client: ClientLike, username: string | undefined, password: Buffer | undefined): Promise<Outcome> {
    const will = wills.take(client);
    if (typeof username !== 'string' || username.length === 0) {
      return refuse('AUTH_BAD_CREDENTIALS', CONNACK.notAuthorized, 'username required');
    }
    return username === deps.serviceUsername
      ? decideService(client, username, password, will)
      : decideDevice(client, username, password, will);
  }

  return function authenticate(client, username, password, done) {
    decide(client, username, password).then(
      (outcome) => {
        if (outcome.ok) {
          identities.set(client, outcome.identity);
          logger.debug({ ...identityFields(outcome.identity), clientId: clip(client.id) }, 'client authenticated');
          done(null, true);
          return;
        }
        const { error } = outcome;
        const fields = {
          clientId: clip(client.id),
          username: clip(username ?? ''),
          code: error.code,
          returnCode: error.returnCode,
          reason: error.message,
        };
        if (error.returnCode === CONNACK.serverUnavailable) {
          logger.warn({ ...fields, err: errorMessage(error.cause) }, 'authentication unavailable');
        } else {
          logger.warn(fields, 'authentication refused');
        }
        done(error, false);
      },
      // decide() catches its own failures; this only guards against a bug
      // there turning into an unhandled rejection.
      (err: unknown) => {
        logger.error({ clientId: clip(client.id), err: errorMessage(err) }, 'authentication failed unexpectedly');
        done(new ConnackError('AUTH_BAD_CREDENTIALS', CONNACK.serverUnavailable, 'authentication failed', { cause: err }), false);
      },
    );
  };
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}
