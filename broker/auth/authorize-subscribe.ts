import type { Logger } from '../../shared/logger.js';
import type { AccessPolicy } from './access-policy.js';
import type { ClientLike, IdentityRegistry } from './identity.js';
import { clip, identityFields } from './log-fields.js';

/** Highest QoS a device is granted; QoS 2 buys nothing over latest-wins documents. */
export const DEVICE_MAX_QOS = 1;

export interface SubscriptionLike {
  topic: string;
  qos: 0 | 1 | 2;
}

export interface AuthorizeSubscribeDeps {
  policy: AccessPolicy;
  identities: IdentityRegistry;
  logger: Logger;
}

export type AuthorizeSubscribe = <S extends SubscriptionLike>(
  client: ClientLike,
  subscription: S,
  callback: (error: Error | null, subscription?: S | null) => void,
) => void;

/**
 * aedes `authorizeSubscribe`: called for each filter of a SUBSCRIBE and again
 * for each stored filter when a persistent session is restored.
 *
 * A forbidden filter is negated (`callback(null, null)`, SUBACK 0x80), never
 * answered with an error: aedes re-checks stored filters on every reconnect,
 * so an error would refuse that session forever (pitfalls.md).
 */
export function createAuthorizeSubscribe(deps: AuthorizeSubscribeDeps): AuthorizeSubscribe {
  const { policy, identities, logger } = deps;
  return function authorizeSubscribe(client, subscription, callback) {
    const identity = identities.get(client);
    const decision = policy.subscribe(identity, subscription.topic);
    if (!decision.ok) {
      logger.warn(
        { ...identityFields(identity), clientId: clip(client.id), topic: clip(subscription.topic), reason: decision.reason },
        'subscription refused',
      );
      callback(null, null);
      return;
    }
    if (identity?.kind === 'device' && subscription.qos > DEVICE_MAX_QOS) {
      // Mutated in place on purpose: aedes persists the SUBSCRIBE packet's own
      // subscription objects, not the one handed back here. Its SUBACK still
      // echoes the requested 2 (captured before this runs); nothing is ever
      // delivered above QoS 1 anyway, as none enters above it (MAX_INBOUND_QOS).
      (subscription as SubscriptionLike).qos = DEVICE_MAX_QOS;
    }
    callback(null, subscription);
  };
}
