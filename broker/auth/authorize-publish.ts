import type { Logger } from '../../shared/logger.js';
import { OutpostError } from '../../shared/errors.js';
import { MAX_INBOUND_QOS, type AccessPolicy } from './access-policy.js';
import type { ClientLike, IdentityRegistry } from './identity.js';
import { clip, identityFields } from './log-fields.js';

export interface PublishLike {
  readonly topic: string;
  readonly payload: Buffer | string;
  /** Absent counts as 0 (tests and callers that do not care). */
  readonly qos?: number;
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
 * the connection without telling the client [MQTT-3.3.5-2]. It runs before
 * aedes stores anything for the packet (lib/handlers/publish.js: authorize,
 * then the QoS 2 `incomingStorePacket`), so a refused QoS 2 PUBLISH leaves
 * nothing in Redis (DD-020).
 */
export function createAuthorizePublish(deps: AuthorizePublishDeps): AuthorizePublish {
  const { policy, identities, logger } = deps;
  // aedes dispatches every packet of one socket read at once, so a flood of
  // refused packets would otherwise be hundreds of warnings per connection.
  const warned = new WeakSet<ClientLike>();
  return function authorizePublish(client, packet, callback) {
    const size = payloadBytes(packet.payload);
    const identity = identities.get(client);
    const qos = packet.qos ?? 0;
    const decision = client === null ? policy.orphanWill(packet.topic, size) : policy.publish(identity, packet.topic, size, qos);
    if (decision.ok) {
      // An orphaned will stored by an older broker may still say QoS 2; sent
      // on at QoS 1, so no QoS 2 delivery state is ever created either.
      if (client === null && qos > MAX_INBOUND_QOS) (packet as { qos?: number }).qos = MAX_INBOUND_QOS;
      callback(null);
      return;
    }
    const first = client === null || !warned.has(client);
    if (client !== null) warned.add(client);
    logger[first ? 'warn' : 'debug'](
      {
        ...(client === null ? { orphanWill: true } : identityFields(identity)),
        clientId: client ? clip(client.id) : undefined,
        topic: clip(packet.topic),
        payloadBytes: size,
        qos,
        code: decision.code,
        reason: decision.reason,
      },
      'publish refused',
    );
    callback(new OutpostError(decision.code, `publish refused: ${decision.reason}`));
  };
}
