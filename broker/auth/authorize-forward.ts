import type { Logger } from '../../shared/logger.js';
import type { AccessPolicy } from './access-policy.js';
import type { ClientLike, IdentityRegistry } from './identity.js';
import { clip, identityFields } from './log-fields.js';

/**
 * Clients whose CONNACK has been written (aedes's 'connackSent' event).
 *
 * aedes restores a persistent session's subscriptions BEFORE it writes the
 * CONNACK (lib/handlers/connect.js), and its write() accepts packets while a
 * client is still connecting, so a message arriving from the emitter in that
 * window is written ahead of the CONNACK [MQTT-3.2.0-1]. MQTT.js then never
 * processes the CONNACK (it waits to acknowledge the early PUBLISH) and the
 * connect times out. Such deliveries are dropped; nothing is lost, because
 * aedes queues a QoS 1 message for every persistent subscriber before it
 * emits it, and the queue is replayed right after the CONNACK.
 */
export class ConnackLedger {
  readonly #sent = new WeakSet<ClientLike>();

  markSent(client: ClientLike): void {
    this.#sent.add(client);
  }

  hasSent(client: ClientLike): boolean {
    return this.#sent.has(client);
  }
}

export interface AuthorizeForwardDeps {
  policy: AccessPolicy;
  identities: IdentityRegistry;
  connacks: ConnackLedger;
  logger: Logger;
}

export type AuthorizeForward = <P extends { readonly topic: string }>(client: ClientLike, packet: P) => P | null;

/**
 * aedes `authorizeForward`: the last check before a PUBLISH is written to a
 * client, on live, retained and offline-queue delivery alike. It closes the
 * mixed-SUBSCRIBE leak (pitfalls.md): aedes persists every filter of a
 * SUBSCRIBE from a clean=false client, including the ones authorizeSubscribe
 * negated, and queues matching QoS 1 messages for it; those are dropped here.
 */
export function createAuthorizeForward(deps: AuthorizeForwardDeps): AuthorizeForward {
  const { policy, identities, connacks, logger } = deps;
  return function authorizeForward(client, packet) {
    if (!connacks.hasSent(client)) {
      logger.debug({ clientId: clip(client.id), topic: clip(packet.topic) }, 'delivery before CONNACK left to the session queue');
      return null;
    }
    const identity = identities.get(client);
    if (policy.receive(identity, packet.topic)) return packet;
    // Only reachable through a filter that should not exist (see above), so
    // it is worth a warning; ordinary traffic never gets here.
    logger.warn({ ...identityFields(identity), clientId: clip(client.id), topic: clip(packet.topic) }, 'delivery blocked');
    return null;
  };
}
