import aedesPacket from 'aedes-packet';
import type { Aedes } from 'aedes';
import type { AuthorizePublish, PublishLike } from './auth/authorize-publish.js';

type PacketConstructor = new (original: object, broker: Aedes | undefined) => object;

interface RetainedStore {
  storeRetained(packet: unknown): Promise<void>;
}

/**
 * aedes 1.x sends the PUBACK of a QoS 1 PUBLISH *before* it stores the
 * retained copy and the offline queue entries (lib/handlers/publish.js), so
 * a broker kill -9 right after the PUBACK loses a desired state the
 * controller saw acknowledged. Wrapping authorizePublish, which runs before
 * the PUBACK, stores the retained copy first; aedes then stores it again.
 * The retained document is the one that matters: every agent subscribes
 * explicitly on every connect and so always receives it (DD-010).
 */
export function withDurableRetained(
  authorize: AuthorizePublish,
  persistence: RetainedStore,
  broker: () => Aedes | undefined,
): AuthorizePublish {
  return (client, packet, callback) => {
    authorize(client, packet, (err) => {
      const p = packet as PublishLike & { retain?: boolean; qos?: number };
      if (err || client === null || !p.retain || !p.qos) return callback(err);
      persistence
        .storeRetained(new (aedesPacket as unknown as PacketConstructor)(p, broker()))
        .then(() => callback(null), (storeErr: unknown) => callback(storeErr instanceof Error ? storeErr : new Error(String(storeErr))));
    });
  };
}
