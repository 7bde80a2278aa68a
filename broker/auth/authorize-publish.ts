import type { Logger } from '../../shared/logger.js';
import { OutpostError } from '../../shared/errors.js';
import type { AccessPolicy } from './access-policy.js';
import type { ClientLike, IdentityRegistry } from './identity.js';
import { clip, identityFields } from './log-fields.js';

export interface PublishLike {
  readonly topic: string;
  readonly payload: Buffer | string;
}

export interface AuthorizePublishDeps {
  policy: AccessPolicy;
  identities: IdentityRegistry;
  logger: Logger;
}

export type AuthorizePublish = (
  client: ClientLike | null,
  packet: PublishLike,
  callback: (error?: Error | null) => void,
) => void;

export function payloadBytes(payload: Buffer | string | undefined): number {
  if (payload === undefined) return 0;
  return typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
}

/**
 * aedes `authorizePublish`: called for every inbound PUBLISH, for a client's
 * will when its connection dies, and with `client === null` for wills of
 * clients whose broker died (aedes `_clearWills`). An error makes aedes drop
 * the connection without telling the client [MQTT-3.3.5-2].
 */
export function createAuthorizePublish(deps: AuthorizePublishDeps): AuthorizePublish {
  const { policy, identities, logger } = deps;
  return function authorizePublish(client, packet, callback) {
    const size = payloadBytes(packet.payload);
    const identity = identities.get(client);
    const decision = client === null ? policy.orphanWill(packet.topic, size) : policy.publish(identity, packet.topic, size);
    if (decision.ok) {
      callback(null);
      return;
    }
    logger.warn(
      {
        ...(client === null ? { orphanWill: true } : identityFields(identity)),
        clientId: client ? clip(client.id) : undefined,
        topic: clip(packet.topic),
        payloadBytes: size,
        code: decision.code,
        reason: decision.reason,
      },
      'publish refused',
    );
    callback(new OutpostError(decision.code, `publish refused: ${decision.reason}`));
  };
}
