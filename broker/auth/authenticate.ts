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
import type { TlsPeer } from './tls-peer.js';

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
  credentials: Pick<DeviceCredentials, 'check' | 'record'>;
  policy: AccessPolicy;
  identities: IdentityRegistry;
  wills: PendingWills;
  serviceUsername: string;
  /** Absent: the service identity is disabled. */
  servicePassword: string | undefined;
  /** What the TLS handshake established about the client; undefined for plain TCP (and when absent). */
  tlsPeerOf?: (client: ClientLike) => TlsPeer | undefined;
  logger: Logger;
}

export type Authenticate = (
  client: ClientLike,
  username: string | undefined,
  password: Buffer | undefined,
  done: (error: ConnackError | null, success: boolean | null) => void,
) => void;

/** How an accepted CONNECT proved its identity (logged). */
type Proof = 'password' | 'certificate' | 'certificate+password';

type Outcome = { ok: true; identity: Identity; proof?: Proof } | { ok: false; error: ConnackError };

function refuse(code: ErrorCode, returnCode: ConnackCode, message: string, cause?: unknown): Outcome {
  return { ok: false, error: new ConnackError(code, returnCode, message, cause === undefined ? {} : { cause }) };
}

/**
 * aedes `authenticate`. Devices: username = device id, password = its secret,
 * client id = username (so no client can take over another device's
 * session), will = its own presence topic. Over TLS a verified client
 * certificate naming the device id (CN or a DNS/URI SAN) may replace the
 * password (DD-023); the device must still be enrolled (have a credential),
 * so revoking it locks the certificate out too. A certificate that is not
 * verified, or names another identity, refuses the CONNECT whatever else it
 * carries; a certificate and a password must both be right. The service: the
 * configured username and password, and a client id that is not a device id
 * (it could otherwise take over a device's session).
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

  /** A certificate the client presented must be verified; undefined when there is none to object to. */
  function checkCertificate(peer: TlsPeer | undefined): Outcome | undefined {
    if (!peer?.certificate || peer.verified) return undefined;
    return refuse('AUTH_CERT_INVALID', CONNACK.notAuthorized, `client certificate not verified: ${peer.verifyError ?? 'unknown reason'}`);
  }

  function decideService(client: ClientLike, username: string, password: Buffer | undefined, will?: PublishLike): Outcome {
    // The service authenticates with its password; a certificate it sends anyway must still be a good one.
    const certRefusal = checkCertificate(deps.tlsPeerOf?.(client));
    if (certRefusal) return certRefusal;
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
    const peer = deps.tlsPeerOf?.(client);
    const certRefusal = checkCertificate(peer);
    if (certRefusal) return certRefusal;
    const certified = peer?.certificate === true;
    if (peer?.certificate && !peer.names.includes(username)) {
      const names = peer.names.length ? peer.names.map(clip).join(', ') : 'no name';
      return refuse('AUTH_CERT_MISMATCH', CONNACK.notAuthorized, `client certificate is for ${names}, not ${username}`);
    }
    if (!password && !certified) return refuse('AUTH_BAD_CREDENTIALS', CONNACK.notAuthorized, 'password or client certificate required');
    let record: string | null;
    try {
      // With a certificate alone, the record only has to exist: the device is enrolled and not revoked.
      record = password ? await credentials.check(username, password) : await credentials.record(username);
    } catch (err) {
      return refuse('AUTH_BAD_CREDENTIALS', CONNACK.serverUnavailable, 'credential store unavailable', err);
    }
    if (record === null) {
      return refuse('AUTH_BAD_CREDENTIALS', CONNACK.notAuthorized, password ? 'bad device credentials' : 'device is not enrolled (no credential)');
    }
    const proof: Proof = certified ? (password ? 'certificate+password' : 'certificate') : 'password';
    return { ok: true, identity: { kind: 'device', deviceId: username, credentialRecord: record }, proof };
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
          logger.debug({ ...identityFields(outcome.identity), clientId: clip(client.id), proof: outcome.proof ?? 'password' }, 'client authenticated');
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
